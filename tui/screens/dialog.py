"""The base of the app's questions (quit, overwrite, recover): a title, some lines, and a row of
buttons; each button, and each key bound to `choose(...)`, dismisses with its answer.

A dialog never acts on a letter (someone typing "good morning" into a dialog that opened under
their fingers must lose nothing): buttons are reached with tab / the arrows and pressed with
enter, escape is the safe answer, and a destructive choice (DESTRUCTIVE) takes a second press:
the first only arms it and says so."""

from __future__ import annotations

from typing import ClassVar, Generic, Iterable, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Static

Answer = TypeVar("Answer")


class ChoiceDialog(ModalScreen[Answer], Generic[Answer]):
    """Subclasses give BUTTONS as (id, label, variant), heading() (markup, or Content for text
    that must never be read as markup) and body(); answer() turns a button id into what the
    dialog dismisses with (the id itself unless overridden)."""

    BUTTONS: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset()  # button ids that need a second press
    BINDINGS = [
        Binding("left,up", "app.focus_previous", "Previous", show=False),
        Binding("right,down", "app.focus_next", "Next", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.armed: str | None = None  # the destructive button pressed once

    def heading(self) -> str | Content:
        raise NotImplementedError

    def body(self) -> Iterable[Widget]:
        return ()

    def answer(self, choice: str) -> Answer:
        return choice  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.heading(), classes="dialog-title")
            yield from self.body()
            with Horizontal(classes="dialog-buttons"):
                for button_id, label, variant in self.BUTTONS:
                    yield Button(label, id=button_id, variant=variant)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = event.button.id or ""
        if choice in self.DESTRUCTIVE and self.armed != choice:
            self.armed = choice
            label = next(label for button_id, label, _ in self.BUTTONS if button_id == choice)
            event.button.label = f"{label}: sure?"
            self.notify(f"Press {label} once more to confirm; escape or another button keeps everything.",
                        timeout=4)
            return
        self.dismiss(self.answer(choice))

    def action_choose(self, choice: str) -> None:
        self.dismiss(self.answer(choice))
