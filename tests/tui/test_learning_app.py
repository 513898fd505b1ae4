"""Issue 10 in the app: a saved network model learns from what is typed in the writing pane (a new
word typed twice is offered the third time), pause stops that, forget and clear remove it, and
what was learned is saved on quit and comes back after a restart."""

from __future__ import annotations

from pathlib import Path

from engine import load_model, load_setup, models_home, save_model
from tui.screens.prompt import PromptScreen
from test_tui_app import App, ready, train_tiny, wait_for

SIZE = (100, 30)


def pane(app: App):
    return app.main.writing_pane


def offered(app: App, text: str) -> list[str]:
    return [s.word for s in pane(app).suggestions(text)]


async def start(pilot) -> None:
    app = pilot.app
    await ready(pilot)
    await pilot.press("f3")  # the LSTM, which has the saved model
    await wait_for(pilot, lambda: getattr(pane(app).predictor, "learner", None) is not None)
    await pilot.press("f9")
    await pilot.pause()


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[" " if c == " " else c for c in text])
    await pilot.pause()


async def test_typing_teaches_the_model_and_it_is_kept(runs, corpus_file: Path) -> None:
    save_model(runs["lstm"].trained, "typing-lstm")
    app = App(str(corpus_file))
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        assert str(pane(app).border_subtitle).endswith("· learning")
        assert "zorblax" not in offered(app, "the zor")
        await type_text(pilot, "the zorblax zorblax the zor")
        assert "zorblax" in offered(app, pane(app).text)

        await pilot.press("alt+l")  # incognito: nothing typed now is learned
        await pilot.pause()
        assert str(pane(app).border_subtitle).endswith("learning paused")
        await type_text(pilot, "blax quexter quexter the que")
        assert "quexter" not in offered(app, pane(app).text)
        await pilot.press("alt+l")
        await pilot.pause()
        assert str(pane(app).border_subtitle).endswith("· learning")
        assert "quexter" not in dict(pane(app).predictor.learner.view()["typed"])

        app.main.action_forget_word()
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "zorblax")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("f9")
        assert pane(app).text.endswith("the que")
        assert "zorblax" not in dict(pane(app).predictor.learner.view()["typed"])
        await type_text(pilot, "ter the zor")
        assert "zorblax" not in offered(app, pane(app).text)

        await type_text(pilot, "blax flimzy flimzy the")
        assert "flimzy" in dict(pane(app).predictor.learner.view()["typed"])
        app.main.action_clear_learned()
        await pilot.pause()
        assert pane(app).predictor.learner.view()["typed"] == []

        await type_text(pilot, " zorblax zorblax ")
        pane(app).load("")  # no draft to relearn from: what comes back is the saved state
        await pilot.pause(1.5)  # the draft's pause (and the learned state's save) comes
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert (models_home() / "typing-lstm" / "learned" / "learned.json").exists()

    again = App(str(corpus_file))
    async with again.run_test(size=SIZE) as pilot:
        await start(pilot)
        assert pane(again).text == ""
        assert "zorblax" in dict(pane(again).predictor.learner.view()["typed"])
        assert "zorblax" in offered(again, "the zor")


async def test_a_model_trained_in_the_app_learns_from_typing_at_once(corpus_file: Path) -> None:
    app = App(str(corpus_file))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await train_tiny(pilot)
        predictor = pane(app).predictor
        saved = [p for p in models_home().iterdir() if p.is_dir()]
        assert len(saved) == 1
        assert load_setup(saved[0], load_model(saved[0]).vocab) is not None  # fitted, not the fallback
        assert getattr(predictor, "learner", None) is not None  # no restart needed to learn
        assert predictor.model_folder == saved[0]
