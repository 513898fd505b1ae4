"""The writing pane (issue 11, item 4): a multi-line area with inline ghost text, tab / → to
accept, alt+1..5 and the list of five; control characters never get in."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from engine import Corpus, NGramLM, Predictor
from tui.widgets.writing import BROWSER_CTRL_W, WritingPane

TEXT = "the cat sat on the mat\nthe dog sat on the log\nhow are you doing today\nhow are you\n" * 5


@pytest.fixture(scope="module")
def predictor_factory():
    corpus = Corpus.from_text(TEXT)
    return lambda: Predictor(NGramLM.from_corpus(corpus, order=3))


class Host(App[None]):
    def __init__(self, predictor) -> None:
        super().__init__()
        self.predictor = predictor

    def compose(self) -> ComposeResult:
        yield WritingPane(id="pane")

    def on_mount(self) -> None:
        pane = self.query_one(WritingPane)
        pane.set_predictor(self.predictor, "n-gram")
        pane.area.focus()


def listed(app: App) -> str:
    return str(app.query_one("#ac-list", Static).render())


async def test_ghost_text_tab_and_the_list(predictor_factory) -> None:
    app = Host(predictor_factory())
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(WritingPane)
        await pilot.press(*"how are y")
        await pilot.pause()
        assert pane.area.suggestion == "ou"  # the ghost text completes the word inline
        assert "alt+1 you" in listed(app)
        await pilot.press("tab")
        assert pane.text == "how are you "
        await pilot.press("enter", *"the c")
        await pilot.pause()
        await pilot.press("right")  # → accepts what the ghost shows
        assert pane.text == "how are you \nthe cat"


async def test_alt_digits_accept_any_of_the_five(predictor_factory) -> None:
    app = Host(predictor_factory())
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(WritingPane)
        await pilot.press(*"the ")
        found = pane.suggestions(pane.text)
        assert len(found) >= 2
        await pilot.press("alt+2")
        assert pane.text == "the " + found[1].insert
        await pilot.press("pound_sign")  # what many terminals send for alt+3: never typed
        assert "£" not in pane.text


async def test_no_suggestions_away_from_the_end_and_no_model(predictor_factory) -> None:
    app = Host(None)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(WritingPane)
        await pilot.press(*"how are")
        assert pane.area.suggestion == "" and "No model" in listed(app)
        pane.set_predictor(predictor_factory(), "n-gram")
        await pilot.press("home")
        await pilot.pause()
        assert pane.area.suggestion == "" and "end of the text" in listed(app)
        await pilot.press("tab")  # nothing to accept: focus moves on, nothing is inserted
        assert pane.text == "how are"


async def test_a_pasted_escape_sequence_is_kept_out(predictor_factory) -> None:
    app = Host(predictor_factory())
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(WritingPane)
        app.query_one(WritingPane).area.focus()
        await pilot.pause()
        pane.area._replace_via_keyboard("red \x1b[31mtext\nnext line", *pane.area.selection)
        assert "\x1b" not in pane.text and pane.text == "red [31mtext\nnext line"


async def test_ctrl_w_deletes_a_word_in_a_terminal(predictor_factory) -> None:
    app = Host(predictor_factory())
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(WritingPane)
        await pilot.press(*"hello world", "ctrl+w")
        assert pane.text == "hello "
        assert not any(n.message == BROWSER_CTRL_W for n in app._notifications)
