"""Key to paint in the running app: the time from a key written to the app's pseudo-terminal to
the screen showing it, with suggestions on and, by default, a training run going beside.

The real `nextword-tui` runs on a pty (tests/pty/harness.py: a pyte screen fed by a reader
thread); each key is written after the previous one was drawn, with a human pause in between,
and its latency is the time until the screen holds the text typed so far once more than before.
Target: p99 at most 16 ms (one frame at 60 Hz) while training runs.

The floor, measured in the same run and on the same pty: a bare Textual app with one Input
(benchmarks/bare_input_app.py), typed into the same way, with the same training run going on
beside it. The ratio to it is what our own code adds.

    .venv/bin/python benchmarks/bench_keypaint.py [--idle] [--phrases 6] [--pause 0.08]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "pty"))

from harness import CTRL_T, Terminal  # noqa: E402

PHRASES = ("how are you doing today", "i am fine thank you", "see you tomorrow morning",
           "it was really nice to meet you", "have a good weekend", "good night sleep well")
CTRL_U = "\x15"  # delete to the start of the line
POLL = 0.0005


class TimedTerminal(Terminal):
    """Records when each piece of output arrived; while `recording`, it only records (feeding the
    pyte screen takes milliseconds, which would delay the reads that follow)."""

    def __init__(self, *args, **kwargs) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self.recording = False
        super().__init__(*args, **kwargs)

    def _read(self) -> None:
        import os

        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            now = time.perf_counter()
            with self._lock:
                self.raw += data
                if self.recording:
                    self.chunks.append((now, data))
                else:
                    self.stream.feed(data)


def typing_rows(term: Terminal) -> range:
    """The rows of the typing box: around the one that shows its placeholder."""
    lines = term.text().splitlines()
    row = next(y for y, line in enumerate(lines) if "Type here" in line)
    return range(max(0, row - 1), min(len(lines), row + 2))


def type_keys(term: TimedTerminal, phrases: list[str], pause: float) -> list[tuple[float, str]]:
    """Type the phrases at a steady pace; (time sent, text typed so far in the box) per key."""
    sent = []
    for phrase in phrases:
        for n in range(1, len(phrase) + 1):
            sent.append((time.perf_counter(), phrase[:n]))
            term.write(phrase[n - 1])
            time.sleep(pause)
        term.write(CTRL_U)  # clear the line again (not measured)
        time.sleep(0.5)
    return sent


def latencies(term: TimedTerminal, start_screen, rows: range, sent: list[tuple[float, str]]) -> list[float]:
    """Replay the recorded output on a copy of the screen: each key's latency is the arrival of
    the first output after it that leaves its text in the typing box."""
    import copy

    import pyte

    screen = copy.deepcopy(start_screen)
    stream = pyte.ByteStream(screen)
    found, key = [], 0
    for arrived, data in term.chunks:
        stream.feed(data)
        box = "\n".join(screen.display[y] for y in rows)
        while key < len(sent) and sent[key][0] <= arrived and _shows(box, sent[key][1]):
            found.append(arrived - sent[key][0])
            key += 1
    if key < len(sent):
        box = "\n".join(screen.display[y] for y in rows)
        raise RuntimeError(f"{len(sent) - key} keys were never drawn (the first: {sent[key][1]!r}); the box:\n{box}")
    return found


def _shows(box: str, typed: str) -> bool:
    """The box holds `typed` (its last 20 characters) right after the input's left edge."""
    tail = typed[-20:]
    return any(line.split("▊", 1)[-1].lstrip(" ").startswith(typed) or tail in line for line in box.splitlines()) \
        if typed.strip() else True


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(term: TimedTerminal, phrases: list[str], pause: float) -> list[float]:
    """Type `phrases` into `term`'s box; each key's key-to-paint in ms."""
    import copy

    rows = typing_rows(term)
    with term._lock:
        start_screen = copy.deepcopy(term.screen)
        term.recording = True
    sent = type_keys(term, phrases, pause)
    time.sleep(0.5)
    with term._lock:
        term.recording = False
    return [x * 1000 for x in latencies(term, start_screen, rows, sent)]


def bare_terminal(tmp: Path) -> TimedTerminal:
    path = f"{ROOT}:{ROOT / 'tests' / 'pty'}:{ROOT / 'benchmarks'}"
    return TimedTerminal([], home=tmp / "home", cwd=tmp / "work", size=(120, 40), env={"PYTHONPATH": path},
                         module="bare_input_app")


def summary(name: str, ms: list[float]) -> str:
    return (f"{name:<28} {len(ms):>5} {statistics.median(ms):>7.1f} {percentile(ms, 0.9):>7.1f} "
            f"{percentile(ms, 0.99):>7.1f} {max(ms):>7.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", action="store_true", help="do not train while typing")
    parser.add_argument("--phrases", type=int, default=6, help="phrases to type (default 6)")
    parser.add_argument("--pause", type=float, default=0.08, help="seconds between keys (default 0.08)")
    args = parser.parse_args()
    phrases = list((PHRASES * 4)[: args.phrases])
    with tempfile.TemporaryDirectory() as tmp:
        home, cwd = Path(tmp) / "home", Path(tmp) / "work"
        cwd.mkdir()
        term = TimedTerminal([], home=home, cwd=cwd, size=(120, 40))
        try:
            term.wait_ready(60)
            term.wait_for("suggesting with", 60)  # the n-gram serves suggestions (before any training)
            if not args.idle:
                term.write(CTRL_T)
                term.wait_for("epoch 1", 120)  # the network is training; its epochs come and go
            bare = bare_terminal(Path(tmp))
            try:
                bare.wait_for("Type here", 60)
                floor = measure(bare, phrases, args.pause)
            finally:
                bare.close()
            ours = measure(term, phrases, args.pause)
            still_training = args.idle or "ETA" in term.text()  # the log's ETA shows only while a run goes on
        finally:
            term.close()
    state = "idle" if args.idle else "while training"
    print(f"key to paint, {state} (ms; target: ours p99 <= 16 ms)")
    print(f"{'':<28} {'keys':>5} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
    print(summary("nextword-tui", ours))
    print(summary("floor: bare Textual Input", floor))
    print(f"ratio p50 {statistics.median(ours) / statistics.median(floor):.2f}, "
          f"p99 {percentile(ours, 0.99) / percentile(floor, 0.99):.2f}")
    if not still_training:
        print("note: the training run had ended before the typing did; use fewer --phrases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
