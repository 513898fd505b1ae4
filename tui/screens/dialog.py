"""The base of the app's questions (quit, overwrite, recover): a title, some lines, and a row of
buttons; each button, and each key bound to `choose(...)`, dismisses with its answer."""

from __future__ import annotations

from typing import ClassVar, Generic, Iterable, TypeVar

from textual.app import ComposeResult
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
        self.dismiss(self.answer(event.button.id or ""))

    def action_choose(self, choice: str) -> None:
        self.dismiss(self.answer(choice))
