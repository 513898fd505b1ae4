"""Hardening below the app: the CLI's one-line errors and output stay inert whatever a path or a
corpus holds, the app's file helpers (encodings, disk state, per-instance autosaves with locks)
and the display sanitiser. The app's own behaviour is in tests/tui/test_tui_hardening.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tui.cli import main
from tui.files import (
    AutosaveStore,
    FileFormat,
    atomic_write_text,
    detect_format,
    disk_state,
    read_autosave,
    read_autosaves,
    read_format,
)
from tui.safe import plain, printable

CORPUS = "the cat \x1b[31msat\x1b[0m on the mat\nthe dog sat on the log\n" * 4


# --- the command line ------------------------------------------------------------------------------


def test_cli_errors_are_one_inert_line_whatever_the_path_holds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    hostile = tmp_path / "evil\n\x1b]2;owned\x07.txt"
    hostile.write_bytes("caf\xe9\n".encode("latin-1"))
    code = main(["eval", "--model", str(tmp_path / "no-model"), str(hostile)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and "\x1b" not in err and "\x07" not in err
    code = main(["train", str(hostile), "--epochs", "1"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "\x1b" not in err
    assert "byte 0xe9 at offset 3" in err


def test_cli_predict_never_prints_control_characters(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    corpus = tmp_path / "log.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    assert main(["train", str(corpus), "--name", "m", "--emb", "8", "--hidden", "8", "--epochs", "1",
                 "--cell", "gru"]) == 0
    capsys.readouterr()
    printed = ""
    for text in ("the cat ", "the cat \x1b[31m", "sat"):
        assert main(["predict", "--model", "m", "-k", "50", text]) == 0
        out, _ = capsys.readouterr()
        assert out and "\x1b" not in out
        printed += out
    assert "␛" not in printed  # control characters are never tokens, so never words to suggest


# --- display -----------------------------------------------------------------------------------------


def test_printable_shows_control_characters_one_cell_each():
    assert printable("a\x1b[31mb\x07\x00\x7f\x9b\u202e") == "a␛[31mb␇␀␡��"
    assert printable("line\nnext\ttab", newlines=True) == "line\nnext\ttab"
    assert printable("line\nnext") == "line␊next"
    text = "plain [b]text[/b] ünïcödé"
    assert printable(text) is text
    assert plain("[/]").plain == "[/]" and plain("x[@click=app.quit]y", "bold").plain == "x[@click=app.quit]y"


# --- files --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fmt"),
    [
        (b"plain", FileFormat("utf-8", b"")),
        (b"\xef\xbb\xbfbom", FileFormat("utf-8", b"\xef\xbb\xbf")),
        ("\ufeffle".encode("utf-16-le"), FileFormat("utf-16-le", b"\xff\xfe")),
        ("\ufeffbe".encode("utf-16-be"), FileFormat("utf-16-be", b"\xfe\xff")),
    ],
)
def test_encodings_are_detected_and_written_back_the_same(tmp_path, raw, fmt):
    path = tmp_path / "c.txt"
    path.write_bytes(raw)
    assert detect_format(raw) == fmt == read_format(path)
    atomic_write_text(path, "new text\r\n", fmt)
    assert path.read_bytes() == fmt.bom + "new text\r\n".encode(fmt.codec)


def test_read_format_never_blocks_on_a_pipe(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert read_format(fifo) == FileFormat()  # returns at once, reading nothing


def test_a_lone_surrogate_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "bad \udc80 text")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["c.txt"]


def test_disk_state_sees_another_programs_change(tmp_path):
    path = tmp_path / "c.txt"
    assert disk_state(path) is None
    path.write_text("one", encoding="utf-8")
    before = disk_state(path)
    assert disk_state(path) == before
    path.write_text("two!", encoding="utf-8")
    assert disk_state(path) != before


# --- autosaves of several instances ----------------------------------------------------------------------


def test_a_running_instances_autosave_is_never_offered_to_another(tmp_path):
    folder = tmp_path / "autosave"
    first, second = AutosaveStore(folder), AutosaveStore(folder)
    first.write("first's work", None)
    second.write("second's work", None)
    assert first.file != second.file
    assert first.orphans() == [] and second.orphans() == []  # both are running
    assert sorted(a.text for a in read_autosaves(folder)) == ["first's work", "second's work"]
    first.clear()  # quitting clears only its own
    assert [a.text for a in read_autosaves(folder)] == ["second's work"]


def test_orphans_are_offered_newest_first_and_to_one_instance_at_a_time(tmp_path):
    folder = tmp_path / "autosave"
    for text in ("older", "newer"):
        gone = AutosaveStore(folder)
        gone.write(text, None)
        gone.close()  # killed: its file stays, its lock is released
        time.sleep(0.01)
    asking, starting = AutosaveStore(folder), AutosaveStore(folder)
    assert [a.text for a in asking.orphans()] == ["newer", "older"]
    assert starting.orphans() == []  # `asking` holds them while it asks
    newer, older = asking.orphans()
    asking.keep(newer)  # "later"
    assert [a.text for a in starting.orphans()] == ["newer"]
    asking.adopt(older, "older, recovered", None)
    assert read_autosave(asking.file).text == "older, recovered"
    assert sorted(a.text for a in read_autosaves(folder)) == ["newer", "older, recovered"]
    starting.discard(starting.orphans()[0])
    assert [a.text for a in read_autosaves(folder)] == ["older, recovered"]
    asking.close()
    assert [a.text for a in AutosaveStore(folder).orphans()] == ["older, recovered"]


def test_an_autosave_from_before_instances_is_still_recovered(tmp_path):
    folder = tmp_path / "autosave"
    folder.mkdir()
    (folder / "buffer.json").write_text('{"path": null, "saved_at": 1.0, "text": "legacy"}', encoding="utf-8")
    assert [a.text for a in AutosaveStore(folder).orphans()] == ["legacy"]


def test_lock_files_of_instances_killed_before_autosaving_are_swept(tmp_path):
    folder = tmp_path / "autosave"
    gone = AutosaveStore(folder)
    gone.write("x", None)
    gone.clear()  # its buffer was saved, then it was killed: only its lock file is left
    os.close(gone._lock)
    gone._lock = None
    running = AutosaveStore(folder)
    running.write("y", None)
    AutosaveStore(folder).orphans()
    locks = sorted(p.name for p in folder.glob("*.lock"))
    assert locks == [running.file.with_suffix(".lock").name]


def test_an_unwritable_autosave_folder_raises_oserror_only(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    store = AutosaveStore(blocked / "autosave")
    with pytest.raises(OSError):
        store.write("text", None)
    assert store.orphans() == [] and read_autosave(store.file) is None
    store.clear()
    store.close()


def test_an_autosave_pointing_at_a_pipe_is_checked_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "autosave"
    gone = AutosaveStore(folder)
    gone.write("work on a file that became a pipe", str(fifo))
    gone.close()
    old = time.time() - 60
    os.utime(fifo, (old, old))
    assert [a.text for a in AutosaveStore(folder).orphans()] == ["work on a file that became a pipe"]


def test_this_test_file_never_touches_the_real_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path))
    assert AutosaveStore().folder == Path(tmp_path) / "autosave"


# --- start-up ----------------------------------------------------------------------------------------

RACE = r"""
import sys, threading

barrier, errors, done = threading.Barrier(3), [], []

def models():                                   # the app's engine loader: the saved models
    from engine import list_models
    done.append(type(list_models()).__name__)

def corpus():                                   # the file loader, then a corpus of it
    from engine import Corpus, load_text
    done.append(Corpus.from_text(load_text(sys.argv[1])).stats.words)

def count():                                    # the editor's word count
    from engine import fingerprint, tokenize
    done.append(len(tokenize("the editor's status line")) + len(fingerprint("x")))

def run(work):
    barrier.wait()
    try:
        work()
    except BaseException as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=run, args=(w,)) for w in (models, corpus, count)]
for t in threads: t.start()
for t in threads: t.join()
print(errors, sorted(map(str, done)))
"""


def test_threads_that_import_the_engine_at_start_up_never_deadlock(tmp_path):
    """At start-up three threads import engine names at once (engine loader, file loader, word
    count). Python's per-module import locks deadlock (`_DeadlockError` in one of them) when a
    package imports its submodules while a thread imports a submodule; engine/__init__ imports none
    (its names load on first use), so no order of these imports can deadlock."""
    import subprocess
    import sys

    corpus = tmp_path / "c.txt"
    corpus.write_text("hello world\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", RACE, str(corpus)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent.parent, env={**os.environ, "NEXTWORD_HOME": str(tmp_path)})
    assert done.stdout.strip() == "[] ['2', '21', 'list']", done.stdout + done.stderr
