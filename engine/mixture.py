"""The network + n-gram mixture, and its weights fitted on held-out text.

Suggestions blend five distributions over the open word space (engine/openvocab.py): the network,
the Kneser-Ney n-gram (both with their <unk> mass shared among the lexicon's other words), a cache
of recently typed words, the lexicon's unigram, and the typed bigrams (what followed the previous
word in the user's own text). The weights maximise the likelihood of held-out
text (EM: the log-likelihood is concave in the weights, so it ends at the best blend, which is never
worse on that text than any one part alone).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
import torch

from engine.lm import LanguageModel

PARTS = ("net", "ngram", "cache", "unigram", "phrase")
EM_ROUNDS = 200
FLOOR = 1e-12


@dataclass(frozen=True)
class Weights:
    """How much each part contributes; they sum to 1."""

    net: float = 1.0
    ngram: float = 0.0
    cache: float = 0.0
    unigram: float = 0.0
    phrase: float = 0.0  # the typed bigrams (engine/adapt.py PhraseCache)

    def values(self) -> np.ndarray:
        return np.array([self.net, self.ngram, self.cache, self.unigram, self.phrase])

    def label(self, cell: str, order: int | None) -> str:
        """What the user sees, for example "LSTM + 3-gram (0.22) + cache (0.08)"."""
        parts = [cell.upper() if self.net > 0 else ""]
        if self.ngram > 0 and order:
            parts.append(f"{order}-gram ({self.ngram:.2f})")
        if self.cache > 0:
            parts.append(f"cache ({self.cache:.2f})")
        if self.unigram > 0:
            parts.append(f"unigram ({self.unigram:.2f})")
        if self.phrase > 0:
            parts.append(f"typed phrases ({self.phrase:.2f})")
        return " + ".join(p for p in parts if p)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_values(cls, values: np.ndarray) -> "Weights":
        values = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
        values = values / values.sum()
        return cls(*(float(v) for v in values))


def fit_weights(rows: np.ndarray, allowed: tuple[str, ...] = PARTS) -> Weights:
    """EM for the weights of a mixture: `rows` is [tokens, len(PARTS)], each part's probability of the token
    that came next (in PARTS order). Parts not in `allowed` get weight 0."""
    rows = np.asarray(rows, dtype=np.float64)
    mask = np.array([p in allowed for p in PARTS], dtype=np.float64)
    w = mask / mask.sum()
    rows = rows[(rows * mask).sum(1) > 0]  # a word no part can name says nothing about the weights
    if not len(rows):
        return Weights.from_values(w)
    for _ in range(EM_ROUNDS):
        joint = rows * w
        share = joint / np.maximum(joint.sum(1, keepdims=True), FLOOR)
        new = share.mean(0) * mask
        new /= new.sum()
        if np.abs(new - w).max() < 1e-6:
            w = new
            break
        w = new
    return Weights.from_values(w)


def log_likelihood(rows: np.ndarray, weights: Weights) -> float:
    """Mean log-probability of the tokens under a blend (what the fit maximises)."""
    p = np.asarray(rows, dtype=np.float64) @ weights.values()
    return float(np.log(np.maximum(p, FLOOR)).mean())


class MixtureLM:
    """(1 - w) * network + w * n-gram over one vocabulary: a LanguageModel for the static scorer."""

    def __init__(self, net: LanguageModel, ngram: LanguageModel, weight: float, name: str | None = None):
        if net.vocab.keys != ngram.vocab.keys:
            raise ValueError("the network and the n-gram must share one vocabulary")
        self.net, self.ngram, self.weight = net, ngram, float(weight)
        self.vocab = net.vocab
        self.name = name or f"{net.name} + {getattr(ngram, 'order', 'n')}-gram ({weight:.2f})"

    def start(self) -> tuple:
        return (self.net.start(), self.ngram.start())

    def advance(self, state: tuple, token_id: int) -> tuple:
        return (self.net.advance(state[0], token_id), self.ngram.advance(state[1], token_id))

    def next_probs(self, state: tuple) -> np.ndarray:
        w = self.weight
        return ((1 - w) * self.net.next_probs(state[0]) + w * self.ngram.next_probs(state[1])).astype(np.float32)

    def log_prob_chunks(self, ids: torch.Tensor) -> Iterator[torch.Tensor]:
        w = self.weight
        other = _rows(self.ngram.log_prob_chunks(ids))
        for net_chunk in self.net.log_prob_chunks(ids):
            ng_chunk = other(net_chunk.size(0))
            both = torch.stack([net_chunk + math.log(max(1 - w, FLOOR)), ng_chunk + math.log(max(w, FLOOR))])
            yield torch.logsumexp(both, dim=0)


def _rows(chunks: Iterator[torch.Tensor]):
    """Read `n` rows at a time from chunks of any size."""
    buffer: list[torch.Tensor] = []
    held = 0

    def take(n: int) -> torch.Tensor:
        nonlocal held
        while held < n:
            chunk = next(chunks)
            buffer.append(chunk)
            held += chunk.size(0)
        rows = torch.cat(buffer) if len(buffer) > 1 else buffer[0]
        buffer.clear()
        if rows.size(0) > n:
            buffer.append(rows[n:])
        held = rows.size(0) - n
        return rows[:n]

    return take
