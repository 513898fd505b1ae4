"""Dialogs never act on a stray letter (issue 11, item 1): a sentence typed into a dialog that
opened under the user's fingers loses nothing; a destructive answer takes a second press, and a
discarded autosave stays in the trash for 7 days."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from textual.pilot import Pilot

from engine import trashed
from tui.app import NextwordApp
from tui.files import AutosaveStore, read_autosaves
from tui.screens.confirm_quit import ConfirmQuitScreen
from tui.screens.overwrite import ConfirmOverwriteScreen
from tui.screens.recover import RecoverScreen

TINY_CORPUS = "the cat sat on the mat\nthe dog sat on the log\nthe cat ate the fish\n"  # = conftest's file
SENTENCE = "good morning, how are you doing today? i hope all is well, dear friend"  # every letter but few


async def wait_for(pilot: Pilot, condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        await pilot.pause(0.05)


def make_older(path: Path) -> None:
    old = time.time() - 60
    os.utime(path, (old, old))


async def type_sentence(pilot: Pilot) -> None:
    await pilot.press(*[c if c != " " else "space" for c in SENTENCE + "qwertyuiopasdfghjklzxcvbnm"])
    await pilot.pause()


async def test_typing_into_the_recovery_dialog_loses_nothing(corpus_file: Path) -> None:
    AutosaveStore().write("lost work\n", str(corpus_file))
    make_older(corpus_file)
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RecoverScreen) and app.screen.query("#discard"))
        await type_sentence(pilot)  # "d" used to discard it, "r" to recover, "l" to put it off
        assert isinstance(app.screen, RecoverScreen)
        assert [a.text for a in read_autosaves()] == ["lost work\n"]
        await pilot.press("tab")  # Recover -> Discard
        await pilot.press("enter")
        assert isinstance(app.screen, RecoverScreen) and read_autosaves()  # armed only
        await pilot.pause(0.3)  # (a button ignores enter for 0.2 s after a press)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, RecoverScreen))
        assert read_autosaves() == [] and app.main.editor_pane.text == TINY_CORPUS
    [kept] = trashed("autosave")  # discarded, but kept for 7 days
    assert json.loads(kept.read_text())["text"] == "lost work\n"


async def test_typing_into_the_quit_dialog_loses_nothing(corpus_file: Path) -> None:
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        main = app.main
        await wait_for(pilot, lambda: main.engine_ready and main.fingerprint)
        await pilot.press("f6", "x", "ctrl+q")
        assert isinstance(app.screen, ConfirmQuitScreen)
        await type_sentence(pilot)  # "d" used to discard and quit, "s" to save
        assert app.is_running and isinstance(app.screen, ConfirmQuitScreen)
        assert main.editor_pane.dirty and corpus_file.read_text(encoding="utf-8") == TINY_CORPUS
        await pilot.press("escape")
        assert not isinstance(app.screen, ConfirmQuitScreen) and main.editor_pane.text.startswith("x")


async def test_typing_into_the_overwrite_dialog_loses_nothing(corpus_file: Path) -> None:
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        main = app.main
        await wait_for(pilot, lambda: main.engine_ready and main.fingerprint)
        corpus_file.write_text("another program wrote this\n", encoding="utf-8")
        await pilot.press("f6", "x", "ctrl+s")
        assert isinstance(app.screen, ConfirmOverwriteScreen)
        await type_sentence(pilot)  # "o" used to overwrite the other program's text
        await pilot.press("left", "enter")  # arrows reach Overwrite; one press only arms it
        assert isinstance(app.screen, ConfirmOverwriteScreen)
        assert corpus_file.read_text(encoding="utf-8") == "another program wrote this\n"
        await pilot.press("escape")
        assert main.editor_pane.dirty
