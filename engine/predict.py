"""Predictor: next-word suggestions and completions while a person types.

It caches the model's state for the text typed so far. Typing inside a word costs no model call
(the cached next-word distribution is filtered by the typed prefix); finishing a word costs one
recurrent step; deleting goes back to a cached earlier state.

Each suggestion says how to accept it: `apply_suggestion(text, s)` is the text after accepting `s`
(spacing included), so front ends never repeat the spacing rules. No torch is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from engine.tokenizer import context_tokens, detokenize, insertion, split_partial
from engine.vocab import EOS_ID, SPECIALS

if TYPE_CHECKING:
    from engine.lm import LanguageModel

MAX_CONTEXT_TOKENS = 256
# Only the tail of a very long text is read; the window's start moves in steps of this many
# characters so that the cache stays valid between keystrokes.
WINDOW_CHARS = 4096


class Suggestion(NamedTuple):
    """A word offered for the text given to `Predictor.suggest`, and how to accept it there.

    A NamedTuple rather than a dataclass: several are made on every keystroke, and a tuple of six
    fields is made in half the time of a frozen dataclass of three."""

    word: str  # the whole word as it would appear, in the user's casing for the typed part
    prob: float  # the model's probability of this word as the next token
    remainder: str  # the rest of the word after what is typed (the whole word when not completing)
    completes: bool  # it completes a partly typed word (else it is the next word)
    insert: str  # appended to the typed text on accepting it, spacing included
    delete: int = 0  # characters removed from the end of the typed text first (spaces before ".")


def apply_suggestion(text: str, suggestion: Suggestion) -> str:
    """The text after accepting `suggestion`, which `Predictor.suggest(text)` returned: its
    `delete` characters removed from the end, then its `insert` appended ("how ar" -> "how are ",
    "see you " -> "see you. ", "Hello," -> "Hello, how ")."""
    return text[: len(text) - suggestion.delete] + suggestion.insert


class Predictor:
    def __init__(self, lm: LanguageModel, max_context: int = MAX_CONTEXT_TOKENS):
        self.lm = lm
        self.vocab = lm.vocab
        self.max_context = max_context
        self._ids: list[int] = []  # context token ids whose states are cached
        self._states: list[object] = [lm.start()]  # _states[i]: after reading _ids[:i]
        self._last_context: str | None = None  # typing inside a word keeps the context unchanged
        self._last_tail = ""  # the (windowed) context whose tokens are _ids
        self._probs_state: object = None  # the state whose next-token distribution is _probs
        self._probs = np.empty(0, np.float32)
        self._sorted_probs = np.empty(0, np.float32)  # _probs in vocab.sorted_ids order
        self._top: tuple[tuple, list[Suggestion]] | None = None  # (k and text end, next words) for _probs_state

    def suggest(self, text: str, k: int = 5) -> list[Suggestion]:
        """The k likeliest next words (text empty or ending in space/punctuation) or completions
        of the word being typed, likeliest first; each knows how to be accepted into `text`."""
        context, partial = split_partial(text)
        state = self._state_for(context)
        if state is not self._probs_state:  # an n-gram computes its distribution on demand
            self._probs_state, self._probs = state, self.lm.next_probs(state)
            # Completions of any prefix are then a contiguous slice: no gather per keystroke.
            self._sorted_probs = self._probs[self.vocab.sorted_ids]
            self._top = None
        if partial:
            return self._completions(partial, k)
        # The same state is asked again after a space or punctuation: the words are kept, and
        # only how they are inserted depends on the end of the text.
        end = (k, text[-1:], len(text) - len(text.rstrip(" ")))
        if self._top is None or self._top[0] != end:
            self._top = (end, self._top_words(text, k))
        return list(self._top[1])

    def continue_text(
        self,
        text: str,
        n_words: int = 10,
        temperature: float = 1.0,
        top_k: int = 20,
        seed: int | None = None,
    ) -> str:
        """Sample up to `n_words` more tokens, stopping at the end of the sentence (line)."""
        rng = np.random.default_rng(seed)
        context, partial = split_partial(text)
        ids = self.vocab.encode(context_tokens(context + partial))
        self._last_context = None  # the cache will hold this longer context's state
        self._last_tail = ""
        state = self._state_for_ids(ids)
        words: list[str] = []
        for _ in range(n_words):
            probs = self.lm.next_probs(state).astype(np.float64)
            probs[0] = 0.0  # never write <unk>
            top = np.argsort(probs)[::-1][: max(1, top_k)]
            if temperature <= 0:
                choice = int(top[0])
            else:
                # In log space, so a low temperature sharpens instead of underflowing to 0/0.
                logits = np.log(np.maximum(probs[top], 1e-30)) / temperature
                weights = np.exp(logits - logits.max())
                choice = int(rng.choice(top, p=weights / weights.sum()))
            if choice == EOS_ID:
                break
            words.append(self.vocab.display[choice])
            state = self.lm.advance(state, choice)
        return detokenize(words)

    # -- internals ---------------------------------------------------------------------------

    def _state_for(self, context: str) -> object:
        if context == self._last_context:
            return self._states[-1]
        self._last_context = context
        tail = context
        if len(tail) > 2 * WINDOW_CHARS:
            start = (len(tail) - WINDOW_CHARS) // WINDOW_CHARS * WINDOW_CHARS
            cut = tail.find(" ", start)
            tail = tail[cut + 1 :] if cut != -1 else tail[start:]
        old, self._last_tail = self._last_tail, tail
        added = tail[len(old) :]
        if tail.startswith(old) and ends_a_token(old) and "\n" not in added and "\r" not in added:
            # Typing forward: no token can join across the end of the old text, so only the new
            # text needs reading (the same tokens a full re-read gives, much cheaper).
            return self._state_for_ids(self._ids + self.vocab.encode(context_tokens(added)))
        return self._state_for_ids(self.vocab.encode(context_tokens(tail)))

    def _state_for_ids(self, ids: list[int]) -> object:
        """State after `ids`, reusing the longest cached prefix."""
        cached = len(self._ids)
        if len(ids) >= cached and ids[:cached] == self._ids:
            common = cached  # typing forward: a list comparison in C instead of a Python loop
        else:
            common = 0
            limit = min(len(ids), cached)
            while common < limit and ids[common] == self._ids[common]:
                common += 1
        if len(ids) - common > self.max_context:
            # Too much new text to read one token at a time: start over on its tail.
            ids = ids[-self.max_context :]
            common = 0
        del self._ids[common:]
        del self._states[common + 1 :]
        for token in ids[common:]:
            self._states.append(self.lm.advance(self._states[-1], token))
            self._ids.append(token)
        return self._states[-1]

    def _top_words(self, text: str, k: int) -> list[Suggestion]:
        ids, ps = top_k(self._probs[len(SPECIALS) :], k)
        words = [self.vocab.display[i + len(SPECIALS)] for i in ids]
        return [Suggestion(word, p, word, False, *insertion(text, word, word, False))
                for word, p in zip(words, ps)]

    def _completions(self, partial: str, k: int) -> list[Suggestion]:
        lo, hi = self.vocab.prefix_range(partial)
        if lo == hi:
            return []
        rows, ps = top_k(self._sorted_probs[lo:hi], k)
        rests = [self.vocab.display[i][len(partial) :] for i in self.vocab.sorted_ids[lo:hi][rows].tolist()]
        # insertion() for a completion: the rest of the word and a space (a word never ends in an
        # opening bracket), inline because this runs on every keystroke.
        return [Suggestion(partial + rest, p, rest, True, rest + " ") for rest, p in zip(rests, ps)]


SMALL_TOP_K = 1024  # up to this many entries a stable sort is quicker than torch.topk (2-15 us here)


def top_k(values: np.ndarray, k: int) -> tuple[list[int], list[float]]:
    """Positions and values of the k largest entries, largest first, as plain Python lists (this
    is on every keystroke); equal values in position order (the vocabulary's frequency order, or a
    prefix's alphabetical one), so what is offered never depends on a sort's internals. A long
    array goes through torch.topk, which reads it in place: 16 us for 3,000 entries against 38 us
    for a stable sort and 36 us for argpartition + argsort."""
    k = min(k, values.size)
    if k <= 0:
        return [], []
    if values.size <= SMALL_TOP_K:
        top = np.argsort(-values, kind="stable")[:k]
        return top.tolist(), values[top].tolist()
    import torch  # loaded by then (every model is torch-backed); the module itself stays numpy-only

    found = torch.topk(torch.from_numpy(values), k)
    last = found.values[-1].item()
    above = sorted((-p, r) for p, r in zip(found.values.tolist(), found.indices.tolist()) if p > last)
    tied = np.flatnonzero(values == last)[: k - len(above)].tolist()  # in position order
    return [r for _, r in above] + tied, [-p for p, _ in above] + [last] * len(tied)


def ends_a_token(text: str) -> bool:
    """Whether no token can continue past the end of `text`, whatever is typed next: after a space,
    or after punctuation that cannot be inside a token ("don't", "well-known", "3.14", "1,000")."""
    if not text:
        return False
    last = text[-1]
    if last.isspace():
        return True
    if last.isalnum() or last in "'’-_":
        return False
    return not (last in ".," and len(text) > 1 and text[-2].isdigit())
