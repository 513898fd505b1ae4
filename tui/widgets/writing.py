"""The writing pane: a multi-line writing area whose ghost text is the model's top suggestion, and
the top five suggestions with their probabilities. tab accepts the top one (→ the ghost text),
alt+1..alt+5 any of the five. Suggestions are offered while the cursor is at the end of the text.

The same surface as the typing box it replaces (set_predictor, suggestions, action_accept), so the
main screen drives either. What is written is kept by the main screen (autosave, recovery,
save / copy / add to the corpus); this widget only writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea

from tui.safe import CONTROL, has_control

if TYPE_CHECKING:
    from engine import Predictor, Suggestion

TOP_K = 5
ASKED = TOP_K + 3  # asked of the model: a few spare, for the words the pane never shows
ALT_DIGIT_ALIASES = ("inverted_exclamation_mark", "trade_mark_sign", "pound_sign", "cent_sign", "infinity")
BROWSER_CTRL_W = "In a browser ctrl+w closes the tab: alt+backspace deletes a word here."


class WritingArea(TextArea):
    """A TextArea that asks its pane for the ghost text after every edit, leaves alt+1..alt+5 (and
    the characters terminals send for them) to the pane, and keeps control characters out."""

    BINDINGS = [Binding("ctrl+w", "delete_word_or_warn", "Delete word", show=False)]

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, tab_behavior="focus", show_line_numbers=False, placeholder="Type here…",
                         **kwargs)

    def check_consume_key(self, key: str, character: str | None = None) -> bool:
        return key not in ALT_DIGIT_ALIASES and super().check_consume_key(key, character)

    def at_end(self) -> bool:
        return self.selection.is_empty and self.cursor_location == self.document.end

    def update_suggestion(self) -> None:
        pane = self.parent
        ghost = pane.ghost_for(self.text) if isinstance(pane, WritingPane) and self.at_end() else None
        self.suggestion = ghost or ""

    def _replace_via_keyboard(self, insert: str, start, end):
        if has_control(insert.replace("\n", "")):  # a pasted escape sequence must never be drawn raw
            insert = "\n".join(CONTROL.sub("", line.replace("\t", " ")) for line in insert.split("\n"))
        return super()._replace_via_keyboard(insert, start, end)

    async def _on_paste(self, event) -> None:
        # TextArea's own handler (called after this one, down the class chain) inserts it; it
        # must not bubble to the app, which would hand it to the focused widget once more.
        event.stop()

    def action_delete_word_or_warn(self) -> None:
        """ctrl+w: delete-word in a terminal; served to a browser, the browser closes the tab on
        it before the app sees it, so the app never teaches it: it says which key to use."""
        if self.app.is_web:
            self.app.notify(BROWSER_CTRL_W, timeout=5)
        else:
            self.action_delete_word_left()


class WritingPane(Vertical):
    """Writes with the active model. The main screen hands it a Predictor (or None) with
    set_predictor, and listens for Written (the text changed)."""

    BINDINGS = [
        Binding("tab", "tab", "Accept", show=False),  # shown in the pane's border instead
        *(Binding(f"alt+{n},{alias}", f"accept({n - 1})", f"Accept #{n}", show=False, priority=True)
          for n, alias in enumerate(ALT_DIGIT_ALIASES, start=1)),
    ]

    class Written(Message):
        """The text in the writing area changed."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictor: Predictor | None = None
        self._no_model_hint = "No model yet: press ctrl+t to train one on the editor text."
        self._cache: tuple[str, list] | None = None  # (text, suggestions) of the last model call

    def compose(self) -> ComposeResult:
        yield Static("", id="ac-model")
        yield WritingArea(id="typing")
        yield Static("", id="ac-list")

    def on_mount(self) -> None:
        self._show_list()

    @property
    def area(self) -> WritingArea:
        return self.query_one("#typing", WritingArea)

    @property
    def text(self) -> str:
        return self.area.text

    @property
    def asked_text(self) -> str | None:
        """The text the suggestions on screen are for; a worker may read it (one attribute)."""
        cache = self._cache
        return None if cache is None else cache[0]

    def load(self, text: str) -> None:
        """Put `text` in the writing area (a recovered draft), cursor at its end."""
        area = self.area
        area.load_text(text)
        area.move_cursor(area.document.end)

    def set_predictor(self, predictor: Predictor | None, description: str, hint: str | None = None) -> None:
        """Use `predictor` (None: no model, show `hint`) and redo the current suggestions."""
        self.query_one("#ac-model", Static).update(description, layout=False)  # one row, always
        if predictor is self.predictor and (predictor is not None or hint == self._no_model_hint):
            return  # same model: keep the suggestions (and the predictor's cache)
        self.predictor = predictor
        note = getattr(predictor, "open_note", "")
        if note:  # e.g. a damaged learned state: the model still serves, learning afresh
            predictor.open_note = ""  # said once
            self.app.notify(note, title="Learning", timeout=6)
        if hint:
            self._no_model_hint = hint
        self._cache = None
        self._listed = None
        self.area.update_suggestion()
        self._show_list()
        self.show_learning()

    def refresh_suggestions(self) -> None:
        """Ask the model again (what it learned changed)."""
        self._cache = None
        self._listed = None
        self.area.update_suggestion()
        self._show_list()

    def show_learning(self) -> None:
        """The border subtitle says whether the model learns from what is typed here (issue 10)."""
        learner = getattr(self.predictor, "learner", None)
        state = "" if learner is None else " · learning paused" if learner.paused else " · learning"
        old = getattr(self, "_learning_shown", "")
        base = str(self.border_subtitle or "")
        if old and base.endswith(old):
            base = base[: -len(old)]
        self._learning_shown = state
        self.border_subtitle = base + state

    def suggestions(self, text: str) -> list[Suggestion]:
        """The top suggestions for `text`; the ghost text and the list share one model call."""
        if self.predictor is None:
            return []
        if self._cache is None or self._cache[0] != text:
            learn = getattr(self.predictor, "learn", None)  # issue 10: an adaptive predictor learns
            if learn is not None:  # what is typed here (only here), before it suggests
                learn(text)
            found = self.predictor.suggest(text, k=ASKED)
            # A corpus with control characters teaches the model "words" like ESC: never offer them.
            self._cache = (text, [s for s in found if not has_control(s.word)][:TOP_K])
        return self._cache[1]

    def ghost_for(self, text: str) -> str | None:
        """The greyed text after the cursor: the top suggestion's insertion, without its trailing
        space (tab accepts it with the space; → accepts what is shown)."""
        found = self.suggestions(text)
        if not found or found[0].delete:
            return None  # ghost text can only add ("hello ." -> "hello." removes a space)
        return found[0].insert.rstrip(" ") or None

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._show_list()
        self.post_message(self.Written())

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        event.stop()
        self._show_list()

    def action_tab(self) -> None:
        """tab accepts the top suggestion; with none it does nothing: it never leaves the writing area,
        or the next keys would go to another pane (issue 12 item 6; F6-F9 move the focus)."""
        try:
            self.action_accept(0)
        except SkipAction:
            self.app.bell()

    def action_accept(self, index: int) -> None:
        """Accept suggestion `index` (0 = top); SkipAction when there is none to accept."""
        area = self.area
        found = self.suggestions(area.text) if area.at_end() else []
        if index >= len(found):
            raise SkipAction()
        choice = found[index]
        end = area.document.end
        start = area.document.end
        if choice.delete:
            row, column = end
            start = (row, max(0, column - choice.delete))
        area.replace(choice.insert, start, end)
        area.move_cursor(area.document.end)
        area.focus()

    def _show_list(self) -> None:
        area = self.area
        state = (id(self.predictor), self._no_model_hint, area.text if area.at_end() else None)
        if state == getattr(self, "_listed", None):
            return  # a keystroke sends both Changed and SelectionChanged: draw the list once
        self._listed = state
        # The list has rows of its own (app.tcss): a new one needs no layout of the whole screen,
        # which took longer than the rest of a keystroke.
        view = self.query_one("#ac-list", Static)
        if self.predictor is None:
            view.update(Text(self._no_model_hint, style="italic"), layout=False)
            return
        if not area.at_end():
            view.update(Text("suggestions at the end of the text", style="dim italic"), layout=False)
            return
        found = self.suggestions(area.text)
        if not found:
            view.update(Text("no suggestions for this word", style="dim italic"), layout=False)
            return
        lines = Text()
        width = min(14, max(len(s.word) for s in found) + 1)
        for n, s in enumerate(found, start=1):
            if n > 1:
                lines.append("  ")
            lines.append(f"alt+{n} ", style="dim")
            lines.append(f"{s.word:<{width}}", style="bold" if n == 1 else "")
            lines.append(f"{s.prob:4.0%}", style="dim")
        view.update(lines, layout=False)
