"""Asked on quit (or before opening another file) when the corpus has unsaved changes:
Save / Discard / Cancel."""

from __future__ import annotations

from typing import Iterable

from textual.binding import Binding
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tui.safe import plain
from tui.screens.dialog import ChoiceDialog


class ConfirmQuitScreen(ChoiceDialog[str]):
    """Dismisses with "save", "discard" or "cancel"."""

    AUTO_FOCUS = "#save"
    BINDINGS = [
        Binding("escape", "choose('cancel')", "Cancel"),
    ]
    DESTRUCTIVE = frozenset({"discard"})
    BUTTONS = (("save", "Save", "primary"), ("discard", "Discard", "error"), ("cancel", "Cancel", "default"))

    def __init__(self, name: str, before: str = "quitting") -> None:
        super().__init__()
        self.file_name = name
        self.before = before  # what happens after the answer: "quitting", "opening another file"

    def heading(self) -> Content:
        # A file name is not markup: "[/]" in it must not crash the app.
        return Content.assemble(plain(self.file_name, "bold"), " has unsaved changes.")

    def body(self) -> Iterable[Widget]:
        yield Static(f"Save them before {self.before}?")
