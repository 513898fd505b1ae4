"""Text from the user's disk (file names, corpus lines, words a model learned from them) made safe
to draw: never read as markup, and never able to send escape sequences to the terminal.

A corpus may hold ESC, NUL or C1 control characters (a log with colour codes, a hostile file), and
Textual passes those through to the terminal as they are: they could move the cursor, recolour the
screen, retitle the window or, in some terminals, write the clipboard. Every place that draws such
text uses `printable`; anything that also goes through markup uses `plain` (a Content, no markup).
"""

from __future__ import annotations

import re

from textual.content import Content

# C0 controls -> their Unicode "control pictures" (ESC -> ␛, NUL -> ␀), DEL -> ␡; C1 controls and
# the invisible bidirectional overrides (which can make "txt.exe" look like "exe.txt") -> �.
_PICTURES = {code: 0x2400 + code for code in range(0x20)}
_PICTURES[0x7F] = 0x2421
_PICTURES.update({code: 0xFFFD for code in range(0x80, 0xA0)})
_PICTURES.update({code: 0xFFFD for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})
_KEEP_NEWLINES = {k: v for k, v in _PICTURES.items() if k not in (0x09, 0x0A)}
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def has_control(text: str) -> bool:
    return CONTROL.search(text) is not None


def printable(text: str, newlines: bool = False) -> str:
    """`text` with every control character shown as a visible stand-in (one cell wide).
    `newlines`: keep line breaks and tabs (for multi-line messages)."""
    if not has_control(text):
        return text
    return text.translate(_KEEP_NEWLINES if newlines else _PICTURES)


def plain(text: str, style: str = "") -> Content:
    """`text` as Content that is never parsed as markup: a file named "[/]" or "[@click=…]" is
    just a name (as markup it would crash the app, or turn into a link)."""
    return Content.styled(printable(text), style) if style else Content(printable(text))
