"""The commands that use a saved model: `predict`, `continue`, `eval` and `models` (its rename, rm,
export and import are tui/cli_models.py). Errors follow tui/cli.py's conventions."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time


def add_use_commands(sub: argparse._SubParsersAction) -> None:
    """predict, continue, eval and models, in that order (as --help lists them)."""
    _add_predict(sub)
    _add_continue(sub)
    _add_eval(sub)
    _add_models(sub)


def _model_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="NAME_OR_PATH",
                        help="a saved model's name (nextword-tui models lists them) or its folder; required")


def _add_predict(sub: argparse._SubParsersAction) -> None:
    predict = sub.add_parser("predict", help="suggest the next word or complete the last one")
    _model_flag(predict)
    predict.add_argument("-k", type=int, default=5, help="how many suggestions, 1 to 1000 (default: %(default)s)")
    predict.add_argument("--json", action="store_true", help="print a JSON list (default: word<TAB>probability lines)")
    predict.add_argument("text", help="ends with a space: next word; otherwise: completions of its last word")
    predict.set_defaults(run=cmd_predict)


def _add_continue(sub: argparse._SubParsersAction) -> None:
    write = sub.add_parser("continue", help="write on from a prompt, word by word, as the model would")
    _model_flag(write)
    write.add_argument("prompt", help="the text to continue")
    write.add_argument("--words", type=int, default=20, help="words to add at most, 1 to 1000; it stops at the "
                       "end of a line (default: %(default)s)")
    write.add_argument("--temperature", type=float, default=0.8,
                       help="0: always the likeliest word; higher: more varied (default: %(default)s)")
    write.add_argument("--top-k", type=int, default=20,
                       help="choose among the k likeliest words only (default: %(default)s)")
    write.add_argument("--seed", type=int, help="random seed, for a repeatable text (default: a new one each time)")
    write.add_argument("--json", action="store_true", help="print a JSON object (default: the whole text)")
    write.set_defaults(run=cmd_continue)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    evaluate = sub.add_parser("eval", help="perplexity, top-k accuracy and keystroke savings on a text")
    _model_flag(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object (default: one line)")
    evaluate.add_argument("--no-ksr", action="store_true", help="skip keystroke savings, faster (default: measured)")
    evaluate.add_argument("--static", action="store_true",
                          help="the network alone, its vocabulary only, no learning while typing "
                               "(default: type the text in order, learning as the app does)")
    evaluate.add_argument("corpus", help="the UTF-8 text file to evaluate on")
    evaluate.set_defaults(run=cmd_eval)


def _add_models(sub: argparse._SubParsersAction) -> None:
    from tui.cli_models import add_model_commands

    models = sub.add_parser("models", help="list saved models; rename, rm (to the trash), export, import one")
    models.add_argument("--json", action="store_true", help="print a JSON list (default: a table)")
    models.set_defaults(run=cmd_models)
    add_model_commands(models)


def cmd_predict(args: argparse.Namespace) -> int:
    from engine import Predictor, load_model

    if not 1 <= args.k <= 1000:
        from tui.cli import fail

        return fail("-k must be from 1 to 1000.")
    suggestions = Predictor(load_model(args.model).language_model()).suggest(args.text, args.k)
    if args.json:
        print(json.dumps([{"word": s.word, "prob": s.prob, "remainder": s.remainder} for s in suggestions]))
    else:
        from tui.safe import printable

        for s in suggestions:
            print(f"{printable(s.word)}\t{s.prob:.4f}")  # a word learned from an escape sequence stays inert
    return 0


def cmd_continue(args: argparse.Namespace) -> int:
    from engine import NO_SPACE_BEFORE, ConfigError, Predictor, load_model

    if not 1 <= args.words <= 1000:
        raise ConfigError("--words must be from 1 to 1000.")
    if not (math.isfinite(args.temperature) and 0 <= args.temperature <= 100):
        raise ConfigError("--temperature must be a number from 0 to 100.")
    if not 1 <= args.top_k <= 100_000:
        raise ConfigError("--top-k must be from 1 to 100,000.")
    predictor = Predictor(load_model(args.model).language_model())
    added = predictor.continue_text(args.prompt, n_words=args.words, temperature=args.temperature,
                                    top_k=args.top_k, seed=args.seed)
    glue = "" if not (added and args.prompt) or args.prompt[-1].isspace() or added[0] in NO_SPACE_BEFORE else " "
    text = args.prompt + glue + added
    if args.json:
        print(json.dumps({"prompt": args.prompt, "added": glue + added, "text": text}))
    else:
        from tui.safe import printable

        print(printable(text))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from engine import evaluate, format_perplexity, load_model, load_text

    from engine import adaptive_evaluate, resolve_model

    trained = load_model(args.model)
    text = load_text(args.corpus)
    static = evaluate(trained.language_model(), text, ksr=not args.no_ksr)
    # The default types the text in order with the learning the app does (every word of the corpus,
    # the n-gram mixture, the cache, the online update); --static is the network alone.
    adaptive, blend, note = (None, "", "") if args.static else adaptive_evaluate(
        trained, resolve_model(args.model), text, ksr=not args.no_ksr)
    if note:
        print(note, file=sys.stderr)
    shown = adaptive or static
    if args.json:
        both = {"static": static.to_json(), **({"adaptive": adaptive.to_json(), "blend": blend} if adaptive else {})}
        print(json.dumps({**shown.to_json(), "kind": "adaptive" if adaptive else "static", **both}))
        return 0
    for kind, result in (("adaptive", adaptive), ("static", static)):
        if result is None:
            continue
        ksr = "n/a" if result.ksr is None else f"{result.ksr:.1%}"
        label = f"adaptive ({blend}, learning while typing)" if kind == "adaptive" else "static (network alone)"
        print(
            f"{label}: perplexity {format_perplexity(result.perplexity)}  top-1 {result.top1:.1%}  top-3 {result.top3:.1%}  "
            f"top-5 {result.top5:.1%}  KSR {ksr}  ({result.tokens:,} tokens)"
        )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from engine import format_number as num
    from engine import damaged_models, format_perplexity, list_models
    from tui.cli import _say
    from tui.safe import printable

    infos, damaged = list_models(), damaged_models()
    if args.json:  # a damaged model is listed too, as {"name", "path", "damaged": why}
        print(json.dumps([
            {"name": i.name, "path": str(i.path), "cell": i.cell, "params": i.params, "metrics": i.metrics,
             "corpus_fingerprint": i.corpus_fingerprint, "saved_at": i.saved_at}
            for i in infos
        ] + [{"name": name, "path": str(path), "damaged": why} for name, path, why in damaged]))
        return 0
    for name, _path, why in damaged:  # on stderr: the table on stdout stays a table
        _say(f"nextword-tui: {printable(name)} is damaged and cannot be used: {printable(why)}")
    if not infos:
        print("No usable saved models" if damaged else "No saved models yet",
              ": train one with `nextword-tui train CORPUS --cell lstm`.", sep="")
        return 0
    print(f"{'name':<24} {'cell':<5} {'params':>10} {'ppl':>9} {'top-1':>6} {'top-3':>6} {'KSR':>6}  saved")
    for i in infos:
        m = i.metrics
        saved = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.saved_at))
        print(f"{i.name:<24} {i.cell:<5} {i.params:>10,} {format_perplexity(m.get('valid_ppl'), '.1f'):>9} "
              f"{num(m.get('top1'), '.1%'):>6} {num(m.get('top3'), '.1%'):>6} {num(m.get('ksr'), '.1%'):>6}  {saved}")
    return 0
