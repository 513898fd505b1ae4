"""Which device trains, and how it is set up: CUDA when present (`--device` overrides), cuDNN's
RNN kernels, bf16 where the hardware has it, and a name for the log and --json.

What runs where, once a device is chosen:
- the recurrent layers: cuDNN's fused RNN/LSTM/GRU kernels on CUDA (torch picks them for nn.RNN /
  nn.LSTM / nn.GRU when cuDNN is enabled, which `configure` makes sure of); an LSTM's recurrence
  under bf16 autocast where the device has bf16 (WordRNN.forward);
- the output layer and the loss: engine/fused_loss.py's bf16 matmuls (fused_loss.fast_dtype);
  benchmarks/gpu_check.py measures it against torch's own linear + cross_entropy on a GPU;
- batches: read a chunk at a time and copied through pinned memory (engine/batches.py).
Weights are always saved as CPU float32 tensors (engine/store.py), so a model trained on a GPU
loads and serves on a CPU-only machine, and the reverse.
"""

from __future__ import annotations

import torch

from engine.config import check_device as check_device_name
from engine.errors import ConfigError


def pick_device(name: str = "auto", local_rank: int | None = None) -> torch.device:
    """The device to train on. "auto": CUDA when a GPU is present, else the CPU. Under torchrun a
    process's GPU is its LOCAL_RANK (`local_rank`) unless a "cuda:N" says otherwise."""
    check_device_name(name)
    if name == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if name == "auto" and not available:
        return torch.device("cpu")
    if not available:
        raise ConfigError(f"device '{name}' was asked for, but no CUDA GPU is available here: use --device cpu.")
    count = torch.cuda.device_count()
    index = int(name[5:]) if name.startswith("cuda:") else (local_rank or 0)
    if index >= count:
        raise ConfigError(f"device cuda:{index} was asked for, but this machine has {count} GPU(s) (cuda:0 to cuda:{count - 1}).")
    return torch.device("cuda", index)


def configure(device: torch.device) -> torch.device:
    """Set up a CUDA device for training: it becomes the current one (NCCL and cuDNN use it), and
    cuDNN, whose fused RNN kernels nn.LSTM / nn.GRU / nn.RNN use, is on. Returns `device`."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.enabled = True
        # Tensor cores for the float32 matmuls that remain (the RNN cells outside autocast).
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def describe_device(device: torch.device, dtype: torch.dtype | None = None) -> str:
    """What the log and --json say about the device and the precision training uses there
    (fused_loss.fast_dtype unless `dtype` says), e.g. "cuda:0 (NVIDIA H200, bf16)", "cpu (float32)"."""
    from engine.fused_loss import fast_dtype

    precision = "bf16" if (dtype or fast_dtype(device)) == torch.bfloat16 else "float32"
    if device.type != "cuda":
        return f"{device.type} ({precision})"
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)}, {precision})"
