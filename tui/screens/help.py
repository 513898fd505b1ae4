"""F1: every key binding of the app, in one place."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "Write or open a corpus on the left, pick a model (F2-F4), press ctrl+t to train it, "
    "and type below the editor: the model suggests the next word as you type."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", "Close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(show_header=True, header_style="bold", box=None, expand=True, padding=(0, 2, 0, 0))
        table.add_column("Key", no_wrap=True)
        table.add_column("Action")
        for key, description in self.rows:
            table.add_row(key, description)
        with Vertical(classes="dialog help-dialog"):
            yield Static("[b]nextword-tui: keys[/b]", classes="dialog-title")
            yield Static(INTRO, classes="help-intro")
            with VerticalScroll(id="help-keys"):
                yield Static(table)
            yield Static("[dim]escape, F1 or q closes this help[/dim]")

    def action_close(self) -> None:
        self.dismiss(None)
