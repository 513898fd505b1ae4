"""Interpolated Kneser-Ney n-gram language model: the classical baseline beside the neural models.

It needs no training loop, so it can also serve suggestions the moment a corpus is loaded.

Model (Chen & Goodman 1998, interpolated KN with one absolute discount per order)
----------------------------------------------------------------------------------
For an order-n model, a history h has at most n-1 tokens; h' is h without its oldest token.

Highest order (k = n) uses raw counts c(h, w):

    P_n(w | h) = max(c(h, w) - D_n, 0) / c(h)  +  D_n * N1+(h •) / c(h) * P_{n-1}(w | h')

Lower orders (1 < k < n) use continuation counts N1+(• h w) = the number of distinct tokens seen
just before (h, w), instead of c(h, w):

    P_k(w | h) = max(N1+(• h w) - D_k, 0) / N1+(• h •)  +  D_k * N1+(h •) / N1+(• h •) * P_{k-1}(w | h')

where c(h) = sum_w c(h, w), N1+(• h •) = sum_w N1+(• h w) and N1+(h •) = the number of distinct w
with a non-zero count (resp. continuation count) after h. The recursion ends in the unigram level,
interpolated with the uniform distribution over the V vocabulary ids:

    P_1(w) = max(N(w) - D_1, 0) / sum_v N(v)  +  D_1 * |{v : N(v) > 0}| / sum_v N(v) * 1 / V

with N(w) = N1+(• w) when n > 1 and N(w) = c(w) when n = 1 (the unigram is then the highest order,
a plain absolute-discounted unigram). Every id, <unk> included, gets probability > 0.

A history never seen at level k backs off cleanly: P_k(w | h) = P_{k-1}(w | h') (its lambda is 1).

Discounts: D_k = n1 / (n1 + 2 n2), where n_j is the number of distinct k-grams whose count *at that
level* (raw counts for k = n, continuation counts below) is exactly j; 0.75 when that is undefined
or outside (0, 1).

Data conventions
----------------
Training ids are one stream in which every line ends with <eos>; the stream is read with an <eos>
before its first token, so (<eos>, w) contexts teach sentence starts. The state is the tuple of the
last (up to n-1) ids read; `start()` is (<eos>,). A history shorter than n-1 (only at the very start)
is predicted at the order it supports: P_{len(h)+1}(w | h). `prob(context, w)` treats `context` as
that literal history (no implicit <eos>), so `prob([], w)` is P_1(w).
<unk> (id 0) is an ordinary token both as a history item and as a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import torch

from engine.config import check_ngram_order
from engine.errors import CorpusError
from engine.vocab import EOS_ID, Vocab

if TYPE_CHECKING:
    from engine.corpus import Corpus

FALLBACK_DISCOUNT = 0.75
CHUNK_ROWS = 512  # rows per log_prob_chunks chunk: ~25 MB of float32 for a 12k vocabulary

State = tuple[int, ...]


@dataclass
class _Level:
    """One order k >= 2 in CSR form: history tuple -> row; a row lists its followers.

    `alpha` holds the discounted first term of P_k for each (history, follower) pair and `gamma`
    the back-off weight of each history, so P_k(.|h) = alpha[row] (sparse) + gamma[row] * P_{k-1}.
    """

    index: dict[State, int]
    indptr: np.ndarray  # int64 [H + 1]
    next_ids: np.ndarray  # int64 [G], sorted within each row
    alpha: np.ndarray  # float64 [G]
    gamma: np.ndarray  # float64 [H]
    discount: float


class NGramLM:
    """Interpolated Kneser-Ney model of any order 1..9 over the ids of a `Vocab`."""

    def __init__(self, vocab: Vocab, order: int, unigram: np.ndarray, levels: list[_Level], discounts: list[float]):
        self.vocab = vocab
        self.order = order
        self.name = f"{order}-gram KN"
        self.discounts = discounts  # D_1 .. D_n, for inspection
        self._unigram = unigram  # float64 [V], P_1, for exact single lookups
        self._unigram32 = unigram.astype(np.float32)  # the dense base of every distribution
        self._levels = levels  # _levels[m - 1] has histories of length m (order m + 1)

    @property
    def size(self) -> int:
        """Numbers the model stores: its unigram vector plus, per order, the weight of every
        (history, word) pair and the back-off weight of every history."""
        return len(self._unigram) + sum(len(level.alpha) + len(level.gamma) for level in self._levels)

    # ---- building -------------------------------------------------------------------------

    @classmethod
    def fit(cls, train_ids: torch.Tensor | Sequence[int], vocab: Vocab, order: int = 3) -> "NGramLM":
        """Count the n-grams of `train_ids` (read after an <eos>) and precompute every level."""
        check_ngram_order(order)
        ids = _as_ids(train_ids)
        if ids.size == 0:
            raise CorpusError("The corpus has no tokens to count: add some text.")
        size = len(vocab)
        if ids.min() < 0 or ids.max() >= size:
            raise ValueError(f"Token ids must be in [0, {size}) for this vocabulary.")
        stream = np.concatenate([np.array([EOS_ID], dtype=np.int64), ids])

        # Highest order: raw counts of the n-grams that end on a real token (not the leading <eos>).
        grams, counts = _unique_rows(_windows(stream if order > 1 else stream[1:], order))
        by_order: dict[int, tuple[np.ndarray, np.ndarray]] = {order: (grams, counts)}
        # Lower orders: a k-gram's continuation count is how many distinct (k+1)-gram types end in it.
        for k in range(order - 1, 0, -1):
            types, _ = _unique_rows(_windows(stream, k + 1))
            by_order[k] = _unique_rows(types[:, 1:])

        discounts = [_discount(by_order[k][1]) for k in range(1, order + 1)]
        unigram = _unigram(*by_order[1], discounts[0], size)
        levels = [_build_level(*by_order[k], discounts[k - 1]) for k in range(2, order + 1)]
        return cls(vocab, order, unigram, levels, discounts)

    @classmethod
    def from_corpus(cls, corpus: "Corpus", order: int = 3) -> "NGramLM":
        """Fit on a `Corpus`'s training ids with its vocabulary."""
        return cls.fit(corpus.train_ids, corpus.vocab, order)

    # ---- LanguageModel protocol -------------------------------------------------------------

    def start(self) -> State:
        return self._history((EOS_ID,))

    def advance(self, state: State, token_id: int) -> State:
        return self._history(tuple(state) + (int(token_id),))

    def next_probs(self, state: State) -> np.ndarray:
        return self._probs_one(tuple(state))

    def log_prob_chunks(self, ids: torch.Tensor | Sequence[int], chunk: int = CHUNK_ROWS) -> Iterator[torch.Tensor]:
        """float32 [t, V] log-probabilities; row i predicts ids[i] after <eos> + ids[:i]."""
        flat = _as_ids(ids).tolist()
        full = [EOS_ID] + flat
        m = self.order - 1
        for a in range(0, len(flat), chunk):
            b = min(len(flat), a + chunk)
            # Row i's history is the last m ids of full[: i + 1].
            histories = [tuple(full[max(0, i + 1 - m) : i + 1]) if m else () for i in range(a, b)]
            # The arithmetic of next_probs (_probs_one does it for one row), so both paths agree.
            yield torch.from_numpy(self._probs(histories)).log_()

    # ---- single lookups ---------------------------------------------------------------------

    def prob(self, context: Sequence[int], token: int) -> float:
        """P(token | the last n-1 ids of `context`), computed level by level without dense vectors."""
        history = self._history(tuple(int(t) for t in context))
        p = float(self._unigram[token])
        for m in range(1, len(history) + 1):
            level = self._levels[m - 1]
            row = level.index.get(history[len(history) - m :])
            if row is None:
                continue  # unseen history at this order: lambda = 1, P_k = P_{k-1}
            lo, hi = level.indptr[row], level.indptr[row + 1]
            j = lo + np.searchsorted(level.next_ids[lo:hi], token)
            alpha = float(level.alpha[j]) if j < hi and level.next_ids[j] == token else 0.0
            p = alpha + float(level.gamma[row]) * p
        return p

    # ---- internals --------------------------------------------------------------------------

    def _history(self, tokens: State) -> State:
        """The last n-1 ids: all a model of this order ever looks at."""
        m = self.order - 1
        return tokens[-m:] if m else ()

    def _probs_one(self, history: State) -> np.ndarray:
        """_probs([history])[0], with the same operations in the same order (so bit for bit the
        same), without the batching's index arrays: what a word end asks for while typing."""
        weight = 1.0
        sparse: list[tuple[np.ndarray, np.ndarray]] = []
        for m in range(self.order - 1, 0, -1):
            if len(history) < m:
                continue
            level = self._levels[m - 1]
            c = level.index.get(history[len(history) - m :])
            if c is None:
                continue
            lo, hi = level.indptr[c], level.indptr[c + 1]
            sparse.append((level.next_ids[lo:hi], level.alpha[lo:hi] * weight))
            weight *= level.gamma[c]
        out = self._unigram32 * np.float32(weight)
        for ids, vals in sparse:
            out[ids] += vals.astype(np.float32)
        return out

    def _probs(self, histories: Sequence[State]) -> np.ndarray:
        """float32 [t, V]: one distribution per history, vectorised over the rows.

        Unrolling the recursion, P = sum_k (product of the gammas above k) * alpha_k + (product of all
        gammas) * P_1, so each row is its dense unigram share plus a few sparse additions. Weights are
        accumulated in float64; the [t, V] array is float32 to halve the memory traffic.
        """
        size = len(self._unigram)
        weight = np.ones(len(histories))  # mass each row still passes down to lower orders
        sparse: list[tuple[np.ndarray, np.ndarray]] = []
        for m in range(self.order - 1, 0, -1):  # highest order first
            level = self._levels[m - 1]
            rows, ctx = [], []
            for r, h in enumerate(histories):
                if len(h) >= m:
                    c = level.index.get(h[len(h) - m :])
                    if c is not None:
                        rows.append(r)
                        ctx.append(c)
            if not rows:
                continue  # every history unseen at this order: lambda = 1, nothing to add
            rows_a, ctx_a = np.asarray(rows), np.asarray(ctx)
            starts = level.indptr[ctx_a]
            lengths = level.indptr[ctx_a + 1] - starts
            pos = _ranges(starts, lengths)
            flat = np.repeat(rows_a * size, lengths) + level.next_ids[pos]
            sparse.append((flat, level.alpha[pos] * np.repeat(weight[rows_a], lengths)))
            weight[rows_a] *= level.gamma[ctx_a]
        probs = np.empty((len(histories), size), dtype=np.float32)
        np.multiply(weight.astype(np.float32)[:, None], self._unigram32[None, :], out=probs)
        out = probs.reshape(-1)
        for flat, vals in sparse:
            out[flat] += vals.astype(np.float32)  # indices are unique within a level
        return probs


# ---- helpers ----------------------------------------------------------------------------------


def _as_ids(ids: torch.Tensor | Sequence[int]) -> np.ndarray:
    if isinstance(ids, torch.Tensor):
        arr = ids.detach().cpu().numpy()
    else:
        arr = np.asarray(list(ids))
    arr = arr.astype(np.int64, copy=False).reshape(-1) if arr.size else np.zeros(0, dtype=np.int64)
    return arr


def _windows(stream: np.ndarray, k: int) -> np.ndarray:
    """All length-k windows of `stream` as an [N, k] view (empty when the stream is shorter)."""
    if len(stream) < k:
        return np.zeros((0, k), dtype=np.int64)
    return np.lib.stride_tricks.sliding_window_view(stream, k)


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows in lexicographic order with their counts (so equal histories are contiguous)."""
    if len(rows) == 0:
        return np.zeros((0, rows.shape[1]), dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort(rows.T[::-1])  # lexsort's last key is primary: reverse so column 0 leads
    s = rows[order]
    new = np.ones(len(s), dtype=bool)
    new[1:] = (s[1:] != s[:-1]).any(axis=1)
    starts = np.flatnonzero(new)
    return s[starts], np.diff(np.append(starts, len(s)))


def _discount(counts: np.ndarray) -> float:
    n1 = int((counts == 1).sum())
    n2 = int((counts == 2).sum())
    if n1 + 2 * n2 == 0:
        return FALLBACK_DISCOUNT
    d = n1 / (n1 + 2 * n2)
    return d if 0 < d < 1 else FALLBACK_DISCOUNT


def _unigram(grams: np.ndarray, counts: np.ndarray, d: float, size: int) -> np.ndarray:
    """Dense P_1: discounted (continuation) counts plus the freed mass spread uniformly."""
    n = np.zeros(size)
    n[grams[:, 0]] = counts
    total = float(counts.sum())
    return np.maximum(n - d, 0.0) / total + d * len(counts) / total / size


def _build_level(grams: np.ndarray, counts: np.ndarray, d: float) -> _Level:
    """CSR arrays for one order k >= 2 from its sorted distinct k-grams and their counts."""
    hist = grams[:, :-1]
    new = np.ones(len(grams), dtype=bool)
    new[1:] = (hist[1:] != hist[:-1]).any(axis=1)
    starts = np.flatnonzero(new)
    indptr = np.append(starts, len(grams)).astype(np.int64)
    row_of = np.cumsum(new) - 1
    denom = np.add.reduceat(counts, starts).astype(np.float64) if len(starts) else np.zeros(0)
    alpha = np.maximum(counts - d, 0.0) / denom[row_of] if len(grams) else np.zeros(0)
    gamma = d * np.diff(indptr) / denom
    index = {tuple(h): i for i, h in enumerate(hist[starts].tolist())}
    return _Level(index, indptr, grams[:, -1].astype(np.int64), alpha, gamma, d)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + l) for each (s, l), without a Python loop."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
