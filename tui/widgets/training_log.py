"""The training pane: progress with ETA, the latest numbers, a live loss curve, and a log of
epochs (with what the model now predicts), notices and errors."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from engine import format_perplexity
from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, RichLog, Static
from textual_plotext import PlotextPlot

from tui.safe import printable
from tui.widgets.picker import CELL_NAMES

if TYPE_CHECKING:
    from engine import EpochEnd, Progress

# The curve is redrawn from progress events at most this often (epochs and the end always redraw):
# drawing it takes milliseconds of the UI thread, and a keystroke that arrives meanwhile waits.
PLOT_INTERVAL = 1.0


def format_duration(seconds: float | None) -> str:
    """62.4 -> '1:02'; None -> '?'."""
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class TrainingLog(Vertical):
    """Shows a training run. The main screen feeds it the engine's events; it keeps only what it
    draws: the loss points of the current run."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._train_points: list[tuple[float, float]] = []
        self._valid_points: list[tuple[float, float]] = []
        self._plotted_at = 0.0

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=1.0, show_eta=False, id="train-progress")
        yield Static("", id="train-eta")
        yield Static("Not training. ctrl+t trains the selected model on the editor text.", id="train-stats")
        yield PlotextPlot(id="loss-plot")
        yield RichLog(id="train-log", wrap=True, markup=True, max_lines=1000, min_width=20)

    def on_mount(self) -> None:
        # Every row counts in a small pane: no title or x axis, just the curve and its y range.
        plt = self.query_one("#loss-plot", PlotextPlot).plt
        plt.xfrequency(0)
        plt.xaxes(False, False)
        plt.yaxes(True, False)
        plt.yfrequency(2)
        self._draw_plot()

    @property
    def log_view(self) -> RichLog:
        return self.query_one("#train-log", RichLog)

    def write(self, line: str) -> None:
        self.log_view.write(line)

    def start(self, cell: str, summary: str) -> None:
        """A new run: clear the curve and say what is being trained."""
        self._train_points.clear()
        self._valid_points.clear()
        self._draw_plot()
        self.query_one("#train-progress", ProgressBar).update(total=1.0, progress=0.0)
        self.query_one("#train-eta", Static).update("starting…")
        self.query_one("#train-stats", Static).update(f"Training {CELL_NAMES[cell]}…")
        self.write(f"[b]Training {CELL_NAMES[cell]}[/b]: {summary}")

    def show_progress(self, p: Progress) -> None:
        self.query_one("#train-progress", ProgressBar).update(progress=p.fraction)
        # One row each (app.tcss): new text needs no layout of the whole screen.
        self.query_one("#train-eta", Static).update(
            f"epoch {p.epoch}/{p.epochs} · step {p.step}/{p.steps_per_epoch} · "
            f"{format_duration(p.elapsed)} · ETA {format_duration(p.eta)}", layout=False
        )
        valid = f" · val ppl {format_perplexity(self._valid_ppl, ',.1f')}" if self._valid_points else ""
        self.query_one("#train-stats", Static).update(
            f"loss {p.train_loss:.3f}{valid} · {p.tokens_per_s:,.0f} tok/s · lr {p.lr:.2g}", layout=False
        )
        x = (p.epoch - 1) + p.step / max(1, p.steps_per_epoch)
        self._train_points.append((x, p.train_loss))
        if time.monotonic() - self._plotted_at >= PLOT_INTERVAL:
            self._draw_plot()

    @property
    def _valid_ppl(self) -> float:
        return math.exp(min(self._valid_points[-1][1], 50.0))

    def show_epoch(self, e: EpochEnd, samples: list[tuple[str, str]]) -> None:
        """An epoch's end, with (prompt, continuation) pairs from the new weights."""
        self._valid_points.append((float(e.epoch), e.valid_loss))
        self._draw_plot()
        star = " [green]★ best[/green]" if e.improved else ""
        self.write(
            f"epoch {e.epoch}: train loss {e.train_loss:.3f} · val ppl {format_perplexity(e.valid_ppl, ',.1f')} · "
            f"lr {e.lr:.2g} · {format_duration(e.elapsed)}{star}"
        )
        for prompt, continuation in samples:
            self.write(f"  [dim]{_escape(prompt)}[/dim] → {_escape(continuation) or '…'}")

    def show_notice(self, message: str) -> None:
        self.write(f"[yellow]note:[/yellow] {_escape(message)}")

    def finish(self, message: str, complete: bool = True) -> None:
        """The run is over (completed, stopped or out of time): `message` says which. `complete`:
        the run ended on its own (its epochs, its time budget, or early stopping), so the bar
        shows 100% rather than where the last progress event left it."""
        self._draw_plot()  # the last points, which a throttled progress event may not have drawn
        if complete:
            self.query_one("#train-progress", ProgressBar).update(progress=1.0)
        self.query_one("#train-eta", Static).update("finished" if complete else "stopped")
        self.write(f"[b]{_escape(message)}[/b]")

    def fail(self, message: str) -> None:
        self.query_one("#train-eta", Static).update("failed")
        self.query_one("#train-stats", Static).update("Training failed: see below. Your text is safe.")
        self.write(f"[red][b]error:[/b] {_escape(message)}[/red]")

    def _draw_plot(self) -> None:
        self._plotted_at = time.monotonic()
        plot = self.query_one("#loss-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        if self._train_points:
            xs, ys = zip(*self._train_points)
            plt.plot(xs, ys, label="train", marker="braille")
        if self._valid_points:
            xs, ys = zip(*self._valid_points)
            plt.scatter(xs, ys, label="valid", marker="dot")
        plot.refresh()


def _escape(text: str) -> str:
    """User text inside Rich markup: a '[' in the corpus must not be read as a tag, and a control
    character must not reach the terminal."""
    return escape(printable(text, newlines=True))
