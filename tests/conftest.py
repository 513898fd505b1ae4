"""Shared fixtures for the engine tests: a tiny made-up corpus, one tiny trained model per cell
(trained once per session), a hand-made table language model, and a private models folder.

Everything here is small on purpose: the machine running the suite is shared, so models have
emb = hidden = 24, corpora have a few dozen lines, and torch uses a single thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from engine import CELLS, Corpus, EpochEnd, ModelConfig, Notice, Progress, TrainConfig, TrainedModel, train
from engine.vocab import EOS_ID, Vocab

# Tiny models train faster on one thread than on two shared ones (and leave a core to others).
torch.set_num_threads(1)

_LINES = [
    "the cat sat on the mat .",
    "the dog sat on the log .",
    "a cat and a dog played in the garden .",
    "the cat saw the dog and ran away .",
    "Alice has a cat and Bob has a dog .",
    "the dog ran to the garden .",
    "Alice saw the cat on the mat .",
    "Bob saw the dog on the log .",
    "the cat and the dog are friends .",
    "a dog sat in the garden .",
    "the cat ran to Alice .",
    "the dog ran to Bob .",
]
# 24 lines: the last 2 (10%) are held out for validation, and every word in them is also in training.
TINY_TEXT = "\n".join(_LINES * 2) + "\n"

TINY_MODEL = {"emb": 24, "hidden": 24, "dropout": 0.0}
# batch_size * (bptt * 4 + 1) = 328 > ~220 training tokens, so the small-corpus Notice is emitted.
TINY_TRAIN = TrainConfig(epochs=20, batch_size=8, bptt=10, lr=3e-2, patience=10, seed=0)


@dataclass
class Run:
    """One finished training run: the result and every event it emitted, in order."""

    trained: TrainedModel
    events: list

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def progress(self) -> list[Progress]:
        return self.of(Progress)

    @property
    def epoch_ends(self) -> list[EpochEnd]:
        return self.of(EpochEnd)

    @property
    def notices(self) -> list[Notice]:
        return self.of(Notice)


@pytest.fixture(scope="session")
def tiny_corpus() -> Corpus:
    return Corpus.from_text(TINY_TEXT)


@pytest.fixture(scope="session")
def runs(tiny_corpus: Corpus) -> dict[str, Run]:
    """One tiny model per cell, trained once for the whole session. Tests must not modify them."""
    result = {}
    for cell in CELLS:
        events: list = []
        trained = train(tiny_corpus, ModelConfig(cell=cell, **TINY_MODEL), TINY_TRAIN, on_event=events.append)
        result[cell] = Run(trained, events)
    return result


@pytest.fixture(params=CELLS)
def run(request: pytest.FixtureRequest, runs: dict[str, Run]) -> Run:
    """Each test using this runs once per cell."""
    return runs[request.param]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private NEXTWORD_HOME (and working directory) so nothing touches the real user folder."""
    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path / "home" / "models"


class TableLM:
    """A LanguageModel (engine/lm.py protocol) with fixed bigram tables: P(next | previous token).

    `rows` maps a previous token ("<eos>" for the start of a line, "<unk>", or a word) to a
    {next token: probability} dict that must sum to 1; rows not given are uniform.
    `log_prob_chunks` yields `chunk` rows at a time so callers' chunk bookkeeping is exercised.
    `advances` counts model steps, to check what the Predictor's cache saves.
    """

    name = "table"

    def __init__(self, words: list[str], rows: dict[str, dict[str, float]], chunk: int = 3):
        keys = ["<unk>", "<eos>"] + [w.lower() for w in words]
        display = ["<unk>", "<eos>"] + list(words)
        self.vocab = Vocab(keys=keys, display=display, counts=[0, 0] + [len(words) - i for i in range(len(words))])
        n = len(keys)
        self.table = np.full((n, n), 1.0 / n, dtype=np.float64)
        for prev, row in rows.items():
            probs = np.zeros(n)
            for token, p in row.items():
                probs[self._id(token)] = p
            assert abs(probs.sum() - 1.0) < 1e-12, f"row {prev!r} sums to {probs.sum()}"
            self.table[self._id(prev)] = probs
        self.table = self.table.astype(np.float32)
        self.chunk = chunk
        self.advances = 0

    def _id(self, token: str) -> int:
        i = self.vocab.id(token)
        assert i >= 2 or token in ("<unk>", "<eos>"), f"{token!r} is not in the table's vocabulary"
        return i

    def start(self) -> int:
        return EOS_ID

    def advance(self, state: int, token_id: int) -> int:
        self.advances += 1
        return int(token_id)

    def next_probs(self, state: int) -> np.ndarray:
        return self.table[state].copy()

    def log_prob_chunks(self, ids):
        ids = torch.as_tensor(ids, dtype=torch.long)
        prev = torch.cat([torch.tensor([EOS_ID]), ids[:-1]])
        with np.errstate(divide="ignore"):
            log_table = torch.from_numpy(np.log(self.table))
        for start in range(0, ids.numel(), self.chunk):
            yield log_table[prev[start : start + self.chunk]]


@pytest.fixture
def table_lm() -> type[TableLM]:
    """The TableLM class, for tests that build their own hand-checked language model."""
    return TableLM
