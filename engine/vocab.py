"""Vocabulary: token keys <-> ids, display forms, and a sorted view for prefix completion."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from engine.errors import ModelFileError
from engine.tokenizer import EOS, UNK, key

UNK_ID = 0
EOS_ID = 1
SPECIALS = (UNK, EOS)


@dataclass
class Vocab:
    """Ids 0 and 1 are <unk> and <eos>; the rest are word keys by falling frequency.

    `display[i]` is the most frequent surface form of key i, shown to the user when
    matching is case-insensitive ("I", "London" rather than "i", "london").
    """

    keys: list[str]
    display: list[str]
    counts: list[int]
    lowercase: bool = True
    _index: dict[str, int] = field(init=False, repr=False)
    _sorted_keys: list[str] = field(init=False, repr=False)
    sorted_ids: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if list(self.keys[:2]) != list(SPECIALS):
            raise ModelFileError("The vocabulary must start with <unk> and <eos>.")
        if not (len(self.keys) == len(self.display) == len(self.counts)):
            raise ModelFileError("The vocabulary's lists have different lengths.")
        self._index = {k: i for i, k in enumerate(self.keys)}
        if len(self._index) != len(self.keys):
            raise ModelFileError("The vocabulary has duplicate words.")
        # Words only (no specials), sorted by key, so a typed prefix is one contiguous range.
        order = sorted(range(2, len(self.keys)), key=lambda i: self.keys[i])
        self._sorted_keys = [self.keys[i] for i in order]
        self.sorted_ids = np.asarray(order, dtype=np.int64)

    @classmethod
    def build(
        cls,
        tokens: Iterable[str],
        min_freq: int = 1,
        max_vocab: int | None = None,
        lowercase: bool = True,
    ) -> "Vocab":
        """Count keys in `tokens` and keep those seen `min_freq` times, at most `max_vocab` words."""
        key_counts: Counter[str] = Counter()
        surface_counts: Counter[tuple[str, str]] = Counter()
        for token in tokens:
            if token == EOS:
                continue
            k = key(token, lowercase)
            key_counts[k] += 1
            surface_counts[(k, token)] += 1
        return cls.from_counts(key_counts, surface_counts, min_freq, max_vocab, lowercase)

    @classmethod
    def from_counts(
        cls,
        key_counts: Mapping[str, int],
        surface_counts: Mapping[tuple[str, str], int],
        min_freq: int = 1,
        max_vocab: int | None = None,
        lowercase: bool = True,
    ) -> "Vocab":
        """The vocabulary `build` gives, from counts made elsewhere (Corpus.from_file counts while
        streaming): `key_counts[key]` and `surface_counts[(key, surface form)]` of the training tokens,
        <eos> excluded. Ties are broken the same way whatever order the counts come in."""
        kept = [(k, c) for k, c in key_counts.items() if c >= min_freq and k not in SPECIALS]
        kept.sort(key=lambda kc: (-kc[1], kc[0]))
        if max_vocab is not None:
            kept = kept[: max(0, max_vocab - len(SPECIALS))]
        best_surface: dict[str, tuple[int, str]] = {}
        for (k, surface), c in surface_counts.items():
            if k not in best_surface or (c, surface) > best_surface[k]:
                best_surface[k] = (c, surface)
        keys = list(SPECIALS) + [k for k, _ in kept]
        display = list(SPECIALS) + [best_surface[k][1] for k, _ in kept]
        counts = [0, 0] + [c for _, c in kept]
        return cls(keys=keys, display=display, counts=counts, lowercase=lowercase)

    def __len__(self) -> int:
        return len(self.keys)

    def id(self, token: str) -> int:
        """Id of a surface token; EOS stays EOS, unseen words are <unk>."""
        if token == EOS:
            return EOS_ID
        return self._index.get(key(token, self.lowercase), UNK_ID)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def contains(self, token: str) -> bool:
        return self.id(token) >= len(SPECIALS)

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        """[lo, hi) into `sorted_ids` of the words whose key starts with `prefix`."""
        p = key(prefix, self.lowercase)
        lo = bisect.bisect_left(self._sorted_keys, p)
        hi = bisect.bisect_left(self._sorted_keys, p + "\U0010ffff", lo)
        return lo, hi

    def to_json(self) -> dict:
        return {
            "lowercase": self.lowercase,
            "keys": self.keys,
            "display": self.display,
            "counts": self.counts,
        }

    @classmethod
    def from_json(cls, data: object) -> "Vocab":
        """Rebuild from `to_json` output, refusing anything malformed."""
        if not isinstance(data, dict):
            raise ModelFileError("The vocabulary file is not a JSON object.")
        keys, display, counts = data.get("keys"), data.get("display"), data.get("counts")
        lowercase = data.get("lowercase")
        if not isinstance(lowercase, bool):
            raise ModelFileError("The vocabulary's 'lowercase' must be true or false.")
        for name, value, kind in (("keys", keys, str), ("display", display, str), ("counts", counts, int)):
            if not isinstance(value, list) or not all(
                isinstance(v, kind) and not isinstance(v, bool) for v in value
            ):
                raise ModelFileError(f"The vocabulary's '{name}' must be a list of {kind.__name__}.")
        return cls(keys=keys, display=display, counts=counts, lowercase=lowercase)
