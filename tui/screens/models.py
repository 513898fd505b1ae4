"""The models screen: every saved model (cell, corpus, date, size, metrics, its loss curve), and
what can be done to one: use it, rename it, delete it (confirmed; to the trash), export it to a
folder, import one from a folder (validated as on load).

The screen does the disk work itself, in thread workers over the engine (engine.library); choosing
a model to use is the main screen's business: the screen is dismissed with a ModelsOutcome.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine import format_perplexity
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual_plotext import PlotextPlot

from tui.safe import plain, printable
from tui.screens.prompt import ConfirmDelete, PromptScreen

CELL_LABELS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def format_size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} B"


def _figure(metrics: dict, key: str, fmt: str) -> str:
    value = metrics.get(key)
    return format(value, fmt) if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


@dataclass(frozen=True)
class ModelsOutcome:
    """What the screen is dismissed with: the model the user chose to use (cell, folder), if any,
    and whether models were renamed, deleted or imported (the main screen lists them again)."""

    use: tuple[str, Path] | None = None
    changed: bool = False


@dataclass
class OperationDone(Message):
    """A disk operation of this screen ended: `note` to show, `error` if it failed."""

    note: str
    error: bool = False


class ModelsScreen(Screen[ModelsOutcome]):
    """Lists engine.list_models() with engine.model_details(); `fingerprint` marks the models
    trained on the editor's text, `in_use` the folders the cells use now."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("enter", "use", "Use"),
        Binding("f2", "rename", "Rename"),
        Binding("delete", "delete", "Delete"),
        Binding("f3", "export", "Export"),
        Binding("f4", "import", "Import"),
    ]

    def __init__(self, fingerprint: str | None = None, in_use: dict[str, Path] | None = None) -> None:
        super().__init__()
        self.fingerprint = fingerprint
        self.in_use = dict(in_use or {})
        self.infos: list = []  # engine.ModelInfo, newest first
        self.damaged: list = []  # engine.damaged_models(): (name, folder, why), listed after the rest
        self.details: dict[Path, object] = {}  # path -> engine.ModelDetails
        self.changed = False

    def compose(self) -> ComposeResult:
        with Vertical(id="models-screen"):
            yield Static("Saved models · enter uses · F2 renames · delete deletes (to the trash, 7 days) · "
                         "F3 exports · F4 imports · escape goes back", id="models-help")
            yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="models-detail")
            yield PlotextPlot(id="models-curve")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("name", "cell", "corpus", "saved", "size", "ppl", "top-1", "KSR", "")
        self.refresh_list()

    # --- the list ---------------------------------------------------------------------------------

    @work(thread=True, group="models-list", exclusive=True, exit_on_error=False)
    def refresh_list(self) -> None:
        from engine import damaged_models, list_models, model_details

        infos = list_models()
        details = {info.path: model_details(info.path) for info in infos}
        self.app.call_from_thread(self._show, infos, details, damaged_models())

    def _show(self, infos: list, details: dict, damaged: list | None = None) -> None:
        self.infos, self.details, self.damaged = infos, details, list(damaged or [])
        table = self.query_one(DataTable)
        table.clear()
        for info in infos:
            m = info.metrics
            corpus = "this text" if info.corpus_fingerprint == self.fingerprint else info.corpus_fingerprint[:8]
            mark = "in use" if self.in_use.get(info.cell) == info.path else ""
            table.add_row(plain(info.name), CELL_LABELS.get(info.cell, info.cell), corpus,
                          time.strftime("%Y-%m-%d %H:%M", time.localtime(info.saved_at)),
                          format_size(getattr(details.get(info.path), "size_bytes", 0)),
                          format_perplexity(m.get("valid_ppl"), ",.1f"), _figure(m, "top1", ".0%"), _figure(m, "ksr", ".0%"),
                          mark, key=str(info.path))
        for name, folder, why in self.damaged:  # issue 12: reported, never hidden
            short = why.replace(f"{folder}{os.sep}", "")  # the folder is the row's name already
            table.add_row(plain(name), "damaged", plain(short[:60]), "-", "-", "-", "-", "-", "",
                          key=str(folder))
        if not infos and not self.damaged:
            self.query_one("#models-detail", Static).update("No saved models yet: ctrl+t trains one; F4 imports one.")
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    @property
    def selected(self):
        """The highlighted engine.ModelInfo, or None."""
        table = self.query_one(DataTable)
        if not self.infos or table.cursor_row is None or not 0 <= table.cursor_row < len(self.infos):
            return None
        return self.infos[table.cursor_row]

    def _show_detail(self) -> None:
        info = self.selected
        plot = self.query_one("#models-curve", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        if info is None:
            plot.refresh()
            row = self.query_one(DataTable).cursor_row
            if row is not None and 0 <= row - len(self.infos) < len(self.damaged):
                name, folder, why = self.damaged[row - len(self.infos)]
                self.query_one("#models-detail", Static).update(Content.assemble(
                    plain(name, "bold"), f" · damaged: {printable(why)} · {folder}"))
            return
        history = getattr(self.details.get(info.path), "history", [])
        train = [(h.get("epoch"), h.get("train_loss")) for h in history]
        valid = [(h.get("epoch"), h.get("valid_loss")) for h in history]
        for points, label in ((train, "train"), (valid, "valid")):
            points = [(x, y) for x, y in points if isinstance(x, (int, float)) and isinstance(y, (int, float))]
            if points:
                plt.plot([x for x, _ in points], [y for _, y in points], label=label, marker="braille")
        plt.title(f"{printable(info.name)}: loss per epoch" if history else f"{printable(info.name)}: no history")
        plot.refresh()
        self.query_one("#models-detail", Static).update(Content.assemble(
            plain(info.name, "bold"), f" · {info.params:,} parameters · {len(history)} epochs · {info.path}"))

    # --- actions ----------------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(ModelsOutcome(changed=self.changed))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_use()

    def action_use(self) -> None:
        info = self.selected
        if info is not None:
            self.dismiss(ModelsOutcome(use=(info.cell, info.path), changed=self.changed))

    def action_rename(self) -> None:
        info = self.selected
        if info is None:
            return

        def chosen(name: str | None) -> None:
            if name and name != info.name:
                self._run(lambda: f"Renamed to {self._engine().rename_model(info.path, name).name}.")

        self.app.push_screen(PromptScreen(f"Rename {info.name}", "New name", info.name, "Rename"), chosen)

    def action_delete(self) -> None:
        info = self.selected
        if info is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._run(lambda: f"{info.name} moved to the trash ({self._engine().delete_model(info.path)}); "
                                  "it is kept there for 7 days.")

        self.app.push_screen(ConfirmDelete(info.name), confirmed)

    def action_export(self) -> None:
        info = self.selected
        if info is None:
            return

        def chosen(path: str | None) -> None:
            if path:
                self._run(lambda: f"Exported to {self._engine().export_model(info.path, path)}.")

        self.app.push_screen(PromptScreen(f"Export {info.name}", "Folder to export to", str(Path.cwd()), "Export"),
                             chosen)

    def action_import(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self._run(lambda: f"Imported as {self._engine().import_model(path).name}.")

        self.app.push_screen(PromptScreen("Import a model", "Model folder", str(Path.cwd()), "Import"), chosen)

    @staticmethod
    def _engine():
        import engine

        return engine

    @work(thread=True, group="models-op", exit_on_error=False)
    def _run(self, operation) -> None:
        from engine import NextwordError

        try:
            self.post_message(OperationDone(operation()))
        except NextwordError as exc:
            self.post_message(OperationDone(str(exc), error=True))

    def on_operation_done(self, message: OperationDone) -> None:
        self.app.notify(message.note, severity="error" if message.error else "information",
                        timeout=8 if message.error else 4)
        if not message.error:
            self.changed = True
            self.refresh_list()
