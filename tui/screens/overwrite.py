"""Asked by ctrl+s when another program changed the corpus file since it was opened or saved:
Overwrite / Cancel (like vim's "the file has been changed since reading it")."""

from __future__ import annotations

from typing import Iterable

from textual.binding import Binding
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tui.safe import plain
from tui.screens.dialog import ChoiceDialog


class ConfirmOverwriteScreen(ChoiceDialog[bool]):
    """Dismisses with True to overwrite the file, False to leave it alone."""

    AUTO_FOCUS = "#cancel"  # the safe choice is the default
    BINDINGS = [
        Binding("escape", "choose('cancel')", "Cancel"),
    ]
    DESTRUCTIVE = frozenset({"overwrite"})
    BUTTONS = (("overwrite", "Overwrite", "error"), ("cancel", "Cancel", "primary"))

    def __init__(self, name: str) -> None:
        super().__init__()
        self.file_name = name

    def heading(self) -> Content:
        return Content.assemble(plain(self.file_name, "bold"), " changed on disk")

    def body(self) -> Iterable[Widget]:
        yield Static("Another program changed this file after you opened it. Saving now replaces "
                     "its changes with your text.\nCancel keeps both: then save under another name "
                     "(ctrl+p, \"Save corpus as…\") and compare.", markup=False)

    def answer(self, choice: str) -> bool:
        return choice == "overwrite"
