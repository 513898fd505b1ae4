"""engine/library.py, engine/selection.py, engine/trash.py: never lose a model (issue 11, item 2).

Every run gets a new name; rename, delete (to the trash), export and import never overwrite, and
an import is validated exactly as a load is; the better model on held-out text is the one kept."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from engine import ModelFileError, list_models, load_model, save_model
from engine.library import (delete_model, export_model, import_model, model_details, new_model_name,
                            rename_model)
from engine.selection import compare_perplexity, judge, judge_saved
from engine.trash import move_to_trash, purge, trash_dir, trashed


@pytest.fixture
def saved(runs, home) -> Path:
    """The session's GRU saved as 'g'."""
    return save_model(runs["gru"].trained, "g")


def test_every_run_gets_a_new_name(home, runs) -> None:
    when = time.mktime((2026, 12, 1, 10, 15, 0, 0, 0, -1))
    first = new_model_name("gru", "1a2b3c4d5e6f", when)
    assert first == "gru-1a2b3c4d-20261201-101500"
    save_model(runs["gru"].trained, first)
    second = new_model_name("gru", "1a2b3c4d5e6f", when)  # the same second: still a new folder
    assert second != first and second.startswith(first)
    save_model(runs["gru"].trained, second)
    assert {info.name for info in list_models()} == {first, second}


def test_saving_over_a_model_keeps_the_old_one_in_the_trash(home, runs) -> None:
    save_model(runs["gru"].trained, "m")
    save_model(runs["lstm"].trained, "m")  # e.g. `train --resume`: the old folder is not destroyed
    [kept] = trashed("models")
    assert load_model(kept).model_config.cell == "gru"
    assert load_model("m").model_config.cell == "lstm"


def test_rename(saved: Path) -> None:
    target = rename_model("g", "my-gru")
    assert target.name == "my-gru" and not saved.exists()
    assert load_model("my-gru").model_config.cell == "gru"


def test_rename_never_overwrites_and_refuses_bad_names(saved: Path, runs) -> None:
    save_model(runs["lstm"].trained, "other")
    with pytest.raises(ModelFileError, match="already a model"):
        rename_model("g", "other")
    with pytest.raises(ModelFileError, match="not a valid model name"):
        rename_model("g", "../escape")
    with pytest.raises(ModelFileError, match="No model"):
        rename_model("missing", "x")
    assert load_model("other").model_config.cell == "lstm" and saved.exists()


def test_delete_moves_to_the_trash(saved: Path) -> None:
    where = delete_model("g")
    assert not saved.exists() and where.parent == trash_dir("models")
    assert load_model(where).model_config.cell == "gru"  # still whole: it can be brought back
    assert list_models() == []


def test_the_trash_keeps_things_seven_days(home, tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text("1")
    new.write_text("2")
    old_in_trash = move_to_trash(old, "autosave")
    move_to_trash(new, "autosave")
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old_in_trash, (eight_days_ago, eight_days_ago))
    assert purge("autosave") == 1
    assert [p.read_text() for p in trashed("autosave")] == ["2"]


def test_export_then_import_round_trip(saved: Path, tmp_path: Path) -> None:
    exported = export_model("g", tmp_path / "out")
    assert load_model(exported).model_config.cell == "gru"
    imported = import_model(exported)
    assert imported.name == "out"
    again = import_model(exported)  # the name is taken: a new one, nothing replaced
    assert again.name == "out-2"
    assert {i.name for i in list_models()} == {"g", "out", "out-2"}


def test_export_into_an_existing_folder_and_never_over_a_file(saved: Path, tmp_path: Path) -> None:
    (tmp_path / "dest").mkdir()
    assert export_model("g", tmp_path / "dest").name == "g"
    with pytest.raises(ModelFileError, match="already exists"):
        export_model("g", tmp_path / "dest")


def test_a_damaged_folder_is_refused_on_import_and_leaves_nothing(saved: Path, tmp_path: Path) -> None:
    damaged = export_model("g", tmp_path / "damaged")
    data = bytearray((damaged / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (damaged / "model.safetensors").write_bytes(bytes(data))
    before = sorted(p.name for p in saved.parent.iterdir())
    with pytest.raises(ModelFileError, match="checksum"):
        import_model(damaged)
    assert sorted(p.name for p in saved.parent.iterdir()) == before  # no staging folder left


def test_import_copies_only_the_model_files(saved: Path, tmp_path: Path) -> None:
    exported = export_model("g", tmp_path / "x")
    (exported / "run-me.sh").write_text("echo hi")
    imported = import_model(exported, name="clean")
    assert "run-me.sh" not in {p.name for p in imported.iterdir()}


def test_import_refuses_what_is_not_a_model_folder(home, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not a model folder"):
        import_model(tmp_path)


def test_model_details(saved: Path, runs) -> None:
    details = model_details("g")
    assert details.size_bytes > 1000
    assert len(details.history) == len(runs["gru"].trained.history) > 0


# -- which model is better --------------------------------------------------------------------


def test_a_worse_new_model_does_not_replace_a_better_one() -> None:
    # the numbers: a 5 s run stopped at ppl 64.5 must not replace the model at 43.4
    verdict = judge_saved({"valid_ppl": 64.5}, "abc", {"valid_ppl": 43.4}, "abc")
    assert not verdict.better and "43.4" in verdict.reason and "64.5" in verdict.reason
    assert judge_saved({"valid_ppl": 40.0}, "abc", {"valid_ppl": 43.4}, "abc").better


def test_a_tie_or_a_missing_figure_keeps_the_model_in_use() -> None:
    assert not compare_perplexity(43.4, 43.4).better
    assert not compare_perplexity(None, 43.4).better
    assert compare_perplexity(50.0, None).better  # nothing measured was in use


def test_different_corpora_are_scored_again(runs, tiny_corpus) -> None:
    assert judge_saved({"valid_ppl": 1.0}, "abc", {"valid_ppl": 9.0}, "xyz") is None
    good = runs["gru"].trained
    bad = replace(good, state_dict={k: v * 0 for k, v in good.state_dict.items()}, corpus_fingerprint="other",
                  metrics={"valid_ppl": 1.0})  # claims a wonderful figure, on another text
    verdict = judge(bad, good, tiny_corpus.valid_text)
    assert not verdict.better and verdict.new_ppl > verdict.old_ppl
    assert judge(good, bad, tiny_corpus.valid_text).better
    assert not judge(bad, good, None).better  # nothing to score them on: keep the one in use


def test_judge_with_nothing_in_use(runs) -> None:
    assert judge(runs["gru"].trained, None).better


def test_saved_config_is_strict_json(saved: Path) -> None:
    json.loads((saved / "config.json").read_text())
