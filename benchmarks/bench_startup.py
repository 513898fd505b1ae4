"""The app's time to first frame, and the peak memory of a 30-second `nextword-tui train` run.

Time to first frame, measured from outside, as a user sees it: the app is started in a fresh
Python process on a pseudo-terminal (120 x 40, TERM=xterm-256color) with
`python -c 'from tui.app import run_app; run_app(None)'`, and the clock runs from just before the
process is spawned until the bytes written to the terminal contain the app's first painted screen
(the footer's key hints, which are drawn with the first full frame; `--marker` to change). That
includes the interpreter's start, every import, compose, mount and the first render. The process is
then stopped (SIGTERM) and the next run starts cold (again a new process; the OS file cache is warm,
as on any second launch). Each run gets its own empty NEXTWORD_HOME and working folder, so the app
opens on the bundled sample corpus and never touches the real data folder.

Peak memory: `nextword-tui train valid.txt --max-time 30` (LSTM, default settings) in a child
process, its peak resident set size read from os.wait4's rusage (ru_maxrss: that process and the
children it waited for), with a private NEXTWORD_HOME so the saved model goes to a temporary folder.

Timings depend on what else runs on the machine; never run in CI.

    .venv/bin/python benchmarks/bench_startup.py
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
CLI = ROOT / ".venv" / "bin" / "nextword-tui"
WIKI = Path("/work/shared/corpora/wikitext-2")
LAUNCH = "from tui.app import run_app; run_app(None)"


def first_frame(marker: bytes, timeout: float, columns: int = 120, rows: int = 40) -> tuple[float, int]:
    """Seconds from spawn until `marker` appears on the terminal, and the bytes read by then."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TERM": "xterm-256color", "NEXTWORD_HOME": str(Path(tmp) / "home"),
               "COLUMNS": str(columns), "LINES": str(rows)}
        env.pop("TEXTUAL", None)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        start = time.perf_counter()
        proc = subprocess.Popen([str(PYTHON), "-c", LAUNCH], stdin=slave, stdout=slave, stderr=slave,
                                cwd=tmp, env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        seen = b""
        found = None
        try:
            while time.perf_counter() - start < timeout:
                ready, _, _ = select.select([master], [], [], 0.05)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break  # the process closed the terminal
                    if not chunk:
                        break
                    seen += chunk
                    if marker in seen:
                        found = time.perf_counter() - start
                        break
                elif proc.poll() is not None:
                    break
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            os.close(master)
        if found is None:
            tail = seen[-800:].decode("utf-8", "replace")
            raise RuntimeError(f"no first frame within {timeout} s (exit {proc.returncode}); last output: {tail!r}")
        return found, len(seen)


def peak_rss_of_training(corpus: Path, seconds: float) -> tuple[float, float, str]:
    """Peak RSS (MiB) and wall time of `nextword-tui train CORPUS --max-time SECONDS`, and its last line."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NEXTWORD_HOME": str(Path(tmp) / "home")}
        start = time.perf_counter()
        proc = subprocess.Popen([str(CLI), "train", str(corpus), "--max-time", str(seconds), "--name", "bench-rss"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp, env=env)
        out = proc.stdout.read().decode("utf-8", "replace")
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"nextword-tui train exited with {proc.returncode}")
        return usage.ru_maxrss / 1024, wall, out.strip().splitlines()[-1] if out.strip() else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold starts to time")
    parser.add_argument("--marker", default="Help", help="text that appears once the first frame is painted")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--train-corpus", default=str(WIKI / "valid.txt"))
    parser.add_argument("--train-seconds", type=float, default=30.0)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    times = []
    for _ in range(args.runs):
        seconds, _ = first_frame(args.marker.encode(), args.timeout)
        times.append(seconds)
    import_torch = _time_import("import torch")
    import_textual = _time_import("import textual.app")
    rss, wall, last = peak_rss_of_training(Path(args.train_corpus), args.train_seconds)

    command = "cd " + shlex.quote(str(ROOT)) + " && .venv/bin/python benchmarks/bench_startup.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    print(f"$ {command}")
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; {os.cpu_count()} CPUs")
    print()
    print(f"time to first frame ({args.runs} cold starts, pty 120x40, until {args.marker!r} is drawn):")
    ordered = sorted(times)
    print(f"  median {ordered[len(ordered) // 2]:.2f} s, min {ordered[0]:.2f} s, max {ordered[-1]:.2f} s  "
          f"(all: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"  for scale, in fresh processes: `import torch` {import_torch:.2f} s, `import textual.app` {import_textual:.2f} s")
    print()
    print(f"peak memory of `nextword-tui train {Path(args.train_corpus).name} --max-time {args.train_seconds:g}` (LSTM, defaults):")
    print(f"  peak RSS {rss:,.0f} MiB, wall {wall:.1f} s")
    print(f"  its result: {last}")
    return 0


def _time_import(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(PYTHON), "-c", statement], check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
