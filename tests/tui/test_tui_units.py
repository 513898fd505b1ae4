"""The TUI's pure helpers: atomic saves, the autosave, spacing of accepted suggestions, prompts,
and the picker's fields, made from the engine's config dataclasses."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from engine import ModelConfig, TrainConfig, insertion
from tui.files import AutosaveStore, atomic_write_text, data_dir, read_autosaves
from tui.widgets.picker import MODEL_FIELDS, TRAIN_FIELDS, format_metrics
from tui.training_process import corpus_prompts


def test_atomic_write_keeps_line_endings_and_mode(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    path = folder / "c.txt"
    path.write_bytes(b"old\r\n")
    os.chmod(path, 0o640)
    atomic_write_text(path, "a\r\nb\r\n")
    assert path.read_bytes() == b"a\r\nb\r\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in folder.iterdir()] == ["c.txt"]  # no temporary file left behind


def test_atomic_write_failure_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    path = folder / "c.txt"
    path.write_text("old", encoding="utf-8")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in folder.iterdir()] == ["c.txt"]


def test_atomic_write_through_symlink_keeps_link(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "new"


def test_autosave_is_private_to_nextword_home(private_home: Path) -> None:
    assert data_dir() == private_home
    assert AutosaveStore().file.is_relative_to(private_home)


def test_autosave_recoverable_only_when_it_holds_unsaved_work(tmp_path: Path) -> None:
    folder = tmp_path / "autosave"
    corpus = tmp_path / "c.txt"
    corpus.write_text("saved", encoding="utf-8")

    def left_behind(text: str, path: str | None) -> AutosaveStore:
        """What an instance killed after autosaving leaves: its file, and no lock held."""
        gone = AutosaveStore(folder)
        gone.write(text, path)
        gone.close()
        return gone

    store = AutosaveStore(folder)
    assert store.orphans() == []  # nothing written yet

    old = time.time() - 100
    os.utime(corpus, (old, old))
    left_behind("edited", str(corpus))
    assert store.orphans()[0].text == "edited"
    store.discard(store.orphans()[0])

    left_behind("saved", str(corpus))  # same as the file: nothing to recover
    assert store.orphans() == []

    left_behind("edited", str(corpus))
    new = time.time() + 100
    os.utime(corpus, (new, new))  # the file was saved after the autosave
    assert store.orphans() == []

    for autosave in read_autosaves(folder):
        autosave.file.unlink()
    gone = left_behind("never saved", None)
    assert store.orphans()[0].path is None
    store.close()
    gone.file.write_text("{not json", encoding="utf-8")
    assert store.orphans() == []  # a damaged autosave is ignored, never a crash
    store.clear()
    store.clear()  # clearing twice is fine


@pytest.mark.parametrize(
    ("value", "word", "remainder", "completing", "expected"),
    [
        ("how ar", "are", "e", True, "how are "),
        ("How ", "are", "are", False, "How are "),
        ("Hello,", "how", "how", False, "Hello, how "),
        ("", "Good", "Good", False, "Good "),
        ("see you ", ".", ".", False, "see you. "),
        ("say ", "(", "(", False, "say ("),
    ],
)
def test_accepted_suggestion_spacing(value: str, word: str, remainder: str, completing: bool, expected: str) -> None:
    """The engine's rule, which the typing pane applies (Suggestion.insert / .delete)."""
    insert, delete = insertion(value, word, remainder, completing)
    assert value[: len(value) - delete] + insert == expected


def test_picker_defaults_match_the_engine() -> None:
    """The picker's fields take their defaults from the engine's config dataclasses."""
    model_defaults = {f.name: f.default for f in dataclasses.fields(ModelConfig)}
    train_defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for f in MODEL_FIELDS:
        assert f.parse(f.default) == model_defaults[f.name], f.name
    for f in TRAIN_FIELDS:
        if f.name != "max_time":  # the app's one deliberate difference: a time budget
            assert f.parse(f.default) == train_defaults[f.name], f.name


def test_format_metrics() -> None:
    assert format_metrics({"valid_ppl": 85.25, "top1": 0.21, "top3": 0.354, "ksr": 0.4}) == (
        "ppl 85.2 · top-1 21% · top-3 35% · KSR 40%"
    )
    assert format_metrics({"valid_ppl": 12.0, "ksr": None}) == "ppl 12.0"


def test_corpus_prompts_spread_and_unique() -> None:
    text = "\n".join(f"line number {i} here" for i in range(10))
    assert corpus_prompts(text) == ["line number"]
    text = "a b c\n\nd e f\ng h i\n"
    assert corpus_prompts(text) == ["a b", "d e", "g h"]
    assert corpus_prompts("one\ntwo\n") == []
