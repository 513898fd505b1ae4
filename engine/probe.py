"""A long-range memory probe: can each cell learn to recall a word it saw `gap` tokens ago?

The tutorial's claim (a plain RNN forgets over long gaps, LSTM and GRU remember) is tested, not
assumed. A probe sequence looks like this:

    filler filler filler KEY w filler ... filler QUERY      -> the model must predict w

`w` is one of `n_keys` key words, drawn at random; the fillers are drawn at random from words that
are never keys, so nothing but memory can tell which key was shown. `w` sits exactly `gap` tokens
before QUERY (gap - 1 fillers in between), after LEAD random fillers and the KEY marker.

For each cell and each tested gap G, a fresh model (the project's own WordRNN, the same small size
for every cell) learns dependencies up to G tokens long: each batch has a gap drawn uniformly from
1..G, and the loss is the cross-entropy at the QUERY position only. It then answers fresh test
sequences at gap G; accuracy is how often its single likeliest token (over the whole vocabulary) is
the key. Chance is 1 / n_keys. Every run gets the same wall-clock share of `seconds_per_cell`, the
same seed (so the same initial data stream), and one torch thread (small matrices: more threads
only add contention on a shared CPU).

Why one model per gap rather than one model for all gaps: a tanh RNN trained on gaps 1..50 at once
is derailed by the long sequences and then fails even at gap 1, which would blame distance for
what is a training failure; training up to each G separately asks the tutorial's question directly.

    result = run_probe(gaps=(5, 20, 50), seconds_per_cell=30)
    print(result.format_table())
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from engine.config import CELLS, LABELS, ModelConfig
from engine.model import WordRNN

KEY, QUERY = 0, 1  # marker ids; key words follow, then fillers
LEAD = 3  # random fillers before KEY


@dataclass(frozen=True)
class ProbeTask:
    n_keys: int = 8
    n_fillers: int = 64

    @property
    def vocab_size(self) -> int:
        return 2 + self.n_keys + self.n_fillers

    @property
    def key_ids(self) -> range:
        return range(2, 2 + self.n_keys)

    @property
    def filler_ids(self) -> range:
        return range(2 + self.n_keys, self.vocab_size)


def make_sequences(task: ProbeTask, gaps: np.ndarray | list[int], rng: np.random.Generator,
                   length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One sequence per entry of `gaps`: inputs [batch, length] and the key word to recall [batch].

    In row i, the key is at position length - 1 - gaps[i], KEY just before it, QUERY last, random
    fillers everywhere else. `length` defaults to LEAD + max(gaps) + 2 (LEAD fillers before KEY
    in the row with the longest gap).
    """
    gaps = np.asarray(gaps, dtype=np.int64).reshape(-1)
    if gaps.size == 0:
        raise ValueError("no gaps")
    length = LEAD + int(gaps.max()) + 2 if length is None else length
    if gaps.min() < 1 or gaps.max() + 2 > length:
        raise ValueError(f"gaps must be from 1 to {length - 2} for sequences of {length} tokens")
    batch = gaps.size
    seqs = rng.integers(task.filler_ids.start, task.filler_ids.stop, size=(batch, length))
    keys = rng.integers(task.key_ids.start, task.key_ids.stop, size=batch)
    rows = np.arange(batch)
    query = length - 1
    seqs[rows, query - gaps] = keys
    seqs[rows, query - gaps - 1] = KEY
    seqs[:, query] = QUERY
    return torch.from_numpy(seqs), torch.from_numpy(keys)


@dataclass(frozen=True)
class ProbeRunDone:
    """One (cell, gap) run measured: on_event gets one per run."""

    cell: str
    gap: int
    accuracy: float
    steps: int


@dataclass
class ProbeResult:
    gaps: tuple[int, ...]
    cells: tuple[str, ...]
    accuracy: dict[str, dict[int, float]]  # cell -> gap -> fraction of test sequences recalled
    steps: dict[str, dict[int, int]]  # cell -> gap -> training steps reached within the run's time
    seconds_per_cell: float
    task: ProbeTask
    hidden: int
    batch_size: int
    lr: float
    test_per_gap: int
    seed: int
    cancelled: bool = False

    @property
    def chance(self) -> float:
        return 1 / self.task.n_keys

    @property
    def seconds_per_run(self) -> float:
        return self.seconds_per_cell / len(self.gaps)

    def format_table(self) -> str:
        cols = [f"gap {g}" for g in self.gaps]
        head = f"{'cell':<6} " + " ".join(f"{c:>17}" for c in cols)
        lines = [
            f"Long-range probe: recall a key word seen `gap` tokens earlier ({self.task.n_keys} keys, "
            f"{self.task.n_fillers} filler words; chance {self.chance:.1%}).",
            f"One model per cell and gap G, trained on gaps 1..G for {self.seconds_per_run:.3g} s "
            f"({self.seconds_per_cell:.3g} s per cell); hidden {self.hidden}, batch {self.batch_size}, "
            f"Adam lr {self.lr:g}, seed {self.seed}, 1 thread.",
            f"Accuracy on {self.test_per_gap} fresh sequences at gap G (training steps reached in brackets).",
            "",
            head,
            "-" * len(head),
        ]
        for cell in self.cells:
            if cell not in self.accuracy:
                continue
            cells = []
            for g in self.gaps:
                if g in self.accuracy[cell]:
                    cells.append(f"{self.accuracy[cell][g]:>7.1%} ({self.steps[cell][g]:>6,})")
                else:
                    cells.append(f"{'-':>17}")
            lines.append(f"{LABELS.get(cell, cell):<6} " + " ".join(f"{c:>17}" for c in cells))
        lines.append("")
        lines.extend(self.summary())
        if self.cancelled:
            lines.append("Stopped early: some runs were not measured.")
        return "\n".join(lines)

    def summary(self) -> list[str]:
        """Sentences drawn from the measured accuracies only."""
        out = []
        done = [c for c in self.cells if c in self.accuracy]
        for g in self.gaps:
            have = [c for c in done if g in self.accuracy[c]]
            if not have:
                continue
            learned = [c for c in have if self.accuracy[c][g] >= 0.9]
            chance = [c for c in have if self.accuracy[c][g] < self.chance + 0.10]
            parts = []
            if learned:
                parts.append(f"{_names(learned)} recall{'s' if len(learned) == 1 else ''} at least 90%")
            if chance:
                parts.append(f"{_names(chance)} {'is' if len(chance) == 1 else 'are'} within 10 points of chance")
            rest = [c for c in have if c not in learned and c not in chance]
            if rest:
                parts.append(", ".join(f"{LABELS.get(c, c)} {self.accuracy[c][g]:.0%}" for c in rest))
            out.append(f"Gap {g}: " + "; ".join(parts) + ".")
        common = [g for g in self.gaps if done and all(g in self.accuracy[c] for c in done)]
        if "rnn" in done and len(done) > 1 and common:
            far = max(common)
            gated = max((c for c in done if c != "rnn"), key=lambda c: self.accuracy[c][far])
            diff = self.accuracy[gated][far] - self.accuracy["rnn"][far]
            if diff <= 0.05:
                out.append(f"The plain RNN does as well as {LABELS[gated]} at gap {far} with this budget "
                           f"({self.accuracy['rnn'][far]:.1%} vs {self.accuracy[gated][far]:.1%}): "
                           "the tutorial's claim does not show here.")
            else:
                out.append(f"At gap {far}, {LABELS[gated]} beats the plain RNN by {diff * 100:.0f} points "
                           f"({self.accuracy[gated][far]:.1%} vs {self.accuracy['rnn'][far]:.1%}).")
        return out

    def to_json(self) -> dict:
        return {
            "gaps": list(self.gaps),
            "cells": list(self.cells),
            "accuracy": {c: {str(g): a for g, a in accs.items()} for c, accs in self.accuracy.items()},
            "steps": {c: {str(g): n for g, n in st.items()} for c, st in self.steps.items()},
            "chance": self.chance,
            "seconds_per_cell": self.seconds_per_cell,
            "seconds_per_run": self.seconds_per_run,
            "task": asdict(self.task),
            "hidden": self.hidden,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "test_per_gap": self.test_per_gap,
            "seed": self.seed,
            "cancelled": self.cancelled,
        }


def run_probe(
    gaps: tuple[int, ...] = (5, 20, 50),
    seconds_per_cell: float = 30.0,
    cells: tuple[str, ...] = CELLS,
    seed: int = 0,
    hidden: int = 64,
    batch_size: int = 64,
    lr: float = 3e-3,
    test_per_gap: int = 500,
    task: ProbeTask | None = None,
    on_event: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ProbeResult:
    """For each cell and gap, train a fresh model for seconds_per_cell / len(gaps) and test recall."""
    gaps = tuple(int(g) for g in gaps)
    if not gaps or min(gaps) < 1:
        raise ValueError("gaps must be positive whole numbers")
    if not seconds_per_cell > 0:
        raise ValueError("seconds_per_cell must be positive")
    task = task or ProbeTask()
    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    result = ProbeResult(gaps=gaps, cells=tuple(cells), accuracy={}, steps={},
                         seconds_per_cell=seconds_per_cell, task=task, hidden=hidden, batch_size=batch_size,
                         lr=lr, test_per_gap=test_per_gap, seed=seed)
    with _one_thread():
        for cell in cells:
            for gap in gaps:
                if stop():
                    result.cancelled = True
                    return result
                model, steps = _train(cell, gap, task, result.seconds_per_run, seed, hidden, batch_size, lr, stop)
                if model is None:
                    result.cancelled = True
                    return result
                accuracy = _accuracy(model, task, gap, test_per_gap, seed)
                result.accuracy.setdefault(cell, {})[gap] = accuracy
                result.steps.setdefault(cell, {})[gap] = steps
                emit(ProbeRunDone(cell, gap, accuracy, steps))
    return result


def _train(cell: str, max_gap: int, task: ProbeTask, seconds: float, seed: int, hidden: int, batch_size: int,
           lr: float, stop: Callable[[], bool]) -> tuple[WordRNN | None, int]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)  # the same training stream for every cell
    config = ModelConfig(cell=cell, vocab_size=task.vocab_size, emb=hidden, hidden=hidden, layers=1,
                         dropout=0.0, tied=False)
    model = WordRNN(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    steps = 0
    started = time.perf_counter()
    while steps == 0 or time.perf_counter() - started < seconds:
        if stop():
            return None, steps
        gap = int(rng.integers(1, max_gap + 1))
        inputs, targets = make_sequences(task, np.full(batch_size, gap), rng)
        logits, _ = model(inputs.t().contiguous(), model.init_hidden(batch_size))
        loss = F.cross_entropy(logits[-1], targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        steps += 1
    return model.eval(), steps


@torch.inference_mode()
def _accuracy(model: WordRNN, task: ProbeTask, gap: int, n: int, seed: int) -> float:
    rng = np.random.default_rng([seed, 1, gap])  # test sequences: fresh, the same for every cell
    inputs, targets = make_sequences(task, np.full(n, gap), rng)
    logits, _ = model(inputs.t().contiguous(), model.init_hidden(n))
    return float((logits[-1].argmax(-1) == targets).float().mean())


@contextmanager
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _names(cells: list[str]) -> str:
    names = [LABELS.get(c, c) for c in cells]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
