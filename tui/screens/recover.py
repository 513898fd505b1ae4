"""Offered on start for each autosave that holds work its file does not, left by an instance of
the app that is gone (killed, its terminal closed): Recover / Discard / Later."""

from __future__ import annotations

import time

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.safe import printable


class RecoverScreen(ModalScreen[str]):
    """Dismisses with "recover", "discard" (delete the autosave) or "later" (keep it for the
    next start). escape is "later": a key pressed by habit never deletes work."""

    AUTO_FOCUS = "#recover"
    BINDINGS = [
        Binding("escape", "choose('later')", "Later"),
        Binding("r", "choose('recover')", "Recover", show=False),
        Binding("d", "choose('discard')", "Discard", show=False),
        Binding("l", "choose('later')", "Later", show=False),
    ]

    def __init__(self, path: str | None, saved_at: float, preview: str, position: tuple[int, int] = (1, 1)) -> None:
        super().__init__()
        self.path = path
        self.saved_at = saved_at
        self.preview = preview
        self.position = position  # (this one, of how many)

    def compose(self) -> ComposeResult:
        where = escape(printable(self.path)) if self.path else "an unsaved corpus"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        index, count = self.position
        of = f" ({index} of {count})" if count > 1 else ""
        with Vertical(classes="dialog"):
            yield Static(f"[b]Unsaved work was found{of}[/b]", classes="dialog-title")
            yield Static(f"Changes to {where}, autosaved {when}, were never saved.")
            yield Static(escape(printable(self.preview, newlines=True)), classes="dialog-preview")
            yield Static("[dim]Later keeps it for the next start.[/dim]")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Recover", id="recover", variant="primary")
                yield Button("Discard", id="discard", variant="error")
                yield Button("Later", id="later")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
