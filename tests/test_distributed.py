"""Distributed training on CPUs (gloo), through the real command lines: torchrun (or two processes
given torchrun's environment by hand), `python -m tui.cli train --distributed`, the saved model folders.

Small on purpose: a GRU of 24, batch 4 x 8, a few epochs; every process is bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine import Corpus, ModelConfig, TrainConfig, load_model, prepare, save_model, train

from conftest import TINY_TEXT

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--cell", "gru", "--emb", "24", "--hidden", "24", "--dropout", "0", "--batch-size", "4", "--bptt", "8",
         "--seed", "3", "--device", "cpu", "--threads", "1"]
MODEL = ModelConfig(cell="gru", emb=24, hidden=24, dropout=0.0)


def _config(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=4, bptt=8, seed=3, device="cpu", threads=1)


def _env(home: Path, **extra: str) -> dict:
    return {**os.environ, "NEXTWORD_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **extra}


def _torchrun(args: list[str], home: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           "-m", "tui.cli", "train", "--distributed", *args]
    return subprocess.run(cmd, cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=timeout)


def _assert_close(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=2e-4, rtol=1e-3, msg=name)


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_two_processes_train_the_weights_of_one_and_rank_zero_alone_saves(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT)
    done = _torchrun([str(corpus), *FLAGS, "--epochs", "3", "--name", "two", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    results = _json_lines(done.stdout)
    assert len(results) == 1, done.stdout  # rank 0 alone reports
    assert results[0]["processes"] == 2 and results[0]["device"].startswith("cpu")
    models = tmp_path / "models"
    assert sorted(p.name for p in models.iterdir()) == ["two"]  # one folder, written once, no leftovers
    assert not (tmp_path / "trash").exists() or not any((tmp_path / "trash").iterdir())
    two = load_model(models / "two")
    one = train(Corpus.from_text(TINY_TEXT), MODEL, _config(3))
    _assert_close(two.state_dict, one.state_dict)
    assert [h["epoch"] for h in two.history] == [1, 2, 3]
    assert two.metrics["tokens_seen"] == one.metrics["tokens_seen"]  # every rank's targets counted


def test_resume_with_another_number_of_processes(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT)
    first = train(Corpus.from_text(TINY_TEXT), MODEL, _config(1))
    saved = load_model(save_model(first, tmp_path / "models" / "r"), with_optimizer=True)  # made by one process
    done = _torchrun([str(corpus), *FLAGS, "--epochs", "2", "--name", "r", "--resume", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    two = load_model(tmp_path / "models" / "r", with_optimizer=True)
    one = train(Corpus.from_text(TINY_TEXT), MODEL, _config(2), resume=saved)
    assert len(two.history) == len(one.history) == 3
    _assert_close(two.state_dict, one.state_dict)
    # ... and back to one process from the two-process checkpoint.
    again = train(Corpus.from_text(TINY_TEXT), MODEL, _config(1), resume=two)
    assert len(again.history) == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _long_corpus(path: Path) -> None:
    rng = random.Random(0)
    words = "the cat dog sat on a mat log garden ran saw Alice Bob and to in".split()
    path.write_text("".join(" ".join(rng.choice(words) for _ in range(12)) + " .\n" for _ in range(4000)))


def _start_ranks(tmp_path: Path, name: str) -> tuple[list[subprocess.Popen], list[Path]]:
    """Two ranks started by hand with the variables torchrun would set, so the test can signal or
    kill one of them; rank 0 logs to a file the test reads. They train on a prepared corpus, each
    reading its own streams of the memory-mapped token file."""
    text = tmp_path / "long.txt"
    _long_corpus(text)
    corpus = prepare(text, workers=1)
    port, procs, logs = str(_free_port()), [], []
    for rank in (0, 1):
        env = _env(tmp_path, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        logs.append(tmp_path / f"rank{rank}.log")
        args = [str(corpus), *FLAGS, "--epochs", "1000", "--max-time", "120", "--name", name, "--json"]
        with open(logs[-1], "w") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "tui.cli", "train", "--distributed", *args], cwd=ROOT, env=env,
                                          stdout=subprocess.PIPE, stderr=log, text=True))
    return procs, logs


def _wait_for_training(procs: list[subprocess.Popen], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if " step " in log.read_text():  # a progress line: both ranks are past DDP's start
            return
        if any(p.poll() is not None for p in procs):
            pytest.fail(f"a rank exited early: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    pytest.fail(f"training did not start within {timeout} s: {log.read_text()[-2000:]}")


def _stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)


def test_a_rank_that_dies_stops_the_others_with_a_clear_error(tmp_path):
    procs, logs = _start_ranks(tmp_path, "dies")
    try:
        _wait_for_training(procs, logs[0])
        procs[1].kill()  # SIGKILL: no goodbye, its sockets just close
        procs[0].wait(timeout=90)  # not a hang
        assert procs[0].returncode == 2
        error = logs[0].read_text()
        assert "Another training process stopped or could not be reached" in error
        assert "Traceback" not in error
    finally:
        _stop_all(procs)


def test_sigterm_on_one_rank_stops_all_with_the_best_model_saved(tmp_path):
    procs, logs = _start_ranks(tmp_path, "stopped")
    try:
        _wait_for_training(procs, logs[0])
        procs[1].send_signal(signal.SIGTERM)  # not rank 0: the stop is agreed by all
        out0, _ = procs[0].communicate(timeout=90)
        procs[1].wait(timeout=60)
        assert procs[0].returncode == 0 and procs[1].returncode == 0, logs[0].read_text()[-2000:]
        results = _json_lines(out0)
        assert len(results) == 1 and results[0]["stopped"] == "cancelled"
        saved = load_model(tmp_path / "models" / "stopped")
        assert saved.metrics["stopped"] == "cancelled" and len(saved.history) >= 1
        assert not procs[1].stdout.read().strip()  # rank 1 reported nothing
    finally:
        _stop_all(procs)


def test_distributed_outside_torchrun_says_how_to_start_it(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT)
    env = {k: v for k, v in _env(tmp_path).items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    done = subprocess.run([sys.executable, "-m", "tui.cli", "train", "--distributed", str(corpus), *FLAGS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "torchrun --nproc-per-node" in done.stderr
