"""WordRNN: embedding -> RNN / LSTM / GRU layers -> dropout -> linear to the vocabulary.

Its settings, ModelConfig, and the table of its parameter shapes live in engine/config.py (no torch).
"""

from __future__ import annotations

import torch
from torch import nn

from engine.config import ModelConfig
from engine.fused_loss import linear_cross_entropy

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

    def forward(self, ids: torch.Tensor, hidden: Hidden, targets: torch.Tensor | None = None,
                loss_dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, Hidden]:
        """Logits [time, batch, vocab] for every position and the new hidden state; with `targets`
        [time, batch], the mean cross-entropy instead of the logits, the output layer fused into
        the loss (engine/fused_loss.py) so the [tokens, vocab] logits are never kept.

        With a bf16 `loss_dtype` the loss's matmuls run in bf16, and so does an LSTM's recurrence
        (measured 1.2x more, the same learning curve); for RNN and GRU bf16 gained nothing
        measurable, so they stay float32. The hidden state returned is always float32.
        """
        x = self.drop(self.embed(ids))
        bf16_cells = targets is not None and loss_dtype == torch.bfloat16 and self.config.cell == "lstm"
        with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=bf16_cells):
            output, hidden = self.rnn(x, hidden)
        output = self.drop(output.float())
        if bf16_cells:
            hidden = tuple(h.float() for h in hidden)
        if targets is None:
            return self.decoder(output), hidden
        weight, bias = self.output_layer()
        loss = linear_cross_entropy(output.flatten(0, 1), weight, bias, targets.flatten().long(), loss_dtype)
        return loss, hidden

    # -- the weights, by role: what the one-token stepper reads ----------------------------------

    def embedding(self) -> torch.Tensor:
        """[vocab, emb]: row i is token i's input vector."""
        return self.embed.weight

    def cell_weights(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per layer (weight_ih, weight_hh, bias_ih, bias_hh), as torch's *_cell functions take them."""
        return [tuple(getattr(self.rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                for layer in range(self.config.layers)]

    def output_layer(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight [vocab, hidden], bias [vocab]) of the layer that maps a state to logits."""
        return self.decoder.weight, self.decoder.bias

    def param_count(self) -> int:
        """Trainable parameters, from the config's table of shapes (engine/config.py), which the
        tests check against the built model's parameters."""
        return self.config.param_count()
