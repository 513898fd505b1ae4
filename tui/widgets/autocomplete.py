"""The typing pane: an Input whose ghost text is the model's top suggestion, and the top five
suggestions with their probabilities. tab accepts the top one, alt+1..alt+5 any of the five."""

from __future__ import annotations

from typing import TYPE_CHECKING

import engine
from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import SuggestionReady
from textual.widgets import Input, Static

from tui.safe import CONTROL, has_control

if TYPE_CHECKING:
    from engine import Predictor, Suggestion

TOP_K = 5
ALT_DIGIT_ALIASES = ("inverted_exclamation_mark", "trade_mark_sign", "pound_sign", "cent_sign", "infinity")


def ghost_text(value: str, found: list[Suggestion]) -> str | None:
    """What the Input shows greyed after the cursor: `value` with the top suggestion accepted
    (without its trailing space), when that only adds to what is typed.

    (`engine.apply_suggestion`, looked up when used: its module loads numpy, which the first
    frame does not wait for; a Suggestion exists only once it is loaded.)"""
    if not found:
        return None
    text = engine.apply_suggestion(value, found[0]).rstrip(" ")
    return text if text.startswith(value) and len(text) > len(value) else None


class TypingInput(Input):
    """An Input that leaves alt+1..alt+5 (in their one-character disguises) to its pane, and keeps
    control characters out: a pasted escape sequence must not reach the terminal when drawn."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return key not in ALT_DIGIT_ALIASES and super().check_consume_key(key, character)

    def replace(self, text: str, start: int, end: int) -> None:
        # Every insertion (typing, paste) comes through here. Tabs become spaces (they separate
        # words); other control characters (ESC, NUL, BEL, C1 codes…) are dropped.
        if has_control(text):
            text = CONTROL.sub("", text.replace("\t", " "))
        super().replace(text, start, end)


class Autocomplete(Vertical):
    """Types with the active model. The app hands it a Predictor (or None) with set_predictor."""

    BINDINGS = [
        Binding("tab", "tab", "Accept", show=False),  # shown in the pane's border instead
        # Terminals with the kitty keyboard protocol report alt+1 as such; xterm-likes send ESC 1,
        # which Textual (like macOS's Option+1) reads as "¡", and so on. TypingInput leaves those
        # five characters to these (priority) bindings instead of typing them.
        *(Binding(f"alt+{n},{alias}", f"accept({n - 1})", f"Accept #{n}", show=False, priority=True)
          for n, alias in enumerate(ALT_DIGIT_ALIASES, start=1)),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictor: Predictor | None = None
        self._no_model_hint = "No model yet: press ctrl+t to train one on the editor text."
        # The suggestions on screen, and the text they are for: accepting one uses them as shown.
        self.shown: list[Suggestion] = []
        self.shown_for: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="ac-model")
        yield TypingInput(placeholder="Type here…", id="typing")
        yield Static("", id="ac-list")

    def on_mount(self) -> None:
        self._show_list()

    @property
    def input(self) -> Input:
        return self.query_one("#typing", Input)

    def set_predictor(self, predictor: Predictor | None, description: str, hint: str | None = None) -> None:
        """Use `predictor` (None: no model, show `hint`) and redo the current suggestions."""
        self.query_one("#ac-model", Static).update(description)
        if predictor is self.predictor and (predictor is not None or hint == self._no_model_hint):
            return  # same model: keep the suggestions (and the predictor's cache) as they are
        self.predictor = predictor
        if hint:
            self._no_model_hint = hint
        self._suggest(self.input.value)

    def suggestions(self, value: str) -> list[Suggestion]:
        """The top suggestions for `value` (one model call)."""
        if self.predictor is None:
            return []
        found = self.predictor.suggest(value, k=TOP_K + 3)
        # A corpus with control characters teaches the model "words" like ESC: never offer
        # them (they would be drawn raw, and typed into the box).
        return [s for s in found if not has_control(s.word)][:TOP_K]

    @on(Input.Changed, "#typing")
    def _typed(self, event: Input.Changed) -> None:
        """Every keystroke: the suggestions once, for both the list and the ghost text."""
        event.stop()
        self._suggest(event.value)

    def _suggest(self, value: str) -> None:
        self.shown, self.shown_for = self.suggestions(value), value
        self._show_list()
        ghost = ghost_text(value, self.shown) if value else None
        self.input.post_message(SuggestionReady(value, ghost or value))

    def action_tab(self) -> None:
        """tab accepts the top suggestion; with none it does nothing: it never leaves the typing box,
        or the next keys would go to another pane (F6-F9 move the focus)."""
        try:
            self.action_accept(0)
        except SkipAction:
            self.app.bell()

    def action_accept(self, index: int) -> None:
        """Accept suggestion `index` (0 = top); SkipAction when there is none to accept."""
        value = self.input.value
        # A key can come before the Input.Changed of the text it follows (e.g. alt+2 right after tab).
        found = self.shown if self.shown_for == value else self.suggestions(value)
        if index >= len(found) or not self.input.cursor_at_end:
            raise SkipAction()
        self.input.value = engine.apply_suggestion(value, found[index])
        self.input.cursor_position = len(self.input.value)
        self.input.focus()

    def _show_list(self) -> None:
        view = self.query_one("#ac-list", Static)
        if self.predictor is None:
            view.update(Text(self._no_model_hint, style="italic"))
            return
        found = self.shown
        if not found:
            view.update(Text("no suggestions for this word", style="dim italic"))
            return
        lines = Text()
        width = min(14, max(len(s.word) for s in found) + 1)
        for n, s in enumerate(found, start=1):
            if n > 1:
                lines.append("\n")
            lines.append(f"alt+{n} ", style="dim")
            lines.append(f"{s.word:<{width}}", style="bold" if n == 1 else "")
            lines.append(f"{s.prob:6.1%} ", style="dim")
            lines.append("█" * max(1, round(s.prob * 12)), style="green")
        view.update(lines)
