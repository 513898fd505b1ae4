"""Every way out of the app keeps the unsaved text (issue 12 item 2; issue 11 item 6): the
autosave is written first, and the exit status says what happened."""

from __future__ import annotations

import signal

import pytest
from faulty_app import F10, F11, F12
from harness import F6, F9, app_in_pty, autosave_texts  # noqa: F401 - app_in_pty is a fixture

UNSAVED = "words typed just now"
NEW_FILE = "new.txt"  # a file that does not exist yet: the editor is ready at once (no engine to wait for)


def type_unsaved(term) -> None:
    """Type into the editor, and act before its 2-second autosave would have run."""
    term.press(F6)
    term.type(UNSAVED, pause=0.005)
    term.wait_for(UNSAVED)


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_terminate_signal_saves_then_exits_128_plus_signal(app_in_pty, sig, status) -> None:
    term = app_in_pty(NEW_FILE)
    type_unsaved(term)
    term.signal(sig)
    assert term.wait_exit() == status
    assert any(UNSAVED in text for text in autosave_texts(term.home))


@pytest.mark.parametrize("key, where", [(F12, "event loop"), (F11, "plain thread"), (F10, "input thread")])
def test_a_crash_saves_then_exits_1(app_in_pty, key, where) -> None:
    term = app_in_pty(NEW_FILE, module="faulty_app")
    type_unsaved(term)
    term.write(key)
    assert term.wait_exit() == 1, where
    assert any(UNSAVED in text for text in autosave_texts(term.home)), where
    assert "Injected" in term.output()  # the traceback is still shown, after the terminal is restored


@pytest.mark.parametrize("leave, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (F12, 1), (F11, 1)],
                         ids=["SIGTERM", "SIGHUP", "crash on the event loop", "crash in a thread"])
def test_every_way_out_writes_the_draft(app_in_pty, leave, status) -> None:
    """Text typed in the writing pane a moment ago (its draft is saved 1 s after the last key)."""
    term = app_in_pty(NEW_FILE, module="faulty_app")
    term.press(F9)
    term.type(UNSAVED, pause=0.005)
    term.wait_for(UNSAVED)  # the app has it: act now, well before the draft's timer
    if isinstance(leave, str):
        term.write(leave)
    else:
        term.signal(leave)
    assert term.wait_exit() == status
    assert UNSAVED in autosave_texts(term.home, "writing")
