"""Compare RNN, LSTM and GRU (and the n-gram reference) on the editor's text, measured live.

`CompareScreen(text, max_time)` runs `engine.compare` in a thread worker (tui.worker.run_comparison),
which only posts messages (EngineEvent and the rest) and never touches a widget. The screen
shows which row is being measured with a progress bar, then the table (a DataTable), one verdict per
row, and the validation-loss curves of the three networks on one plot. escape cancels and closes.

Self-contained: the app pushes it (`app.push_screen(CompareScreen(text, max_time))`); it dismisses
with the `Comparison` when finished, or None when closed early. The engine's comparison code (and
torch) loads inside the worker, so importing this module costs nothing at app start.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import engine
from engine import LABELS, EpochEnd, ModelConfig, Progress, format_number
from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, Static
from textual.worker import Worker, get_current_worker
from textual_plotext import PlotextPlot

from tui import worker as jobs
from tui.messages import CompareFailed, CompareFinished, EngineEvent

if TYPE_CHECKING:
    from engine import Comparison, Row

COLUMNS = ("Model", "Params", "Tokens/s", "s/epoch", "Epochs", "Val ppl", "Top-1", "Top-3", "KSR",
           "p50 ms", "p99 ms")


class CompareScreen(Screen["Comparison | None"]):
    DEFAULT_CSS = """
    CompareScreen {
        layout: vertical;
        padding: 0 1;
    }
    CompareScreen #compare-title {
        text-style: bold;
        height: 1;
    }
    CompareScreen #compare-progress-row {
        height: 1;
    }
    CompareScreen #compare-progress {
        width: 40;
    }
    CompareScreen #compare-status {
        width: 1fr;
        padding-left: 1;
    }
    CompareScreen #compare-table {
        height: auto;
        max-height: 8;
        margin-top: 1;
    }
    CompareScreen #compare-verdicts {
        height: auto;
        margin-top: 1;
    }
    CompareScreen #compare-plot {
        height: 1fr;
        min-height: 8;
    }
    """
    BINDINGS = [Binding("escape", "close", "Close (cancels a run)")]

    def __init__(self, text: str, max_time: float, model_config: ModelConfig | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = text
        self.max_time = max_time
        self.model_config = model_config  # None: the engine's defaults
        self.comparison: Comparison | None = None
        self._worker: Worker | None = None
        self._curves: dict[str, list[float]] = {}
        self._ngram_loss: float | None = None
        self._index, self._count, self._cell = 0, 4, ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"Comparing RNN, LSTM and GRU: {self.max_time:g} s of training each, plus a 3-gram reference",
                id="compare-title",
            )
            with Horizontal(id="compare-progress-row"):
                yield ProgressBar(total=1.0, show_eta=False, id="compare-progress")
                yield Static("starting…", id="compare-status")
            yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="compare-verdicts")
            yield PlotextPlot(id="compare-plot")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-table", DataTable).add_columns(*COLUMNS)
        self._draw_plot()
        self._worker = self._run()

    # -- the worker (runs in a thread: posts messages only) ------------------------------------

    @work(thread=True, exit_on_error=False, group="compare")
    def _run(self) -> None:
        worker = get_current_worker()
        jobs.run_comparison(self.text, self.max_time, self.model_config, self.post_message,
                            lambda: worker.is_cancelled)

    # -- messages (UI thread) ------------------------------------------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        # The comparison's own events, and its training events (engine.compare is loaded by now:
        # it sent them).
        event, cell = message.event, message.kind
        if isinstance(event, engine.CellStart):
            self._index, self._count, self._cell = event.index, event.count, event.cell
            what = "fitting the 3-gram" if event.cell == "ngram" else f"training {LABELS[event.cell]}"
            self._status(f"{what} ({event.index + 1}/{event.count})…")
            self._progress(0.0)
        elif isinstance(event, Progress):
            self._progress(event.fraction)
            self._status(f"training {LABELS[cell]} ({self._index + 1}/{self._count}) · epoch {event.epoch} · "
                         f"step {event.step}/{event.steps_per_epoch} · loss {event.train_loss:.3f} · "
                         f"{event.tokens_per_s:,.0f} tok/s")
        elif isinstance(event, EpochEnd):
            if math.isfinite(event.valid_loss):
                self._curves.setdefault(cell, []).append(event.valid_loss)
                self._draw_plot()
        elif isinstance(event, engine.CellDone):
            self._row_done(event.row)

    def _row_done(self, row: Row) -> None:
        self._progress(1.0)
        self._status(f"{row.label} measured ({self._index + 1}/{self._count})" +
                     ("; measuring the next…" if self._index + 1 < self._count else ""))
        if row.cell == "ngram" and row.valid_ppl and math.isfinite(row.valid_ppl):
            self._ngram_loss = math.log(row.valid_ppl)
            self._draw_plot()
        self._add_row(row)

    def on_compare_finished(self, message: CompareFinished) -> None:
        result = message.comparison
        self.comparison = result
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        for row in result.rows:
            self._add_row(row)
        self._curves = {r.cell: list(r.curve) for r in result.rows if r.curve}
        self._draw_plot()
        verdicts = [f"[dim]{escape(result.corpus_summary)}[/dim]"]
        verdicts += [f"[b]{escape(r.label)}[/b]: {escape(r.verdict)}" for r in result.rows]
        if result.valid_is_train:
            verdicts.append("[yellow]The text is too short to hold some back: validation reuses the training "
                            "text, so these numbers measure memorisation.[/yellow]")
        self.query_one("#compare-verdicts", Static).update("\n".join(verdicts))
        self.query_one("#compare-progress", ProgressBar).update(progress=1.0)
        self._status("stopped early" if result.cancelled else "done · escape closes")

    def on_compare_failed(self, message: CompareFailed) -> None:
        self._status(f"[red]{escape(message.message)}[/red]", markup=True)

    def action_close(self) -> None:
        if self._worker is not None and self._worker.is_running:
            self._worker.cancel()  # compare() polls is_cancelled every batch and returns
        self.dismiss(self.comparison)

    # -- drawing -------------------------------------------------------------------------------

    def _status(self, text: str, markup: bool = False) -> None:
        self.query_one("#compare-status", Static).update(text if markup else escape(text))

    def _progress(self, fraction: float) -> None:
        overall = (self._index + min(max(fraction, 0.0), 1.0)) / max(self._count, 1)
        self.query_one("#compare-progress", ProgressBar).update(progress=overall)

    def _add_row(self, r: Row) -> None:
        num = format_number  # a short name: eleven columns below
        table = self.query_one("#compare-table", DataTable)
        if r.cell in table.rows:
            return
        table.add_row(
            r.label, f"{r.params:,}", f"{r.tokens_per_s:,.0f}", num(r.epoch_time, ".2f"), num(r.epochs, "d"),
            engine.format_perplexity(r.valid_ppl, ".2f"), f"{r.top1:.1%}", f"{r.top3:.1%}", num(r.ksr, ".1%"),
            f"{r.latency_p50_ms:.3f}", f"{r.latency_p99_ms:.3f}", key=r.cell,
        )

    def _draw_plot(self) -> None:
        plot = self.query_one("#compare-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.title("validation loss per epoch (nats/token)")
        plt.xlabel("epoch")
        longest = max((len(c) for c in self._curves.values()), default=0)
        for cell in ("rnn", "lstm", "gru"):
            curve = self._curves.get(cell)
            if curve:
                plt.plot(list(range(1, len(curve) + 1)), curve, label=LABELS[cell], marker="dot")
        if self._ngram_loss is not None:
            span = [1, max(longest, 2)]
            plt.plot(span, [self._ngram_loss] * 2, label="3-gram (log ppl)", marker="braille")
        plot.refresh()
