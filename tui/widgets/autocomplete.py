"""The typing pane: an Input whose ghost text is the model's top suggestion, and the top five
suggestions with their probabilities. tab accepts the top one, alt+1..alt+5 any of the five."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import Suggester, SuggestionReady
from textual.widgets import Input, Static

from tui.safe import CONTROL, has_control

TOP_K = 5
ALT_DIGIT_ALIASES = ("inverted_exclamation_mark", "trade_mark_sign", "pound_sign", "cent_sign", "infinity")
# The engine's spacing rules (engine.predict), repeated so this module loads without torch.
NO_SPACE_BEFORE = set(".,;:!?%)]}'’”…")
NO_SPACE_AFTER = set("([{“‘$#")


def is_completing(value: str) -> bool:
    """True when the text ends inside a word (suggestions complete it), False when the next
    word is wanted. Only called once a predictor exists, so the engine is already imported."""
    from engine.tokenizer import split_partial

    return bool(split_partial(value)[1])


def apply_suggestion(value: str, word: str, remainder: str, completing: bool) -> str:
    """The text after accepting a suggestion, with a space after it so the next word can follow."""
    if completing:
        text = value + remainder
    elif word[:1] in NO_SPACE_BEFORE:
        text = value.rstrip(" ") + word  # "hello ." -> "hello."
    elif not value or value[-1].isspace() or value[-1] in NO_SPACE_AFTER:
        text = value + word
    else:
        text = value + " " + word  # "Hello," -> "Hello, how"
    return text if word[-1:] in NO_SPACE_AFTER else text + " "


class PredictorSuggester(Suggester):
    """Asks the autocomplete pane for the ghost text of a value. Runs on the event loop, so the
    source must be fast: the Predictor caches its state and filters by prefix inside a word."""

    def __init__(self, source: Callable[[str], str | None]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._source = source

    async def get_suggestion(self, value: str) -> str | None:
        return self._source(value)


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
        self.predictor = None  # engine.predict.Predictor
        self._no_model_hint = "No model yet: press ctrl+t to train one on the editor text."
        self._cache: tuple[str, list] | None = None  # (value, suggestions) of the last call

    def compose(self) -> ComposeResult:
        yield Static("", id="ac-model")
        yield TypingInput(placeholder="Type here…", id="typing",
                    suggester=PredictorSuggester(self.ghost_for))
        yield Static("", id="ac-list")

    def on_mount(self) -> None:
        self._show_list("")

    @property
    def input(self) -> Input:
        return self.query_one("#typing", Input)

    def set_predictor(self, predictor, description: str, hint: str | None = None) -> None:
        """Use `predictor` (None: no model, show `hint`) and redo the current suggestions."""
        if predictor is self.predictor and (predictor is not None or hint == self._no_model_hint):
            self.query_one("#ac-model", Static).update(description)
            return  # same model: keep the suggestions (and the predictor's cache) as they are
        self.predictor = predictor
        if hint:
            self._no_model_hint = hint
        self._cache = None
        self.query_one("#ac-model", Static).update(description)
        value = self.input.value
        self._show_list(value)
        # Refresh the ghost text too; the Input only asks its suggester when its value changes.
        ghost = self.ghost_for(value) if value else None
        self.input.post_message(SuggestionReady(value, ghost or value))

    def suggestions(self, value: str) -> list:
        """Top suggestions for `value`; the ghost text and the list share one model call."""
        if self.predictor is None:
            return []
        if self._cache is None or self._cache[0] != value:
            found = self.predictor.suggest(value, k=TOP_K + 3)
            # A corpus with control characters teaches the model "words" like ESC: never offer
            # them (they would be drawn raw, and typed into the box).
            self._cache = (value, [s for s in found if not has_control(s.word)][:TOP_K])
        return self._cache[1]

    def ghost_for(self, value: str) -> str | None:
        """The full text the Input shows greyed after the cursor: value + the top suggestion."""
        found = self.suggestions(value)
        if not found:
            return None
        top = found[0]
        text = apply_suggestion(value, top.word, top.remainder, is_completing(value)).rstrip(" ")
        return text if text.startswith(value) and len(text) > len(value) else None

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show_list(event.value)

    def action_tab(self) -> None:
        """tab accepts the top suggestion; with none it does nothing: it never leaves the typing box,
        or the next keys would go to another pane (F6-F9 move the focus)."""
        try:
            self.action_accept(0)
        except SkipAction:
            self.app.bell()

    def action_accept(self, index: int) -> None:
        """Accept suggestion `index` (0 = top); SkipAction when there is none to accept."""
        found = self.suggestions(self.input.value)
        if index >= len(found) or not self.input.cursor_at_end:
            raise SkipAction()
        choice = found[index]
        value = self.input.value
        self.input.value = apply_suggestion(value, choice.word, choice.remainder, is_completing(value))
        self.input.cursor_position = len(self.input.value)
        self.input.focus()

    def _show_list(self, value: str) -> None:
        view = self.query_one("#ac-list", Static)
        if self.predictor is None:
            view.update(Text(self._no_model_hint, style="italic"))
            return
        found = self.suggestions(value)
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
