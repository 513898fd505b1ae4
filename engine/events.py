"""What a training run reports while it runs, as plain frozen dataclasses (`train(on_event=...)`),
and why it stopped. No torch here: front ends type their messages with these and test which event
came (isinstance) before the engine has loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

StopReason = Literal["completed", "early stopping", "time budget", "cancelled", "diverged"]
PARTIAL: tuple[StopReason, ...] = ("cancelled", "time budget")  # stopped inside an epoch


@dataclass(frozen=True)
class Progress:
    """A few times a second: where the run is, and how fast it goes."""

    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    fraction: float  # of the whole run, 0..1
    train_loss: float
    tokens_per_s: float
    lr: float
    elapsed: float
    eta: float | None  # seconds left, None until it can be estimated


@dataclass(frozen=True)
class EpochEnd:
    """After each epoch's validation, with the newest weights."""

    epoch: int
    train_loss: float
    valid_loss: float
    valid_ppl: float
    lr: float
    improved: bool
    elapsed: float
    state_dict: dict[str, torch.Tensor]  # a CPU copy of the newest weights, safe to use elsewhere


@dataclass(frozen=True)
class Notice:
    """Something the user should know, as a sentence (a small corpus repeated, a divergence)."""

    message: str


Event = Progress | EpochEnd | Notice
