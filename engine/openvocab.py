"""The open id space: the network's vocabulary ids, then every lexicon word the vocabulary lacks.

Ids 0..V-1 are the vocabulary's (<unk> and <eos> are never offered); ids V.. are lexicon words
outside it. A model's <unk> probability is shared among those by their counts (corpus and typing),
so an in-vocabulary word and a rare one are ranked on one probability scale. A sorted view makes
the words of a typed prefix one contiguous range, as in Vocab.
"""

from __future__ import annotations

import bisect

import numpy as np

from engine.lexicon import Lexicon
from engine.tokenizer import EOS
from engine.vocab import SPECIALS, Vocab


SENTENCE_ENDS = frozenset({EOS, ".", "!", "?"})


def starts_sentence(previous: str | None) -> bool:
    """Whether the next word starts a sentence: at the start of the text or a line, or after . ! ?"""
    return previous is None or previous in SENTENCE_ENDS


def shown(display: str, sentence_start: bool) -> str:
    """A word as offered: capitalised at a sentence start, as keyboards do ("the" -> "The")."""
    if sentence_start and display[:1].islower():
        return display[:1].upper() + display[1:]
    return display


class OpenVocab:
    def __init__(self, vocab: Vocab, lexicon: Lexicon):
        self.vocab = vocab
        self.lexicon = lexicon
        self.size_in = len(vocab)
        # The lexicon's forms where it has them: it reads sentence starts apart (engine/lexicon.py),
        # where the vocabulary keeps the most frequent form anywhere ("He" over "he").
        self.display: list[str] = [lexicon.display(k) if i >= len(SPECIALS) and k in lexicon else d
                                   for i, (k, d) in enumerate(zip(vocab.keys, vocab.display))]
        self.keys: list[str] = list(vocab.keys)
        self._index: dict[str, int] = {k: i for i, k in enumerate(vocab.keys) if i >= len(SPECIALS)}
        for k in lexicon.keys():
            if k not in self._index:
                self._index[k] = len(self.keys)
                self.keys.append(k)
                self.display.append(lexicon.display(k))
        # Times each word was seen, corpus and typing together (0 for <unk> and <eos>).
        self.counts = np.asarray([0.0, 0.0] + [float(lexicon.count(k)) for k in self.keys[2:]])
        order = sorted(range(len(SPECIALS), len(self.keys)), key=self.keys.__getitem__)
        self._sorted_keys = [self.keys[i] for i in order]
        self.sorted_ids = np.asarray(order, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def id(self, token: str) -> int | None:
        """Open id of a word (None if neither the vocabulary nor the lexicon has it)."""
        return self._index.get(self.lexicon.key(token))

    def add(self, token: str) -> int:
        """The open id of a typed word, adding it (to the lexicon first) when it is new."""
        k = self.lexicon.key(token)
        found = self._index.get(k)
        if found is not None:
            return found
        new = len(self.keys)
        self._index[k] = new
        self.keys.append(k)
        self.display.append(self.lexicon.display(k) if k in self.lexicon else token)
        self.counts = np.append(self.counts, 0.0)
        pos = bisect.bisect_left(self._sorted_keys, k)
        self._sorted_keys.insert(pos, k)
        self.sorted_ids = np.insert(self.sorted_ids, pos, new)
        return new

    def count_typed(self, open_id: int, amount: float = 1.0) -> None:
        """One more (or, forgetting, fewer) sighting of a word: its unigram count and, outside the
        vocabulary, its share of <unk>."""
        if open_id >= len(SPECIALS):
            self.counts[open_id] = max(0.0, self.counts[open_id] + amount)

    def spread(self, probs: np.ndarray) -> np.ndarray:
        """float64 [size]: a vocabulary distribution with its <unk> mass spread over the lexicon's
        other words by their counts (the share's division folded into one scalar)."""
        out = np.empty(len(self.keys), dtype=np.float64)
        out[: self.size_in] = probs
        oov = self.counts[self.size_in :]
        total = oov.sum()
        np.multiply(oov, float(probs[0]) / total if total > 0 else 0.0, out=out[self.size_in :])
        # With no word to share it, the mass stays on <unk> (never offered: rankings skip ids 0, 1),
        # so the distribution still sums to 1 and perplexity stays honest.
        out[0] = 0.0 if total > 0 else probs[0]
        return out

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        """[lo, hi) into `sorted_ids` of the words whose key starts with `prefix`."""
        p = self.lexicon.key(prefix)
        lo = bisect.bisect_left(self._sorted_keys, p)
        hi = bisect.bisect_left(self._sorted_keys, p + "\U0010ffff", lo)
        return lo, hi
