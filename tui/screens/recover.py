"""Offered on start for each autosave that holds work its file does not, left by an instance of
the app that is gone (killed, its terminal closed): Recover / Discard / Later."""

from __future__ import annotations

import time
from typing import Iterable

from rich.markup import escape
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Static

from tui.safe import printable
from tui.screens.dialog import ChoiceDialog


class RecoverScreen(ChoiceDialog[str]):
    """Dismisses with "recover", "discard" (delete the autosave) or "later" (keep it for the
    next start). escape is "later": a key pressed by habit never deletes work."""

    AUTO_FOCUS = "#recover"
    BINDINGS = [
        Binding("escape", "choose('later')", "Later"),
    ]
    DESTRUCTIVE = frozenset({"discard"})
    BUTTONS = (("recover", "Recover", "primary"), ("discard", "Discard", "error"), ("later", "Later", "default"))

    def __init__(self, path: str | None, saved_at: float, preview: str, position: tuple[int, int] = (1, 1)) -> None:
        super().__init__()
        self.path = path
        self.saved_at = saved_at
        self.preview = preview
        self.position = position  # (this one, of how many)

    def heading(self) -> str:
        index, count = self.position
        of = f" ({index} of {count})" if count > 1 else ""
        return f"[b]Unsaved work was found{of}[/b]"

    def body(self) -> Iterable[Widget]:
        where = escape(printable(self.path)) if self.path else "an unsaved corpus"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        yield Static(f"Changes to {where}, autosaved {when}, were never saved.")
        yield Static(escape(printable(self.preview, newlines=True)), classes="dialog-preview")
        yield Static("[dim]Later keeps it for the next start; Discard (twice) keeps it 7 days in the trash.[/dim]")
