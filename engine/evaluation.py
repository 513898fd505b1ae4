"""Evaluation on any text: perplexity, top-k next-word accuracy and keystroke savings (KSR).

- Perplexity counts every token, <eos> and <unk> included.
- Top-k accuracy counts positions whose true next token is a word (anything but <eos>); a word
  outside the vocabulary is always a miss, and <unk>/<eos> are never in the list.
- KSR simulates a person typing the text character by character with k=3 suggestions on offer
  (next words, or completions of the word being typed, exactly as `Predictor.suggest` gives them).
  When the word they want is on offer, accepting it costs one keystroke and also types the space
  after it (when the text has one there). Enter at each line end costs one key either way.
  KSR = 1 - keys_with / keys_without, where keys_without is the number of characters of the text.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from engine.errors import CorpusError
from engine.lm import LanguageModel
from engine.predict import Predictor
from engine.tokenizer import EOS, is_partial_word, normalize, split_lines, split_partial, token_spans
from engine.vocab import EOS_ID, SPECIALS, UNK_ID

TOP_K = (1, 3, 5)
KSR_K = 3
FINAL_EVAL_CHARS = 50_000  # enough for stable top-k and KSR figures, quick after a cancel


def final_eval_text(valid_text: str) -> str:
    """The start of a validation text that a trained model's top-k and KSR are scored on (by
    train() and by compare()): up to the last line break or space before FINAL_EVAL_CHARS."""
    limit = FINAL_EVAL_CHARS
    if len(valid_text) > limit:
        cut = max(valid_text.rfind("\n", 0, limit), valid_text.rfind(" ", 0, limit))
        return valid_text[: cut if cut > 0 else limit]
    return valid_text


@dataclass(frozen=True)
class EvalResult:
    perplexity: float
    top1: float
    top3: float
    top5: float
    ksr: float | None
    tokens: int  # tokens scored for perplexity
    words: int  # positions scored for top-k accuracy
    keys_without: int
    keys_with: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class _Token:
    """One token of the text as typed: its id, its surface form and what surrounds it."""

    id: int
    text: str
    space_after: bool
    # The token starts where Predictor would offer next-word suggestions (after a space,
    # punctuation or a line start), rather than completions of a word glued to it.
    at_word_start: bool


def evaluate(lm: LanguageModel, text: str, ksr: bool = True) -> EvalResult:
    """Score a language model on `text` in one pass over its batched log-probabilities."""
    tokens, keys_without = _typed_tokens(lm, text)
    if not tokens:
        raise CorpusError("The evaluation text has no words.")
    ids = torch.tensor([t.id for t in tokens], dtype=torch.long)
    ranker = _KeystrokeRanker(lm) if ksr else None
    nll, hits, words, saved, pos = 0.0, dict.fromkeys(TOP_K, 0), 0, 0, 0
    for log_probs in lm.log_prob_chunks(ids):
        n = log_probs.size(0)
        target = ids[pos : pos + n]
        nll -= log_probs.gather(1, target.unsqueeze(1)).sum().item()
        listed = log_probs.clone()
        listed[:, : len(SPECIALS)] = -math.inf
        top = listed.topk(min(max(TOP_K), listed.size(1)), dim=1).indices
        is_word = target != EOS_ID
        in_vocab = target >= len(SPECIALS)
        words += int(is_word.sum())
        for k in TOP_K:
            hits[k] += int(((top[:, :k] == target.unsqueeze(1)).any(1) & in_vocab).sum())
        if ranker is not None:
            saved += ranker.savings(tokens[pos : pos + n], log_probs, top[:, :KSR_K])
        pos += n
    keys_with = keys_without - saved
    return EvalResult(
        perplexity=math.exp(nll / len(tokens)) if nll / len(tokens) < 700 else math.inf,
        top1=hits[1] / max(words, 1),
        top3=hits[3] / max(words, 1),
        top5=hits[5] / max(words, 1),
        ksr=(1 - keys_with / keys_without) if ksr and keys_without else None,
        tokens=len(tokens),
        words=words,
        keys_without=keys_without,
        keys_with=keys_with,
    )


def keystroke_savings(lm: LanguageModel, text: str, k: int = KSR_K) -> float:
    """KSR by literally typing `text` through a Predictor: slow, but the definition itself.

    `evaluate` computes the same number from batched float32 probabilities; tests compare the two
    with an LM whose output layer is float32 too (`output_dtype=torch.float32`).
    """
    predictor = Predictor(lm)
    lines = split_lines(normalize(text))
    keys_without = keys_with = 0
    for n, line in enumerate(lines):
        before = "".join(l + "\n" for l in lines[:n])
        end_of = {i: end for start, end in token_spans(line) for i in range(start, end)}
        pos = 0
        while pos < len(line):
            keys_with += 1
            if line[pos].isspace():
                pos += 1
                continue
            end = end_of[pos]
            wanted = line[pos:end]
            offered = predictor.suggest(before + line[:pos], k)
            if any(s.remainder == wanted for s in offered):
                pos = end + (1 if end < len(line) and line[end] == " " else 0)
            else:
                pos += 1
        keys_without += len(line)
    breaks = len(lines) - 1
    keys_without += breaks
    keys_with += breaks
    return 1 - keys_with / keys_without if keys_without else 0.0


def _typed_tokens(lm: LanguageModel, text: str) -> tuple[list[_Token], int]:
    """The text's tokens (with <eos> after each non-empty line) and its length in keystrokes."""
    vocab = lm.vocab
    lines = split_lines(normalize(text))
    tokens: list[_Token] = []
    for line in lines:
        spans = token_spans(line)
        for start, end in spans:
            surface = line[start:end]
            _, partial = split_partial(line[:start]) if start else ("", "")
            tokens.append(_Token(
                id=vocab.id(surface),
                text=surface,
                space_after=end < len(line) and line[end] == " ",
                at_word_start=partial == "",
            ))
        if spans:
            tokens.append(_Token(id=EOS_ID, text=EOS, space_after=False, at_word_start=False))
    keys = sum(len(line) for line in lines) + len(lines) - 1
    return tokens, keys


class _KeystrokeRanker:
    """Finds, for each token, how many characters a person types before it is offered."""

    def __init__(self, lm: LanguageModel):
        self.vocab = lm.vocab

    def savings(self, tokens: list[_Token], log_probs: torch.Tensor, top: torch.Tensor) -> int:
        saved = 0
        sorted_ids = torch.from_numpy(self.vocab.sorted_ids)
        sorted_probs = log_probs[:, sorted_ids].numpy() if sorted_ids.numel() else None
        for row, token in enumerate(tokens):
            if token.id in (UNK_ID, EOS_ID):
                continue
            typed = self._typed_before_offer(token, row, log_probs, top, sorted_probs)
            if typed is not None:
                saved += len(token.text) - typed - 1 + (1 if token.space_after else 0)
        return saved

    def _typed_before_offer(self, token: _Token, row: int, log_probs: torch.Tensor,
                            top: torch.Tensor, sorted_probs: np.ndarray | None) -> int | None:
        word, surface = token.id, token.text
        shown = self.vocab.display[word]
        if token.at_word_start and shown == surface and word in top[row].tolist():
            return 0
        if sorted_probs is None:
            return None
        p_word = log_probs[row, word].item()
        for typed in range(1, len(surface)):
            prefix = surface[:typed]
            # Completions are offered only while the typed part reads as a word ("3" yes, "3." no).
            if not is_partial_word(prefix) or prefix + shown[typed:] != surface:
                continue
            lo, hi = self.vocab.prefix_range(prefix)
            if int((sorted_probs[row, lo:hi] > p_word).sum()) < KSR_K:
                return typed
        return None
