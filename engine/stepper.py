"""One token at a time at batch size 1: the path a keystroke takes when a word ends.

At this size a step is bound by memory bandwidth, not arithmetic: a 2 x 256 LSTM with a
10,000-word vocabulary reads 4 MB of recurrent weights and 10 MB of output weights per token, and
one CPU core streams about 25 GB/s of that. So this path
- keeps plain detached tensors: no nn.Module attribute lookups, no autograd bookkeeping;
- calls the cell kernels directly (`nn.LSTM` at batch 1 goes through oneDNN and costs about twice);
- reads the output layer from a bf16 copy where the CPU multiplies bf16 natively: half the bytes.
  Training computes these same logits in bf16 (engine/fused_loss.py), so the model is used to it;
  the recurrent state stays float32, so rounding never accumulates from word to word.
"""

from __future__ import annotations

import torch

from engine.fused_loss import fast_dtype
from engine.model import WordRNN

CELL_FUNCTIONS = {"rnn": torch.rnn_tanh_cell, "lstm": torch.lstm_cell, "gru": torch.gru_cell}

# Per layer: h for RNN and GRU, (h, c) for LSTM; each [1, hidden]. Never changed in place.
StepState = tuple


class Stepper:
    """Reads one token into a recurrent state and gives the logits of the next one."""

    def __init__(self, model: WordRNN, output_dtype: torch.dtype | None = None):
        config = model.config
        self.lstm = config.cell == "lstm"
        self.cell = CELL_FUNCTIONS[config.cell]
        self.hidden_size = config.hidden
        self.embedding = model.embedding().detach()
        self.layers = [tuple(w.detach() for w in weights) for weights in model.cell_weights()]
        weight, bias = model.output_layer()
        self.output_dtype = output_dtype or fast_dtype(self.embedding.device)
        self.output_weight = weight.detach().to(self.output_dtype).contiguous()
        self.output_bias = bias.detach().float()

    def start(self) -> StepState:
        """The all-zero state a text starts from (the model then reads <eos>)."""
        zeros = self.embedding.new_zeros(1, self.hidden_size)
        return tuple((zeros, zeros) if self.lstm else zeros for _ in self.layers)

    def read(self, token: int, state: StepState) -> StepState:
        """The state after reading `token`: the cells only (a re-read context needs no logits)."""
        x = self.embedding[token : token + 1]
        new_state = []
        for weights, layer_state in zip(self.layers, state):
            layer_state = self.cell(x, layer_state, *weights)
            new_state.append(layer_state)
            x = layer_state[0] if self.lstm else layer_state
        return tuple(new_state)

    def logits(self, state: StepState) -> torch.Tensor:
        """float32 logits [vocab] of the token that follows `state`: the output layer."""
        top = state[-1][0] if self.lstm else state[-1]
        if self.output_dtype == torch.float32:
            return torch.addmv(self.output_bias, self.output_weight, top[0])
        return torch.mv(self.output_weight, top[0].to(self.output_dtype)).float().add_(self.output_bias)

    def __call__(self, token: int, state: StepState) -> tuple[torch.Tensor, StepState]:
        """float32 logits [vocab] for the token after `token`, and the state after reading it."""
        state = self.read(token, state)
        return self.logits(state), state
