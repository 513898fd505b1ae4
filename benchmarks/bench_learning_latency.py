"""Suggestion latency with learning on, while the online update runs in the background; memory.

Types a text key by key through an AdaptivePredictor (open lexicon, n-gram mixture, cache, and the
OnlineUpdater stepping the network every `dynamic_every` tokens in its thread) and times each
`learn(text)` + `suggest(text)` pair, the work the app does per keystroke. Floor, in the same run:
the plain Predictor (closed vocabulary, no learning) typing the same keys.

Rows: inside a word; at a word end (a model step, the blend over every word); the first suggestion
after each online update was swapped in. Memory: the lexicon, open vocabulary, cache and learned
state for a corpus of about 1M words (tracemalloc), and what an hour of typing adds on disk.

    NEXTWORD_HOME=/tmp/h .venv/bin/python benchmarks/bench_learning_latency.py --model wt2 \\
        --corpus /tmp/wt2_train.txt --type /tmp/wt2_type.txt
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Corpus, Predictor, load_model, load_text, open_for_typing, resolve_model  # noqa: E402
from engine.adapt import LearnConfig, Learner  # noqa: E402
from engine.adaptive_predict import AdaptivePredictor  # noqa: E402
from engine.learned import save_learned  # noqa: E402
from engine.lexicon import Lexicon  # noqa: E402
from engine.mixture import Weights  # noqa: E402
from engine.ngram import NGramLM  # noqa: E402
from engine.tokenizer import split_partial, tokenize  # noqa: E402

WEIGHTS = Weights(net=0.6, ngram=0.2, cache=0.1, unigram=0.1)  # about what the fits give


def keys_of(text: str, limit: int) -> list[str]:
    """The typed text after each keystroke."""
    text = text[:limit]
    return [text[: i + 1] for i in range(len(text))]


def time_typing(suggest, learn, typing: list[str], updates=lambda: 0, pace_s: float = 0.0) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"inside a word": [], "at a word end": [], "first after an update": []}
    seen = updates()
    for text in typing:
        if pace_s:
            time.sleep(pace_s)  # the time between two keystrokes (not timed): the update runs then
        fresh = updates() != seen
        seen = updates()
        start = time.perf_counter()
        learn(text)
        suggest(text)
        took = (time.perf_counter() - start) * 1000
        kind = "first after an update" if fresh else ("inside a word" if split_partial(text)[1] else "at a word end")
        times[kind].append(took)
    return times


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:44s} {'-':>8s}"
    v = np.asarray(values)
    return f"{name:44s} {len(v):6d} {np.median(v):8.3f} {np.percentile(v, 99):8.3f} {v.max():8.2f}"


def memory_1m(text: str, vocab_model) -> tuple[float, int, int]:
    """MB held by the lexicon + open vocabulary + cache built from ~1M words (the text repeated,
    with every 10th word made unique, so the lexicon is far bigger than the text's own)."""
    words = text.split()
    reps = max(1, 1_000_000 // max(1, len(words)))
    big = []
    for r in range(reps):
        big.extend(w if i % 10 else f"{w}{r}x{i}" for i, w in enumerate(words))
    gc.collect()
    tracemalloc.start()
    lexicon = Lexicon.from_tokens(big)
    learner = Learner(vocab_model, lexicon, WEIGHTS, LearnConfig())
    for w in big[:2000]:
        learner.observe(w)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current / 1024**2, len(big), len(lexicon)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--type", dest="typed", required=True)
    parser.add_argument("--keys", type=int, default=6000)
    parser.add_argument("--pace-ms", type=float, default=0.0,
                        help="milliseconds between keystrokes (default 0: back to back, the worst case; "
                             "a fast typist leaves 100 ms and more)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    trained = load_model(args.model)
    text, typed = load_text(args.corpus), load_text(args.typed)
    corpus = Corpus.from_text(text, trained.data_config)
    kn = NGramLM.fit(torch.cat([corpus.train_ids, corpus.valid_ids]), trained.vocab, 3)
    typing = keys_of(typed, args.keys)

    plain = Predictor(trained.language_model())
    pace = args.pace_ms / 1000
    floor = time_typing(plain.suggest, lambda t: None, typing, pace_s=pace)
    adaptive, note = open_for_typing(trained, resolve_model(args.model), online=True)
    if note:  # no setup with the model: count the corpus here, blend with typical weights
        learner = Learner(trained.vocab, Lexicon.from_tokens(tokenize(text)), WEIGHTS, LearnConfig(dynamic=True))
        adaptive = AdaptivePredictor(trained.language_model(), learner, kn)
    learner = adaptive.learner
    print(f"blend: {adaptive.learner.weights.label(trained.model_config.cell, 3)}; {len(learner.open):,} words on offer")
    try:
        learning = time_typing(adaptive.suggest, adaptive.learn, typing, lambda: adaptive.updater.updates, pace)
        updates, last = adaptive.updater.updates, adaptive.updater.last_update_s
    finally:
        adaptive.close()
    print(f"{'ms per keystroke (learn + suggest)':44s} {'n':>6s} {'median':>8s} {'p99':>8s} {'max':>8s}")
    for kind in ("inside a word", "at a word end"):
        print(row(f"floor: plain Predictor, {kind}", floor[kind]))
    for kind, values in learning.items():
        print(row(f"learning on, {kind}", values))
    print(f"online updates during the run: {updates} (the last took {last * 1000:.0f} ms in its thread)")

    with tempfile.TemporaryDirectory() as tmp:
        hour = " ".join(tokenize(typed))[: 40 * 60 * 5 * 6]  # an hour at 40 words a minute
        for token in tokenize(hour):
            learner.observe(token)
        folder = save_learned(Path(tmp) / "m.learned", learner, trained.state_dict)
        sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    print(f"learned state after about an hour of typing ({len(learner.history):,} tokens): "
          + ", ".join(f"{name} {size / 1024:,.0f} KB" for name, size in sizes.items()))
    mb, n_words, n_lex = memory_1m(text, trained.vocab)
    print(f"memory for a {n_words:,}-word corpus ({n_lex:,} distinct words): lexicon + open vocabulary + cache "
          f"+ learner {mb:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
