"""Re-reading a pasted context: the output layer only for the state whose distribution is asked for.

When a 200-token text is pasted into the typing box (or a backspace over a line break, or the
context window moving, makes the Predictor read its context again), every token goes through the
recurrent cells, but only the last state's next-word distribution is ever used. NeuralLM.advance
now runs the cells only; next_probs runs the output layer and the softmax for the state it is asked
about, once (engine/lm.py). Before, advance ran them for every token.

Measured in one run, taking turns so a noisy neighbour on a shared CPU hits every row alike:
  before  the previous NeuralLM.advance (cells + output layer + softmax + .numpy() per token),
          rebuilt here as a subclass, through a fresh Predictor: `Predictor(lm).suggest(paste)`
  after   the same call with today's NeuralLM
  floor   the same tokens through Stepper.read alone (bare cell steps), plus one output layer and
          softmax for the last state: what any re-read must compute

Models: 2 layers x 256 (emb 256, tied) RNN / LSTM / GRU with random weights (the time does not
depend on what the weights learned) over the vocabulary of wikitext-2 valid.txt (every word, capped
at the 10,000 most frequent); the paste is the first --tokens tokens of test.txt. One torch thread,
as the app's UI thread runs. Never run in CI: it prints a table.

    .venv/bin/python benchmarks/bench_reread.py [--tokens 200] [--repeats 30]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Corpus, DataConfig, ModelConfig, NeuralLM, Predictor, WordRNN, context_tokens, load_text  # noqa: E402
from engine.lm import RNNState  # noqa: E402
from engine.tokenizer import normalize, token_spans  # noqa: E402
from engine.vocab import EOS_ID  # noqa: E402

WIKI = Path("/work/shared/corpora/wikitext-2")
K = 5


class EagerNeuralLM(NeuralLM):
    """NeuralLM as it was: the output layer, the softmax and .numpy() for every token read."""

    def advance(self, state: RNNState, token_id: int) -> RNNState:
        logits, hidden = self.stepper(token_id, state.hidden)
        return RNNState(hidden, torch.softmax(logits, dim=0).numpy())


def paste_of(text: str, tokens: int) -> str:
    """The first `tokens` tokens of `text` as one line, ending in a space (the next word is asked)."""
    flat = " ".join(line.strip() for line in normalize(text).splitlines() if line.strip())
    spans = token_spans(flat)
    return flat[: spans[tokens - 1][1]] + " "


def floor(lm: NeuralLM, ids: list[int]) -> None:
    """Bare cell steps over the context, then one output layer and softmax."""
    stepper = lm.stepper
    state = stepper.start()
    for token in ids:
        state = stepper.read(token, state)
    torch.softmax(stepper.logits(state), dim=0).numpy()


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(WIKI / "valid.txt"), help="text for the vocabulary")
    parser.add_argument("--test", default=str(WIKI / "test.txt"), help="text whose start is pasted")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(0)
    corpus = Corpus.from_text(load_text(args.train), DataConfig(min_freq=1, max_vocab=10_000, valid_fraction=0.0))
    vocab = corpus.vocab
    paste = paste_of(load_text(args.test), args.tokens)
    ids = [EOS_ID] + vocab.encode(context_tokens(paste))  # what a fresh Predictor reads
    rows = {}
    for cell in ("rnn", "lstm", "gru"):
        model = WordRNN(ModelConfig(cell=cell, vocab_size=len(vocab), emb=256, hidden=256, layers=2)).eval()
        rows[cell] = (EagerNeuralLM(model, vocab), NeuralLM(model, vocab))
    times = {cell: {"before": [], "after": [], "floor": []} for cell in rows}
    answers = {}
    for _ in range(args.repeats):
        for cell, (before, after) in rows.items():  # rows and columns take turns
            times[cell]["before"].append(timed(lambda: Predictor(before).suggest(paste, K)))
            times[cell]["after"].append(timed(lambda: answers.__setitem__(cell, Predictor(after).suggest(paste, K))))
            times[cell]["floor"].append(timed(lambda: floor(after, ids)))
    for cell, (before, _) in rows.items():  # the same suggestions either way
        assert Predictor(before).suggest(paste, K) == answers[cell], cell

    command = "cd " + shlex.quote(str(ROOT)) + " && .venv/bin/python benchmarks/bench_reread.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    print(f"$ {command}")
    output = rows["lstm"][1].stepper.output_dtype
    print(f"torch {torch.__version__}, 1 thread; vocabulary {len(vocab):,}; models 2 x 256, random weights, output "
          f"layer in {str(output).removeprefix('torch.')}; paste: {len(ids) - 1} tokens ({len(paste):,} characters); "
          f"{args.repeats} repeats; ms per `Predictor(lm).suggest(paste)`")
    print()
    head = f"{'model':<6} | {'before p50':>10} {'p90':>8} | {'after p50':>10} {'p90':>8} | {'floor p50':>10} | {'speed-up':>8} | {'after/floor':>11}"
    print(head)
    print("-" * len(head))
    worst = float("inf")
    for cell, t in times.items():
        p = {k: np.percentile(np.asarray(v) * 1000, [50, 90]) for k, v in t.items()}
        speedup = p["before"][0] / p["after"][0]
        worst = min(worst, speedup)
        print(f"{cell:<6} | {p['before'][0]:>10.2f} {p['before'][1]:>8.2f} | {p['after'][0]:>10.2f} {p['after'][1]:>8.2f} | "
              f"{p['floor'][0]:>10.2f} | {speedup:>7.2f}x | {p['after'][0] / p['floor'][0]:>10.2f}x")
    print()
    print(f"target: re-reading at least 1.7x faster: {'met' if worst >= 1.7 else 'NOT met'} (smallest {worst:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
