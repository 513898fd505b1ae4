"""The LanguageModel protocol that Predictor and evaluate() use, and NeuralLM, its RNN implementation.

A language model reads token ids one at a time from the start of a text (an <eos>) and gives the
probabilities of the next token. Neural and n-gram models both implement it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np
import torch

from engine.model import WordRNN
from engine.stepper import Stepper, StepState
from engine.vocab import EOS_ID, Vocab

EVAL_CHUNK = 512


class LanguageModel(Protocol):
    vocab: Vocab
    name: str

    def start(self) -> object:
        """The state after reading the start of a text."""

    def advance(self, state: object, token_id: int) -> object:
        """The state after one more token; `state` itself is never changed."""

    def next_probs(self, state: object) -> np.ndarray:
        """float32 [vocab] probabilities of the next token."""

    def log_prob_chunks(self, ids: torch.Tensor) -> Iterator[torch.Tensor]:
        """float32 [t, vocab] log-probabilities; row i predicts ids[i] from <eos> + ids[:i]."""


@dataclass(eq=False)
class RNNState:
    """A recurrent state, and the next-token distribution once asked for (cached here: states are
    shared by the Predictor's cache and never change otherwise)."""

    hidden: StepState
    probs: np.ndarray | None = None


class NeuralLM:
    """A trained WordRNN with its vocabulary, read one token at a time (or in chunks for evaluation).

    One token at a time (what typing does) goes through a Stepper, whose output layer is bf16 on
    CPUs that multiply bf16 natively; pass `output_dtype=torch.float32` for the exact float32
    logits that evaluation's batched pass computes (tests that compare the two paths do).
    """

    def __init__(self, model: WordRNN, vocab: Vocab, name: str | None = None,
                 output_dtype: torch.dtype | None = None):
        if model.config.vocab_size != len(vocab):
            raise ValueError("model and vocabulary sizes differ")
        self.model = model.eval()
        self.vocab = vocab
        self.name = name or model.config.cell
        self._output_dtype = output_dtype

    @functools.cached_property
    def stepper(self) -> Stepper:
        """Made on first use: evaluation reads whole chunks and never needs its bf16 copy."""
        return Stepper(self.model, self._output_dtype)

    def start(self) -> RNNState:
        return self.advance(RNNState(self.stepper.start()), EOS_ID)

    def advance(self, state: RNNState, token_id: int) -> RNNState:
        """The cells only: re-reading a pasted context runs the output layer for none of its
        tokens, only for the state whose distribution is then asked for (next_probs)."""
        return RNNState(self.stepper.read(token_id, state.hidden))

    def next_probs(self, state: RNNState) -> np.ndarray:
        if state.probs is None:
            state.probs = torch.softmax(self.stepper.logits(state.hidden), dim=0).numpy()
        return state.probs

    @torch.inference_mode()
    def log_prob_chunks(self, ids: torch.Tensor) -> Iterator[torch.Tensor]:
        ids = torch.as_tensor(ids, dtype=torch.long)
        inputs = torch.cat([torch.tensor([EOS_ID]), ids[:-1]]) if ids.numel() else ids
        hidden = self.model.init_hidden(1)
        for start in range(0, inputs.numel(), EVAL_CHUNK):
            chunk = inputs[start : start + EVAL_CHUNK].unsqueeze(1)
            logits, hidden = self.model(chunk, hidden)
            yield torch.log_softmax(logits[:, 0].float(), dim=-1)
