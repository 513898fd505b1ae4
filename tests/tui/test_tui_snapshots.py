"""Snapshots of the layout before any training, at the two sizes that matter: 100x30 (all four
panes comfortable) and 80x24 (the smallest 'usable' size). Update them deliberately with
`pytest tests/tui --snapshot-update` and look at the SVGs before committing."""

from __future__ import annotations

import time
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tui.app import NextwordApp


async def settle(pilot: Pilot) -> None:
    """Wait for the background start-up work, and stop the cursors blinking, so every run draws
    the same picture."""
    app = pilot.app
    main = app.main
    deadline = time.monotonic() + 30
    while not (main.engine_ready and main.fingerprint and main.picker_pane.settings_ready
               and main.models.active("ngram") is not None):  # the n-gram serves suggestions at once
        assert time.monotonic() < deadline, "the app did not finish starting"
        await pilot.pause(0.05)
    app.query_one("#typing", TextArea).cursor_blink = False
    app.query_one("#corpus-text", TextArea).cursor_blink = False
    await pilot.pause()


def test_layout_100x30(snap_compare, corpus_file: Path) -> None:
    assert snap_compare(NextwordApp(str(corpus_file)), terminal_size=(100, 30), run_before=settle)


def test_layout_80x24(snap_compare, corpus_file: Path) -> None:
    assert snap_compare(NextwordApp(str(corpus_file)), terminal_size=(80, 24), run_before=settle)


def test_help_screen_80x24(snap_compare, corpus_file: Path) -> None:
    async def open_help(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(NextwordApp(str(corpus_file)), terminal_size=(80, 24), run_before=open_help)
