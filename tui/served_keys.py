"""Keys for the app served to a browser (`nextword-tui --serve`).

A browser keeps some keys for itself, before any page sees them: ctrl+t opens a tab, ctrl+w closes
one, ctrl+n opens a window. Served, every action bound to one of those gets a key browsers leave
alone, and the footer shows that one instead; ctrl+w, which Textual's text areas read as "delete
word", only says what it does in a browser (the tab would be gone before the app saw it anyway).
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding, BindingsMap

BROWSER_KEYS = ("ctrl+t", "ctrl+w", "ctrl+n")  # taken by every desktop browser, never passed on
SERVED_KEYS = {"ctrl+t": "f10"}  # the stand-in for each of the app's keys among them
CTRL_W_NOTE = "In a browser ctrl+w closes the tab: use alt+backspace to delete a word."


def adapt_for_browser(bindings: BindingsMap) -> BindingsMap:
    """`bindings` (a screen's), changed in place for a browser, and returned: each binding on a
    browser key is hidden from the footer and copied onto its stand-in, shown there instead;
    ctrl+w is bound (with priority, over the text areas) to `browser_ctrl_w`."""
    for key, stand_in in SERVED_KEYS.items():
        for binding in bindings.key_to_bindings.get(key, []):
            bindings.key_to_bindings.setdefault(stand_in, []).append(replace(binding, key=stand_in))
        bindings.key_to_bindings[key] = [replace(b, show=False) for b in bindings.key_to_bindings.get(key, [])]
    bindings.key_to_bindings["ctrl+w"] = [Binding("ctrl+w", "browser_ctrl_w", "", show=False, priority=True)]
    return bindings
