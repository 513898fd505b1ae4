"""The `nextword-tui` command: no subcommand opens the app; train / predict / eval / models work headless.

Errors a user can cause print one line on stderr and exit with status 2, never a traceback.
The engine (and so PyTorch) is imported only by the subcommands that need it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import time
from typing import Sequence

SUBCOMMANDS = ("train", "predict", "eval", "models", "compare")
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help"):
        return open_app(argv)
    args = build_parser().parse_args(argv)
    from engine.errors import NextwordError

    try:
        return args.run(args)
    except NextwordError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def fail(message: str) -> int:
    """One line on stderr, exit status 2. The message may quote a path or the user's text: its
    control characters (a newline, an escape sequence) are shown, not obeyed."""
    from tui.safe import printable

    print(f"nextword-tui: error: {printable(message)}", file=sys.stderr)
    return EXIT_USAGE


def open_app(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nextword-tui", description="Open the app (optionally with a corpus file).")
    parser.add_argument("corpus", nargs="?", help="text file to open in the corpus editor")
    parser.add_argument("--serve", action="store_true", help="serve the app to a web browser (textual-serve) "
                        "instead of opening it here; one app per browser tab")
    parser.add_argument("--host", default="127.0.0.1", help="with --serve: the address to listen on "
                        "(default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="with --serve: the port (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.serve:
        from tui.serve import serve

        return serve(args.corpus, host=args.host, port=args.port)
    from tui.app import run_app

    return run_app(args.corpus)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nextword-tui",
        description="Train RNN / LSTM / GRU next-word predictors on your text. Without a subcommand, opens the app.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model on a corpus and save it")
    train.add_argument("corpus", help="UTF-8 text file")
    train.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="lstm")
    train.add_argument("--name", help="model name, saved in the models folder (default: CELL-CORPUSHASH-DATE-TIME, "
                       "new for every run; an existing model of that name is replaced and kept in the trash)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--max-time", type=float, metavar="SECONDS", help="time budget for training")
    train.add_argument("--emb", type=int)
    train.add_argument("--hidden", type=int)
    train.add_argument("--layers", type=int)
    train.add_argument("--dropout", type=float)
    train.add_argument("--untied", action="store_true", help="separate input and output word embeddings")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--bptt", type=int, help="tokens per truncated-BPTT chunk")
    train.add_argument("--lr", type=float)
    train.add_argument("--seed", type=int)
    train.add_argument("--min-freq", type=int, help="rarer words become <unk> (default: 1 for small corpora, else 2)")
    train.add_argument("--max-vocab", type=int)
    train.add_argument("--keep-case", action="store_true", help="match words case-sensitively")
    train.add_argument("--resume", action="store_true", help="continue training the saved model NAME")
    train.add_argument("--json", action="store_true", help="print the result as one JSON object")
    train.set_defaults(run=cmd_train)

    predict = sub.add_parser("predict", help="suggest the next word or complete the last one")
    predict.add_argument("--model", required=True, metavar="NAME_OR_PATH")
    predict.add_argument("-k", type=int, default=5)
    predict.add_argument("--json", action="store_true")
    predict.add_argument("text", help="ends with a space: next word; otherwise: completions of its last word")
    predict.set_defaults(run=cmd_predict)

    evaluate = sub.add_parser("eval", help="perplexity, top-k accuracy and keystroke savings on a text")
    evaluate.add_argument("--model", required=True, metavar="NAME_OR_PATH")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--no-ksr", action="store_true", help="skip keystroke savings (faster)")
    evaluate.add_argument("--static", action="store_true",
                          help="the network alone, its vocabulary only, no learning while typing "
                               "(default: type the text in order, learning as the app does)")
    evaluate.add_argument("corpus")
    evaluate.set_defaults(run=cmd_eval)

    models = sub.add_parser("models", help="list saved models; rename, rm (to the trash), export, import one")
    models.add_argument("--json", action="store_true")
    models.set_defaults(run=cmd_models)
    from tui.cli_models import add_model_commands

    add_model_commands(models)

    compare = sub.add_parser("compare", help="train RNN, LSTM and GRU with the same budget and compare them")
    compare.add_argument("corpus")
    compare.add_argument("--max-time", type=float, default=60.0, metavar="SECONDS", help="per cell")
    compare.add_argument("--json", action="store_true")
    compare.add_argument("--emb", type=int, help="embedding size of every network (default 256)")
    compare.add_argument("--hidden", type=int, help="hidden size of every network (default 256)")
    compare.add_argument("--layers", type=int, help="recurrent layers of every network (default 1)")
    compare.add_argument("--seed", type=int)
    compare.add_argument("--threads", type=int, help="torch threads for training (default: torch's choice)")
    compare.add_argument("--probe", action="store_true",
                         help="also run the long-range memory probe (recall a word 5, 20, 50 tokens back)")
    compare.add_argument("--probe-time", type=float, default=30.0, metavar="SECONDS",
                         help="probe training time per cell, split over its gaps (default 30)")
    compare.set_defaults(run=cmd_compare)
    return parser


def _overrides(args: argparse.Namespace, names: dict[str, str]) -> dict:
    return {field: getattr(args, arg) for arg, field in names.items() if getattr(args, arg) is not None}


def cmd_train(args: argparse.Namespace) -> int:
    from engine import Corpus, DataConfig, ModelConfig, TrainConfig, load_model, new_model_name, save_model, train
    from engine.errors import ConfigError
    from engine.store import check_name

    if args.resume and args.name is None:
        raise ConfigError("--resume needs --name: the saved model to continue (`nextword-tui models` lists them).")

    data_config = DataConfig(lowercase=not args.keep_case, **_overrides(args, {"min_freq": "min_freq", "max_vocab": "max_vocab"}))
    model_config = ModelConfig(cell=args.cell, **_overrides(args, {"emb": "emb", "hidden": "hidden", "layers": "layers", "dropout": "dropout"}))
    if args.untied:
        model_config = ModelConfig(**{**model_config.to_json(), "tied": False})
    train_config = TrainConfig(**_overrides(args, {
        "epochs": "epochs", "max_time": "max_time", "batch_size": "batch_size", "bptt": "bptt", "lr": "lr", "seed": "seed",
    }))
    train_config.validate()
    if args.name is not None:
        check_name(args.name)  # before reading a corpus that may take minutes
    log = sys.stderr
    cancel, loading = _CancelFlag(), _LoadReporter(log)
    try:
        with cancel.on_signals():  # Ctrl-C: Corpus.from_file raises LoadCancelled, one line, exit 2
            corpus = Corpus.from_file(args.corpus, data_config, on_progress=loading, should_stop=cancel)
    finally:
        loading.close()
    # Every run gets a folder of its own unless told otherwise: a new run never replaces a model
    # (and one saved over with --name goes to the trash, not away).
    name = args.name or new_model_name(args.cell, corpus.fingerprint)
    check_name(name)  # refuse a bad name before training, not after
    resume = load_model(name, with_optimizer=True) if args.resume else None
    if resume is not None:
        model_config = resume.model_config
    sized = ModelConfig(**{**model_config.to_json(), "vocab_size": len(corpus.vocab)})
    sized.validate()
    print(f"Corpus: {corpus.stats.summary()}", file=log)
    print(f"Model: {args.cell}, {sized.param_count():,} parameters", file=log)

    stop = _StopFlag()
    reporter = _Reporter(log)
    with stop.on_signals():
        trained = train(corpus, model_config, train_config, on_event=reporter, should_stop=stop, resume=resume)
    reporter.close()
    # Fit the blend on the held-out part, then the final pass over it; the setup goes beside the model.
    from engine import learn_after_training, load_text, save_setup

    print("Fitting the blend on the held-out text, then learning from it too...", file=log)
    trained, setup = learn_after_training(trained, corpus, load_text(args.corpus))
    path = save_model(trained, name)
    save_setup(path, setup, trained.vocab)
    metrics = trained.metrics
    if args.json:
        print(json.dumps({"name": name, "path": str(path), "cell": args.cell, **metrics}))
    else:
        print(
            f"Saved {name} ({path}): validation perplexity {metrics['valid_ppl']:.2f}, "
            f"top-1 {metrics['top1']:.1%}, top-3 {metrics['top3']:.1%}, KSR {metrics['ksr'] or 0:.1%}, "
            f"{metrics['epochs']} epochs in {metrics['train_time']:.0f} s ({metrics['tokens_per_s']:,.0f} tokens/s, "
            f"stopped: {metrics['stopped']})"
        )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from engine import Predictor, load_model

    if not 1 <= args.k <= 1000:
        return fail("-k must be from 1 to 1000.")
    suggestions = Predictor(load_model(args.model).language_model()).suggest(args.text, args.k)
    if args.json:
        print(json.dumps([{"word": s.word, "prob": s.prob, "remainder": s.remainder} for s in suggestions]))
    else:
        from tui.safe import printable

        for s in suggestions:
            print(f"{printable(s.word)}\t{s.prob:.4f}")  # a word learned from an escape sequence stays inert
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from engine import evaluate, load_model, load_text

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
            f"{label}: perplexity {result.perplexity:.2f}  top-1 {result.top1:.1%}  top-3 {result.top3:.1%}  "
            f"top-5 {result.top5:.1%}  KSR {ksr}  ({result.tokens:,} tokens)"
        )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from engine import list_models
    from engine.compare import format_number as num

    infos = list_models()
    if args.json:
        print(json.dumps([
            {"name": i.name, "path": str(i.path), "cell": i.cell, "params": i.params, "metrics": i.metrics,
             "corpus_fingerprint": i.corpus_fingerprint, "saved_at": i.saved_at}
            for i in infos
        ]))
        return 0
    if not infos:
        print("No saved models yet: train one with `nextword-tui train CORPUS --cell lstm`.")
        return 0
    print(f"{'name':<24} {'cell':<5} {'params':>10} {'ppl':>9} {'top-1':>6} {'top-3':>6} {'KSR':>6}  saved")
    for i in infos:
        m = i.metrics
        saved = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.saved_at))
        print(f"{i.name:<24} {i.cell:<5} {i.params:>10,} {num(m.get('valid_ppl'), '.1f'):>9} "
              f"{num(m.get('top1'), '.1%'):>6} {num(m.get('top3'), '.1%'):>6} {num(m.get('ksr'), '.1%'):>6}  {saved}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from engine import EpochEnd, ModelConfig, Notice, TrainConfig, load_text
    from engine.compare import LABELS, CellDone, CellEvent, CellStart, compare
    from engine.compare import format_number as num
    from engine.errors import ConfigError

    if not (math.isfinite(args.max_time) and args.max_time > 0):
        return fail("--max-time must be a number of seconds above 0.")
    if args.threads is not None and not 1 <= args.threads <= 1024:
        return fail("--threads must be a whole number from 1 to 1024.")
    if args.probe and not (math.isfinite(args.probe_time) and args.probe_time > 0):
        return fail("--probe-time must be a number of seconds above 0.")
    model_config = replace(ModelConfig(), **_overrides(args, {"emb": "emb", "hidden": "hidden", "layers": "layers"}))
    if model_config.emb != model_config.hidden and model_config.tied:
        if args.emb is not None and args.hidden is not None:
            raise ConfigError(f"Tied weights need --emb == --hidden (got {args.emb} and {args.hidden}).")
        size = args.hidden if args.hidden is not None else args.emb
        model_config = replace(model_config, emb=size, hidden=size)
    train_config = TrainConfig(**_overrides(args, {"seed": "seed"}))
    text = load_text(args.corpus)
    log = sys.stderr
    stop = _StopFlag()

    def on_event(event: object) -> None:
        if isinstance(event, CellStart):
            what = "fitting" if event.cell == "ngram" else f"training for {args.max_time:g} s:"
            print(f"[{event.index + 1}/{event.count}] {LABELS[event.cell]}: {what}", file=log, flush=True)
        elif isinstance(event, CellEvent) and isinstance(event.event, EpochEnd):
            e = event.event
            print(f"  {LABELS[event.cell]} epoch {e.epoch}: train loss {e.train_loss:.3f}, validation perplexity "
                  f"{e.valid_ppl:.2f}, {e.elapsed:.0f} s", file=log, flush=True)
        elif isinstance(event, CellEvent) and isinstance(event.event, Notice):
            print(f"  {LABELS[event.cell]}: {event.event.message}", file=log, flush=True)
        elif isinstance(event, CellDone):
            r = event.row
            print(f"  {r.label} done: perplexity {num(r.valid_ppl, '.2f')}, top-1 {r.top1:.1%}, "
                  f"suggest p50 {r.latency_p50_ms:.3f} ms", file=log, flush=True)

    with stop.on_signals():
        result = compare(text, args.max_time, model_config, train_config, on_event=on_event, should_stop=stop,
                         threads=args.threads)
        probe = None
        if args.probe and not stop():
            from engine.probe import run_probe

            print(f"Long-range probe: {args.probe_time:g} s per cell...", file=log, flush=True)
            probe = run_probe(seconds_per_cell=args.probe_time, seed=train_config.seed, should_stop=stop)
    if args.json:
        out = result.to_json()
        if probe is not None:
            out["probe"] = probe.to_json()
        print(json.dumps(out))
    else:
        print(result.format_table())
        if probe is not None:
            print()
            print(probe.format_table())
    return 0


class _StopFlag:
    """should_stop for train(): set by the first Ctrl-C, SIGTERM or SIGHUP (terminal closed), so
    training ends after the current batch and the best model so far is still saved."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self) -> None:
        self.stopped = False

    def __call__(self) -> bool:
        return self.stopped

    def _handle(self, signum: int, frame: object) -> None:
        if self.stopped and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stopped = True
        try:
            print("\nStopping after this batch; the best model so far will be saved "
                  "(Ctrl-C again to abort)...", file=sys.stderr)
        except OSError:
            pass  # the terminal is gone (SIGHUP): stop quietly

    @contextlib.contextmanager
    def on_signals(self):
        previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _CancelFlag(_StopFlag):
    """should_stop for loading a corpus: the first Ctrl-C, SIGTERM or SIGHUP cancels it quietly."""

    def _handle(self, signum: int, frame: object) -> None:
        if self.stopped and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stopped = True


class _LoadReporter:
    """Corpus.from_file progress (only big files report before the end): a transient bar on a
    terminal, a line every 5 seconds otherwise."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.last_line = -math.inf
        self.progress = None

    def __call__(self, fraction: float, message: str) -> None:
        if fraction >= 1.0:
            return
        if self.stream.isatty():
            if self.progress is None:
                from rich.console import Console
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

                self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                         TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
                                         console=Console(file=self.stream), transient=True)
                self.task = self.progress.add_task(message, total=1.0)
                self.progress.start()
            self.progress.update(self.task, completed=fraction, description=message)
        elif time.monotonic() - self.last_line >= 5:
            self.last_line = time.monotonic()
            print(f"Loading the corpus: {fraction:.0%} ({message})", file=self.stream, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class _Reporter:
    """Training events -> a progress bar on a terminal, plain lines otherwise."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_line = 0.0
        self.progress = None
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("epoch {task.fields[epoch]}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                TextColumn("loss {task.fields[loss]}  {task.fields[speed]} tok/s"),
                console=Console(file=stream),
                transient=True,
            )
            self.task = self.progress.add_task("train", total=1.0, epoch="-", loss="-", speed="-")
            self.progress.start()

    def __call__(self, event: object) -> None:
        from engine import EpochEnd, Notice, Progress

        if isinstance(event, Progress):
            if self.progress is not None:
                self.progress.update(self.task, completed=event.fraction, epoch=f"{event.epoch}/{event.epochs}",
                                     loss=f"{event.train_loss:.3f}", speed=f"{event.tokens_per_s:,.0f}")
            elif time.monotonic() - self.last_line >= 5:
                self.last_line = time.monotonic()
                self._print(f"epoch {event.epoch} step {event.step}/{event.steps_per_epoch} "
                            f"loss {event.train_loss:.3f} {event.tokens_per_s:,.0f} tok/s {event.fraction:.0%}")
        elif isinstance(event, EpochEnd):
            mark = " *" if event.improved else ""
            self._print(f"epoch {event.epoch}: train loss {event.train_loss:.3f}, validation perplexity "
                        f"{event.valid_ppl:.2f}, lr {event.lr:.2g}, {event.elapsed:.0f} s{mark}")
        elif isinstance(event, Notice):
            self._print(event.message)

    def _print(self, line: str) -> None:
        if self.progress is not None:
            self.progress.console.print(line, highlight=False, markup=False)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


if __name__ == "__main__":
    sys.exit(main())
