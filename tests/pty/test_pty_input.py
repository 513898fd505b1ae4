"""Terminal input the app must survive, sent through a real pty (issue 12 items 1, 2 and 6)."""

from __future__ import annotations

import time

from harness import CTRL_C, CTRL_Q, F6, F7, TAB, app_in_pty  # noqa: F401 - app_in_pty is a fixture

NEW_FILE = "new.txt"  # a file that does not exist yet: the app is ready without waiting for the engine
HOSTILE_PASTE = "pasted \x1b[1mbold\x1b[0m text\x14 tail"  # a log line with colour codes, and a ctrl+t


def test_a_paste_with_escape_sequences_stays_text(app_in_pty) -> None:
    """Everything up to ESC[201~ is paste text: the pasted ctrl+t starts no training, and the
    colour codes are not read as keys. The typing box drops control characters; the editor keeps
    them (drawn as control pictures)."""
    term = app_in_pty(NEW_FILE)
    term.paste(HOSTILE_PASTE)
    screen = term.wait_for("pasted [1mbold[0m text tail")  # the typing box has focus at start
    assert "^[" not in screen
    term.press(F6)
    term.paste(HOSTILE_PASTE)
    term.wait_for("pasted ␛[1mbold␛[0m text␔ tail")
    time.sleep(1.0)  # a training run started by the pasted ctrl+t would show by now
    assert "Not training" in term.text()


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(app_in_pty) -> None:
    """A Latin-1 terminal's "é" (0xE9) and a stray 0xFF: shown as �, the app goes on."""
    term = app_in_pty(NEW_FILE)
    term.write(b"caf\xe9 ")
    term.write(b"\xff ok")
    term.wait_for("caf\ufffd \ufffd ok")
    term.write(CTRL_Q)
    assert term.wait_exit() == 0
    assert "Traceback" not in term.output()


def test_tab_without_a_suggestion_stays_in_the_typing_box(app_in_pty) -> None:
    """No model knows "how are y": tab does nothing, and the next keys still go to the typing box
    (they once went to the model picker, and "u doing" switched the model from LSTM to RNN)."""
    term = app_in_pty(NEW_FILE)  # an empty corpus: nothing to suggest, whatever the model
    term.type("how are y")
    term.press(TAB)
    term.type("u doing")
    screen = term.wait_for("how are yu doing")
    assert "LSTM: " in screen and "RNN: " not in screen  # the typing pane's model line


def test_ctrl_c_says_how_to_quit_in_plain_words(app_in_pty) -> None:
    """Outside a text field ctrl+c does not quit; its hint was shown as literal markup
    ("Press [b]ctrl+q[/b]")."""
    term = app_in_pty(NEW_FILE)
    term.press(F7)  # the model picker: no text to copy there
    term.write(CTRL_C)
    screen = term.wait_for("Press ctrl+q to quit")
    assert "[b]" not in screen
