"""Pilot tests of the app as a person uses it: editing and files, switching and training models,
typing with suggestions, quitting, recovery, help and a too-small terminal."""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from pathlib import Path
from typing import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, Static, TextArea

from engine import trashed
from tui.app import NextwordApp
from tui.files import AutosaveStore, read_autosave, read_autosaves
from tui.screens.confirm_quit import ConfirmQuitScreen
from tui.screens.help import HelpScreen
from tui.screens.open_file import PathScreen
from tui.screens.recover import RecoverScreen

TINY_CORPUS = "the cat sat on the mat\nthe dog sat on the log\nthe cat ate the fish\n"  # = conftest's file
# Pilot waits for the app to be idle after each key, and a running training keeps it busy:
# UI tests train tiny models (a whole run takes about a second even on a busy machine).
TINY_SETTINGS = {"emb": "16", "hidden": "16", "epochs": "3", "max_time": "2", "batch_size": "4", "bptt": "8"}


class App(NextwordApp):
    """The app, keeping every notification it shows (Textual forgets them when they expire)."""

    def __init__(self, path: str | None = None) -> None:
        super().__init__(path)
        self.shown: list[tuple[str, str, str]] = []  # (title, message, severity)

    def notify(self, message, *, title="", severity="information", timeout=None, markup=True) -> None:
        self.shown.append((str(title), str(message), severity))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


def messages(app: App) -> list[str]:
    return [f"{title}: {message}" for title, message, _ in app.shown]


def rendered(widget) -> str:
    """What a widget sends to the terminal, as text."""
    return "\n".join("".join(segment.text for segment in strip)
                     for strip in widget.render_lines(widget.region.reset_offset))


async def wait_for(pilot: Pilot, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until `condition()` is true (background threads report by messages)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {condition}")
        await pilot.pause(0.05)


async def ready(pilot: Pilot) -> None:
    """Wait until the engine is loaded, the corpus counted and the settings on screen."""
    main = pilot.app.main
    await wait_for(pilot, lambda: main.engine_ready and main.fingerprint and main.picker_pane.settings_ready)
    await pilot.pause()


def use_tiny_settings(app: NextwordApp) -> None:
    for name, value in TINY_SETTINGS.items():
        app.query_one(f"#set-{name}", Input).value = value


async def train_tiny(pilot: Pilot) -> None:
    """Train the selected cell with tiny settings; wait until the model is saved and in use."""
    app = pilot.app
    use_tiny_settings(app)
    await pilot.pause()
    await pilot.press("ctrl+t")
    await wait_for(pilot, lambda: not app.main.is_training, timeout=60)
    await wait_for(pilot, lambda: app.main.typing_pane.predictor is not None)


def make_older(path: Path) -> None:
    """Back-date a file by a minute, so that its autosave is the newer of the two and is offered."""
    old = time.time() - 60
    os.utime(path, (old, old))


def static_text(app: NextwordApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_starts_with_sample_corpus_lstm_and_focus_on_typing() -> None:
    app = NextwordApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert app.main.picker_pane.cell == "lstm"
        assert app.focused is app.query_one("#typing", TextArea)
        assert app.main.editor_pane.path is None and not app.main.editor_pane.dirty
        assert "Good morning" in app.main.editor_pane.text  # tui/data/sample_corpus.txt
        assert "words" in static_text(app, "#corpus-status")
        assert "ctrl+t" in static_text(app, "#ac-model")  # says how to get a model
        await wait_for(pilot, lambda: "n-gram" in static_text(app, "#ac-model"))  # suggestions at once
        assert "params" in static_text(app, "#param-count")


async def test_the_real_app_freezes_what_it_has_loaded_so_full_collections_stay_short() -> None:
    app = NextwordApp(None)
    app.freeze_gc_when_ready = True  # as run_app sets it
    frozen_before = gc.get_freeze_count()
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            assert gc.get_freeze_count() > frozen_before + 50_000  # torch alone is far more
            await pilot.press("h", "i")  # the app goes on as before
            assert app.query_one("#typing", TextArea).text == "hi"
    finally:
        gc.unfreeze()  # this test process makes many apps: let them go


async def test_edit_save_and_open(corpus_file: Path, tmp_path: Path) -> None:
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        editor = app.main.editor_pane
        assert editor.text == TINY_CORPUS and not editor.dirty
        await pilot.press("f6", "end", *"s too", "ctrl+s")  # typed at the end of line 1
        await wait_for(pilot, lambda: not editor.dirty)
        assert corpus_file.read_text(encoding="utf-8").startswith("the cat sat on the mats too\n")
        assert "unsaved" not in str(editor.border_title)
        assert sorted(p.name for p in corpus_file.parent.iterdir()) == ["corpus.txt"]  # no temp files

        await pilot.press("x")
        assert editor.dirty and "unsaved" in str(editor.border_title)

        other = tmp_path / "other.txt"
        other.write_text("a fresh corpus\n", encoding="utf-8")
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, ConfirmQuitScreen)  # the unsaved "x" first
        await pilot.click("#discard")
        await pilot.pause(0.3)  # a button ignores presses for 0.2 s after one
        await pilot.click("#discard")  # a destructive answer takes a second press
        await pilot.pause()
        assert isinstance(app.screen, PathScreen)
        app.screen.query_one("#path", Input).value = str(other)
        await pilot.press("enter")
        await wait_for(pilot, lambda: editor.path == str(other))
        assert editor.text == "a fresh corpus\n" and not editor.dirty


async def test_open_a_binary_file_shows_the_engine_error(tmp_path: Path) -> None:
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    app = App(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        before = app.main.editor_pane.text
        await pilot.press("ctrl+o")
        app.screen.query_one("#path", Input).value = str(picture)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.shown)
        assert any("PNG image" in message for message in messages(app))
        assert app.main.editor_pane.text == before


async def test_failed_save_keeps_buffer_unsaved(corpus_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(path, text, *args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tui.widgets.editor.save_text", disk_full)
    app = App(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f6", "x", "ctrl+s")
        assert app.main.editor_pane.dirty
        assert any("No space left" in message for message in messages(app))
        assert corpus_file.read_text(encoding="utf-8") == TINY_CORPUS


async def test_save_as_for_a_new_buffer(tmp_path: Path) -> None:
    app = NextwordApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f6", "x", "ctrl+s")
        assert isinstance(app.screen, PathScreen)
        target = tmp_path / "mine.txt"
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.main.editor_pane.dirty)
        assert target.read_text(encoding="utf-8").startswith("x")
        assert app.main.editor_pane.path == str(target)


async def test_f2_f3_f4_switch_the_model() -> None:
    app = NextwordApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        for key, cell, name in (("f2", "rnn", "RNN"), ("f4", "gru", "GRU"), ("f3", "lstm", "LSTM")):
            await pilot.press(key)
            assert app.main.picker_pane.cell == cell
            assert app.query_one(f"#cell-{cell}", RadioButton).value
            assert static_text(app, "#ac-model").startswith(name)
        # From inside the editor too: the app's keys win over the TextArea's.
        await pilot.press("f6", "f2")
        assert app.main.picker_pane.cell == "rnn"
        assert app.main.editor_pane.text_area.has_focus


async def test_invalid_setting_is_shown_not_raised() -> None:
    app = NextwordApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        app.query_one("#set-hidden", Input).value = "lots"
        await pilot.pause()
        assert "not a number" in static_text(app, "#param-count")
        app.query_one("#set-hidden", Input).value = "0"
        await pilot.pause()
        assert "hidden must be" in static_text(app, "#param-count")
        await pilot.press("ctrl+t")
        assert not app.main.is_training  # refused, with a notification
        app.query_one("#set-hidden", Input).value = "128"  # emb 256: untied, not refused
        await pilot.pause()
        assert "params" in static_text(app, "#param-count")


async def test_train_then_type_with_suggestions(corpus_file: Path, private_home: Path) -> None:
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await train_tiny(pilot)
        log = "\n".join(line.text for line in app.query_one("#train-log").lines)
        assert "epoch 1" in log and "the cat →" in log  # what the model predicts after each epoch
        saved = list((private_home / "models").iterdir())
        [name] = [p.name for p in saved]
        assert name.startswith(f"lstm-{app.main.fingerprint[:8]}-")  # a new folder for every run
        assert "ppl" in str(app.query_one("#cell-lstm", RadioButton).label)

        typing = app.query_one("#typing", TextArea)
        await pilot.press(*"The c")
        await wait_for(pilot, lambda: "cat" in static_text(app, "#ac-list"))
        assert "The cat" in rendered(typing)  # ghost text, in the user's casing
        assert "<unk>" not in static_text(app, "#ac-list")
        await pilot.press("tab")
        assert typing.text == "The cat "

        words = [s.word for s in app.main.typing_pane.suggestions(typing.text)]
        await pilot.press("alt+2")
        assert typing.text == f"The cat {words[1]} "
        # xterm-like terminals send alt+3 as ESC 3, which Textual reads as "£".
        words = [s.word for s in app.main.typing_pane.suggestions(typing.text)]
        before = typing.text
        await pilot.press("pound_sign")
        assert typing.text.startswith(before.rstrip(" ")) and words[2] in typing.text and "£" not in typing.text


async def test_models_from_an_earlier_session_are_offered(corpus_file: Path) -> None:
    first = NextwordApp(str(corpus_file))
    async with first.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await train_tiny(pilot)

    second = NextwordApp(str(corpus_file))
    async with second.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert "ppl" in str(second.query_one("#cell-gru", RadioButton).label)
        assert second.main.picker_pane.cell == "gru"  # the cell used last time is remembered
        await wait_for(pilot, lambda: "gru-" in static_text(second, "#ac-model"))
        await pilot.press("f3")
        assert "LSTM: no model yet" in static_text(second, "#ac-model")  # LSTM has none


async def test_escape_stops_training(corpus_file: Path) -> None:
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        use_tiny_settings(app)
        app.query_one("#set-epochs", Input).value = "1000"
        app.query_one("#set-max_time", Input).value = "60"
        await pilot.pause()
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: app.main.models.run is not None and app.main.models.run.epoch >= 1)  # worth keeping
        started = time.monotonic()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.main.is_training, timeout=20)
        assert time.monotonic() - started < 10
        log = "\n".join(line.text for line in app.query_one("#train-log").lines)
        assert "Stopped" in log
        assert app.main.typing_pane.predictor is not None  # the best weights so far are in use


async def test_training_error_is_shown_and_app_stays_up() -> None:
    app = App(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        use_tiny_settings(app)
        app.main.editor_pane.text_area.load_text("   \n")  # no words: the engine refuses
        await pilot.pause()
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: not app.main.is_training)
        log = "\n".join(line.text for line in app.query_one("#train-log").lines)
        assert "error" in log and "empty" in log
        assert any(severity == "error" for _, _, severity in app.shown)
        assert app.main.editor_pane.text == "   \n"


async def test_ngram_model_with_f5(corpus_file: Path) -> None:
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.main.typing_pane.predictor is not None)
        await pilot.press(*"the ")
        assert "cat" in static_text(app, "#ac-list")
        app.query_one("#set-order", Input).value = "2"  # a new order builds a new model
        await wait_for(pilot, lambda: (active := app.main.models.active("ngram")) is not None and active.key.order == 2)


async def test_quit_with_unsaved_changes_cancel_then_save(corpus_file: Path) -> None:
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f6", "x", "ctrl+q")
        assert isinstance(app.screen, ConfirmQuitScreen)
        await pilot.click("#cancel")
        assert not isinstance(app.screen, ConfirmQuitScreen) and app.is_running
        assert app.main.editor_pane.dirty

        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmQuitScreen)
        await pilot.click("#save")
        await pilot.pause()
        assert not app.is_running
    assert corpus_file.read_text(encoding="utf-8") == "x" + TINY_CORPUS
    assert read_autosaves() == []


async def test_quit_discard_leaves_file_alone(corpus_file: Path) -> None:
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f6", "x", "ctrl+q")
        await pilot.click("#discard")
        assert app.is_running  # the first press only arms Discard
        await pilot.pause(0.3)  # a button ignores presses for 0.2 s after one
        await pilot.click("#discard")
        await pilot.pause()
        assert not app.is_running
    assert corpus_file.read_text(encoding="utf-8") == TINY_CORPUS


async def test_autosave_then_recovery_on_next_start(corpus_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.widgets.editor.AUTOSAVE_DELAY", 0.1)
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f6", *"new ")
        await wait_for(pilot, lambda: read_autosave(app.autosave.file) is not None)
        os.kill(os.getpid(), signal.SIGTERM)  # keeps the autosave, exits
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    [saved] = read_autosaves()
    assert saved.text == "new " + TINY_CORPUS and saved.path == str(corpus_file)
    make_older(corpus_file)

    again = NextwordApp(str(corpus_file))
    async with again.run_test(size=(100, 30)) as pilot:
        # Drawn, not only mounted: a click lands where the button is.
        await wait_for(pilot, lambda: isinstance(again.screen, RecoverScreen)
                       and again.screen.query("#recover") and again.screen.query_one("#recover").region)
        await pilot.click("#recover")
        await wait_for(pilot, lambda: again.main.editor_pane.text.startswith("new "))
        assert again.main.editor_pane.dirty


async def test_recovery_can_be_discarded(corpus_file: Path) -> None:
    AutosaveStore().write("lost work\n", str(corpus_file))
    make_older(corpus_file)
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        # Drawn, not only mounted: a click lands where the button is (on a loaded machine the
        # first click could come before the layout and miss).
        await wait_for(pilot, lambda: isinstance(app.screen, RecoverScreen)
                       and app.screen.query("#discard") and app.screen.query_one("#discard").region)
        await pilot.click("#discard")
        await pilot.pause(0.3)  # a button ignores presses for 0.2 s after one
        await pilot.click("#discard")  # twice: a destructive answer is confirmed (escape: later)
        await wait_for(pilot, lambda: not isinstance(app.screen, RecoverScreen))
        assert app.main.editor_pane.text == TINY_CORPUS
        assert read_autosaves() == []
    assert [json.loads(f.read_text())["text"] for f in trashed("autosave")] == ["lost work\n"]  # an undo that lasts


async def test_quitting_at_the_recovery_question_keeps_the_autosave(corpus_file: Path) -> None:
    AutosaveStore().write("lost work\n", str(corpus_file))
    make_older(corpus_file)
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RecoverScreen) and app.screen.query("#discard"))
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running
    assert [a.text for a in read_autosaves()] == ["lost work\n"]


async def test_crlf_file_keeps_its_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "windows.txt"
    path.write_bytes(b"one two\r\nthree four\r\n")
    app = NextwordApp(str(path))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f6", "end", *" five", "ctrl+s")
        await wait_for(pilot, lambda: not app.main.editor_pane.dirty)
    assert path.read_bytes() == b"one two five\r\nthree four\r\n"


async def test_a_new_file_name_starts_an_empty_buffer(tmp_path: Path) -> None:
    path = tmp_path / "new.txt"
    app = NextwordApp(str(path))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.main.editor_pane.path == str(path))
        await pilot.press("f6", *"hello", "ctrl+s")
        await wait_for(pilot, lambda: not app.main.editor_pane.dirty)
    assert path.read_text(encoding="utf-8") == "hello"


async def test_too_small_terminal_says_so() -> None:
    app = NextwordApp(None)
    async with app.run_test(size=(20, 10)) as pilot:
        await pilot.pause()
        message = app.query_one("#too-small", Static)
        assert message.display and "too small" in str(message.render())
        assert not app.query_one("#main").display
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert not message.display and app.query_one("#main").display


async def test_help_screen_lists_the_keys() -> None:
    app = NextwordApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        keys = [key for key, _ in app.main.help_rows()]
        assert {"f1", "f2", "f3", "f4", "tab"} <= {k.lower() for k in keys}
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_every_action_is_in_the_command_palette() -> None:
    app = NextwordApp(None)
    async with app.run_test(size=(100, 30)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for title in ("Train / stop training", "Use RNN", "Use LSTM", "Use GRU", "Open corpus…",
                      "Save corpus", "Focus editor (F6)", "Help: keys", "Accept suggestion 1"):
            assert title in titles
