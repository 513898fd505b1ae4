"""Keystroke latency while training runs in the same process, as in the app.

A thread trains an LSTM on the sample corpus (as the app's worker does) while the main thread types
a script through a Predictor at torch.set_num_threads(1) (as the app's UI thread does), using
snapshots of the weights taken at each epoch end. Prints p50/p99/max of `suggest()` per keystroke,
idle vs during training, against the 16 ms of one frame.

    .venv/bin/python benchmarks/bench_typing_while_training.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Corpus, EpochEnd, ModelConfig, Predictor, TrainConfig, train  # noqa: E402
from tui.files import sample_text  # noqa: E402

SCRIPT = ("I would like to go for a walk this afternoon if the weather is nice. "
          "Could you please call my daughter and tell her I will be late. ") * 4


def type_script(predictor: Predictor) -> list[float]:
    times = []
    for end in range(1, len(SCRIPT) + 1):
        started = time.perf_counter()
        predictor.suggest(SCRIPT[:end], k=5)
        times.append(time.perf_counter() - started)
    return times


def summary(name: str, times: list[float]) -> str:
    times = sorted(times)
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000  # noqa: E731
    return f"{name:<18} {len(times):>6} {pick(0.5):>8.3f} {pick(0.99):>8.3f} {times[-1] * 1000:>8.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = Corpus.from_text(sample_text())
    first = train(corpus, ModelConfig(cell="lstm"), TrainConfig(epochs=1))
    idle = type_script(Predictor(first.language_model()))

    snapshots: list = []
    done = threading.Event()

    def on_event(event: object) -> None:
        if isinstance(event, EpochEnd):
            snapshots.append(event.state_dict)

    def worker() -> None:
        train(corpus, ModelConfig(cell="lstm"), TrainConfig(max_time=args.seconds, epochs=10_000, patience=1000),
              on_event=on_event)
        done.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    busy: list[float] = []
    used = 0
    while not done.is_set():
        if snapshots:  # the newest weights, as the app swaps predictors at each epoch end
            predictor = Predictor(replace(first, state_dict=snapshots[-1]).language_model())
            used += 1
        else:
            predictor = Predictor(first.language_model())
        busy += type_script(predictor)
    thread.join()
    print("$ .venv/bin/python benchmarks/bench_typing_while_training.py " + " ".join(sys.argv[1:]))
    print(f"LSTM {first.model_config.param_count():,} parameters, vocabulary {len(corpus.vocab):,}; "
          f"{len(SCRIPT)} keystrokes per pass; {used} passes on epoch snapshots")
    print(f"{'':<18} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(summary("idle", idle))
    print(summary("during training", busy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
