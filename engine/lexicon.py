"""The open lexicon: every word of the corpus and of the typing, with counts and display forms.

A network names only its vocabulary (the frequent words of the training part); everything else is
<unk>. The lexicon keeps *every* word (rare ones under `min_freq`, ones beyond `max_vocab`, ones only
in the held-out part, and each word the user types), so any of them can be offered. It is pure
Python (no torch): counts, the form to show, and a sorted key list for prefix lookup.
"""

from __future__ import annotations

import bisect
from collections import Counter
from typing import Iterable

from engine.tokenizer import EOS, key

MAX_WORD_CHARS = 64
SENTENCE_END = frozenset({".", "!", "?"})  # a "word" longer than this is a paste accident, not something to offer


class Lexicon:
    """Word keys (lowercased when `lowercase`) with corpus counts, typed counts and display forms."""

    def __init__(self, lowercase: bool = True):
        self.lowercase = lowercase
        self.corpus_counts: dict[str, int] = {}
        self.typed_counts: dict[str, int] = {}
        self._display: dict[str, str] = {}
        self._sorted: list[str] = []  # every key, sorted, so a prefix is one contiguous range
        # Whether the corpus starts its sentences with a capital letter (then words are offered
        # capitalised there, as keyboards do); learned from the text, not assumed.
        self.sentence_case = False

    @classmethod
    def from_tokens(cls, tokens: Iterable[str], lowercase: bool = True) -> "Lexicon":
        """Count the words of a corpus; each is shown in its most frequent written form inside a
        sentence ("he", though "He" starts more sentences: a sentence start is capitalised when
        offered, engine/openvocab.py shown), or at a sentence start for a word never seen inside one."""
        lexicon = cls(lowercase)
        keys: Counter[str] = Counter()
        surfaces: Counter[tuple[str, str]] = Counter()
        starting: Counter[tuple[str, str]] = Counter()  # the forms seen only at sentence starts
        starts, upper = 0, 0
        at_start = True
        for token in tokens:
            if token == EOS or token in SENTENCE_END:
                at_start = True
                continue
            first = at_start
            if at_start and token[:1].isalpha():
                starts += 1
                upper += token[:1].isupper()
            at_start = False
            if len(token) > MAX_WORD_CHARS:
                continue
            k = key(token, lowercase)
            keys[k] += 1
            (starting if first else surfaces)[(k, token)] += 1
        best: dict[str, tuple[int, str]] = {}
        for (k, surface), c in surfaces.items():
            if k not in best or (c, surface) > best[k]:
                best[k] = (c, surface)
        inside = set(best)
        for (k, surface), c in starting.items():
            if k not in inside and (k not in best or (c, surface) > best[k]):
                best[k] = (c, surface)
        lexicon.corpus_counts = dict(keys)
        lexicon._display = {k: s for k, (_, s) in best.items()}
        lexicon._sorted = sorted(keys)
        lexicon.sentence_case = starts > 0 and upper > starts / 2
        return lexicon

    @classmethod
    def from_counts(cls, keys: list[str], counts: list[int], display: list[str], lowercase: bool = True) -> "Lexicon":
        """Rebuild a corpus lexicon saved as parallel lists (engine/learning_setup.py)."""
        lexicon = cls(lowercase)
        lexicon.corpus_counts = dict(zip(keys, counts))
        lexicon._display = dict(zip(keys, display))
        lexicon._sorted = sorted(lexicon.corpus_counts)
        return lexicon

    def without(self, tokens: Iterable[str]) -> "Lexicon":
        """A copy that has not seen `tokens` (the corpus minus its held-out part, for fitting)."""
        less = Counter(key(t, self.lowercase) for t in tokens if t != EOS and len(t) <= MAX_WORD_CHARS)
        counts = {k: c - less.get(k, 0) for k, c in self.corpus_counts.items() if c > less.get(k, 0)}
        copy = Lexicon.from_counts(list(counts), list(counts.values()), [self._display[k] for k in counts], self.lowercase)
        copy.sentence_case = self.sentence_case
        return copy

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, word: str) -> bool:
        return key(word, self.lowercase) in self._display

    def key(self, word: str) -> str:
        return key(word, self.lowercase)

    def count(self, k: str) -> int:
        """Times a key was seen, in the corpus and in the typing together."""
        return self.corpus_counts.get(k, 0) + self.typed_counts.get(k, 0)

    def display(self, k: str) -> str:
        return self._display.get(k, k)

    def keys(self) -> list[str]:
        """Every key, sorted."""
        return self._sorted

    def prefix_keys(self, prefix: str) -> list[str]:
        """The keys that start with `prefix` (matched as a key: case folded like the words)."""
        p = key(prefix, self.lowercase)
        lo = bisect.bisect_left(self._sorted, p)
        hi = bisect.bisect_left(self._sorted, p + "\U0010ffff", lo)
        return self._sorted[lo:hi]

    def add_typed(self, token: str) -> bool:
        """Count a word the user typed; True when it is a word the lexicon did not have."""
        if token == EOS or len(token) > MAX_WORD_CHARS or not token.strip():
            return False
        k = key(token, self.lowercase)
        self.typed_counts[k] = self.typed_counts.get(k, 0) + 1
        if k in self._display:
            return False
        self._display[k] = token  # a new word is shown as the user wrote it
        bisect.insort(self._sorted, k)
        return True

    def reserve(self, tokens: Iterable[str]) -> None:
        """Make room for words with no count yet (an evaluation knows its text's words in advance;
        a word with no count has no probability, so it is never offered before it is typed)."""
        for token in tokens:
            if token == EOS or len(token) > MAX_WORD_CHARS:
                continue
            k = key(token, self.lowercase)
            if k not in self._display:
                self._display[k] = token
                bisect.insort(self._sorted, k)

    def forget(self, word: str) -> bool:
        """Drop what typing taught about a word; a word that only typing brought in goes entirely.
        True when there was something to forget."""
        k = key(word, self.lowercase)
        if k not in self.typed_counts:
            return False
        del self.typed_counts[k]
        if k not in self.corpus_counts:
            del self._display[k]
            i = bisect.bisect_left(self._sorted, k)
            if i < len(self._sorted) and self._sorted[i] == k:
                del self._sorted[i]
        return True

    def clear_typed(self) -> None:
        for k in list(self.typed_counts):
            self.forget(k)

    def typed_words(self) -> list[tuple[str, int]]:
        """(display form, times typed) of every typed word, most typed first."""
        items = sorted(self.typed_counts.items(), key=lambda kc: (-kc[1], kc[0]))
        return [(self.display(k), c) for k, c in items]

    def new_words(self) -> list[str]:
        """Words the corpus does not have, only typed."""
        return sorted(self.display(k) for k in self.typed_counts if k not in self.corpus_counts)
