"""The models screen (issue 11, item 2): every saved model listed with its figures; use, rename,
delete (two presses, to the trash), export and import (a damaged folder is refused)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable

from engine import list_models, save_model
from engine.trash import trashed
from tui.screens.models import ModelsOutcome, ModelsScreen
from tui.screens.prompt import ConfirmDelete, PromptScreen


class Host(App[None]):
    """Just the models screen, on top of an empty app."""

    def __init__(self, fingerprint: str | None = None) -> None:
        super().__init__()
        self.fingerprint = fingerprint
        self.outcome: ModelsOutcome | None = None

    def on_mount(self) -> None:
        self.push_screen(ModelsScreen(self.fingerprint), self.got_outcome)

    def got_outcome(self, outcome: ModelsOutcome | None) -> None:
        self.outcome = outcome


@pytest.fixture
def two_models(runs) -> list[Path]:
    return [save_model(runs["gru"].trained, "first-gru"), save_model(runs["lstm"].trained, "an-lstm")]


async def wait_rows(pilot, count: int) -> DataTable:
    screen = next(s for s in pilot.app.screen_stack if isinstance(s, ModelsScreen))
    table = screen.query_one(DataTable)
    for _ in range(100):
        await pilot.pause(0.05)
        if table.row_count == count:
            return table
    notes = [n.message for n in pilot.app._notifications]
    raise AssertionError(f"{table.row_count} rows, expected {count}; notifications: {notes}; "
                         f"workers: {[(w.name, w.state, w.error) for w in pilot.app.workers]}")


async def test_lists_every_model_and_use_returns_it(two_models, runs) -> None:
    app = Host(runs["gru"].trained.corpus_fingerprint)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await wait_rows(pilot, 2)
        names = {str(table.get_row_at(i)[0]) for i in range(2)}
        assert names == {"first-gru", "an-lstm"}
        assert "this text" in {str(cell) for cell in table.get_row_at(0)}
        await pilot.press("enter")
        await pilot.pause()
    assert app.outcome is not None and app.outcome.use is not None
    assert app.outcome.use[1] in two_models


async def test_delete_needs_two_presses_and_goes_to_the_trash(two_models) -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_rows(pilot, 2)
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDelete)
        await pilot.press(*"delete it now")  # stray letters and a space do nothing
        await pilot.press("enter")  # Cancel has the focus: nothing is deleted
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen) and len(list_models()) == 2
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("left")  # to the Delete button
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDelete) and len(list_models()) == 2  # armed only
        await pilot.pause(0.3)  # a button ignores enter for 0.2 s after a press: no double-tap deletes
        await pilot.press("enter")
        await wait_rows(pilot, 1)
    assert len(list_models()) == 1 and len(trashed("models")) == 1


async def test_rename_through_the_prompt(two_models) -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_rows(pilot, 2)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one("#prompt-input").value = "renamed"
        await pilot.press("enter")
        for _ in range(100):
            await pilot.pause(0.05)
            if "renamed" in {i.name for i in list_models()}:
                break
    assert "renamed" in {i.name for i in list_models()}


async def test_import_of_a_damaged_folder_is_refused(two_models, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for file in two_models[0].iterdir():
        (damaged / file.name).write_bytes(file.read_bytes())
    (damaged / "vocab.json").write_text("{}")
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_rows(pilot, 2)
        await pilot.press("f4")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = str(damaged)
        await pilot.press("enter")
        for _ in range(60):
            await pilot.pause(0.05)
        assert any("damaged" in n.message or "checksum" in n.message for n in app._notifications)
    assert len(list_models()) == 2
