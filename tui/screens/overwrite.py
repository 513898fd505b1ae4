"""Asked by ctrl+s when another program changed the corpus file since it was opened or saved:
Overwrite / Cancel (like vim's "the file has been changed since reading it")."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.safe import plain


class ConfirmOverwriteScreen(ModalScreen[bool]):
    """Dismisses with True to overwrite the file, False to leave it alone."""

    AUTO_FOCUS = "#cancel"  # the safe choice is the default
    BINDINGS = [
        Binding("escape", "choose(False)", "Cancel"),
        Binding("o", "choose(True)", "Overwrite", show=False),
        Binding("c", "choose(False)", "Cancel", show=False),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.file_name = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content.assemble(plain(self.file_name, "bold"), " changed on disk"), classes="dialog-title")
            yield Static("Another program changed this file after you opened it. Saving now replaces "
                         "its changes with your text.\nCancel keeps both: then save under another name "
                         "(ctrl+p, \"Save corpus as…\") and compare.", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Overwrite", id="overwrite", variant="error")
                yield Button("Cancel", id="cancel", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "overwrite")

    def action_choose(self, overwrite: bool) -> None:
        self.dismiss(overwrite)
