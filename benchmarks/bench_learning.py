"""Learning from the text and from typing: static vs cache vs dynamic evaluation vs mixture.

Give it a trained model, the corpus it was trained on, and a text to type (new text of the same
kind). It fits the blend's weights on the corpus's held-out part (the network's validation lines,
with a lexicon and an n-gram that know only the training part), then types the text with each
mechanism on its own and together, and prints one table scored by the project's scorer
(engine.evaluate / engine.adaptive_eval). Peers measured in the same run: the static network and
the project's KN trigram trained on all of the corpus.

    split a corpus (first 90% of lines to train on, last 10% to type):
      .venv/bin/python benchmarks/bench_learning.py --split ../shared/corpora/wikitext-2-raw/test.raw /tmp/wt2
    train:  NEXTWORD_HOME=/tmp/h .venv/bin/nextword-tui train /tmp/wt2_train.txt --max-time 240 --name wt2
    measure:
      NEXTWORD_HOME=/tmp/h .venv/bin/python benchmarks/bench_learning.py --model wt2 \\
          --corpus /tmp/wt2_train.txt --type /tmp/wt2_type.txt
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Corpus, evaluate, load_model, load_text  # noqa: E402
from engine.adapt import LearnConfig  # noqa: E402
from engine.adaptive_eval import evaluate_adaptive, held_out_parts  # noqa: E402
from engine.lexicon import Lexicon  # noqa: E402
from engine.mixture import Weights, fit_weights, log_likelihood  # noqa: E402
from engine.ngram import NGramLM  # noqa: E402
from engine.tokenizer import split_lines, tokenize  # noqa: E402
from engine.lm import NeuralLM  # noqa: E402


def split_file(path: str, prefix: str) -> None:
    lines = load_text(path).split("\n")
    cut = int(len(lines) * 0.9)
    Path(prefix + "_train.txt").write_text("\n".join(lines[:cut]), encoding="utf-8")
    Path(prefix + "_type.txt").write_text("\n".join(lines[cut:]), encoding="utf-8")


def train_part(text: str, valid_fraction: float) -> str:
    """The lines Corpus.from_text trains on (the rest is its held-out part)."""
    lines = [line for line in split_lines(text) if line.strip()]
    n_valid = round(len(lines) * valid_fraction)
    return "\n".join(lines[: len(lines) - n_valid]) if n_valid and len(lines) >= 10 else "\n".join(lines)


def final_pass(model: torch.nn.Module, ids: torch.Tensor, lr: float, bptt: int = 35, batch: int = 20) -> torch.nn.Module:
    """One epoch of training on the held-out ids (mechanism (a): learn from all of the text)."""
    model = copy.deepcopy(model).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batch = min(batch, max(1, ids.numel() // (bptt + 1)))
    data = ids[: ids.numel() // batch * batch].view(batch, -1).t().contiguous()
    hidden = model.init_hidden(data.size(1))
    for i in range(0, data.size(0) - 1, bptt):
        seq = min(bptt, data.size(0) - 1 - i)
        x, y = data[i : i + seq], data[i + 1 : i + 1 + seq]
        hidden = tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()
        logits, hidden = model(x, hidden)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return model.eval()


def fit_blends(model, vocab, lexicon, held_out: str, ngram, static_cfg: LearnConfig, dyn_cfg: LearnConfig):
    """Each mechanism's blend, fitted on the held-out part (static and dynamic passes)."""
    t = time.perf_counter()
    rows_s = held_out_parts(model, vocab, lexicon, held_out, ngram=ngram, config=static_cfg)
    rows_d = held_out_parts(model, vocab, lexicon, held_out, ngram=ngram, config=dyn_cfg)
    fits = {
        "cache": fit_weights(rows_s, ("net", "cache", "unigram")),
        "cache+phrases": fit_weights(rows_s, ("net", "cache", "unigram", "phrase")),
        "mixture": fit_weights(rows_s, ("net", "ngram")),
        "dyn+cache": fit_weights(rows_d, ("net", "cache", "unigram", "phrase")),
        "combined": fit_weights(rows_d, ("net", "ngram", "cache", "unigram", "phrase")),
    }
    held = {"net alone": log_likelihood(rows_s, Weights()), "3-gram alone": log_likelihood(rows_s, Weights(0, 1, 0, 0, 0))}
    held.update({name: log_likelihood(rows_d if name.startswith(("dyn", "comb")) else rows_s, w) for name, w in fits.items()})
    return fits, held, time.perf_counter() - t


def row(name: str, result, seconds: float) -> dict:
    return {"mechanism": name, "top1": result.top1, "top3": result.top3, "top5": result.top5,
            "ksr": result.ksr, "ppl": result.perplexity, "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", nargs=2, metavar=("FILE", "PREFIX"))
    parser.add_argument("--model")
    parser.add_argument("--corpus")
    parser.add_argument("--type", dest="typed")
    parser.add_argument("--lr", type=float, default=LearnConfig.dynamic_lr)
    parser.add_argument("--every", type=int, default=LearnConfig.dynamic_every)
    parser.add_argument("--decay", type=float, default=LearnConfig.cache_decay)
    parser.add_argument("--only", default="", help="comma-separated mechanisms to run (default all)")
    parser.add_argument("--retrained", help="the same model retrained on all of the corpus for the chosen epochs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.split:
        split_file(*args.split)
        return 0
    torch.set_num_threads(1)
    trained = load_model(args.model)
    text, typed = load_text(args.corpus), load_text(args.typed)
    corpus = Corpus.from_text(text, trained.data_config)
    assert corpus.vocab.keys == trained.vocab.keys, "the corpus gives another vocabulary than the model's"
    vocab, model = trained.vocab, trained.build_model()
    lex_train = Lexicon.from_tokens(tokenize(train_part(text, trained.data_config.valid_fraction)), vocab.lowercase)
    lex_all = Lexicon.from_tokens(tokenize(text), vocab.lowercase)
    kn_train = NGramLM.fit(corpus.train_ids, vocab, 3)
    kn_all = NGramLM.fit(torch.cat([corpus.train_ids, corpus.valid_ids]), vocab, 3)
    static_cfg = LearnConfig(dynamic=False, cache_decay=args.decay, dynamic_every=args.every)
    dyn_cfg = replace(static_cfg, dynamic=True, dynamic_lr=args.lr)

    fits, held, fit_s = fit_blends(model, vocab, lex_train, corpus.valid_text, kn_train, static_cfg, dyn_cfg)

    only = set(filter(None, args.only.split(",")))
    results: list[dict] = []

    def run(name: str, fn) -> None:
        if only and name not in only:
            return
        start = time.perf_counter()
        result = fn()
        results.append(row(name, result, time.perf_counter() - start))
        if not args.json:
            r = results[-1]
            print(f"{name:34s} top1 {r['top1']:.1%} top3 {r['top3']:.1%} KSR {r['ksr']:.1%} ppl {r['ppl']:.1f} ({r['seconds']:.0f} s)", flush=True)

    net32 = lambda m: NeuralLM(m, vocab, output_dtype=torch.float32)  # noqa: E731
    kn_full = NGramLM.from_corpus(Corpus.from_text(text, replace(trained.data_config, valid_fraction=0.0)), 3)
    run("KN 3-gram on all text (static)", lambda: evaluate(kn_full, typed))
    run("static (today)", lambda: evaluate(net32(model), typed))
    ev = lambda m, w, cfg, kn=None: evaluate_adaptive(m, vocab, lex_all, typed, ngram=kn, weights=w, config=cfg)  # noqa: E731
    run("open vocabulary", lambda: ev(model, Weights(), static_cfg))
    run("+ cache", lambda: ev(model, fits["cache"], static_cfg))
    run("+ cache + typed phrases", lambda: ev(model, fits["cache+phrases"], static_cfg))
    run("+ dynamic", lambda: ev(model, Weights(), dyn_cfg))
    run("+ mixture (KN on all text)", lambda: ev(model, fits["mixture"], static_cfg, kn_all))
    run("dynamic + cache", lambda: ev(model, fits["dyn+cache"], dyn_cfg))
    run("combined", lambda: ev(model, fits["combined"], dyn_cfg, kn_all))
    lr_end = trained.train_config.lr / 4  # a quarter of the starting rate: one gentle pass
    passed = final_pass(model, corpus.valid_ids, lr_end) if not only or "combined + final pass" in only else model
    run("combined + final pass", lambda: ev(passed, fits["combined"], dyn_cfg, kn_all))
    if args.retrained:
        again = load_model(args.retrained)
        all_corpus = Corpus.from_text(text, again.data_config)
        kn_again = NGramLM.fit(torch.cat([all_corpus.train_ids, all_corpus.valid_ids]), again.vocab, 3)
        run("combined, retrained on all text", lambda: evaluate_adaptive(
            again.build_model(), again.vocab, lex_all, typed, ngram=kn_again, weights=fits["combined"], config=dyn_cfg))
    summary = {"weights": {k: w.to_json() for k, w in fits.items()}, "held_out_loglik": held,
               "fit_seconds": fit_s, "config": dyn_cfg.to_json(), "rows": results}
    print(json.dumps(summary, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
