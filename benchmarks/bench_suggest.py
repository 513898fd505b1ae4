"""Suggestion latency while typing: cached Predictor vs re-encoding the prefix, per cell and the n-gram.

Models: 2 layers x 256 (emb 256, tied) RNN / LSTM / GRU with random weights (latency does not depend
on what the weights learned) over the vocabulary of wikitext-2 valid.txt (every word, capped at the
10,000 most frequent), and
the 3-gram Kneser-Ney model counted on the same text. One torch thread, as the app's UI thread runs.

A scripted typing session of the first --words words of test.txt is typed one character at a time
through one Predictor per model; every `suggest(text, k=5)` call is timed and classified by how many
model steps it took (counted by wrapping the language model):

  (a) keystroke inside a word: no step, the cached next-word distribution filtered by the prefix
  (b) word end: exactly one cached recurrent step (a space after a word), then the top-5 next words
  (c) baseline: a fresh Predictor per call, re-encoding the last 20..60 tokens at word ends

The session is repeated --repeats times, the models taking turns, so a noisy neighbour on a shared
CPU hits every model alike. Never run in CI: it prints a table.

The one-token path reads the output layer from a bf16 copy where the CPU has native bf16
(engine/stepper.py). With --model NAME_OR_PATH (a trained model), it also measures what that costs in
answers: the bf16 and float32 output layers side by side on the first 2,000 tokens of the test text.

    .venv/bin/python benchmarks/bench_suggest.py [--model NAME_OR_PATH]
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

from engine import Corpus, DataConfig, ModelConfig, NeuralLM, Predictor, WordRNN, load_model, load_text  # noqa: E402
from engine.ngram import NGramLM  # noqa: E402
from engine.tokenizer import normalize, token_spans, tokenize  # noqa: E402
from engine.vocab import SPECIALS  # noqa: E402

WIKI = Path("/work/shared/corpora/wikitext-2")
CONTEXTS = (20, 30, 40, 50, 60)
K = 5


class Counting:
    """A LanguageModel that counts advance() calls (model steps) of the one it wraps."""

    def __init__(self, lm):
        self.lm, self.vocab, self.name, self.steps = lm, lm.vocab, lm.name, 0

    def start(self):
        return self.lm.start()

    def advance(self, state, token_id):
        self.steps += 1
        return self.lm.advance(state, token_id)

    def next_probs(self, state):
        return self.lm.next_probs(state)

    def log_prob_chunks(self, ids):
        return self.lm.log_prob_chunks(ids)


def typing_script(text: str, words: int) -> str:
    """The start of `text` (blank lines dropped) up to `words` whitespace-separated words."""
    out, count = [], 0
    for line in normalize(text).splitlines():
        parts = line.strip().split(" ")
        if not line.strip():
            continue
        take = parts[: words - count]
        out.append(" ".join(take))
        count += len(take)
        if count >= words:
            break
    return "\n".join(out)


def session(lm: Counting, script: str, into: dict[str, list[float]], other: list[int]) -> None:
    """Type `script` one character at a time through one Predictor; file each call's time by steps."""
    predictor = Predictor(lm)
    predictor.suggest("", K)
    for i in range(1, len(script) + 1):
        typed = script[:i]
        before = lm.steps
        start = time.perf_counter()
        predictor.suggest(typed, K)
        elapsed = time.perf_counter() - start
        steps = lm.steps - before
        if steps == 0:
            into["a"].append(elapsed)
        elif steps == 1 and typed[-1] == " ":
            into["b"].append(elapsed)
        else:
            other.append(steps)


def reencode_prefixes(script: str, count: int) -> list[str]:
    """Texts ending at a word end whose context holds 20..60 tokens (cycling), cut at a token start."""
    lines = script.split("\n")
    flat = " ".join(lines)  # one line, so every context is a plain token run
    spans = token_spans(flat)
    out = []
    ends = [e for s, e in spans if e < len(flat) and flat[e] == " "]
    for j, end in enumerate(e for e in ends if sum(1 for s, _ in spans if s < e) >= max(CONTEXTS)):
        n = CONTEXTS[j % len(CONTEXTS)]
        first = [s for s, e2 in spans if e2 <= end][-n]
        out.append(flat[first : end + 1])
        if len(out) >= count:
            break
    return out


def reencode(lm, prefixes: list[str], into: list[float]) -> None:
    for text in prefixes:
        start = time.perf_counter()
        Predictor(lm).suggest(text, K)
        into.append(time.perf_counter() - start)


def output_layer_agreement(model: str, text: str, tokens: int = 2000) -> str:
    """How often the bf16 output layer gives the float32 one's answers, reading `text` token by token."""
    trained = load_model(model)
    exact, fast = trained.language_model(torch.float32), trained.language_model(torch.bfloat16)
    ids = trained.vocab.encode(tokenize(text[:200_000]))[:tokens]
    a, b = exact.start(), fast.start()
    same_top1 = same_order = same_set = hits_exact = hits_fast = 0
    max_diff = 0.0
    skip = len(SPECIALS)
    for token in ids:
        pa, pb = exact.next_probs(a)[skip:], fast.next_probs(b)[skip:]
        ta, tb = np.argsort(-pa, kind="stable")[:5], np.argsort(-pb, kind="stable")[:5]
        same_top1 += ta[0] == tb[0]
        same_order += bool((ta == tb).all())
        same_set += set(ta.tolist()) == set(tb.tolist())
        hits_exact += token - skip in ta[:3]
        hits_fast += token - skip in tb[:3]
        max_diff = max(max_diff, float(np.abs(pa - pb).max()))
        a, b = exact.advance(a, token), fast.advance(b, token)
    n = len(ids)
    return (f"bf16 vs float32 output layer, {trained.model_config.cell} '{model}', {n:,} tokens of the test text: "
            f"same top-1 {same_top1 / n:.1%}, same top-5 in order {same_order / n:.1%}, as a set {same_set / n:.1%}; "
            f"largest probability difference {max_diff:.4f}; next word in the top 3: {hits_exact:,} (float32) vs "
            f"{hits_fast:,} (bf16)")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(WIKI / "valid.txt"), help="text for the vocabulary and the n-gram")
    parser.add_argument("--test", default=str(WIKI / "test.txt"), help="text whose start is typed")
    parser.add_argument("--words", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-calls", type=int, default=60, help="re-encoding calls per model and repeat")
    parser.add_argument("--model", help="a trained model: also measure bf16 vs float32 output-layer agreement")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(0)
    # Every word of the text counts (min_freq 1, nothing held out), capped at the 10,000 most frequent.
    corpus = Corpus.from_text(load_text(args.train), DataConfig(min_freq=1, max_vocab=10_000, valid_fraction=0.0))
    vocab = corpus.vocab
    models = {}
    for cell in ("rnn", "lstm", "gru"):
        config = ModelConfig(cell=cell, vocab_size=len(vocab), emb=256, hidden=256, layers=2)
        models[cell] = (Counting(NeuralLM(WordRNN(config).eval(), vocab)), config.param_count())
    models["3-gram"] = (Counting(NGramLM.from_corpus(corpus, order=3)), None)
    script = typing_script(load_text(args.test), args.words)
    prefixes = reencode_prefixes(script, args.baseline_calls)

    times = {name: {"a": [], "b": [], "c": []} for name in models}
    other = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, (lm, _) in models.items():  # models take turns: noise spreads over all of them
            session(lm, script, times[name], other[name])
            reencode(lm, prefixes, times[name]["c"])

    command = "cd " + shlex.quote(str(ROOT)) + " && .venv/bin/python benchmarks/bench_suggest.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    print(f"$ {command}")
    output = models["lstm"][0].lm.stepper.output_dtype
    print(f"torch {torch.__version__}, 1 thread; vocabulary {len(vocab):,} (valid.txt, min_freq 1, max_vocab 10000); "
          f"models 2 x 256, random weights, output layer read in {str(output).removeprefix('torch.')}; k = {K}")
    print(f"typing: first {args.words} words of test.txt = {len(script):,} keystrokes, x{args.repeats} repeats; "
          f"re-encoding: {len(prefixes)} word-end prefixes of {CONTEXTS[0]}-{CONTEXTS[-1]} tokens, x{args.repeats}")
    print()
    head = (f"{'model':<7} {'params':>10} | {'(a) in-word':>19} | {'(b) word end, 1 step':>21} | "
            f"{'(c) re-encode 20-60':>20} | {'c/b p50':>7}")
    sub = f"{'':<7} {'':>10} | {'p50 ms':>9} {'p99 ms':>9} | {'p50 ms':>10} {'p99 ms':>10} | {'p50 ms':>9} {'p99 ms':>10} |"
    print(head)
    print(sub)
    print("-" * len(head))
    for name, (lm, params) in models.items():
        t = times[name]
        ratio = pct(t["c"], 50) / pct(t["b"], 50)
        print(f"{name:<7} {'-' if params is None else format(params, ','):>10} | {pct(t['a'], 50):>9.4f} {pct(t['a'], 99):>9.4f} | "
              f"{pct(t['b'], 50):>10.4f} {pct(t['b'], 99):>10.4f} | {pct(t['c'], 50):>9.3f} {pct(t['c'], 99):>10.3f} | "
              f"{ratio:>6.0f}x")
    print()
    any_name = next(iter(times))
    print(f"calls per model: (a) {len(times[any_name]['a']):,}, (b) {len(times[any_name]['b']):,}, "
          f"(c) {len(times[any_name]['c']):,}; keystrokes with 2+ steps (punctuation, line ends), not in (a)/(b): "
          f"{len(other[any_name]):,}")
    worst_a = max(pct(times[n]["a"], 99) for n in models)
    worst_b = max(pct(times[n]["b"], 99) for n in models if n != "3-gram")
    print(f"targets: (a) p99 < 0.1 ms: {'met' if worst_a < 0.1 else 'NOT met'} (worst {worst_a:.4f} ms); "
          f"(b) p99 < 1 ms for the networks: {'met' if worst_b < 1 else 'NOT met'} (worst {worst_b:.4f} ms)")
    if args.model:
        print(output_layer_agreement(args.model, load_text(args.test)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
