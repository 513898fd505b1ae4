"""The command line's share of big corpora, devices and distributed runs:

    nextword-tui prepare CORPUS [--out DIR]            tokenize once, in parallel, into DIR
    nextword-tui train DIR_OR_CORPUS --device cuda:1   a prepared folder trains like its text
    torchrun --nproc-per-node 2 -m tui.cli train --distributed CORPUS ...   DDP, one rank a process

Under torchrun every rank runs `cmd_train`; rank 0 alone logs, prints and saves (the other ranks'
log goes to /dev/null, their errors still to stderr), and all of them meet at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

from tui.cli_progress import LoadReporter, StopFlag


def add_train_flags(train: argparse.ArgumentParser) -> None:
    """train's flags for the device, the threads and distributed runs."""
    train.add_argument("--device", help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")
    train.add_argument("--threads", type=int, metavar="N",
                       help="CPU threads for training (default: all cores but one; under torchrun: 1 per process)")
    train.add_argument("--distributed", action="store_true",
                       help="one rank of a DDP run started by torchrun: torchrun --nproc-per-node N -m "
                            "tui.cli train --distributed CORPUS ... (default: one process)")


def add_prepare_command(sub: argparse._SubParsersAction) -> None:
    prepare = sub.add_parser("prepare", help="tokenize a corpus once into a folder that `train` reads memory-mapped")
    prepare.add_argument("corpus", help="the UTF-8 text file, of any size")
    prepare.add_argument("--out", metavar="DIR", help="the folder to write (default: CORPUS.prepared beside it); "
                         "an earlier prepared folder there is replaced once the new one is complete")
    prepare.add_argument("--min-freq", type=int, metavar="N", help="rarer words become <unk> (default: 1 for small corpora, else 2)")
    prepare.add_argument("--max-vocab", type=int, metavar="N", help="the most words the vocabulary keeps (default: 20000)")
    prepare.add_argument("--keep-case", action="store_true",
                         help="match words case-sensitively (default: 'The' and 'the' are one word)")
    prepare.add_argument("--workers", type=int, metavar="N", help="tokenizing processes (default: one per core)")
    prepare.add_argument("--json", action="store_true", help="print the result as one JSON object (default: a sentence)")
    prepare.set_defaults(run=cmd_prepare)


def cmd_prepare(args: argparse.Namespace) -> int:
    from engine import ConfigError, DataConfig, prepare, prepared_summary

    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise ConfigError("--workers must be a whole number from 1 to 1024.")
    overrides = {k: v for k, v in (("min_freq", args.min_freq), ("max_vocab", args.max_vocab)) if v is not None}
    config = DataConfig(lowercase=not args.keep_case, **overrides)
    started = time.perf_counter()
    reporter = LoadReporter(sys.stderr)
    try:
        out = prepare(args.corpus, args.out, config, workers=args.workers, on_progress=reporter)
    finally:
        reporter.close()
    summary = {"path": str(out), **prepared_summary(out), "seconds": time.perf_counter() - started}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"Prepared {out}: {summary['tokens']:,} tokens ({summary['dtype']}), vocabulary {summary['vocab_size']:,}, "
              f"train {summary['train_tokens']:,} tokens, in {summary['seconds']:.0f} s. "
              f"Train with: nextword-tui train {out}")
    return 0


def start_run(args: argparse.Namespace):
    """--distributed: join torchrun's run before the corpus is read (a missing torchrun fails at
    once); None for a single process."""
    if not args.distributed:
        return None
    from engine import init_distributed

    return init_distributed(args.device or "auto")


def rank_log(run, stream):
    """Rank 0 logs; the other ranks' progress would only repeat it."""
    return stream if run is None or run.is_main else open(os.devnull, "w")


def is_prepared_corpus(path: str) -> bool:
    from engine import is_prepared

    return is_prepared(path)


def read_corpus(args: argparse.Namespace, data_config, on_progress, should_stop):
    """A prepared folder (memory-mapped; the data flags, if any, must match it) or a text file."""
    from engine import Corpus, load_prepared

    if is_prepared_corpus(args.corpus):
        explicit = args.min_freq is not None or args.max_vocab is not None or args.keep_case
        corpus = load_prepared(args.corpus, data_config if explicit else None)
        on_progress(1.0, "Loaded the prepared corpus")
        return corpus
    return Corpus.from_file(args.corpus, data_config, on_progress=on_progress, should_stop=should_stop)


class RankStopFlag(StopFlag):
    """A rank's should_stop: the first Ctrl-C, SIGTERM or SIGHUP stops the run after this step, on
    every rank (the stop is agreed in training). It never turns into KeyboardInterrupt: under
    torchrun a Ctrl-C reaches each rank twice (from the terminal and forwarded by torchrun), and
    torchrun kills the ranks itself if they take longer than its shutdown timeout (30 s)."""

    def __init__(self, main: bool) -> None:
        super().__init__()
        self.main = main

    def _handle(self, signum: int, frame: object) -> None:
        if not self.stopped and self.main:
            try:
                print(f"\n{signal.Signals(signum).name}: stopping every rank after this step; rank 0 saves "
                      "the best model so far...", file=sys.stderr, flush=True)
            except OSError:
                pass
        self.stopped = True


def where_line(run, device_name: str | None, batch_size: int) -> str:
    """The log's line about the device (and the processes): "Training on cpu (bf16)"."""
    from engine import describe_device, pick_device

    device = run.device if run is not None else pick_device(device_name or "auto")
    line = f"Training on {describe_device(device)}"
    if run is not None and run.active:
        backend = "nccl" if device.type == "cuda" else "gloo"
        line += f", {run.world} processes ({backend}), {batch_size // run.world} of {batch_size} streams each"
    return line


def stop_flag(run) -> StopFlag:
    return StopFlag() if run is None else RankStopFlag(run.is_main)


def end_run(run) -> None:
    """Every rank waits until rank 0 has saved, then leaves the process group."""
    if run is not None:
        from engine import finish_distributed

        finish_distributed(run)


def with_distributed(cmd_train):
    """`cmd_train` inside the run's lifetime: under --distributed it joins the process group
    first (as `args.dist_run`; None otherwise) and meets the other ranks at the end. After an
    error it leaves without waiting: the others' next collective fails, and they stop too."""

    def run_train(args: argparse.Namespace) -> int:
        args.dist_run = start_run(args)
        try:
            code = cmd_train(args)
        except BaseException:
            _abandon(args.dist_run)
            raise
        end_run(args.dist_run)
        return code

    return run_train


def _abandon(run) -> None:
    if run is not None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def saves(run) -> bool:
    """Whether this process saves and reports the model: rank 0, or the only process."""
    return run is None or run.is_main
