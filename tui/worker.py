"""Engine work that must not run on the UI thread. Each function runs in a Textual thread worker,
reports only through `post` (a thread-safe post_message, see tui/messages.py) and never touches a
widget.

This is the one place where the app touches the engine's torch-backed names. `import engine` is
cheap (PEP 562): `engine.Predictor`, `engine.load_model` and the rest load their modules (and
torch) on first use, here, in a thread, after the first frame.
"""

from __future__ import annotations

from typing import Callable

import engine
from engine import NGRAM, DataConfig, ModelConfig, NextwordError
from textual.message import Message

from tui.messages import (
    CompareFailed,
    CompareFinished,
    EngineEvent,
    EngineFailed,
    EngineReady,
    ModelFailed,
    ModelLoaded,
    ModelsListed,
    TrainingDone,
    TrainingEpoch,
    TrainingFailed,
)
from tui import training_process as training
from tui.models import ActiveModel, NgramKey, SavedKey
from tui.training_process import TrainingJob
from tui.widgets.writing import ASKED

Post = Callable[[Message], object]
ShouldStop = Callable[[], bool]
Typed = Callable[[], "str | None"]  # the writing pane's text now (None: nothing asked yet)

TORCH_NAMES = ("Corpus", "NGramLM", "TrainedModel", "evaluate", "list_models", "load_model", "train", "compare")


def load_engine(post: Post) -> None:
    """Load the engine's model code (and torch) and list the saved models."""
    try:
        import torch

        # All of it now, in this one thread: then no two workers import the same modules at once,
        # and nothing loads later while the user waits.
        for name in TORCH_NAMES:
            getattr(engine, name)
        # Keystrokes are answered on the UI thread; with one intra-op thread it never waits for
        # the threads that training keeps busy.
        torch.set_num_threads(1)
    except Exception as exc:  # a broken install: say so, and keep the editor working
        post(EngineFailed(f"{type(exc).__name__}: {exc}"))
        raise
    post(EngineReady(_models(), _damaged()))


def list_saved_models(post: Post) -> None:
    post(ModelsListed(_models()))


def _models() -> list:
    """engine.list_models(), or none if the models folder cannot be read at all."""
    try:
        return engine.list_models()
    except OSError:
        return []


def _damaged() -> list:
    """engine.damaged_models(), or none if the models folder cannot be read at all."""
    try:
        return engine.damaged_models()
    except OSError:
        return []


def load_saved_model(cell: str, key: SavedKey, post: Post) -> None:
    """Read a model folder and build a Predictor on it. Never raises: a damaged folder is a
    ModelFailed, whatever is wrong with it."""
    try:
        trained = engine.load_model(key.path)
        predictor = _open_for_typing(trained, key.path)
    except NextwordError as exc:
        post(ModelFailed(cell, key, str(exc)))
        return
    except Exception as exc:  # the store validates everything; if something slips through, say so
        post(ModelFailed(cell, key, f"{key.path.name} could not be loaded ({type(exc).__name__}: {exc})."))
        return
    post(ModelLoaded(cell, ActiveModel(key, predictor, dict(trained.metrics), trained.corpus_fingerprint)))


def build_ngram(text: str, key: NgramKey, post: Post) -> None:
    """Fit the n-gram baseline on the editor text (instant for a few MB) and measure it."""
    try:
        corpus = engine.Corpus.from_text(text, DataConfig())
        lm = engine.NGramLM.from_corpus(corpus, order=key.order)
        metrics = {}
        if not corpus.stats.valid_is_train:
            metrics["valid_ppl"] = engine.evaluate(lm, corpus.valid_text, ksr=False).perplexity
    except NextwordError as exc:
        post(ModelFailed(NGRAM, key, str(exc)))
        return
    except Exception as exc:  # a bug: report it like an error rather than "Building…" for ever
        post(ModelFailed(NGRAM, key, f"Unexpected error ({type(exc).__name__}: {exc}). This is a bug."))
        raise
    post(ModelLoaded(NGRAM, ActiveModel(key, engine.Predictor(lm), metrics, key.fingerprint)))


def run_training(job: TrainingJob, post: Post, should_stop: ShouldStop, typed: Typed = lambda: None) -> None:
    """Train `job` in its own process (tui/training_process.py: typing never waits for it) and
    turn what it reports into the app's messages: engine events as they come, each epoch's
    weights as a Predictor to type with, and the saved model at the end. Each Predictor has
    already read `typed()` (the writing pane's text), here, off the UI thread."""
    cell = job.cell
    started = None

    def on_report(report: object) -> None:
        nonlocal started
        if isinstance(report, training.Started):
            started = report
        elif isinstance(report, training.Epoch) and started is not None:
            predictor = engine.Predictor(training.snapshot(started, report.weights).language_model())
            post(TrainingEpoch(cell, report.event, primed(predictor, typed), report.samples))
        elif isinstance(report, training.Finished):
            done = _done(cell, report, started)
            if done.predictor is not None:
                primed(done.predictor, typed)
            post(done)
        elif isinstance(report, training.Failed):
            post(TrainingDone(cell, None, {}, None, report.message, stopped="cancelled") if report.stopped_early
                 else TrainingFailed(cell, report.message))
        else:
            post(EngineEvent(cell, report))

    training.run(job, on_report, should_stop)


def primed(predictor, typed: Typed):
    """`predictor`, having read the text being written: a model switch then costs the UI thread
    no re-reading of up to MAX_CONTEXT_TOKENS tokens (the next keystroke finds its state cached)."""
    text = typed()
    if text:
        predictor.suggest(text, k=ASKED)
    return predictor


def _done(cell: str, report: training.Finished, started: training.Started | None) -> TrainingDone:
    trained = training.with_weights(report.model, report.weights)
    return TrainingDone(cell, _typing_predictor(trained, report.path), dict(trained.metrics), report.path,
                        report.note, stopped=report.stopped, save_error=report.save_error,
                        fingerprint=trained.corpus_fingerprint or (started and started.fingerprint),
                        judgement=report.judgement, diverged=report.diverged)


def _open_for_typing(trained, folder):
    """Issue 10: a saved network learns from what is typed in the writing pane, and keeps what it
    learned in its folder (the pane says `open_note` once)."""
    predictor, note = engine.open_for_typing(trained, folder)
    predictor.model_folder, predictor.open_note = folder, note
    return predictor


def _typing_predictor(trained, path):
    """What the writing pane types with after a run: a saved model learns from the typing at once
    (its learning setup was saved beside it), as when it is loaded at the next start."""
    if path is not None:
        try:
            return _open_for_typing(trained, path)
        except NextwordError:
            pass  # its learned state cannot be opened: it still suggests, without learning
    return engine.Predictor(trained.language_model())


def run_comparison(text: str, max_time: float, model_config: ModelConfig | None, post: Post,
                   should_stop: ShouldStop) -> None:
    """engine.compare on `text`; its events go to the UI as EngineEvents of the row's cell."""
    def on_event(event) -> None:
        inner = event.event if isinstance(event, engine.CellEvent) else event
        post(EngineEvent(event.cell, inner))

    kwargs = {} if model_config is None else {"model_config": model_config}
    try:
        result = engine.compare(text, max_time, on_event=on_event, should_stop=should_stop, **kwargs)
    except NextwordError as exc:
        post(CompareFailed(str(exc)))
        return
    except Exception as exc:  # a bug: say so on screen, and let the worker record it
        post(CompareFailed(f"The comparison failed unexpectedly: {exc!r}"))
        raise
    if not should_stop():
        post(CompareFinished(result))
