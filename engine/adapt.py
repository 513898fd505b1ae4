"""Learning from typing: a cache of recent and new words at once, and an online update of the network.

- `Learner` holds what typing taught: the open lexicon's typed counts, a decayed cache of recent
  words and the typed history. `distribution()` blends the network, the n-gram, the cache and the
  lexicon's unigram over the open word space with fitted `Weights` (engine/mixture.py).
- `DynamicEval` is the online update (Krause et al. 2018): after every `every` typed tokens, one
  SGD step on them, carrying the recurrent state from segment to segment.
- `OnlineUpdater` runs DynamicEval in a background thread and publishes each new network whole
  (a fresh NeuralLM), so a keystroke never waits for an update and never sees half-new weights.
The evaluation (engine/adaptive_eval.py) uses these same objects, so it measures what the app does.
"""

from __future__ import annotations

import copy
import os
import queue
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from engine.lexicon import Lexicon
from engine.lm import NeuralLM
from engine.mixture import Weights
from engine.model import WordRNN
from engine.openvocab import OpenVocab
from engine.tokenizer import EOS
from engine.vocab import EOS_ID, Vocab

SWITCH_INTERVAL_S = 0.001
UPDATE_NICENESS = 10  # added to the online update thread's nice value
UPDATE_PAUSE_S = 0.4  # an online update waits for this long without a keystroke
MAX_WAITING_SEGMENTS = 8  # ... unless this many segments wait: then it steps while typing goes on
HISTORY_LIMIT = 200_000  # typed tokens kept (about 100 hours of typing); older ones drop off


@dataclass(frozen=True)
class LearnConfig:
    cache_decay: float = 0.995  # per typed token: a word typed 140 tokens ago counts half
    dynamic: bool = True
    dynamic_lr: float = 0.1
    dynamic_every: int = 20  # typed tokens per update
    clip: float = 1.0

    def to_json(self) -> dict:
        return asdict(self)


class Cache:
    """Decayed counts of the words typed recently, over the open word space."""

    def __init__(self, size: int, decay: float):
        self.decay = decay
        self.counts = np.zeros(size, dtype=np.float64)
        self.total = 0.0

    def add(self, open_id: int) -> None:
        if open_id >= self.counts.size:
            self.counts = np.concatenate([self.counts, np.zeros(open_id + 1 - self.counts.size)])
        self.counts *= self.decay
        self.total = self.total * self.decay + 1.0
        self.counts[open_id] += 1.0

    def drop(self, open_id: int) -> None:
        if open_id < self.counts.size:
            self.total -= self.counts[open_id]
            self.counts[open_id] = 0.0


class PhraseCache:
    """What followed the last one and two words in the typed text: P(w | previous words),
    Witten-Bell smoothed from two words to one to the word cache, so a phrase the user repeats
    ("I need to ...") is offered again."""

    def __init__(self) -> None:
        self.follow: dict[tuple[int, ...], dict[int, float]] = {}

    def add(self, history: tuple[int, int], word: int) -> None:
        for context in (history[-1:], history):
            row = self.follow.setdefault(context, {})
            row[word] = row.get(word, 0.0) + 1.0

    def drop(self, word: int) -> None:
        for context in [c for c in self.follow if word in c]:
            del self.follow[context]
        for row in self.follow.values():
            row.pop(word, None)

    def prob(self, history: tuple[int, int], word: int, backoff: float) -> float:
        """probs(history, ...)[word] for one word, given its backoff probability."""
        p = backoff
        for context in (history[-1:], history):
            row = self.follow.get(context)
            if row:
                total, kinds = sum(row.values()), len(row)
                p = (p * kinds + row.get(word, 0.0)) / (total + kinds)
        return p

    def terms(self, history: tuple[int, int]) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
        """P(. | history) as `scale * backoff` plus sparse (ids, values) additions, where the
        backoff is the word cache's distribution: the blend then adds the cache once, scaled,
        instead of copying it per level."""
        scale, added = 1.0, []
        for context in (history[-1:], history):
            row = self.follow.get(context)
            if row:
                total, kinds = sum(row.values()), len(row)
                lam = kinds / (total + kinds)
                scale *= lam
                added = [(ids, values * lam) for ids, values in added]
                ids = np.fromiter(row.keys(), dtype=np.int64, count=kinds)
                values = np.fromiter(row.values(), dtype=np.float64, count=kinds) / (total + kinds)
                added.append((ids, values))
        return scale, added


class Learner:
    """What typing teaches, and the blend that serves suggestions from it."""

    def __init__(self, vocab: Vocab, lexicon: Lexicon, weights: Weights | None = None,
                 config: LearnConfig | None = None):
        self.config = config or LearnConfig()
        self.weights = weights or Weights()
        self.lexicon = lexicon
        self.open = OpenVocab(vocab, lexicon)
        self.cache = Cache(len(self.open), self.config.cache_decay)
        self.phrases = PhraseCache()
        self.previous = (EOS_ID, EOS_ID)  # open ids of the last two typed tokens (<eos> at a line start)
        self.history: list[str] = []  # typed tokens, <eos> at line ends
        self.paused = False
        self.version = 0  # changes whenever what is learned changes (callers recompute then)

    def distribution(self, p_net: np.ndarray, p_ngram: np.ndarray | None = None,
                     previous: tuple[int, int] | None = None) -> np.ndarray:
        """float64 [open size]: the blended next-word probabilities (<unk> is 0, never offered).
        `previous`: the open ids of the two tokens before (default: the last two typed)."""
        w = self.weights
        previous = self.previous if previous is None else previous
        # Network and n-gram share one vocabulary: blend there (the smaller array), spread once.
        # Each later part is one scaled pass over the open space: a word end's budget is a
        # millisecond, and every full-size temporary evicts output-layer weights from the cache.
        if p_ngram is not None and w.ngram > 0:
            mixed = w.net * p_net + w.ngram * p_ngram
        else:
            mixed = (w.net + (w.ngram if p_ngram is None else 0.0)) * p_net
        out = self.open.spread(mixed)
        size = out.size
        counts_total = self.open.counts.sum() if self.cache.total <= 1e-9 or w.unigram > 0 else 0.0
        if self.cache.total > 1e-9:
            base, base_total = self.cache.counts, self.cache.total
        else:  # nothing typed yet: the lexicon's counts stand in for the cache
            base, base_total = self.open.counts, counts_total
        coef = w.cache
        added: list = []
        if w.phrase > 0:
            scale, added = self.phrases.terms(previous)
            coef += w.phrase * scale
        if coef > 0 and base_total > 0:
            n = min(base.size, size)
            out[:n] += base[:n] * (coef / base_total)
        if w.unigram > 0 and counts_total > 0:
            out += self.open.counts * (w.unigram / counts_total)
        for ids, values in added:
            inside = ids < size
            out[ids[inside]] += values[inside] * w.phrase
        return out

    def parts(self, p_net: np.ndarray, p_ngram: np.ndarray | None, open_id: int) -> np.ndarray:
        """Each part's probability of one word (for fitting the weights), as distribution() has
        them, computed for that word alone."""
        counts = self.open.counts
        size_in = self.open.size_in
        oov_total = counts[size_in:].sum()

        def spread_one(p: np.ndarray) -> float:
            if open_id < size_in:
                return float(p[open_id])
            return float(p[0] * counts[open_id] / oov_total) if oov_total > 0 else 0.0

        total = counts.sum()
        unigram = float(counts[open_id] / total) if total > 0 else 0.0
        in_cache = open_id < self.cache.counts.size and self.cache.total > 1e-9
        cache = float(self.cache.counts[open_id] / self.cache.total) if in_cache else (
            unigram if self.cache.total <= 1e-9 else 0.0)
        return np.array([
            spread_one(p_net),
            spread_one(p_ngram) if p_ngram is not None else 0.0,
            cache,
            unigram,
            self.phrases.prob(self.previous, open_id, cache),
        ])

    def observe(self, token: str) -> int | None:
        """Learn one typed token (nothing while paused). Its open id, None for <eos> or when paused."""
        if self.paused:
            return None
        if len(self.history) >= HISTORY_LIMIT:
            del self.history[: HISTORY_LIMIT // 10]
        self.history.append(token)
        self.version += 1
        if token == EOS:
            self.previous = (EOS_ID, EOS_ID)
            return None
        self.lexicon.add_typed(token)
        open_id = self.open.add(token)
        self.open.count_typed(open_id)
        self.cache.add(open_id)
        self.phrases.add(self.previous, open_id)
        self.previous = (self.previous[1], open_id)
        return open_id

    def restore(self, history: list[str], typed: dict[str, int], display: dict[str, str],
                cache_replay: int = 5_000) -> None:
        """Take back a saved state: typed counts (new words in their written forms), the history,
        and the cache from the history's tail (older words have decayed away)."""
        for k, count in typed.items():
            form = display.get(k, self.lexicon.display(k))
            self.lexicon.add_typed(form)
            self.lexicon.typed_counts[self.lexicon.key(form)] = count
            self.open.count_typed(self.open.add(form), count)
        self.history = list(history[-HISTORY_LIMIT:])
        previous = (EOS_ID, EOS_ID)
        for n, token in enumerate(self.history):
            open_id = self.open.id(token) if token != EOS else None
            if open_id is None:
                previous = (EOS_ID, EOS_ID)
                continue
            self.phrases.add(previous, open_id)
            if n >= len(self.history) - cache_replay:
                self.cache.add(open_id)
            previous = (previous[1], open_id)
        self.previous = previous
        self.version += 1

    def view(self) -> dict:
        """What was learned, for the user to see: typed words with counts, new words, history size."""
        return {"typed": self.lexicon.typed_words(), "new": self.lexicon.new_words(),
                "history_tokens": len(self.history), "paused": self.paused}

    def forget(self, word: str) -> bool:
        """Forget a typed word: its typed counts, its place in the cache and in the history."""
        k = self.lexicon.key(word)
        typed = self.lexicon.typed_counts.get(k, 0)
        open_id = self.open.id(word)
        if not typed or open_id is None:
            return False
        self.open.count_typed(open_id, -typed)
        self.cache.drop(open_id)
        self.phrases.drop(open_id)
        self.lexicon.forget(word)
        self.history = [t for t in self.history if self.lexicon.key(t) != k]
        self.version += 1
        return True

    def clear(self) -> None:
        """Forget everything typing taught."""
        for word, _ in self.lexicon.typed_words():
            self.forget(word)
        self.history.clear()
        self.cache = Cache(len(self.open), self.config.cache_decay)
        self.phrases = PhraseCache()
        self.previous = (EOS_ID, EOS_ID)
        self.version += 1


class DynamicEval:
    """Online update of a copy of the network: an SGD step on each segment of typed tokens."""

    def __init__(self, model: WordRNN, config: LearnConfig | None = None):
        self.config = config or LearnConfig()
        self.model = copy.deepcopy(model).eval()  # eval: no dropout while adapting
        for p in self.model.parameters():
            p.requires_grad_(True)
        self.hidden = self.model.init_hidden(1)
        self._pending: tuple[torch.Tensor, object] | None = None
        self.steps = 0

    def forward(self, inputs: list[int]) -> np.ndarray:
        """float32 [n, V] next-token probabilities for a segment, with the current weights."""
        x = torch.tensor(inputs, dtype=torch.long).unsqueeze(1)
        with torch.enable_grad():
            logits, hidden = self.model(x, self.hidden)
        self._pending = (logits[:, 0], hidden)
        return torch.softmax(logits[:, 0].detach().float(), dim=-1).numpy()

    def learn(self, targets: list[int]) -> None:
        """The step on the segment just read: its targets are the tokens that followed."""
        logits, hidden = self._pending
        self._pending = None
        y = torch.tensor(targets, dtype=torch.long)
        with torch.enable_grad():
            loss = F.cross_entropy(logits.float(), y)
            params = [p for p in self.model.parameters()]
            grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            norm = torch.sqrt(sum((g.float() ** 2).sum() for g in grads))
            scale = self.config.dynamic_lr * min(1.0, self.config.clip / (float(norm) + 1e-6))
            for p, g in zip(params, grads):
                p.sub_(scale * g)
        self.hidden = tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()
        self.steps += 1

    def step(self, inputs: list[int], targets: list[int]) -> None:
        self.forward(inputs)
        self.learn(targets)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}


class OnlineUpdater:
    """Runs DynamicEval in a background thread; `lm` is always a whole, ready network.

    `feed(ids)` queues typed token ids (from any thread; it never blocks). Every `dynamic_every`
    tokens make a segment; the thread steps a private copy on it, then builds a fresh NeuralLM
    (stepper included) and swaps the reference: readers see the old network or the new one, never
    a mix. A step waits for a pause in the typing (`touch()` marks each keystroke): on a two-core
    machine an update beside a keystroke slows it through the shared memory bus, whatever the
    thread priorities. After MAX_WAITING_SEGMENTS segments it steps anyway, so long typing without
    a pause still teaches the network.
    """

    def __init__(self, lm: NeuralLM, config: LearnConfig | None = None,
                 on_update: Callable[[NeuralLM], None] | None = None):
        self.config = config or LearnConfig()
        self.lm = lm
        self._dynamic = DynamicEval(lm.model, self.config)
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._on_update = on_update
        self._last = 1  # the segment's first input: the token before it (<eos> at the start)
        self._last_key = 0.0  # time.monotonic() of the latest keystroke
        self.updates = 0
        self.last_update_s = 0.0
        # The update's Python parts hold the GIL for up to the switch interval (5 ms by default)
        # before a keystroke's thread gets it back: 1 ms keeps that wait under the word-end budget.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._thread = threading.Thread(target=self._run, name="online-update", daemon=True)
        self._thread.start()

    def adapted_state(self) -> dict[str, torch.Tensor]:
        """A copy of the weights the updates have reached (to save with the learned state)."""
        return {k: v.detach().clone() for k, v in self.lm.model.state_dict().items()}

    def touch(self) -> None:
        """A keystroke happened: hold back the next step until the typing pauses."""
        self._last_key = time.monotonic()

    def feed(self, ids: list[int]) -> None:
        self.touch()
        for i in ids:
            self._queue.put(int(i))

    def close(self) -> None:
        """Step the segments still waiting (what was typed is learned), then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        torch.set_num_threads(1)  # one core: the UI thread keeps the other
        try:  # Linux nices a thread by its id: on a busy machine the keystrokes' thread goes first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), UPDATE_NICENESS)
        except (AttributeError, OSError):
            pass
        waiting: list[list[int]] = []  # whole segments, oldest first
        segment: list[int] = []
        while True:
            quiet = time.monotonic() - self._last_key
            timeout = max(0.001, UPDATE_PAUSE_S - quiet) if waiting else None
            try:
                token = self._queue.get(timeout=timeout)
            except queue.Empty:
                token = -1  # no keystroke for a while: a pause to step in
            if token is None:
                for whole in waiting:
                    self._step(whole)
                return
            if token >= 0:
                segment.append(token)
                if len(segment) >= self.config.dynamic_every:
                    waiting.append(segment)
                    segment = []
            paused = time.monotonic() - self._last_key >= UPDATE_PAUSE_S
            if waiting and (paused or len(waiting) >= MAX_WAITING_SEGMENTS):
                self._step(waiting.pop(0))

    def _step(self, segment: list[int]) -> None:
        started = time.perf_counter()
        inputs = [self._last] + segment[:-1]
        self._dynamic.step(inputs, segment)
        self._last = segment[-1]
        fresh = NeuralLM(copy.deepcopy(self._dynamic.model).eval(), self.lm.vocab, self.lm.name)
        for p in fresh.model.parameters():
            p.requires_grad_(False)
        fresh.stepper  # built here, off the keystroke path
        self.lm = fresh  # one reference assignment: atomic for readers
        self.updates += 1
        self.last_update_s = time.perf_counter() - started
        if self._on_update is not None:
            self._on_update(fresh)
