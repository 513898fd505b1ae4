"""Memory of a corpus larger than memory: `prepare` on a big text file (built from the shared
WikiText-2 text, repeated), then training on the prepared folder, one process and two (torchrun,
gloo), each for a time budget. Peak RSS (ru_maxrss) of each process: the prepare command and its
largest tokenizing worker; the largest training rank. Time and sizes too. Everything it writes
is under a temporary folder (in /tmp by default) and deleted at the end.

    .venv/bin/python benchmarks/bench_prepared.py [--mb 2048] [--seconds 60] [--tmp /tmp]

The training model is the default LSTM (emb = hidden = 256, tied, 20,000 words), batch 20 x 35.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT.parent / "shared" / "corpora" / p for p in ("wikitext-2/valid.txt", "wikitext-2/test.txt",
                                                            "wikitext-2-raw/test.raw")]
MEASURE = """
import json, resource, sys, time
from engine import prepare
if __name__ == "__main__":
    started = time.perf_counter()
    prepare(sys.argv[1], sys.argv[2])
    print(json.dumps({"seconds": time.perf_counter() - started,
                      "main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def build(path: Path, mb: int) -> int:
    block = b"".join(p.read_bytes() for p in SOURCES)
    with open(path, "wb") as f:
        written = 0
        while written < mb * 1024**2:
            f.write(block)
            written += len(block)
    return written


def measure_prepare(text: Path, out: Path, work: Path) -> dict:
    script = work / "measure_prepare.py"  # a file: the pool's spawned workers re-import the main module
    script.write_text(MEASURE)
    done = subprocess.run([sys.executable, str(script), str(text), str(out)], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_training(prepared: Path, processes: int, seconds: float, home: Path) -> dict:
    """One run in a fresh process tree; RUSAGE_CHILDREN after it is the largest process's peak."""
    flags = [str(prepared), "--max-time", str(seconds), "--json", "--device", "cpu", "--name", f"p{processes}"]
    if processes == 1:
        cmd = [sys.executable, "-m", "tui.cli", "train", *flags]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
               "-m", "tui.cli", "train", "--distributed", *flags]
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); "
             "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024); sys.exit(r.returncode)")
    done = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NEXTWORD_HOME": str(home)}, timeout=seconds * 3 + 900)
    if done.returncode != 0:
        raise SystemExit(f"training failed:\n{done.stderr[-3000:]}")
    peak = float(done.stdout.split("PEAK")[-1])
    metrics = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    return {"processes": processes, "peak_mb": peak, "tokens_per_s": metrics["tokens_per_s"],
            "tokens_seen": metrics["tokens_seen"], "stopped": metrics["stopped"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=2048, help="size of the text file to build")
    parser.add_argument("--seconds", type=float, default=60.0, help="training time budget of each run")
    parser.add_argument("--tmp", default=tempfile.gettempdir(), help="where to build (needs ~3x --mb free)")
    args = parser.parse_args()
    free = shutil.disk_usage(args.tmp).free / 1024**2
    if free < 3.5 * args.mb:
        raise SystemExit(f"{args.tmp} has {free:,.0f} MB free; this needs about {3.5 * args.mb:,.0f} MB.")
    work = Path(tempfile.mkdtemp(prefix="bench_prepared.", dir=args.tmp))
    try:
        text = work / "big.txt"
        size = build(text, args.mb)
        print(f"built {text}: {size / 1024**2:,.0f} MB", flush=True)
        prep = measure_prepare(text, work / "big.prepared", work)
        meta = json.loads((work / "big.prepared" / "meta.json").read_text())
        print(f"prepare: {prep['seconds']:.0f} s ({size / 1024**2 / prep['seconds']:.1f} MB/s), peak RSS main "
              f"{prep['main_mb']:,.0f} MB, largest worker {prep['worker_mb']:,.0f} MB; {meta['tokens']:,} tokens "
              f"({meta['dtype']}, {(work / 'big.prepared' / 'tokens.bin').stat().st_size / 1024**2:,.0f} MB)", flush=True)
        text.unlink()  # training reads only the prepared folder
        for processes in (1, 2):
            run = measure_training(work / "big.prepared", processes, args.seconds, work)
            print(f"train, {processes} process(es), {args.seconds:g} s: peak RSS of the largest process "
                  f"{run['peak_mb']:,.0f} MB; {run['tokens_per_s']:,.0f} tokens/s; stopped: {run['stopped']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
