"""Quality at an equal wall-clock budget: RNN vs LSTM vs GRU vs the 3-gram, trained on wikitext-2
valid.txt and scored on test.txt.

Training is `engine.compare()` (the code behind `nextword-tui compare`): one Corpus from the
training text (its last 10% of lines held out for early stopping and the validation numbers), the
default ModelConfig / TrainConfig / DataConfig, and --budget seconds of training per network. The
3-gram is counted on the same training split. Each model is then scored on the test text:
perplexity, top-1 and top-3 over the whole test text, and KSR (keystroke savings with 3
suggestions) over its first --ksr-chars characters only, to keep the run quick.

Torch runs on --threads threads (default 1): on the shared 2-core machine this was written on, an
LSTM trained at 3,800-5,300 tokens/s on one thread and 700-2,600 tokens/s on two, side by side
(threads spin waiting for each other when other jobs hold the cores). Timings depend on the CPU and
on what else runs on it: compare rows measured in the same run, not numbers from different runs.
Never run in CI: it prints tables.

    .venv/bin/python benchmarks/bench_quality.py                 # 120 s per network: ~8-10 minutes
    .venv/bin/python benchmarks/bench_quality.py --budget 30     # a quick look
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import EpochEnd, ModelConfig, evaluate, load_text  # noqa: E402
from engine import LABELS, CellDone, CellEvent, CellStart, compare, torch_threads  # noqa: E402

WIKI = Path("/work/shared/corpora/wikitext-2")


def head(text: str, chars: int) -> str:
    """The start of `text`, cut at the last line break before `chars` (whole lines only)."""
    if len(text) <= chars:
        return text
    cut = text.rfind("\n", 0, chars)
    return text[: cut if cut > 0 else chars]


def log(event: object) -> None:
    if isinstance(event, CellStart):
        print(f"[{time.strftime('%H:%M:%S')}] {LABELS[event.cell]} ({event.index + 1}/{event.count})",
              file=sys.stderr, flush=True)
    elif isinstance(event, CellEvent) and isinstance(event.event, EpochEnd):
        e = event.event
        print(f"  epoch {e.epoch}: valid ppl {e.valid_ppl:.1f} at {e.elapsed:.0f} s", file=sys.stderr, flush=True)
    elif isinstance(event, CellDone):
        print(f"  done: valid ppl {event.row.valid_ppl:.1f}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="seconds of training per network")
    parser.add_argument("--train", default=str(WIKI / "valid.txt"))
    parser.add_argument("--test", default=str(WIKI / "test.txt"))
    parser.add_argument("--ksr-chars", type=int, default=20_000)
    parser.add_argument("--cells", default="rnn,lstm,gru", help="networks to train (the 3-gram always runs)")
    parser.add_argument("--literal-unk", action="store_true",
                        help="keep WikiText's literal '<unk>' as the tokenizer reads it: three tokens '<' 'unk' '>', "
                             "two of them trivially predictable, which inflates top-k by about 10 points")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared 2-core CPU, 2 threads measured slower, not faster)")
    args = parser.parse_args()

    train_text, test_text = load_text(args.train), load_text(args.test)
    if not args.literal_unk:
        # WikiText marks each rare word with the literal '<unk>': read it as one word, once.
        train_text, test_text = (t.replace("<unk>", "unk") for t in (train_text, test_text))
    ksr_text = head(test_text, args.ksr_chars)
    started = time.perf_counter()
    result = compare(train_text, args.budget, ModelConfig(), on_event=log, threads=args.threads,
                     cells=tuple(args.cells.split(",")))
    scores = {}
    with torch_threads(args.threads):
        for row in result.rows:
            lm = result.models[row.cell]
            full = evaluate(lm, test_text, ksr=False)
            ksr = evaluate(lm, ksr_text).ksr
            scores[row.cell] = (full, ksr)
    total = time.perf_counter() - started

    command = "cd " + shlex.quote(str(ROOT)) + " && .venv/bin/python benchmarks/bench_quality.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    print(f"$ {command}")
    cfg = result.model_config
    print(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} thread(s) for training and scoring; "
          f"{cfg.layers} layer x emb {cfg.emb} / hidden {cfg.hidden}, dropout {cfg.dropout}, tied; "
          f"default TrainConfig (batch {result.train_config.batch_size}, bptt {result.train_config.bptt}, "
          f"Adam lr {result.train_config.lr}), {args.budget:g} s per network")
    print(f"train: {Path(args.train).name}: {result.corpus_summary}"
          + ("" if args.literal_unk else " (WikiText's '<unk>' read as the word 'unk')"))
    first = scores[result.rows[0].cell][0]
    print(f"test: {Path(args.test).name}: {first.tokens:,} tokens ({first.words:,} words scored for top-k); "
          f"KSR on its first {len(ksr_text):,} characters")
    print()
    header = (f"{'model':<7} {'params':>10} {'tok/s':>7} {'epochs':>6} {'stopped':>14} | {'test ppl':>9} "
              f"{'top-1':>6} {'top-3':>6} {'KSR':>6} | {'val ppl':>8}")
    print(header)
    print("-" * len(header))
    for row in result.rows:
        full, ksr = scores[row.cell]
        epochs = "-" if row.epochs is None else str(row.epochs)
        ppl = f"{full.perplexity:.1f}" if math.isfinite(full.perplexity) else "inf"
        print(f"{row.label:<7} {row.params:>10,} {row.tokens_per_s:>7,.0f} {epochs:>6} {row.stopped:>14} | {ppl:>9} "
              f"{full.top1:>6.1%} {full.top3:>6.1%} {(ksr or 0):>6.1%} | {row.valid_ppl:>8.1f}")
    print()
    print("Verdicts (from the validation split, as `nextword-tui compare` prints them):")
    for row in result.rows:
        print(f"  {row.label}: {row.verdict}")
    print()
    print(f"3-gram 'tok/s' is its counting speed; 'params' its stored numbers. Whole run: {total / 60:.1f} min.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
