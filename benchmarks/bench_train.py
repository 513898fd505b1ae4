"""Training throughput: nextword's engine vs a minimal eager PyTorch loop vs Keras, side by side.

Same model (embedding 200 -> one recurrent layer of 200 -> linear to the vocabulary, untied, no
dropout), same data (WikiText-2 valid.txt through the engine's tokenizer, ~12k-word vocabulary),
same batches (20 x 35 tokens, truncated BPTT), Adam, clipping 0.25. The three runners take turns
within each round, so a noisy machine slows them alike; the table shows medians over the rounds
and the ratios of medians.

The engine is timed through `engine.train()` itself (its per-epoch validation included), i.e. what
a user gets. Both torch runners use the same number of threads (the engine's default: all cores
but one; `--threads` to change); Keras uses TensorFlow's defaults. Keras is optional: see benchmarks/baselines.py for its one-line install; without it
that column says "n/a".

    .venv/bin/python benchmarks/bench_train.py [--seconds 20] [--rounds 3] [--cells rnn,lstm,gru]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import baselines  # noqa: E402

import torch  # noqa: E402

from engine import Corpus, DataConfig, ModelConfig, TrainConfig, load_text, train  # noqa: E402
from engine import default_threads  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "wikitext-2" / "valid.txt"


def engine_tokens_per_s(cell: str, corpus: Corpus, seconds: float, threads: int) -> float:
    model = ModelConfig(cell=cell, emb=200, hidden=200, layers=1, dropout=0.0, tied=False)
    config = TrainConfig(epochs=1000, max_time=seconds, batch_size=20, bptt=35, lr=1e-3, clip=0.25, threads=threads)
    return train(corpus, model, config).metrics["tokens_per_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per runner per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--no-keras", action="store_true")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="PyTorch threads for both torch runners (default: the engine's own default)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    corpus = Corpus.from_text(load_text(args.corpus), DataConfig(min_freq=1, max_vocab=12_000))
    ids, vocab_size = corpus.train_ids.numpy(), len(corpus.vocab)
    print(f"corpus: {corpus.stats.summary()}", flush=True)
    results: dict[str, dict[str, list[float]]] = {}
    for cell in args.cells.split(","):
        runs = results.setdefault(cell, {"engine": [], "plain": [], "keras": []})
        for round_ in range(args.rounds):
            runs["plain"].append(baselines.plain_torch_tokens_per_s(cell, ids, vocab_size, args.seconds))
            runs["engine"].append(engine_tokens_per_s(cell, corpus, args.seconds, args.threads))
            if not args.no_keras:
                try:
                    runs["keras"].append(baselines.keras_tokens_per_s(cell, ids, vocab_size, args.seconds))
                except ImportError as exc:
                    print(f"keras: {exc}", file=sys.stderr)
                    args.no_keras = True
            print(f"{cell} round {round_ + 1}: " + ", ".join(
                f"{name} {values[-1]:,.0f}" for name, values in runs.items() if values), flush=True)

    print()
    print(f"{'cell':<5} {'engine tok/s':>13} {'plain tok/s':>12} {'keras tok/s':>12} {'engine/plain':>13} {'engine/keras':>13}")
    for cell, runs in results.items():
        engine = statistics.median(runs["engine"])
        plain = statistics.median(runs["plain"])
        keras = statistics.median(runs["keras"]) if runs["keras"] else None
        print(f"{cell:<5} {engine:>13,.0f} {plain:>12,.0f} {keras and f'{keras:,.0f}' or 'n/a':>12} "
              f"{engine / plain:>12.2f}x {keras and f'{engine / keras:.2f}x' or 'n/a':>13}")
    print(f"\n{len(next(iter(results.values()))['engine'])} rounds of {args.seconds:.0f} s per runner, "
          f"{args.threads} torch thread(s); "
          "command: .venv/bin/python benchmarks/bench_train.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
