"""A training run in a process of its own.

Why a process and not a thread: the training loop is Python between torch calls, and it held the
GIL against the UI thread. Measured in the app on a pty (benchmarks/bench_keypaint.py), a key took
p50 4.9 ms but p99 63 ms to reach the screen while training ran in a thread, against p99 6 ms idle.
A child process has an interpreter of its own, so typing waits for nothing it does.

The child (`child_main`: a fresh interpreter, as the app has threads and forking a process with
threads is unsafe; not multiprocessing's spawn, whose helper process wants the stderr that
Textual replaces) runs `train_and_save` and sends plain reports back over its stdout, framed by
multiprocessing's Connection: `Started`, engine events, `Epoch`, then `Finished` or `Failed`.
Weights cross as safetensors bytes. Only our own dataclasses, from our own child, are unpickled.
The parent (`run`, in the UI's thread worker) turns them into the app's messages (tui/worker.py).

This module imports no Textual: the child loads only the engine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import engine
from engine import DataConfig, ModelConfig, NextwordError, TrainConfig

if TYPE_CHECKING:
    from engine import EpochEnd, Event, Judgement, StopReason, TrainedModel, Vocab

PROMPTS = 3  # lines of the corpus whose start the log continues after each epoch
PROMPT_WORDS = 2
SAMPLE_WORDS = 6
POLL = 0.05  # seconds between the parent's looks at the pipe and at the stop flag
# False runs the same train_and_save in the caller's thread, reports and all: for tests that
# replace an engine function in this process (a spawned child would not see the replacement).
IN_CHILD = True
STOP = "stop"
CHILD = "from tui.training_process import child_main; child_main()"
HOW_IT_ENDED = {"cancelled": "Stopped", "time budget": "Time budget reached",
                "early stopping": "Stopped early (no more improvement)", "diverged": "Stopped: the loss diverged"}


@dataclass(frozen=True)
class TrainingJob:
    text: str  # a snapshot of the editor: later edits do not touch the run
    model: ModelConfig  # its vocab_size is the corpus's, filled in when the run starts
    train: TrainConfig
    incumbent: Path | None = None  # the saved model the cell used when the run started

    @property
    def cell(self) -> str:
        return self.model.cell


# --- what the child reports -------------------------------------------------------------------

@dataclass(frozen=True)
class Started:
    """The corpus is read: what every epoch's snapshot shares."""

    model_config: ModelConfig
    train_config: TrainConfig
    data_config: DataConfig
    vocab: Vocab
    fingerprint: str


@dataclass(frozen=True)
class Epoch:
    """An epoch ended; its weights (safetensors bytes) and what they continue the prompts with."""

    event: EpochEnd  # with an empty state_dict: the weights travel in `weights`
    weights: bytes
    samples: list[tuple[str, str]]


@dataclass(frozen=True)
class Finished:
    """The run ended with a model (saved at `path`, or not: `save_error`, `diverged`)."""

    model: TrainedModel  # with an empty state_dict and no optimizer state: see `weights`
    weights: bytes
    path: Path | None
    note: str
    stopped: StopReason
    judgement: Judgement | None = None
    save_error: str | None = None
    diverged: bool = False


@dataclass(frozen=True)
class Failed:
    """The run ended without a model: `message` is the sentence for the user."""

    message: str
    stopped_early: bool = False  # cancelled before the model learned anything: not an error


Report = Started | Epoch | Finished | Failed


# --- the parent's side --------------------------------------------------------------------------

def run(job: TrainingJob, on_report: Callable[[object], None], should_stop: Callable[[], bool]) -> None:
    """Train `job` in a child process; every report (and engine event) goes to `on_report`, in
    order, ending with one Finished or Failed. `should_stop` is asked a few times a second: once
    it says yes, the child stops at its next batch and keeps the best weights, as a thread did."""
    if not IN_CHILD:
        train_and_save(job, on_report, should_stop)
        return
    with tempfile.TemporaryFile() as errors:  # what the child says on stderr, for a crash's message
        child = _start_child(errors)
        to_child = Connection(os.dup(child.stdin.fileno()), readable=False)
        from_child = Connection(os.dup(child.stdout.fileno()), writable=False)
        child.stdin.close()
        child.stdout.close()
        try:
            to_child.send(job)
            ended = _relay(from_child, to_child, on_report, should_stop)
        finally:
            to_child.close()  # EOF: the child stops at its next batch if it has not already
            from_child.close()
            status = child.wait()
        if not ended:
            on_report(Failed(f"The training process ended unexpectedly (exit status {status}){_last_line(errors)}."))


def _start_child(errors) -> subprocess.Popen:
    """The child runs this module's child_main, with this very `tui` package importable."""
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    return subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=errors, env=env, close_fds=True)


def _relay(from_child: Connection, to_child: Connection, on_report: Callable[[object], None],
           should_stop: Callable[[], bool]) -> bool:
    """Pass the child's reports on until it is done (True) or gone (False); pass a stop on."""
    stop_sent = False
    while True:
        if not stop_sent and should_stop():
            stop_sent = _send_stop(to_child)
        if not from_child.poll(POLL):
            continue
        try:
            report = from_child.recv()
        except (EOFError, OSError):
            return False
        on_report(report)
        if isinstance(report, (Finished, Failed)):
            return True


def _send_stop(to_child: Connection) -> bool:
    try:
        to_child.send(STOP)
    except OSError:
        pass  # the child has gone: its end of the pipe says so next
    return True


def _last_line(errors) -> str:
    errors.seek(0)
    lines = [line for line in errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return f": {lines[-1].strip()}" if lines else ""


def snapshot(started: Started, weights: bytes) -> TrainedModel:
    """An epoch's model, for typing with while the run goes on."""
    return engine.TrainedModel(
        model_config=started.model_config, train_config=started.train_config, data_config=started.data_config,
        vocab=started.vocab, corpus_fingerprint=started.fingerprint, state_dict=load_weights(weights),
    )


def with_weights(model: TrainedModel, weights: bytes) -> TrainedModel:
    return replace(model, state_dict=load_weights(weights))


def load_weights(data: bytes) -> dict:
    from safetensors.torch import load

    return load(data)


def dump_weights(state_dict: dict) -> bytes:
    from safetensors.torch import save

    return save({name: tensor.detach().contiguous().cpu() for name, tensor in state_dict.items()})


# --- the child's side ---------------------------------------------------------------------------

def child_main() -> None:
    """The child process: read the job, train, save, report. Reports go out on what was stdout
    (stdout itself now goes to stderr, so that a stray print cannot corrupt them); a STOP, or
    the end of stdin (the app has gone), stops the run at its next batch with the best weights."""
    # The app decides when a run ends: a ctrl+c or a closed terminal reaches the app, which
    # tells us; a SIGTERM sent to us alone stops the run and keeps the best weights.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sender = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    receiver = Connection(os.dup(0), writable=False)
    job = receiver.recv()
    threading.Thread(target=_wait_for_stop, args=(receiver, stop), daemon=True).start()
    _use_spare_cores()

    def send(report: object) -> None:
        try:
            sender.send(report)
        except OSError:
            stop.set()  # nobody is listening any more: finish quickly (the model is still saved)

    try:
        train_and_save(job, send, stop.is_set)
    finally:
        sender.close()


def _wait_for_stop(receiver: Connection, stop: threading.Event) -> None:
    try:
        while receiver.recv() != STOP:
            pass
    except (EOFError, OSError):
        pass
    stop.set()


def _use_spare_cores() -> None:
    """Leave a core to the app (typing must never wait), and let the app win when they compete."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    try:
        os.nice(5)
    except OSError:
        pass


def train_and_save(job: TrainingJob, send: Callable[[object], None], should_stop: Callable[[], bool]) -> None:
    """Train, save the result (a new folder: nothing is overwritten) and report. Errors a user can
    cause end as Failed with the engine's sentence; anything else is a bug, reported the same way."""
    try:
        corpus = engine.Corpus.from_text(job.text, DataConfig())
        model_config = replace(job.model, vocab_size=len(corpus.vocab))
        send(Started(model_config, job.train, corpus.config, corpus.vocab, corpus.fingerprint))
        send(engine.Notice(corpus.stats.summary()))
        prompts = corpus_prompts(job.text)
        trained = _train(corpus, model_config, job.train, prompts, send, should_stop)
        if trained is None:
            return
        held_out = None if corpus.stats.valid_is_train else corpus.valid_text
        judgement = judge_against(trained, job.incumbent, held_out)  # before the final pass reads held_out
        send(_save(trained, corpus, job.text, judgement, send))
    except NextwordError as exc:
        send(Failed(str(exc)))
    except Exception as exc:
        send(Failed(f"Unexpected error ({type(exc).__name__}: {exc}). This is a bug."))
        raise


def _train(corpus, model_config: ModelConfig, train_config: TrainConfig, prompts: list[str],
           send: Callable[[object], None], should_stop: Callable[[], bool]) -> TrainedModel | None:
    def on_event(event: Event) -> None:
        if isinstance(event, engine.EpochEnd):
            send(_epoch(event, corpus, model_config, train_config, prompts))
        else:
            send(event)

    try:
        return engine.train(corpus, model_config, train_config, on_event=on_event, should_stop=should_stop)
    except engine.TrainingError as exc:
        if should_stop():
            send(Failed(f"Stopped before the model learned anything: {exc}", stopped_early=True))
            return None
        raise


def _epoch(event: EpochEnd, corpus, model_config: ModelConfig, train_config: TrainConfig,
           prompts: list[str]) -> Epoch:
    model = engine.TrainedModel(model_config=model_config, train_config=train_config, data_config=corpus.config,
                                vocab=corpus.vocab, corpus_fingerprint=corpus.fingerprint,
                                state_dict=event.state_dict)
    samples = continuations(engine.Predictor(model.language_model()), prompts)
    return Epoch(replace(event, state_dict={}), dump_weights(event.state_dict), samples)


def judge_against(trained: TrainedModel, incumbent: Path | None, held_out: str | None) -> Judgement | None:
    """engine.judge of the new model against the one in use (None: nothing to compare with, or
    it cannot be read any more; then the new model is used, unless it diverged: engine.judge
    refuses a run no better than uniform guessing even with nothing to compare with)."""
    old = None
    if incumbent is not None:
        try:
            old = engine.load_model(incumbent)
        except NextwordError:
            old = None
    if old is None:
        if engine.no_better_than_uniform(trained.metrics, len(trained.vocab)):
            return engine.judge(trained, None, held_out)
        return None
    return engine.judge(trained, old, held_out)


def _save(trained: TrainedModel, corpus, text: str, judgement: Judgement | None,
          send: Callable[[object], None]) -> Finished:
    """Save a run worth keeping with its learning setup (the blend fitted on the held-out part,
    then the network's final pass over it), as `nextword-tui train` does (tui/cli.py)."""
    fingerprint = corpus.fingerprint
    metrics = dict(trained.metrics)
    stopped = str(metrics.get("stopped", "completed"))
    how = HOW_IT_ENDED.get(stopped, "Finished")
    if engine.no_better_than_uniform(metrics, len(trained.vocab)):
        # Issue 12: no better than guessing uniformly among its words. Never used, never saved.
        ppl = engine.format_perplexity(metrics.get("valid_ppl"), ",.1f")
        note = (f"{how}: diverged (validation perplexity {ppl}, no better than guessing among "
                f"{len(trained.vocab):,} words): not used and not saved. Train again with a lower learning rate.")
        return Finished(*_split(trained), None, note, stopped, judgement, diverged=True)
    send(engine.Notice("Fitting the blend on the held-out text, then learning from it too…"))
    trained, setup = engine.learn_after_training(trained, corpus, text)
    bare, weights = _split(trained)
    try:
        path = engine.save_model(trained, engine.new_model_name(trained.model_config.cell, fingerprint))
        engine.save_setup(path, setup, trained.vocab)
    except NextwordError as exc:
        note = (f"{how}, but the model was not saved: {exc} It is in use until you quit; "
                "free some space (or fix the folder) and train again to keep it.")
        return Finished(bare, weights, None, note, stopped, judgement, save_error=str(exc))
    return Finished(bare, weights, path, f"{how}; saved as {path.name}.", stopped, judgement)


def _split(trained: TrainedModel) -> tuple[TrainedModel, bytes]:
    """The model without its tensors (they pickle slowly) and its weights as safetensors bytes."""
    return replace(trained, state_dict={}, optimizer_state=None), dump_weights(trained.state_dict)


def corpus_prompts(text: str, count: int = PROMPTS, words: int = PROMPT_WORDS) -> list[str]:
    """The first words of a few lines spread through the corpus: what the log asks the model."""
    lines = [line.split() for line in text.splitlines()]
    lines = [line for line in lines if len(line) > words]
    if not lines:
        return []
    picks = sorted({round(i * (len(lines) - 1) / max(1, count - 1)) for i in range(count)})
    prompts = [" ".join(lines[i][:words]) for i in picks]
    return list(dict.fromkeys(prompts))  # each prompt once, in corpus order


def continuations(predictor, prompts: list[str]) -> list[tuple[str, str]]:
    """The model's likeliest continuation of each prompt (greedy, so the log is reproducible)."""
    return [(prompt, predictor.continue_text(prompt + " ", n_words=SAMPLE_WORDS, top_k=1)) for prompt in prompts]
