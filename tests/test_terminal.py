"""tui.terminal.PasteSafeParser in-process: a bracketed paste is one Paste event holding
everything up to ESC[201~, however the terminal's bytes are split between reads."""

from __future__ import annotations

import time

from textual import events

from tui import terminal
from tui.terminal import PasteSafeParser

BODY = "pasted \x1b[1mbold\x1b[0m text\x14 tail\x1b"  # ends in ESC: right before the end marker
WIRE = "ab\x1b[200~" + BODY + "\x1b[201~cd"


def parse(chunks: list[str]) -> list:
    parser = PasteSafeParser()
    found = []
    for chunk in chunks:
        found += list(parser.feed(chunk))
    return found + list(parser.feed(""))


def summary(found: list) -> list:
    return [("paste", e.text) if isinstance(e, events.Paste) else ("key", e.key) for e in found
            if isinstance(e, (events.Paste, events.Key))]


def test_a_paste_split_anywhere_is_one_paste_between_the_keys_around_it() -> None:
    expected = [("key", "a"), ("key", "b"), ("paste", BODY), ("key", "c"), ("key", "d")]
    assert summary(parse([WIRE])) == expected
    for cut in range(1, len(WIRE)):
        assert summary(parse([WIRE[:cut], WIRE[cut:]])) == expected, cut


def test_keys_and_escape_outside_a_paste_are_parsed_as_before() -> None:
    assert summary(parse(["x\x1b[17~y"])) == [("key", "x"), ("key", "f6"), ("key", "y")]
    parser = PasteSafeParser()
    assert summary(parser.feed("\x1b")) == []  # the escape key, or the start of a sequence...
    time.sleep(0.15)
    assert summary(parser.tick()) == [("key", "escape")]  # ...decided after ESCDELAY, as before


def test_a_paste_whose_end_never_comes_ends_after_a_stall(monkeypatch) -> None:
    """A lone ESC[200~ (typed, or pasted on a terminal without bracketed paste) must not swallow
    every later key."""
    monkeypatch.setattr(terminal, "PASTE_STALL", 0.05)
    parser = PasteSafeParser()
    assert summary(parser.feed("\x1b[200~stuck")) == []
    time.sleep(0.1)
    assert summary(parser.tick()) == [("paste", "stuck")]
    assert summary(parser.feed("k")) == [("key", "k")]
