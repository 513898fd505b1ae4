"""Training tokens/s on this machine's CPUs: one process against two DDP processes (gloo) with the
same global batch, through the real command lines (`nextword-tui train` and
`torchrun -m tui.cli train --distributed`), each run for the same time budget, taking turns over rounds.

    .venv/bin/python benchmarks/bench_distributed.py [--seconds 30] [--rounds 2] [--corpus FILE] [--text]

Same model for every row (LSTM, emb = hidden = 200, one layer, dropout 0, untied), batch 20 x 35
(the two processes train on 10 streams each), the engine's defaults otherwise. The corpus is
prepared once (`nextword-tui prepare`) and every run trains on the prepared folder, which skips
the learning setup `train FILE` fits after training (--text: train on the file, with it). Tokens/s is the
run's own figure (every rank's targets over the training time, validation passes included). A
line per row: processes x threads each. On a machine with two cores the second process has to
share them with the first one's thread, the all-reduce of every step's gradients (about 4.5 M
float32 parameters here, 18 MB a step over loopback) and with everything else running: expect
little, and read the table rather than the expectation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpora" / "wikitext-2" / "valid.txt"
MODEL_FLAGS = ["--cell", "lstm", "--emb", "200", "--hidden", "200", "--layers", "1", "--dropout", "0", "--untied",
               "--batch-size", "20", "--bptt", "35", "--epochs", "1000", "--device", "cpu"]


def run(processes: int, threads: int, corpus: str, seconds: float, home: str) -> dict:
    """One training run; its --json metrics."""
    flags = [corpus, *MODEL_FLAGS, "--max-time", str(seconds), "--json", "--threads", str(threads)]
    if processes == 1:
        cmd = [sys.executable, "-m", "tui.cli", "train", *flags]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
               "-m", "tui.cli", "train", "--distributed", *flags]
    env = {**os.environ, "NEXTWORD_HOME": home, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds * 4 + 300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def prepare(corpus: str, work: Path) -> str:
    out = work / "corpus.prepared"
    subprocess.run([sys.executable, "-m", "tui.cli", "prepare", corpus, "--out", str(out)], cwd=ROOT, check=True,
                   capture_output=True, timeout=600)
    return str(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget of each run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--text", action="store_true", help="train on the text file (default: a prepared folder)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows = [(1, 1), (1, min(2, cores)), (2, 1)]
    results: dict[tuple[int, int], list[float]] = {row: [] for row in rows}
    with tempfile.TemporaryDirectory(prefix="bench_distributed.") as tmp:
        corpus = args.corpus if args.text else prepare(args.corpus, Path(tmp))
        for round_ in range(args.rounds):
            for processes, threads in rows:
                metrics = run(processes, threads, corpus, args.seconds, tmp)
                results[(processes, threads)].append(metrics["tokens_per_s"])
                print(f"round {round_ + 1}: {processes} process(es) x {threads} thread(s): "
                      f"{metrics['tokens_per_s']:,.0f} tokens/s ({metrics.get('device', '?')})", flush=True)
    base = statistics.median(results[(1, 1)])
    print(f"\n{'processes':>9} {'threads each':>12} {'global batch':>12} {'tokens/s':>10} {'vs 1 x 1':>8}")
    for (processes, threads), rates in results.items():
        rate = statistics.median(rates)
        print(f"{processes:>9} {threads:>12} {'20 x 35':>12} {rate:>10,.0f} {rate / base:>7.2f}x")
    print(f"\n{args.rounds} round(s) of {args.seconds:g} s per row, medians; {cores} CPU core(s); "
          f"corpus {Path(args.corpus).name}{'' if args.text else ' (prepared)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
