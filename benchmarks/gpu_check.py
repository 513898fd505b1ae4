"""On a CUDA machine, in a few minutes: training tokens/s of pytorch/examples word_language_model's
"medium" configuration (LSTM, emb 650, hidden 650, 2 layers, tied, dropout 0.5, batch 20 x 35) on
the GPU against the CPU, through `engine.train()`; PyTorch's own word_language_model/main.py
(vendored in benchmarks/third_party/, unchanged) timed on the same GPU and the same data, in the
same run; and the output layer + loss, the engine's fused bf16 step against torch's linear +
cross_entropy (bf16 autocast, and float32), forward + backward at the medium shapes.

    .venv/bin/python benchmarks/gpu_check.py [--data DIR_OR_FILE] [--seconds 45] [--cpu-seconds 30] [--json OUT]

Data: a folder with train.txt / valid.txt / test.txt (word_language_model's layout), a folder with
valid.txt and test.txt (the shared WikiText-2 copy: valid.txt becomes the training text), or one
text file (split 90 / 5 / 5 by lines). Both runners then read the same three files. The engine's
vocabulary is made as large as word_language_model's (every word, min_freq 1), so the output
layers have the same size. word_language_model trains with plain SGD, the engine with Adam: the
optimizer step is a small part of a step at these shapes.

Without CUDA it says so and exits with status 1 (it is meant for a GPU machine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from engine import Corpus, DataConfig, ModelConfig, Progress, TrainConfig, train  # noqa: E402

WLM = ROOT / "benchmarks" / "third_party" / "word_language_model" / "main.py"
DATA_CANDIDATES = (
    os.environ.get("NEXTWORD_BENCH_DATA", ""),
    str(ROOT / "benchmarks" / "data" / "wikitext-2"),
    str(ROOT / "shared" / "corpora" / "wikitext-2"),
    str(ROOT.parent / "shared" / "corpora" / "wikitext-2"),
    "/work/shared/corpora/wikitext-2",
)
MEDIUM = {"cell": "lstm", "emb": 650, "hidden": 650, "layers": 2, "dropout": 0.5, "tied": True}
BATCH, BPTT = 20, 35
WLM_LOG = re.compile(r"\|\s*epoch\s+(\d+)\s*\|\s*(\d+)/\s*\d+ batches.*?ms/batch\s+([\d.]+)")


def find_data(given: str | None) -> Path:
    for candidate in ([given] if given else DATA_CANDIDATES):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    sys.exit(f"No data found (tried {', '.join(c for c in DATA_CANDIDATES if c)}): pass --data DIR_OR_FILE.")


def wlm_layout(source: Path, work: Path) -> Path:
    """A folder with train.txt, valid.txt and test.txt made from `source`."""
    if source.is_dir() and all((source / f"{s}.txt").is_file() for s in ("train", "valid", "test")):
        return source
    if source.is_dir():
        train_text = (source / "valid.txt").read_text(encoding="utf-8")
        rest = (source / "test.txt").read_text(encoding="utf-8").splitlines(keepends=True)
        parts = {"train": train_text, "valid": "".join(rest[: len(rest) // 2]), "test": "".join(rest[len(rest) // 2 :])}
    else:
        lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
        a, b = int(len(lines) * 0.9), int(len(lines) * 0.95)
        parts = {"train": "".join(lines[:a]), "valid": "".join(lines[a:b]), "test": "".join(lines[b:])}
    out = work / "data"
    out.mkdir(exist_ok=True)
    for name, text in parts.items():
        (out / f"{name}.txt").write_text(text, encoding="utf-8")
    return out


def steady_rate(events: list[tuple[float, int]], skip: float) -> float:
    """Tokens/s between the first event after `skip` seconds (warm-up, cuDNN plans) and the last."""
    later = [e for e in events if e[0] >= skip] or events
    (t0, n0), (t1, n1) = later[0], events[-1]
    return (n1 - n0) / (t1 - t0) if t1 > t0 else n1 / max(t1, 1e-9)


def engine_run(data: Path, device: str, seconds: float) -> dict:
    corpus = Corpus.from_file(data / "train.txt", DataConfig(min_freq=1, max_vocab=2_000_000, lowercase=False))
    events: list[tuple[float, int]] = []

    def on_event(event: object) -> None:
        if isinstance(event, Progress):
            events.append((event.elapsed, round(event.tokens_per_s * event.elapsed)))

    config = TrainConfig(epochs=1000, max_time=seconds, batch_size=BATCH, bptt=BPTT, device=device)
    trained = train(corpus, ModelConfig(**MEDIUM), config, on_event=on_event)
    m = trained.metrics
    return {"runner": "engine train()", "device": m.get("device", device), "vocab": len(corpus.vocab),
            "tokens_per_s": steady_rate(events, min(5.0, seconds / 4)), "tokens_per_s_with_validation": m["tokens_per_s"],
            "epochs": m["epochs"], "steps": m["steps"]}


def wlm_run(data: Path, seconds: float, work: Path, device_flag: bool = True) -> dict:
    """word_language_model/main.py for `seconds`, its ms/batch lines read as it prints them."""
    cmd = [sys.executable, str(WLM), "--data", str(data), "--model", "LSTM", "--emsize", "650", "--nhid", "650",
           "--nlayers", "2", "--dropout", "0.5", "--tied", "--batch_size", str(BATCH), "--bptt", str(BPTT),
           "--epochs", "1000", "--log-interval", "20", "--save", str(work / "wlm.pt")]
    if device_flag:
        cmd.append("--accel")
    proc = subprocess.Popen(cmd, cwd=WLM.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started, ms, lines = time.monotonic(), [], []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            match = WLM_LOG.search(line)
            if match:
                ms.append(float(match.group(3)))
            if time.monotonic() - started > seconds:
                break
    finally:
        proc.kill()
        proc.wait()
    if len(ms) < 2:
        return {"runner": "word_language_model main.py", "error": "\n".join(lines[-15:])}
    per_batch = statistics.median(ms[1:])  # the first interval holds the warm-up
    return {"runner": "word_language_model main.py", "device": "cuda" if device_flag else "cpu",
            "tokens_per_s": BATCH * BPTT * 1000 / per_batch, "ms_per_batch": per_batch, "intervals": len(ms)}


def output_layer_run(vocab: int, device: torch.device, repeats: int = 50) -> list[dict]:
    """Forward + backward of the output layer and the loss at [20 x 35 tokens, 650] x [vocab, 650]."""
    import torch.nn.functional as F

    from engine.fused_loss import linear_cross_entropy

    torch.manual_seed(0)
    n, hidden = BATCH * BPTT, MEDIUM["hidden"]
    h = torch.randn(n, hidden, device=device, requires_grad=True)
    w = (torch.randn(vocab, hidden, device=device) * 0.05).requires_grad_()
    b = torch.zeros(vocab, device=device, requires_grad=True)
    y = torch.randint(0, vocab, (n,), device=device)

    def fused() -> torch.Tensor:
        return linear_cross_entropy(h, w, b, y, torch.bfloat16)

    def torch_bf16() -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return F.cross_entropy(F.linear(h, w, b), y)

    def torch_fp32() -> torch.Tensor:
        return F.cross_entropy(F.linear(h, w, b), y)

    rows = []
    for name, fn in (("engine fused bf16", fused), ("torch linear+cross_entropy, bf16 autocast", torch_bf16),
                     ("torch linear+cross_entropy, float32 (TF32)", torch_fp32)):
        for _ in range(5):
            fn().backward()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            fn().backward()
        end.record()
        torch.cuda.synchronize()
        rows.append({"runner": name, "ms": start.elapsed_time(end) / repeats})
    return rows


def print_table(runs: list[dict], layer: list[dict]) -> None:
    print(f"\n{'runner':<32} {'device':<34} {'tokens/s':>10}")
    for r in runs:
        rate = f"{r['tokens_per_s']:,.0f}" if "tokens_per_s" in r else "failed"
        print(f"{r['runner']:<32} {str(r.get('device', '-')):<34} {rate:>10}")
    rate = {(r["runner"], str(r.get("device", ""))[:4]): r.get("tokens_per_s") for r in runs}
    gpu, cpu = rate.get(("engine train()", "cuda")), rate.get(("engine train()", "cpu "))
    wlm = rate.get(("word_language_model main.py", "cuda"))
    if gpu and cpu:
        print(f"engine cuda / engine cpu: {gpu / cpu:.1f}x")
    if gpu and wlm:
        print(f"engine cuda / word_language_model cuda: {gpu / wlm:.2f}x")
    print(f"\noutput layer + loss, forward + backward, {BATCH * BPTT} tokens x vocab {layer and layer[0].get('vocab', '')}:")
    for r in layer:
        print(f"  {r['runner']:<44} {r['ms']:.3f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a word_language_model data folder, the shared WikiText-2 folder, or a text file")
    parser.add_argument("--seconds", type=float, default=45.0, help="per GPU runner")
    parser.add_argument("--cpu-seconds", type=float, default=30.0, help="for the engine on the CPU (0: skip)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("No CUDA GPU here: this check is for a GPU machine (the CUDA tests skip on this one).")
        return 1
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"cuDNN {torch.backends.cudnn.version()}, bf16 {torch.cuda.is_bf16_supported()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu_check.") as tmp:
        data = wlm_layout(find_data(args.data), Path(tmp))
        runs = [engine_run(data, "cuda", args.seconds)]
        print(f"engine on cuda: {runs[-1]}", flush=True)
        runs.append(wlm_run(data, args.seconds, Path(tmp)))
        print(f"word_language_model on cuda: {runs[-1]}", flush=True)
        if args.cpu_seconds > 0:
            runs.append(engine_run(data, "cpu", args.cpu_seconds))
            print(f"engine on cpu: {runs[-1]}", flush=True)
        layer = output_layer_run(runs[0]["vocab"], torch.device("cuda"))
        for row in layer:
            row["vocab"] = runs[0]["vocab"]
    print_table(runs, layer)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "output_layer": layer}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
