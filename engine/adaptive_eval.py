"""Adaptive evaluation: type a text in order with the same learning the app does, and score it.

The scorer is `engine.evaluate`'s (perplexity, top-k, KSR with k=3), applied to what the user gets:
the blend of network, n-gram, cache and lexicon over the open word space (engine/adapt.py), the
cache and typed counts learned from every earlier token, and, with dynamic evaluation, the network
after an SGD step on every earlier segment. A token's suggestions depend only on the text before it.

Differences from the static figures, by design:
- a word outside the network's vocabulary is a hit when the open lexicon offers it;
- perplexity counts an out-of-vocabulary word as <unk> (all the lexicon's other words together), so
  it stays comparable with the static figure.
"""

from __future__ import annotations

import copy
import math
from typing import Iterable

import numpy as np
import torch

from engine.adapt import DynamicEval, LearnConfig, Learner
from engine.errors import CorpusError
from engine.evaluation import KSR_K, TOP_K, EvalResult, _Token, _typed_tokens
from engine.lexicon import Lexicon
from engine.mixture import PARTS, Weights, fit_weights
from engine.model import WordRNN
from engine.openvocab import shown, starts_sentence
from engine.tokenizer import EOS, is_partial_word
from engine.vocab import EOS_ID, UNK_ID, Vocab


class _StaticNet:
    """The network read segment by segment with its state carried over, never updated."""

    def __init__(self, model: WordRNN):
        self.model = model.eval()
        self.hidden = model.init_hidden(1)

    @torch.inference_mode()
    def forward(self, inputs: list[int]) -> np.ndarray:
        logits, self.hidden = self.model(torch.tensor(inputs, dtype=torch.long).unsqueeze(1), self.hidden)
        return torch.softmax(logits[:, 0].float(), dim=-1).numpy()

    def learn(self, targets: list[int]) -> None:
        pass


class _Score:
    def __init__(self) -> None:
        self.nll = 0.0
        self.tokens = self.words = self.saved = 0
        self.hits = dict.fromkeys(TOP_K, 0)


def evaluate_adaptive(model: WordRNN, vocab: Vocab, lexicon: Lexicon, text: str, *,
                      ngram: object | None = None, weights: Weights | None = None,
                      config: LearnConfig | None = None, ksr: bool = True,
                      parts: list | None = None, trace: list | None = None, score: bool = True) -> EvalResult:
    """Type `text` token by token, learning as the app does; `lexicon` is the corpus's (copied, not
    changed). With `parts`, each word's per-part probabilities are appended (for fit_weights); with
    `trace`, each word's top five (display form, probability) as offered before it was typed. With
    `score=False` nothing is ranked or scored (only `parts` is collected: the fit's fast path)."""
    config = config or LearnConfig()
    tokens, keys_without = _typed_tokens(_HasVocab(vocab), text)
    if not tokens:
        raise CorpusError("The evaluation text has no words.")
    lex = copy.deepcopy(lexicon)
    # Room for the text's words up front: with no count they have no probability until typed, so
    # this changes no suggestion, only spares re-sorting the word list as new words arrive.
    lex.reserve(t.text for t in tokens if t.id != EOS_ID)
    learner = Learner(vocab, lex, weights, config)
    net = DynamicEval(model, config) if config.dynamic else _StaticNet(model)
    ids = [t.id for t in tokens]
    inputs = [EOS_ID] + ids[:-1]
    state = ngram.start() if ngram is not None else None
    score = _Score()
    every = max(1, config.dynamic_every)
    previous: str | None = None  # the token before, for capitalising at a sentence start
    for a in range(0, len(tokens), every):
        b = min(len(tokens), a + every)
        probs = net.forward(inputs[a:b])
        for row, i in enumerate(range(a, b)):
            p_ngram = ngram.next_probs(state) if ngram is not None else None
            token = tokens[i]
            if parts is not None and token.id != EOS_ID:
                parts.append(learner.parts(probs[row], p_ngram, learner.open.id(token.text)))
            if not score:
                learner.observe(EOS if token.id == EOS_ID else token.text)
                if ngram is not None:
                    state = ngram.advance(state, token.id)
                continue
            dist = learner.distribution(probs[row], p_ngram)
            capital = learner.lexicon.sentence_case and starts_sentence(previous)
            _score_token(learner, dist, token, score, ksr, capital)
            if trace is not None and token.id != EOS_ID:
                trace.append(_offered(learner, dist))
            previous = EOS if token.id == EOS_ID else token.text
            learner.observe(previous)
            if ngram is not None:
                state = ngram.advance(state, token.id)
        net.learn(ids[a:b])
    keys_with = keys_without - score.saved
    mean = score.nll / max(score.tokens, 1)
    return EvalResult(
        perplexity=math.exp(mean) if mean < 700 else math.inf,
        top1=score.hits[1] / max(score.words, 1),
        top3=score.hits[3] / max(score.words, 1),
        top5=score.hits[5] / max(score.words, 1),
        ksr=(1 - keys_with / keys_without) if ksr and keys_without else None,
        tokens=score.tokens,
        words=score.words,
        keys_without=keys_without,
        keys_with=keys_with,
    )


def _score_token(learner: Learner, dist: np.ndarray, token: _Token, score: _Score, ksr: bool,
                 capital: bool) -> None:
    size_in = learner.open.size_in
    if token.id == EOS_ID:
        p = dist[EOS_ID]
    elif token.id == UNK_ID:
        p = dist[size_in:].sum() + dist[UNK_ID]  # every word outside the vocabulary
    else:
        p = dist[token.id]
    score.nll -= math.log(max(float(p), 1e-300))
    score.tokens += 1
    if token.id == EOS_ID:
        return
    score.words += 1
    open_id = learner.open.id(token.text)
    offered = dist.copy()
    offered[:2] = 0.0  # <unk> and <eos> are never offered
    # torch.topk: numpy's argpartition crawls over the many exact zeros (words not typed yet).
    top = torch.topk(torch.from_numpy(offered), max(TOP_K)).indices.tolist()
    p_word = float(offered[open_id]) if open_id is not None else 0.0
    if p_word <= 0:
        return
    for k in TOP_K:
        score.hits[k] += open_id in top[:k]
    if ksr:
        typed = _typed_before_offer(learner, offered, token, open_id, p_word, top[:KSR_K], capital)
        if typed is not None:
            score.saved += len(token.text) - typed - 1 + (1 if token.space_after else 0)


def _offered(learner: Learner, dist: np.ndarray) -> list[tuple[str, float]]:
    offered = dist.copy()
    offered[:2] = 0.0
    top = torch.topk(torch.from_numpy(offered), max(TOP_K))
    return [(learner.open.display[i], float(p)) for i, p in zip(top.indices.tolist(), top.values.tolist())]


def _typed_before_offer(learner: Learner, offered: np.ndarray, token: _Token, open_id: int,
                        p_word: float, top: list[int], capital: bool) -> int | None:
    """Characters typed before the word is among the KSR_K on offer (as engine.evaluate does; next
    words are offered capitalised at a sentence start, as AdaptivePredictor shows them)."""
    surface = token.text
    if token.at_word_start and shown(learner.open.display[open_id], capital) == surface and open_id in top:
        return 0
    shown_word = learner.open.display[open_id]
    sorted_probs = None
    for typed in range(1, len(surface)):
        prefix = surface[:typed]
        if not is_partial_word(prefix) or prefix + shown_word[typed:] != surface:
            continue
        if sorted_probs is None:
            sorted_probs = offered[learner.open.sorted_ids]
        lo, hi = learner.open.prefix_range(prefix)
        if int((sorted_probs[lo:hi] > p_word).sum()) < KSR_K:
            return typed
    return None


class _HasVocab:
    def __init__(self, vocab: Vocab):
        self.vocab = vocab


def held_out_parts(model: WordRNN, vocab: Vocab, lexicon: Lexicon, held_out: str, *,
                   ngram: object | None = None, config: LearnConfig | None = None) -> np.ndarray:
    """[words, len(PARTS)]: each part's probability of every word of `held_out`, typed in order with the same
    learning. `lexicon` and `ngram` must know only the text the network trained on."""
    rows: list = []
    evaluate_adaptive(model, vocab, lexicon, held_out, ngram=ngram, weights=Weights(), config=config,
                      ksr=False, parts=rows, score=False)
    return np.asarray(rows).reshape(-1, len(PARTS))


def fit_learning(model: WordRNN, vocab: Vocab, lexicon: Lexicon, held_out: str, *,
                 ngram: object | None = None, config: LearnConfig | None = None,
                 allowed: Iterable[str] = PARTS) -> Weights:
    """The blend's weights that best predict `held_out` (see held_out_parts)."""
    rows = held_out_parts(model, vocab, lexicon, held_out, ngram=ngram, config=config)
    allowed = tuple(a for a in allowed if a != "ngram" or ngram is not None)
    return fit_weights(rows, allowed)
