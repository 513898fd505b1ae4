"""Progress and signals for the CLI's long commands (train, compare): a progress bar on a terminal,
plain lines otherwise; the first Ctrl-C / SIGTERM / SIGHUP stops after the current batch."""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time


class StopFlag:
    """should_stop for train(): set by the first Ctrl-C, SIGTERM or SIGHUP (terminal closed), so
    training ends after the current batch and the best model so far is still saved."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self) -> None:
        self.stopped = False

    def __call__(self) -> bool:
        return self.stopped

    def _handle(self, signum: int, frame: object) -> None:
        if self.stopped and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stopped = True
        try:
            print("\nStopping after this batch; the best model so far will be saved "
                  "(Ctrl-C again to abort)...", file=sys.stderr)
        except OSError:
            pass  # the terminal is gone (SIGHUP): stop quietly

    @contextlib.contextmanager
    def on_signals(self):
        previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class CancelFlag(StopFlag):
    """should_stop for loading a corpus: the first Ctrl-C, SIGTERM or SIGHUP cancels it quietly."""

    def _handle(self, signum: int, frame: object) -> None:
        if self.stopped and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stopped = True


class LoadReporter:
    """Corpus.from_file progress (only big files report before the end): a transient bar on a
    terminal, a line every 5 seconds otherwise."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.last_line = -math.inf
        self.progress = None

    def __call__(self, fraction: float, message: str) -> None:
        if fraction >= 1.0:
            return
        if self.stream.isatty():
            if self.progress is None:
                from rich.console import Console
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

                self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                         TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
                                         console=Console(file=self.stream), transient=True)
                self.task = self.progress.add_task(message, total=1.0)
                self.progress.start()
            self.progress.update(self.task, completed=fraction, description=message)
        elif time.monotonic() - self.last_line >= 5:
            self.last_line = time.monotonic()
            print(f"Loading the corpus: {fraction:.0%} ({message})", file=self.stream, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class Reporter:
    """Training events -> a progress bar on a terminal, plain lines otherwise."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_line = 0.0
        self.progress = None
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("epoch {task.fields[epoch]}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                TextColumn("loss {task.fields[loss]}  {task.fields[speed]} tok/s"),
                console=Console(file=stream),
                transient=True,
            )
            self.task = self.progress.add_task("train", total=1.0, epoch="-", loss="-", speed="-")
            self.progress.start()

    def __call__(self, event: object) -> None:
        from engine import EpochEnd, Notice, Progress, format_perplexity

        if isinstance(event, Progress):
            if self.progress is not None:
                self.progress.update(self.task, completed=event.fraction, epoch=f"{event.epoch}/{event.epochs}",
                                     loss=f"{event.train_loss:.3f}", speed=f"{event.tokens_per_s:,.0f}")
            elif time.monotonic() - self.last_line >= 5:
                self.last_line = time.monotonic()
                self._print(f"epoch {event.epoch} step {event.step}/{event.steps_per_epoch} "
                            f"loss {event.train_loss:.3f} {event.tokens_per_s:,.0f} tok/s {event.fraction:.0%}")
        elif isinstance(event, EpochEnd):
            mark = " *" if event.improved else ""
            self._print(f"epoch {event.epoch}: train loss {event.train_loss:.3f}, validation perplexity "
                        f"{format_perplexity(event.valid_ppl)}, lr {event.lr:.2g}, {event.elapsed:.0f} s{mark}")
        elif isinstance(event, Notice):
            self._print(event.message)

    def _print(self, line: str) -> None:
        if self.progress is not None:
            self.progress.console.print(line, highlight=False, markup=False)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
