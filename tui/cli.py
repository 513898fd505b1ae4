"""The `nextword-tui` command: `nextword-tui [FILE]` opens the app; train / predict / continue /
eval / models / compare work headless.

Conventions, kept here once for every command:
* an error a user can cause (a bad file, a bad value, a missing model) is one line on stderr and
  exit status 2, never a traceback nor a usage block;
* the output going away is one line and status 1 (a full disk, /dev/full, an encoding that cannot
  show a word), or 141 when the reader of a pipe stopped early (`| head`): the status a shell gives
  a program killed by SIGPIPE, which is what tools written in C do;
* Ctrl-C is 130; the app exits 143 after SIGTERM, 129 after SIGHUP, 1 after a crash.
The engine (and so PyTorch) is imported only by the subcommands that need it: `--help` is quick.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from dataclasses import fields
from typing import Sequence

from tui.cli_progress import CancelFlag, LoadReporter, Reporter

SUBCOMMANDS = ("train", "prepare", "predict", "continue", "eval", "models", "compare")
EXIT_USAGE, EXIT_OUTPUT, EXIT_PIPE, EXIT_INTERRUPTED = 2, 1, 141, 130
DESCRIPTION = """\
Train RNN / LSTM / GRU next-word predictors on your text, and type with their suggestions.

  nextword-tui [FILE]     open the app on FILE (a corpus to edit and train on; a new file is
                          created when saved); without FILE, the last one, or a sample
  nextword-tui --serve    serve the app to a web browser instead
  nextword-tui COMMAND    work headless: the commands below (COMMAND --help for each)

A FILE named like a command, or a new file without a '.' in its name, needs a path: ./notes
"""


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point: every error ends here as one line and an exit status (see the module)."""
    from engine import NextwordError

    try:
        code = dispatch(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # a full disk shows here, not at exit after main has returned
        return code
    except NextwordError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        _say("Interrupted.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _drop_stdout()
        _say("nextword-tui: the output was closed before it was all written (broken pipe).")
        return EXIT_PIPE
    except UnicodeEncodeError as exc:
        _drop_stdout()
        encoding = getattr(sys.stdout, "encoding", None) or "?"
        return fail(f"the output's encoding ({encoding}) cannot show {exc.object[exc.start:exc.end]!r}: "
                    "set PYTHONIOENCODING=utf-8 (or use --json).", EXIT_OUTPUT)
    except OSError as exc:
        _drop_stdout()
        what = f"could not use {exc.filename}" if exc.filename else "could not write the output"
        return fail(f"{what}: {exc.strerror or exc}.", EXIT_OUTPUT)


def dispatch(argv: list[str]) -> int:
    if argv[:1] in (["--version"], ["-V"]):
        print(f"nextword-tui {version()}")
        return 0
    if argv[:1] == ["--print-completion"]:
        return print_completion(argv[1:])
    if not argv or argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help"):
        return open_app(argv)
    args = build_parser().parse_args(argv)
    return args.run(args)


def fail(message: str, status: int = EXIT_USAGE) -> int:
    """One line on stderr. The message may quote a path or the user's text: its control
    characters (a newline, an escape sequence) are shown, not obeyed."""
    from tui.safe import printable

    _say(f"nextword-tui: error: {printable(message)}")
    return status


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr is gone too: the exit status is all that is left


def _drop_stdout() -> None:
    """Send what is still buffered for stdout to /dev/null, so that Python's own flush at exit
    does not fail again (and print "Exception ignored")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def print_completion(argv: list[str]) -> int:
    """`--print-completion SHELL`: the commands and flags as a completion script, made by shtab
    from the same parser (so it never drifts from --help)."""
    shells = ("bash", "zsh", "tcsh")
    if len(argv) != 1 or argv[0] not in shells:
        return fail(f"--print-completion needs one shell: {', '.join(shells)} (e.g. nextword-tui "
                    "--print-completion bash > ~/.local/share/bash-completion/completions/nextword-tui).")
    import shtab

    print(shtab.complete(build_parser(), shell=argv[0]))
    return 0


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("nextword-tui")
    except PackageNotFoundError:
        return "unknown (not installed)"


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line that says where the help is (not a usage block)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:
        from tui.safe import printable

        _say(f"{self.prog}: error: {printable(message)} (see: {self.prog} --help)")
        raise SystemExit(EXIT_USAGE)


def open_app(argv: list[str]) -> int:
    parser = Parser(prog="nextword-tui", description=DESCRIPTION)
    parser.add_argument("corpus", nargs="?", metavar="FILE", help="text file to open in the corpus editor "
                        "(default: the last one, or the sample)")
    parser.add_argument("--serve", action="store_true", help="serve the app to a web browser (textual-serve) "
                        "instead of opening it here; one app per browser tab")
    parser.add_argument("--host", default="127.0.0.1", help="with --serve: the address to listen on "
                        "(default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="with --serve: the port (default: %(default)s)")
    parser.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    parser.add_argument("--print-completion", metavar="SHELL", help="print a completion script for bash, zsh "
                        "or tcsh and exit (default: none)")
    args = parser.parse_args(argv)
    if args.corpus is not None and looks_like_a_command(args.corpus):
        close = difflib.get_close_matches(args.corpus, SUBCOMMANDS, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"commands: {', '.join(SUBCOMMANDS)}"
        return fail(f"unknown command '{args.corpus}' ({hint}); to open a new file of that name: "
                    f"nextword-tui ./{args.corpus}")
    if args.serve:
        from tui.serve import serve

        return serve(args.corpus, host=args.host, port=args.port)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return fail("the app needs a terminal, and stdin or stdout is not one; from a script, use a "
                    f"command ({', '.join(SUBCOMMANDS)}: nextword-tui --help).")
    from tui.app import run_app

    return run_app(args.corpus)


def looks_like_a_command(name: str) -> bool:
    """A bare word that is no file here (no '.', no '/'): more likely a mistyped command than a
    new corpus. `./name` opens a new file of that name all the same."""
    return not os.path.lexists(name) and os.sep not in name and "/" not in name and "." not in name


def setting(parser: argparse.ArgumentParser, flag: str, config: type, name: str, help: str,
            metavar: str | None = None, default: object = None) -> None:
    """A flag for a setting of an engine config: parsed by engine.parse_setting (as the app's
    settings form parses it), its default shown from the config itself (or `default`)."""
    from engine import parse_setting

    def parse(text: str) -> object:
        from engine import ConfigError

        try:
            return parse_setting(config, name, text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in some messages
    shown = default if default is not None else {f.name: f.default for f in fields(config)}[name]
    shown = "none" if shown is None else shown
    parser.add_argument(flag, type=parse, metavar=metavar or name.upper(), help=f"{help} (default: {shown})")


def build_parser() -> argparse.ArgumentParser:
    from tui.cli_distributed import add_prepare_command
    from tui.cli_use import add_use_commands

    parser = Parser(prog="nextword-tui", description=DESCRIPTION)
    parser.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train_command(sub)
    add_prepare_command(sub)
    add_use_commands(sub)  # predict, continue, eval, models
    _add_compare_command(sub)
    return parser


def _add_train_command(sub: argparse._SubParsersAction) -> None:
    from engine import CELLS, DataConfig, ModelConfig, TrainConfig
    from tui.cli_distributed import add_train_flags, with_distributed

    train = sub.add_parser("train", help="train a model on a corpus and save it")
    train.add_argument("corpus", help="the UTF-8 text file to train on, or a folder made by `prepare`")
    train.add_argument("--cell", choices=CELLS, default="lstm", help="the recurrent cell (default: %(default)s)")
    train.add_argument("--name", help="model name, saved in the models folder (default: CELL-CORPUSHASH-DATE-TIME, "
                       "new for every run; an existing model of that name is replaced and kept in the trash)")
    setting(train, "--epochs", TrainConfig, "epochs", "passes over the corpus, at most", "N")
    setting(train, "--max-time", TrainConfig, "max_time", "time budget for training, in seconds", "SECONDS")
    setting(train, "--emb", ModelConfig, "emb", "word embedding size", "N")
    setting(train, "--hidden", ModelConfig, "hidden", "hidden size of each recurrent layer", "N")
    setting(train, "--layers", ModelConfig, "layers", "recurrent layers", "N")
    setting(train, "--dropout", ModelConfig, "dropout", "dropout on embeddings and between layers", "P")
    train.add_argument("--untied", action="store_true",
                       help="separate input and output word embeddings (default: one shared matrix)")
    setting(train, "--batch-size", TrainConfig, "batch_size", "sequences trained on at once", "N")
    setting(train, "--bptt", TrainConfig, "bptt", "tokens per truncated-BPTT chunk", "N")
    setting(train, "--lr", TrainConfig, "lr", "learning rate (Adam)", "RATE")
    setting(train, "--seed", TrainConfig, "seed", "random seed", "N")
    setting(train, "--min-freq", DataConfig, "min_freq", "rarer words become <unk>", "N",
            default="1 for small corpora, else 2")
    setting(train, "--max-vocab", DataConfig, "max_vocab", "the most words the vocabulary keeps", "N")
    train.add_argument("--keep-case", action="store_true",
                       help="match words case-sensitively (default: 'The' and 'the' are one word)")
    train.add_argument("--resume", action="store_true",
                       help="continue training the saved model --name (default: a new model)")
    train.add_argument("--json", action="store_true", help="print the result as one JSON object (default: a sentence)")
    train.add_argument("--keep-diverged", action="store_true",
                       help="save the model even when it is no better than guessing (default: such a run is not "
                       "saved, exit status 1)")
    add_train_flags(train)
    train.set_defaults(run=with_distributed(cmd_train))


def _add_compare_command(sub: argparse._SubParsersAction) -> None:
    from engine import ModelConfig, TrainConfig
    from tui.cli_compare import cmd_compare

    compare = sub.add_parser("compare", help="train RNN, LSTM and GRU with the same budget and compare them")
    compare.add_argument("corpus", help="the UTF-8 text file to train and evaluate on")
    compare.add_argument("--max-time", type=float, default=60.0, metavar="SECONDS",
                         help="training time per cell (default: %(default)s)")
    compare.add_argument("--json", action="store_true", help="print one JSON object (default: a table)")
    setting(compare, "--emb", ModelConfig, "emb", "embedding size of every network", "N")
    setting(compare, "--hidden", ModelConfig, "hidden", "hidden size of every network", "N")
    setting(compare, "--layers", ModelConfig, "layers", "recurrent layers of every network", "N")
    setting(compare, "--seed", TrainConfig, "seed", "random seed", "N")
    compare.add_argument("--threads", type=int, help="torch threads for training (default: torch's choice)")
    compare.add_argument("--probe", action="store_true", help="also run the long-range memory probe (recall a "
                         "word 5, 20, 50 tokens back; default: not run)")
    compare.add_argument("--probe-time", type=float, default=30.0, metavar="SECONDS",
                         help="probe training time per cell, split over its gaps (default: %(default)s)")
    compare.set_defaults(run=cmd_compare)


def _overrides(args: argparse.Namespace, names: dict[str, str]) -> dict:
    return {field: getattr(args, arg) for arg, field in names.items() if getattr(args, arg) is not None}


def cmd_train(args: argparse.Namespace) -> int:
    from engine import (ConfigError, check_name, format_perplexity, load_model, new_model_name,
                        no_better_than_uniform, train)
    from tui.cli_distributed import rank_log, saves, stop_flag, where_line

    if args.resume and args.name is None:
        raise ConfigError("--resume needs --name: the saved model to continue (`nextword-tui models` lists them).")
    data_config, model_config, train_config = _train_configs(args)
    if args.name is not None:
        check_name(args.name)  # before reading a corpus that may take minutes
    run = getattr(args, "dist_run", None)  # a rank of a torchrun run (tui/cli_distributed.py)
    log = rank_log(run, sys.stderr)
    corpus = _read_corpus(args, data_config, log)
    # Every run gets a folder of its own unless told otherwise: a new run never replaces a model
    # (and one saved over with --name goes to the trash, not away).
    name = args.name or new_model_name(args.cell, corpus.fingerprint)
    check_name(name)  # refuse a bad name before training, not after
    resume = load_model(name, with_optimizer=True) if args.resume else None
    if resume is not None:
        model_config = resume.model_config
    _describe(args, corpus, model_config, log)
    print(where_line(run, args.device, train_config.batch_size), file=log)

    stop = stop_flag(run)
    reporter = Reporter(log)
    with stop.on_signals():
        trained = train(corpus, model_config, train_config, on_event=reporter, should_stop=stop, resume=resume)
    reporter.close()
    if not saves(run):
        return 0  # rank 0 saves and reports
    if no_better_than_uniform(trained.metrics, len(trained.vocab)) and not args.keep_diverged:
        return fail(f"diverged (validation perplexity {format_perplexity(trained.metrics.get('valid_ppl'))}, "
                    "no better than guessing): not saved (use --keep-diverged to save it).", EXIT_OUTPUT)
    trained, path = _save_trained(args, trained, corpus, name, log)
    _print_trained(args, name, path, trained.metrics)
    return 0


def _train_configs(args: argparse.Namespace) -> tuple:
    """train's DataConfig, ModelConfig and TrainConfig from its flags (validated)."""
    from engine import DataConfig, ModelConfig, TrainConfig

    data_config = DataConfig(lowercase=not args.keep_case, **_overrides(args, {"min_freq": "min_freq", "max_vocab": "max_vocab"}))
    model_config = ModelConfig(cell=args.cell, **_overrides(args, {"emb": "emb", "hidden": "hidden", "layers": "layers", "dropout": "dropout"}))
    if args.untied:
        model_config = ModelConfig(**{**model_config.to_json(), "tied": False})
    train_config = TrainConfig(**_overrides(args, {
        "epochs": "epochs", "max_time": "max_time", "batch_size": "batch_size", "bptt": "bptt", "lr": "lr", "seed": "seed",
        "device": "device", "threads": "threads",
    }))
    train_config.validate()
    return data_config, model_config, train_config


def _read_corpus(args: argparse.Namespace, data_config: object, log) -> object:
    from tui.cli_distributed import read_corpus

    cancel, loading = CancelFlag(), LoadReporter(log)
    try:
        with cancel.on_signals():  # Ctrl-C: Corpus.from_file raises LoadCancelled, one line, exit 2
            return read_corpus(args, data_config, on_progress=loading, should_stop=cancel)
    finally:
        loading.close()


def _describe(args: argparse.Namespace, corpus, model_config, log) -> None:
    from engine import ModelConfig

    sized = ModelConfig(**{**model_config.to_json(), "vocab_size": len(corpus.vocab)})
    sized.validate()
    print(f"Corpus: {corpus.stats.summary()}", file=log)
    print(f"Model: {args.cell}, {sized.param_count():,} parameters", file=log)


def _save_trained(args: argparse.Namespace, trained, corpus, name: str, log) -> tuple:
    """Save the trained model (with its learning setup, fitted on the held-out text): (trained, path)."""
    from engine import save_model
    from tui.cli_distributed import is_prepared_corpus

    if is_prepared_corpus(args.corpus):  # the learning setup reads the whole text into memory
        print("A prepared corpus: no learning setup is fitted (train on the text file for one).", file=log)
        return trained, save_model(trained, name)
    # Fit the blend on the held-out part, then the final pass over it; the setup goes beside the model.
    from engine import CorpusError, learn_after_training, load_text, save_setup

    print("Fitting the blend on the held-out text, then learning from it too...", file=log)
    try:
        text = load_text(args.corpus)
    except CorpusError:  # too big to read whole: the lexicon is then the vocabulary's words
        text = None
    trained, setup = learn_after_training(trained, corpus, text)
    path = save_model(trained, name)
    save_setup(path, setup, trained.vocab)
    return trained, path


def _print_trained(args: argparse.Namespace, name: str, path, metrics: dict) -> None:
    from engine import format_perplexity

    if args.json:
        print(json.dumps({"name": name, "path": str(path), "cell": args.cell, **metrics}))
    else:
        print(
            f"Saved {name} ({path}): validation perplexity {format_perplexity(metrics['valid_ppl'])}, "
            f"top-1 {metrics['top1']:.1%}, top-3 {metrics['top3']:.1%}, KSR {metrics['ksr'] or 0:.1%}, "
            f"{metrics['epochs']} epochs in {metrics['train_time']:.0f} s ({metrics['tokens_per_s']:,.0f} tokens/s, "
            f"stopped: {metrics['stopped']})"
        )


if __name__ == "__main__":
    sys.exit(main())
