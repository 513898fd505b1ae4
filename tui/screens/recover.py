"""Offered on start when an autosave holds work that its file does not: Recover / Discard."""

from __future__ import annotations

import time

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class RecoverScreen(ModalScreen[bool]):
    """Dismisses with True to recover the autosave, False to discard it."""

    AUTO_FOCUS = "#recover"
    BINDINGS = [
        Binding("escape", "choose(False)", "Discard"),
        Binding("r", "choose(True)", "Recover", show=False),
        Binding("d", "choose(False)", "Discard", show=False),
    ]

    def __init__(self, path: str | None, saved_at: float, preview: str) -> None:
        super().__init__()
        self.path = path
        self.saved_at = saved_at
        self.preview = preview

    def compose(self) -> ComposeResult:
        where = escape(self.path) if self.path else "an unsaved corpus"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        with Vertical(classes="dialog"):
            yield Static("[b]Unsaved work was found[/b]", classes="dialog-title")
            yield Static(f"Changes to {where}, autosaved {when}, were never saved.")
            yield Static(escape(self.preview), classes="dialog-preview")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Recover", id="recover", variant="primary")
                yield Button("Discard", id="discard", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "recover")

    def action_choose(self, recover: bool) -> None:
        self.dismiss(recover)
