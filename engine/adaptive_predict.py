"""Suggestions that learn: the Predictor's cached states, ranked over the open word space.

`AdaptivePredictor.suggest(text)` gives what `Predictor.suggest` gives, but every word of the
corpus and of the typing can be offered (ranked on one probability scale with the vocabulary's
words, shown as written; <unk> never), blended with the n-gram and the cache by the Learner's
weights. `learn(text)` teaches it the words finished in `text` (the cache at once; the network in
the background through an OnlineUpdater). Nothing here waits for an update: the network in use is
whatever the updater last published, read once per suggestion.
"""

from __future__ import annotations

import numpy as np

from engine.adapt import LearnConfig, Learner, OnlineUpdater
from engine.lm import LanguageModel, NeuralLM
from engine.predict import Predictor, Suggestion, top_k
from engine.lexicon import MAX_WORD_CHARS
from engine.openvocab import shown, starts_sentence
from engine.tokenizer import context_tokens, insertion, split_partial
from engine.vocab import EOS_ID


class _Pair:
    """The network and the n-gram read together, so one cached state serves both. The network is
    looked up on every call, so an update swapped in by the updater is used from the next token."""

    def __init__(self, net: "callable", ngram: LanguageModel | None):
        self._net, self.ngram = net, ngram
        self.vocab = net().vocab
        self.name = net().name

    def start(self) -> tuple:
        return (self._net().start(), self.ngram.start() if self.ngram is not None else None)

    def advance(self, state: tuple, token_id: int) -> tuple:
        kn = self.ngram.advance(state[1], token_id) if self.ngram is not None else None
        return (self._net().advance(state[0], token_id), kn)

    def next_probs(self, state: tuple) -> np.ndarray:
        return self._net().next_probs(state[0])

    def log_prob_chunks(self, ids):  # pragma: no cover - the Predictor never batches
        raise NotImplementedError


class AdaptivePredictor:
    def __init__(self, lm: NeuralLM, learner: Learner, ngram: LanguageModel | None = None,
                 online: bool | None = None):
        self.learner = learner
        config = learner.config
        use_online = config.dynamic if online is None else online
        self.updater = OnlineUpdater(lm, config) if use_online else None
        self._lm = lm
        self._pair = _Pair(self.network, ngram)
        self._predictor = Predictor(self._pair)
        self._key: tuple | None = None  # (state, learner version, network) of _dist
        self._dist = np.empty(0)
        self._sorted = np.empty(0)
        self._top: tuple | None = None  # ((state key, k), ids, probabilities) of the next words
        self._context = ""  # the typed text (up to the word being typed) already learned

    def network(self) -> NeuralLM:
        return self.updater.lm if self.updater is not None else self._lm

    def close(self) -> None:
        if self.updater is not None:
            self.updater.close()

    def suggest(self, text: str, k: int = 5) -> list[Suggestion]:
        """The k likeliest next words, or completions of the word being typed, over every word."""
        if self.updater is not None:
            self.updater.touch()  # a keystroke: the next online update waits for a pause
        context, partial = split_partial(text)
        state = self._predictor._state_for(context)  # the Predictor's prefix cache of states
        key = (id(state), self.learner.version, id(self.network()))
        if key != self._key:
            p_kn = self._pair.ngram.next_probs(state[1]) if self._pair.ngram is not None else None
            dist = self.learner.distribution(self.network().next_probs(state[0]), p_kn, self._previous(context))
            dist[:2] = 0.0  # <unk> and <eos> are never offered
            self._key, self._dist, self._sorted = key, dist, dist[self.learner.open.sorted_ids]
        open_vocab = self.learner.open
        if partial:
            lo, hi = open_vocab.prefix_range(partial)
            rows, ps = top_k(self._sorted[lo:hi], k)
            ids = open_vocab.sorted_ids[lo:hi][rows].tolist()
            words = [partial + open_vocab.display[i][len(partial):] for i in ids]
            return [self._suggestion(text, w, p, w[len(partial):], True) for w, p in zip(words, ps) if p > 0]
        if self._top is None or self._top[0] != (key, k):  # next words: once per state and k
            self._top = ((key, k), *top_k(self._dist, k))
        _, ids, ps = self._top
        capital = self._sentence_start(context)
        forms = [shown(open_vocab.display[i], capital) for i in ids]
        return [self._suggestion(text, w, p, w, False) for w, p in zip(forms, ps) if p > 0]

    def _sentence_start(self, context: str) -> bool:
        if not self.learner.lexicon.sentence_case:
            return False
        tail = context.rstrip(" \t")
        if not tail or tail[-1] in "\r\n":
            return True
        tokens = context_tokens(tail[-2 * MAX_WORD_CHARS :])
        return starts_sentence(tokens[-1] if tokens else None)

    def _previous(self, context: str) -> tuple[int, int]:
        """Open ids of the context's last two tokens (<eos> before a line start or an unknown word)."""
        tail = context[-4 * MAX_WORD_CHARS :]
        lines = tail.replace("\r", "\n").split("\n")
        tokens = context_tokens(lines[-1])[-2:]  # the open line: a line end starts afresh
        ids = [self.learner.open.id(t) for t in tokens]
        ids = [EOS_ID if i is None else i for i in ids]
        return tuple(([EOS_ID, EOS_ID] + ids)[-2:])

    def continue_text(self, text: str, **kw) -> str:
        """As Predictor.continue_text, with the network in use now (vocabulary words only)."""
        return self._predictor.continue_text(text, **kw)

    def learn(self, text: str) -> int:
        """Learn the tokens finished in `text` since the last call (a word still being typed waits
        until it ends). Typing forward costs the current line's tokens, not the whole text's; after
        an edit further back nothing is relearned. Returns how many tokens were learned; nothing
        while the learner is paused (and what is typed then is never learned later)."""
        context, _ = split_partial(text)
        old, self._context = self._context, context
        if context == old or not context.startswith(old):
            return 0
        start = max(old.rfind("\n"), old.rfind("\r")) + 1  # the line the old text ended in
        before = context_tokens(old[start:]) if start < len(old) else []
        now = context_tokens(context[start:])
        fresh = now[len(before):] if now[: len(before)] == before else now
        if self.learner.paused or not fresh:
            return 0
        for token in fresh:
            self.learner.observe(token)
        if self.updater is not None:
            self.updater.feed(self.learner.open.vocab.encode(fresh))
        return len(fresh)

    def _suggestion(self, text: str, word: str, prob: float, remainder: str, completes: bool) -> Suggestion:
        insert, delete = insertion(text, word, remainder, completes)
        return Suggestion(word, float(prob), remainder, completes, insert, delete)

    @classmethod
    def fresh(cls, lm: NeuralLM, lexicon, ngram: LanguageModel | None = None, weights=None,
              config: LearnConfig | None = None) -> "AdaptivePredictor":
        return cls(lm, Learner(lm.vocab, lexicon, weights, config), ngram)

