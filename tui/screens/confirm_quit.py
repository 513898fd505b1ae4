"""Asked on quit (or before opening another file) when the corpus has unsaved changes:
Save / Discard / Cancel."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.safe import plain


class ConfirmQuitScreen(ModalScreen[str]):
    """Dismisses with "save", "discard" or "cancel"."""

    AUTO_FOCUS = "#save"
    BINDINGS = [
        Binding("escape", "choose('cancel')", "Cancel"),
        Binding("s", "choose('save')", "Save", show=False),
        Binding("d", "choose('discard')", "Discard", show=False),
    ]

    def __init__(self, name: str, before: str = "quitting") -> None:
        super().__init__()
        self.file_name = name
        self.before = before  # what happens after the answer: "quitting", "opening another file"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # A file name is not markup: "[/]" in it must not crash the app.
            yield Static(Content.assemble(plain(self.file_name, "bold"), " has unsaved changes."),
                         classes="dialog-title")
            yield Static(f"Save them before {self.before}?")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Discard", id="discard", variant="error")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
