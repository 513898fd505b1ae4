"""Key to paint in the running app: the time from a key written to the app's pseudo-terminal to
the screen showing it, with suggestions on and, by default, a training run going beside.

The real `nextword-tui` runs on a pty (tests/pty/harness.py: a pyte screen fed by a reader
thread); each key is written after the previous one was drawn, with a human pause in between,
and its latency is the time until the screen holds the text typed so far once more than before.
Target: p99 at most 16 ms (one frame at 60 Hz) while training runs.

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", action="store_true", help="do not train while typing")
    parser.add_argument("--phrases", type=int, default=6, help="phrases to type (default 6)")
    parser.add_argument("--pause", type=float, default=0.08, help="seconds between keys (default 0.08)")
    args = parser.parse_args()
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
            rows = typing_rows(term)
            with term._lock:
                import copy

                start_screen = copy.deepcopy(term.screen)
                term.recording = True
            sent = type_keys(term, list((PHRASES * 4)[: args.phrases]), args.pause)
            time.sleep(0.5)
            with term._lock:
                term.recording = False
            found = latencies(term, start_screen, rows, sent)
        finally:
            term.close()
    ms = [x * 1000 for x in found]
    state = "idle" if args.idle else "while training"
    print(f"key to paint, {state}: {len(ms)} keys, p50 {statistics.median(ms):.1f} ms, "
          f"p90 {percentile(ms, 0.9):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms "
          f"(target: p99 <= 16 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
