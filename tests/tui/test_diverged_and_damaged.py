"""Issue 12, items 4 and 5, in the app: a diverged run is never used and never saved, and damaged
saved models are named (once, at start) and listed in the models screen with the reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.widgets import DataTable

import engine
from engine import models_home, save_model
from tui import training_process
from test_models_screen import Host, wait_rows
from test_tui_app import App, messages, ready, use_tiny_settings, wait_for

SIZE = (100, 30)


async def test_a_diverged_run_is_not_used_and_not_saved(corpus_file: Path, monkeypatch) -> None:
    real = engine.train

    def diverging(*args, **kwargs):  # as at lr 10: a finite perplexity far above the vocabulary size
        trained = real(*args, **kwargs)
        return replace(trained, metrics={**trained.metrics, "valid_ppl": 1e253})

    monkeypatch.setattr(engine, "train", diverging)
    monkeypatch.setattr(training_process, "IN_CHILD", False)  # the replacement lives in this process
    app = App(str(corpus_file))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        cell = app.main.picker_pane.cell
        before = app.main.models.active(cell)
        use_tiny_settings(app)
        await pilot.pause()
        count = len(messages(app))
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: not app.main.is_training, timeout=60)
        await pilot.pause()
        notes = messages(app)[count:]
        diverged = [n for n in notes if "not used and not saved" in n]
        assert diverged and "> 10^6" in diverged[0] and "lower learning rate" in diverged[0], notes
        assert not any("1" * 20 in n or "e+253" in n for n in notes)
        active = app.main.models.active(cell)
        assert active is None or active.source != "live"  # back to what it had
        assert active is before or before is None
        folders = list(models_home().iterdir()) if models_home().is_dir() else []
        assert [f for f in folders if not f.name.startswith(".")] == []


def damage(runs) -> Path:
    folder = save_model(runs["gru"].trained, "broken-gru")
    config = folder / "config.json"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("{", '{"model": 1, ', 1), encoding="utf-8")  # a duplicate key
    assert engine.damaged_models(), "the damage was not seen by the engine"
    return folder


async def test_damaged_models_are_notified_once_at_start(runs, corpus_file: Path) -> None:
    damage(runs)
    why = engine.damaged_models()[0][2]
    app = App(str(corpus_file))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.pause()
        damaged = [n for n in messages(app) if "damaged" in n and "broken-gru" in n]
        assert len(damaged) == 1 and why[:30] in damaged[0], messages(app)


async def test_the_models_screen_lists_damaged_models_with_the_reason(runs) -> None:
    save_model(runs["lstm"].trained, "a-good-one")
    damage(runs)
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await wait_rows(pilot, 2)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(2)]
        assert rows[0][0] == "a-good-one"
        assert rows[1][0] == "broken-gru" and rows[1][1] == "damaged" and "duplicate" in rows[1][2].lower()
        await pilot.press("down")
        await pilot.pause()
        detail = str(pilot.app.screen.query_one("#models-detail").render())
        assert "damaged" in detail and "broken-gru" in detail
