"""TrainedModel: everything a trained model is (settings, vocabulary, weights, metrics), in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.config import DataConfig, ModelConfig, TrainConfig
from engine.lm import NeuralLM
from engine.model import WordRNN
from engine.vocab import Vocab


@dataclass
class TrainedModel:
    model_config: ModelConfig
    train_config: TrainConfig
    data_config: DataConfig
    vocab: Vocab
    state_dict: dict[str, torch.Tensor]
    metrics: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    corpus_fingerprint: str = ""
    optimizer_state: dict | None = None

    def build_model(self) -> WordRNN:
        """A fresh WordRNN on the CPU holding these weights, in evaluation mode."""
        model = WordRNN(self.model_config)
        model.load_state_dict(self.state_dict)
        return model.eval()

    def language_model(self, output_dtype: torch.dtype | None = None) -> NeuralLM:
        """For typing and evaluation; `output_dtype` as in NeuralLM (None: the fast one here)."""
        return NeuralLM(self.build_model(), self.vocab, output_dtype=output_dtype)
