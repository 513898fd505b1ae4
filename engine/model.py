"""WordRNN: embedding -> RNN / LSTM / GRU layers -> dropout -> linear to the vocabulary.

Its settings, ModelConfig, and the table of its parameter shapes live in engine/config.py (no torch).
"""

from __future__ import annotations

import torch
from torch import nn

from engine.config import ModelConfig

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class WordRNN(nn.Module):
    """A word-level recurrent language model. Input and output are [time, batch]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        recurrent = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[config.cell]
        self.embed = nn.Embedding(config.vocab_size, config.emb)
        self.rnn = recurrent(
            config.emb,
            config.hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden, config.vocab_size)
        if config.tied:
            self.decoder.weight = self.embed.weight
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if not self.config.tied:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def init_hidden(self, batch_size: int) -> Hidden:
        weight = self.decoder.bias
        shape = (self.config.layers, batch_size, self.config.hidden)
        if self.config.cell == "lstm":
            return (weight.new_zeros(shape), weight.new_zeros(shape))
        return weight.new_zeros(shape)

    def features(self, ids: torch.Tensor, hidden: Hidden) -> tuple[torch.Tensor, Hidden]:
        """Top-layer outputs [time, batch, hidden] after dropout, and the new hidden state."""
        x = self.drop(self.embed(ids))
        output, hidden = self.rnn(x, hidden)
        return self.drop(output), hidden

    def forward(self, ids: torch.Tensor, hidden: Hidden) -> tuple[torch.Tensor, Hidden]:
        """Logits [time, batch, vocab] for every position, and the new hidden state."""
        output, hidden = self.features(ids, hidden)
        return self.decoder(output), hidden
