"""tui/drafts.py: the writing pane's text is autosaved and comes back at the next start
(issue 11, item 4), never taken from an instance that is still running."""

from __future__ import annotations

import os
import signal
from functools import partial
from pathlib import Path

import pytest
from test_tui_app import TINY_CORPUS, wait_for

from tui.app import NextwordApp
from tui.drafts import DraftKeeper
from tui.files import read_autosaves
from tui.screens.confirm_quit import ConfirmQuitScreen


def test_a_draft_comes_back_at_the_next_start(tmp_path: Path) -> None:
    first = DraftKeeper(tmp_path)
    assert first.restore() == ""
    first.save("Dear Alice,\nthank you for")
    first.close()

    second = DraftKeeper(tmp_path)
    assert second.restore() == "Dear Alice,\nthank you for"
    second.save("Dear Alice,\nthank you for the book.")
    second.close()

    third = DraftKeeper(tmp_path)
    assert third.restore() == "Dear Alice,\nthank you for the book."
    assert len(list(tmp_path.glob("buffer*.json"))) == 1  # adopted, not copied again and again
    third.close()


def test_a_running_instance_keeps_its_draft(tmp_path: Path) -> None:
    running = DraftKeeper(tmp_path)
    running.save("still typing")
    other = DraftKeeper(tmp_path)
    assert other.restore() == ""  # locked by its instance: not taken from under it
    running.close()
    assert DraftKeeper(tmp_path).restore() == "still typing"


def test_the_default_folder_is_in_the_data_folder(private_home: Path) -> None:
    keeper = DraftKeeper()
    keeper.save("x")
    assert list((private_home / "writing").glob("buffer*.json"))
    keeper.close()


# --- every way out of the app writes the draft (the 1 s timer may not have fired) -----------------

WRITTEN = "typed just before leaving"


async def write_then(pilot, leave) -> None:
    """Type into the writing pane, then `leave(pilot)` at once: the draft's timer never fires."""
    app = pilot.app
    await wait_for(pilot, lambda: getattr(app.main, "drafts", None) is not None
                   and app.main.editor_pane.text == TINY_CORPUS)
    await pilot.press("f9", *[" " if c == " " else c for c in WRITTEN])
    assert app.main.writing_pane.text == WRITTEN
    await leave(pilot)
    await wait_for(pilot, lambda: not app.is_running, timeout=10)


async def ctrl_q(pilot) -> None:
    await pilot.press("ctrl+q")


async def ctrl_q_then(answer: str, pilot) -> None:
    """The corpus is changed, so ctrl+q asks first; `answer` it (Discard takes two presses)."""
    pilot.app.main.editor_pane.text_area.insert("x")
    await pilot.press("ctrl+q")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmQuitScreen)
                   and pilot.app.screen.query_one(f"#{answer}").region)
    await pilot.click(f"#{answer}")
    if answer == "discard":
        await pilot.pause(0.3)  # a button ignores presses for 0.2 s after one
        await pilot.click(f"#{answer}")


async def sigterm(pilot) -> None:
    """With the corpus changed too: its autosave is written as well, and kept."""
    pilot.app.main.editor_pane.text_area.insert("x")
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("leave", [ctrl_q, partial(ctrl_q_then, "save"), partial(ctrl_q_then, "discard"), sigterm],
                         ids=["ctrl+q", "quit question: save", "quit question: discard", "SIGTERM"])
async def test_every_way_out_writes_the_draft(corpus_file: Path, monkeypatch: pytest.MonkeyPatch, leave) -> None:
    monkeypatch.setattr("tui.screens.main_daily.DRAFT_DELAY", 60.0)  # "at once", on any machine
    app = NextwordApp(str(corpus_file))
    async with app.run_test(size=(100, 30)) as pilot:
        await write_then(pilot, leave)
    assert DraftKeeper().restore() == WRITTEN
    # The editor's autosave is as before: a clean quit drops this instance's, a signal keeps it.
    assert bool(read_autosaves()) == (leave is sigterm)
