"""`nextword-tui compare`: RNN, LSTM and GRU (and the n-gram) trained with the same budget on one
corpus, with the measured table; optionally the long-range memory probe."""

from __future__ import annotations

import argparse
import json
import math
import sys

from tui.cli_progress import StopFlag


def cmd_compare(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from engine import ModelConfig, TrainConfig, load_text
    from engine import compare
    from engine import ConfigError
    from tui.cli import _overrides

    if not (math.isfinite(args.max_time) and args.max_time > 0):
        raise ConfigError("--max-time must be a number of seconds above 0.")
    if args.threads is not None and not 1 <= args.threads <= 1024:
        raise ConfigError("--threads must be a whole number from 1 to 1024.")
    if args.probe and not (math.isfinite(args.probe_time) and args.probe_time > 0):
        raise ConfigError("--probe-time must be a number of seconds above 0.")
    model_config = replace(ModelConfig(), **_overrides(args, {"emb": "emb", "hidden": "hidden", "layers": "layers"}))
    if model_config.emb != model_config.hidden and model_config.tied:
        if args.emb is not None and args.hidden is not None:
            raise ConfigError(f"Tied weights need --emb == --hidden (got {args.emb} and {args.hidden}).")
        size = args.hidden if args.hidden is not None else args.emb
        model_config = replace(model_config, emb=size, hidden=size)
    train_config = TrainConfig(**_overrides(args, {"seed": "seed"}))
    text = load_text(args.corpus)
    log = sys.stderr
    stop = StopFlag()
    on_event = _printer(args, log)
    with stop.on_signals():
        result = compare(text, args.max_time, model_config, train_config, on_event=on_event, should_stop=stop,
                         threads=args.threads)
        probe = None
        if args.probe and not stop():
            from engine import run_probe

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


def _printer(args: argparse.Namespace, log):
    """compare's on_event: a line on `log` for each cell started and done, each epoch, each notice."""
    from engine import LABELS, CellDone, CellEvent, CellStart, EpochEnd, Notice, format_perplexity

    def on_event(event: object) -> None:
        if isinstance(event, CellStart):
            what = "fitting" if event.cell == "ngram" else f"training for {args.max_time:g} s:"
            print(f"[{event.index + 1}/{event.count}] {LABELS[event.cell]}: {what}", file=log, flush=True)
        elif isinstance(event, CellEvent) and isinstance(event.event, EpochEnd):
            e = event.event
            print(f"  {LABELS[event.cell]} epoch {e.epoch}: train loss {e.train_loss:.3f}, validation perplexity "
                  f"{format_perplexity(e.valid_ppl)}, {e.elapsed:.0f} s", file=log, flush=True)
        elif isinstance(event, CellEvent) and isinstance(event.event, Notice):
            print(f"  {LABELS[event.cell]}: {event.event.message}", file=log, flush=True)
        elif isinstance(event, CellDone):
            r = event.row
            print(f"  {r.label} done: perplexity {format_perplexity(r.valid_ppl)}, top-1 {r.top1:.1%}, "
                  f"suggest p50 {r.latency_p50_ms:.3f} ms", file=log, flush=True)

    return on_event
