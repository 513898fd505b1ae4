"""ModelConfig and WordRNN: embedding -> RNN / LSTM / GRU layers -> dropout -> linear to the vocabulary."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch
from torch import nn

from engine.errors import ConfigError

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per layer in PyTorch's layout
LIMITS = {"vocab_size": 2_000_000, "emb": 8192, "hidden": 8192, "layers": 8}
MAX_PARAMS = 500_000_000


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model's shapes. Saved next to its weights."""

    cell: str = "lstm"
    vocab_size: int = 2
    emb: int = 256
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.3
    tied: bool = True

    def validate(self) -> None:
        """Refuse absurd settings before a single tensor is allocated."""
        if self.cell not in CELLS:
            raise ConfigError(f"Unknown cell '{self.cell}': choose one of {', '.join(CELLS)}.")
        for name, top in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ConfigError(f"{name} must be a whole number from 1 to {top:,} (got {value!r}).")
        if self.vocab_size < 3:
            raise ConfigError("The vocabulary is empty: the corpus needs at least one word.")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be at least 0 and below 1 (got {self.dropout!r}).")
        if not isinstance(self.tied, bool):
            raise ConfigError("tied must be true or false.")
        if self.tied and self.emb != self.hidden:
            raise ConfigError(
                f"Tied weights need emb == hidden (got {self.emb} and {self.hidden}): "
                "make them equal or turn tying off."
            )
        params = self.param_count()
        if params > MAX_PARAMS:
            raise ConfigError(
                f"This model would have {params:,} parameters (about {format_bytes(4 * params)}); "
                f"the limit is {MAX_PARAMS:,}. Make it smaller."
            )

    def param_count(self) -> int:
        """Trainable parameters, computed from the shapes alone."""
        g = GATES[self.cell]
        rnn = 0
        for layer in range(self.layers):
            inputs = self.emb if layer == 0 else self.hidden
            rnn += g * self.hidden * (inputs + self.hidden) + 2 * g * self.hidden
        embedding = self.vocab_size * self.emb
        decoder = self.vocab_size * (0 if self.tied else self.hidden) + self.vocab_size
        return embedding + rnn + decoder

    def training_bytes(self, batch_size: int, bptt: int) -> int:
        """Rough peak memory of training: weights, gradients, two Adam moments and activations."""
        weights = 4 * self.param_count() * 4
        per_step = batch_size * bptt
        activations = 4 * per_step * (
            self.emb + self.layers * self.hidden * (GATES[self.cell] + 2) + 3 * self.vocab_size
        )
        return weights + activations

    def to_json(self) -> dict:
        return asdict(self)


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def available_memory() -> int:
    """Physical memory of this machine in bytes (a conservative fallback if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4 * 1024**3


def check_fits(config: ModelConfig, batch_size: int, bptt: int) -> None:
    """Refuse to train a model whose estimated memory exceeds half of this machine's RAM."""
    need = config.training_bytes(batch_size, bptt)
    have = available_memory()
    if need > have // 2:
        raise ConfigError(
            f"Training this model needs about {format_bytes(need)} of memory, more than half of "
            f"this machine's {format_bytes(have)}: lower hidden, emb, layers or batch size."
        )


def parameter_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of WordRNN(config)'s parameters in `parameters()` order, without building it.

    With tied weights the decoder's weight *is* the embedding, so it is listed once.
    """
    g = GATES[config.cell]
    shapes = {"embed.weight": (config.vocab_size, config.emb)}
    for layer in range(config.layers):
        inputs = config.emb if layer == 0 else config.hidden
        shapes[f"rnn.weight_ih_l{layer}"] = (g * config.hidden, inputs)
        shapes[f"rnn.weight_hh_l{layer}"] = (g * config.hidden, config.hidden)
        shapes[f"rnn.bias_ih_l{layer}"] = (g * config.hidden,)
        shapes[f"rnn.bias_hh_l{layer}"] = (g * config.hidden,)
    if not config.tied:
        shapes["decoder.weight"] = (config.vocab_size, config.hidden)
    shapes["decoder.bias"] = (config.vocab_size,)
    return shapes


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
