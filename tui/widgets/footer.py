"""The footer of the main screen: Textual's Footer, with three changes that make the first frame
come sooner.

- Its keys are in the first frame (Textual's Footer waits for a binding change to draw any).
- One redraw for a burst of binding changes. At start the bindings change three times in a row
  (focus, the settings' inputs, the training state); Textual's footer rebuilds all its keys for
  each (30-100 ms apiece on a busy machine), this one once.
- It says when its keys first show (`KeysShown`): the first complete frame, after which the main
  screen starts its heavier work (the corpus, the engine).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    @dataclass
    class KeysShown(Message):
        """The footer's keys are composed; the next refresh draws them."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # Textual's Footer draws no keys until the first binding change after its mount, one
        # more frame later; the screen's keys are known at once (Textual 8.2's own flag).
        self.set_reactive(Footer._bindings_ready, True)
        self._redraw_pending = False
        self._shown = False

    def bindings_changed(self, screen: Screen) -> None:
        if self._redraw_pending:
            return  # the redraw already asked for reads the bindings as they are then
        # The conditions under which Footer.bindings_changed asks for a redraw.
        self._redraw_pending = screen.app.app_focus and self.is_attached and screen is self.screen
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        self._redraw_pending = False
        await super().recompose()
        if not self._shown and self.children:
            self._shown = True
            self.post_message(self.KeysShown())
