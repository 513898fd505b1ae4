"""Devices: names, CUDA when present, and models that move between a GPU and a CPU.

The CUDA tests skip cleanly where there is no GPU (as on the machine this project is developed
on); benchmarks/gpu_check.py measures the GPU path on a machine that has one.
"""

from __future__ import annotations

import pytest
import torch

from engine import ConfigError, Corpus, ModelConfig, Predictor, TrainConfig, load_model, save_model, train
from engine.device import check_device_name, describe_device, pick_device

from conftest import TINY_MODEL, TINY_TEXT

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA GPU on this machine")


def test_device_names():
    for name in ("auto", "cpu", "cuda", "cuda:0", "cuda:12"):
        assert check_device_name(name) == name
    for name in ("gpu", "cuda:", "cuda:-1", "cuda:x", "CPU", "", None, 0):
        with pytest.raises(ConfigError, match="auto, cpu, cuda or cuda:N"):
            check_device_name(name)


def test_cpu_is_always_there_and_auto_follows_cuda():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if CUDA else "cpu")
    assert describe_device(torch.device("cpu"), torch.float32).startswith("cpu (")


@pytest.mark.skipif(CUDA, reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_says_so():
    for name in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            pick_device(name)


@needs_cuda
def test_cuda_index_beyond_the_gpus_is_refused():
    with pytest.raises(ConfigError, match="GPU"):
        pick_device(f"cuda:{torch.cuda.device_count()}")
    assert pick_device("cuda", local_rank=0) == torch.device("cuda", 0)


def _train_on(device: str, resume=None):
    corpus = Corpus.from_text(TINY_TEXT)
    config = TrainConfig(epochs=2, batch_size=4, bptt=8, device=device, seed=3)
    return train(corpus, ModelConfig(cell="lstm", **TINY_MODEL), config, resume=resume)


@needs_cuda
def test_a_model_trained_on_a_gpu_serves_on_the_cpu(tmp_path):
    trained = _train_on("cuda")
    assert all(t.device.type == "cpu" for t in trained.state_dict.values())
    assert trained.metrics["device"].startswith("cuda:")
    path = save_model(trained, tmp_path / "gpu-model")
    loaded = load_model(path, with_optimizer=True)
    assert all(t.device.type == "cpu" for t in loaded.state_dict.values())
    assert Predictor(loaded.language_model()).suggest("the cat ", 3)
    again = _train_on("cpu", resume=loaded)  # and on to the CPU, optimizer state included
    assert again.metrics["device"].startswith("cpu")


@needs_cuda
def test_a_model_trained_on_the_cpu_resumes_on_a_gpu(tmp_path):
    path = save_model(_train_on("cpu"), tmp_path / "cpu-model")
    again = _train_on("cuda", resume=load_model(path, with_optimizer=True))
    assert again.metrics["device"].startswith("cuda:")
    assert Predictor(again.language_model()).suggest("the dog ", 3)
