"""Two small dialogs of the models screen: a one-line prompt (a name, a folder) and the
confirmation of a delete.

Neither acts on a letter: text goes into the Input, buttons are reached with tab / arrows and
pressed with enter. Deleting needs two deliberate presses of its button (the first only arms it),
and escape always means "no".
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tui.safe import plain

ARROWS = [
    Binding("left,up", "app.focus_previous", "Previous", show=False),
    Binding("right,down", "app.focus_next", "Next", show=False),
]


class PromptScreen(ModalScreen[str | None]):
    """Dismisses with the text typed (stripped), or None when cancelled.

    The base of PathScreen too (tui/screens/open_file.py): a subclass changes the fields between
    the title and the buttons (fields()), the ids of its Input and message line, and what a typed
    text is accepted as (answer())."""

    AUTO_FOCUS = "#prompt-input"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    INPUT_ID, MESSAGE_ID = "prompt-input", "prompt-message"
    DIALOG_CLASSES = "dialog"
    EMPTY = "Type something first, or escape to cancel."  # said when OK is pressed on nothing

    def __init__(self, title: str, label: str, initial: str = "", button: str = "OK") -> None:
        super().__init__()
        self.title_text, self.label, self.initial, self.button = title, label, initial, button

    def compose(self) -> ComposeResult:
        with Vertical(classes=self.DIALOG_CLASSES):
            yield Static(plain(self.title_text, "bold"), classes="dialog-title")
            yield from self.fields()
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.button, id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def fields(self) -> ComposeResult:
        yield Static(plain(self.label))
        yield Input(self.initial, id=self.INPUT_ID)
        yield Static("", id=self.MESSAGE_ID)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def say(self, message: str) -> None:
        """Show `message` (markup) under the Input."""
        self.query_one(f"#{self.MESSAGE_ID}", Static).update(message)

    def answer(self, text: str) -> str | None:
        """What to dismiss with for `text` (stripped, not empty); None keeps the dialog open,
        having said why."""
        return text

    def _submit(self) -> None:
        text = self.query_one(f"#{self.INPUT_ID}", Input).value.strip()
        if not text:
            self.say(self.EMPTY)
            return
        answer = self.answer(text)
        if answer is not None:
            self.dismiss(answer)


class ConfirmDelete(ModalScreen[bool]):
    """Dismisses with True only after Delete was pressed twice; Cancel has the focus at first."""

    AUTO_FOCUS = "#cancel"
    BINDINGS = [Binding("escape", "cancel", "Cancel"), *ARROWS]

    def __init__(self, name: str, what: str = "model") -> None:
        super().__init__()
        self.item_name, self.what = name, what
        self.armed = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content.assemble("Delete the ", self.what, " ", plain(self.item_name, "bold"), "?"),
                         classes="dialog-title")
            yield Static("It goes to the trash folder in the data folder, and is kept there for 7 days.",
                         id="delete-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Delete", id="delete", variant="error")
                yield Button("Cancel", id="cancel", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id != "delete":
            self.dismiss(False)
        elif not self.armed:
            self.armed = True
            event.button.label = "Delete: sure"
            self.query_one("#delete-message", Static).update("Press it once more to delete, or escape to keep it.")
        else:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
