"""Training on several processes or machines with PyTorch's own machinery: torchrun starts the
processes and their rendezvous, torch.distributed connects them (gloo on CPUs, NCCL on GPUs), and
DistributedDataParallel all-reduces the gradients. Nothing here moves tensors by itself except
three scalars a step (stop? loss, validation loss), and those through torch.distributed.

    torchrun --nproc-per-node 2 -m tui.cli train --distributed CORPUS [the flags of `nextword-tui train`]

How a run stays equal to the single-process one (engine/training.py calls these):
- the global batch's BPTT streams are shared out by rank (engine/batches.shard): each process
  trains on batch_size / world streams, all ranks together on the single-process batch, in its order;
- every rank starts from the same seed, and DDP broadcasts rank 0's weights at the start anyway;
- each rank's loss is the mean over its streams and DDP averages the gradients, so the gradient is
  the single-process one; clipping and Adam then do the same on every rank;
- decisions are agreed: a stop (Ctrl-C, SIGTERM, the time budget on any rank) is all-reduced
  before each step, a NaN on any rank is seen by all through the mean loss, and the validation
  loss that drives the learning rate and early stopping is rank 0's, broadcast.
Rank 0 alone validates, reports events, computes the final metrics and saves; the others wait in
the broadcast of the validation loss and in the final barrier. A rank that dies makes the next
collective on the others fail: they raise TrainingError (one clear line), not hang.
"""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn

from engine.device import configure, pick_device
from engine.errors import ConfigError, TrainingError

# How long a rank waits for the others in one collective before giving up: the longest wait is
# the other ranks' wait for rank 0's validation pass and final metrics.
TIMEOUT = timedelta(minutes=30)
STOP_CODES = (None, "time budget", "cancelled")  # agreed by MAX: a cancel wins over the time budget
TORCHRUN_HINT = "torchrun --nproc-per-node N -m tui.cli train --distributed CORPUS ..."


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the run: rank, world size, and its device."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: validates, reports, saves."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def under_torchrun() -> bool:
    """Whether torchrun (or another launcher setting its variables) started this process."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"))


def init_distributed(device_name: str = "auto") -> DistContext:
    """Join the run torchrun started: the device (GPU LOCAL_RANK under "auto"/"cuda"), then the
    process group, NCCL for GPUs and gloo for CPUs. ConfigError outside torchrun."""
    if not under_torchrun():
        raise ConfigError(f"--distributed runs under torchrun, which starts one process per rank: {TORCHRUN_HINT}")
    if dist.is_initialized():
        return context()
    device = pick_device(device_name, int(os.environ["LOCAL_RANK"]))
    configure(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    try:
        dist.init_process_group(backend, timeout=TIMEOUT, device_id=device if device.type == "cuda" else None)
    except (RuntimeError, ValueError) as exc:
        raise TrainingError(f"Could not join the other training processes ({_first_line(exc)}).") from None
    return context()


def context() -> DistContext:
    """This process's place in the run; rank 0 of 1 when no process group is set up."""
    if not dist.is_available() or not dist.is_initialized():
        return DistContext()
    cuda = dist.get_backend() == "nccl"  # init() made the rank's GPU the current one
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    return DistContext(dist.get_rank(), dist.get_world_size(), device)


def rank_threads() -> int | None:
    """CPU threads for a rank: what torchrun gives each process (OMP_NUM_THREADS, 1 unless set),
    so that N ranks on one machine do not each start a thread per core. None outside a run."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def finish_distributed(ctx: DistContext | None = None) -> None:
    """At the end of the run, on every rank: wait for the others (rank 0 has saved once it is
    here), then leave the process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    # The run's DDP wrapper sits in reference cycles that hold the process group; left to the
    # interpreter's exit, its gloo threads were torn down after Python had gone, and a rank that
    # reached here first could abort ("terminate called without an active exception", about one
    # two-rank run in five on a loaded machine). Collect it now, while the group is still whole.
    gc.collect()
    try:
        barrier(ctx or context())
    finally:
        dist.destroy_process_group()


def wrap(model: nn.Module, ctx: DistContext) -> nn.Module:
    """The module to call for training steps: DDP around `model` in a distributed run (its
    backward all-reduces the gradients, bucketed and overlapped), `model` itself otherwise."""
    if not ctx.active:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def agree_stop(reason: str | None, ctx: DistContext) -> str | None:
    """The stop reason of whichever rank has the strongest one, the same on every rank."""
    if not ctx.active:
        return reason
    code = torch.tensor([STOP_CODES.index(reason)], dtype=torch.int32, device=ctx.device)
    with peers_guard():
        dist.all_reduce(code, op=dist.ReduceOp.MAX)
    return STOP_CODES[int(code.item())]


def mean_loss(loss: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """The mean of the ranks' losses: the single-process loss of the global batch (each rank's is
    the mean over as many targets), and non-finite on every rank when it is on any."""
    if not ctx.active:
        return loss.detach()
    total = loss.detach().float().clone()
    with peers_guard():
        dist.all_reduce(total)
    return total / ctx.world


def from_main(value: float | None, ctx: DistContext) -> float:
    """Rank 0's `value` (for example its validation loss) on every rank."""
    if not ctx.active:
        return float(value)
    box = [value]
    with peers_guard():
        dist.broadcast_object_list(box, src=0, device=ctx.device if ctx.device.type == "cuda" else None)
    return float(box[0])


def on_main(compute: Callable[[], float], ctx: DistContext) -> float:
    """`compute()` on rank 0 (for example the validation loss), its result on every rank; the
    other ranks wait for it in the broadcast."""
    return from_main(compute() if ctx.is_main else None, ctx)


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (rank 0 has saved the model once it is past this)."""
    if ctx.active:
        with peers_guard():
            dist.barrier()


@contextlib.contextmanager
def peers_guard() -> Iterator[None]:
    """Turn a failed collective (a rank died, was killed, or its machine went away) into a
    TrainingError that says so, instead of a traceback from the transport."""
    try:
        yield
    except (RuntimeError, ConnectionError) as exc:
        if not _is_peer_failure(exc):
            raise
        raise TrainingError(
            "Another training process stopped or could not be reached "
            f"({_first_line(exc)}); this one stops too. Train again, with --resume to continue a saved model."
        ) from None


def _is_peer_failure(exc: BaseException) -> bool:
    dist_error = getattr(dist, "DistError", ())
    if dist_error and isinstance(exc, dist_error):
        return True
    text = str(exc).lower()
    return any(word in text for word in ("gloo", "nccl", "connection", "peer", "timed out", "timeout", "socket"))


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]
