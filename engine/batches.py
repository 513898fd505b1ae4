"""BPTT batches read a chunk at a time, and the share of the streams that one rank trains on.

`batchify(ids, B)` cuts a token stream into B parallel streams, stream b being
ids[b * L : (b + 1) * L], and materialises all of it as a [L, B] tensor. `StreamBatches` gives the
same [time, batch] chunks without ever holding more than one: each chunk is read from a strided
view of the ids, which may be a memory map of a prepared corpus larger than memory. A rank of a
distributed run holds the columns `shard(B, rank, world)`: its streams are one contiguous stretch
of the token file, so it reads only its own slice, and the ranks' columns side by side are the
single-process batch, in the same order.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.errors import ConfigError


def shard(batch_size: int, rank: int, world: int) -> tuple[int, int]:
    """[lo, hi): the columns (BPTT streams) of the global batch that `rank` of `world` trains on."""
    if batch_size % world:
        raise ConfigError(
            f"The batch size ({batch_size}) must be a multiple of the number of processes ({world}), "
            "so that every process trains on as many streams and the run equals a single-process one."
        )
    per = batch_size // world
    return rank * per, (rank + 1) * per


class StreamBatches:
    """Columns [lo, hi) of batchify(ids, batch_size), read a chunk at a time as int64 tensors on
    `device` (through pinned memory when that is a GPU)."""

    def __init__(self, ids: torch.Tensor, batch_size: int, lo: int = 0, hi: int | None = None,
                 device: torch.device | str = "cpu") -> None:
        hi = batch_size if hi is None else hi
        if not 0 <= lo < hi <= batch_size:
            raise ValueError(f"columns [{lo}, {hi}) are not within a batch of {batch_size}")
        array = ids.numpy() if ids.device.type == "cpu" else ids.cpu().numpy()
        self.length = array.size // batch_size
        # A view: nothing is read until a chunk is asked for.
        self.rows = array[: self.length * batch_size].reshape(batch_size, self.length)[lo:hi]
        self.device = torch.device(device)
        self.pin = self.device.type == "cuda"

    def size(self, dim: int = 0) -> int:
        """As a [length, batch] tensor would answer."""
        return (self.length, self.rows.shape[0])[dim]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, rows: slice) -> torch.Tensor:
        """Rows (time steps) of the [length, columns] batch, e.g. batches[i : i + bptt]."""
        chunk = torch.from_numpy(np.ascontiguousarray(self.rows[:, rows].T, dtype=np.int64))
        if self.pin:
            return chunk.pin_memory().to(self.device, non_blocking=True)
        return chunk.to(self.device)

    def chunk(self, i: int, seq: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of the BPTT chunk starting at row i: one read of seq + 1 rows."""
        both = self[i : i + seq + 1]
        return both[:-1], both[1:]
