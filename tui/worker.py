"""Engine work that must not run on the UI thread, and the Messages it sends back.

Everything here runs in Textual thread workers. It reports only through `post` (the app's
thread-safe post_message) and never touches a widget. It imports the engine lazily: the engine
loads torch, which takes about a second, and the first frame must not wait for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from textual.message import Message

Post = Callable[[Message], object]

PROMPTS = 3  # lines of the corpus whose start the log continues after each epoch
PROMPT_WORDS = 2
SAMPLE_WORDS = 6


_IMPORT_LOCK = threading.Lock()


def import_engine():
    """Import the engine package (one thread at a time); every thread calls this before it imports
    anything from the engine. A thread importing `engine.corpus` takes that module's import lock
    before its parent's, one importing `engine` the other way round: at start-up (the engine
    loader, the file loader and the editor's word count at once) that deadlocks, and Python breaks
    it with _DeadlockError in one of them: the engine never loaded, or the file never opened.
    Importing the package first, always, leaves no cycle."""
    with _IMPORT_LOCK:
        import engine
    return engine


# --- messages -----------------------------------------------------------------------------------


class EngineReady(Message):
    """The engine is imported; `models` is engine.store.list_models(), newest first."""

    def __init__(self, models: list) -> None:
        super().__init__()
        self.models = models


class EngineFailed(Message):
    """The engine could not be imported (a broken install): the editor still works."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ModelsListed(Message):
    def __init__(self, models: list) -> None:
        super().__init__()
        self.models = models


class ModelLoaded(Message):
    """A saved model was read from disk, or an n-gram model built, for `cell`."""

    def __init__(self, cell: str, key: str, predictor, metrics: dict, error: str | None = None) -> None:
        super().__init__()
        self.cell = cell
        self.key = key  # the model's path (or "ngram:<fingerprint>:<order>")
        self.predictor = predictor
        self.metrics = metrics
        self.error = error


class TrainingProgress(Message):
    def __init__(self, progress) -> None:
        super().__init__()
        self.progress = progress  # engine.train.Progress


class TrainingEpoch(Message):
    """An epoch ended; `predictor` runs on a frozen copy of its weights."""

    def __init__(self, cell: str, event, predictor, samples: list[tuple[str, str]]) -> None:
        super().__init__()
        self.cell = cell
        self.event = event  # engine.train.EpochEnd
        self.predictor = predictor
        self.samples = samples


class TrainingNotice(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class TrainingDone(Message):
    """A run ended (completed, stopped, or out of time). `path` is None if nothing was saved;
    `save_error` says why, when saving failed. `stopped` is the engine's reason ("completed",
    "early stopping", "time budget", "cancelled", "diverged")."""

    def __init__(self, cell: str, predictor, metrics: dict, path: Path | None, note: str,
                 stopped: str = "completed", save_error: str | None = None) -> None:
        super().__init__()
        self.cell = cell
        self.predictor = predictor
        self.metrics = metrics
        self.path = path
        self.note = note
        self.stopped = stopped
        self.save_error = save_error


class TrainingFailed(Message):
    def __init__(self, cell: str, message: str) -> None:
        super().__init__()
        self.cell = cell
        self.message = message


# --- work run in threads ---------------------------------------------------------------------


def load_engine(post: Post) -> None:
    """Import the engine (and torch) and list the saved models."""
    try:
        engine = import_engine()
    except Exception as exc:  # a broken install: say so, and keep the editor working
        post(EngineFailed(f"{type(exc).__name__}: {exc}"))
        raise
    post(EngineReady(_models(engine)))


def list_saved_models(post: Post) -> None:
    engine = import_engine()

    post(ModelsListed(_models(engine)))


def _models(engine) -> list:
    """engine.list_models(), or none if the models folder cannot be read at all."""
    try:
        return engine.list_models()
    except OSError:
        return []


def load_saved_model(cell: str, path: Path, post: Post) -> None:
    """Read a model folder and build a Predictor on it. Never raises: a damaged folder is a
    ModelLoaded with an error, whatever is wrong with it."""
    engine = import_engine()

    try:
        trained = engine.load_model(path)
        predictor = engine.Predictor(trained.language_model())
    except engine.NextwordError as exc:
        post(ModelLoaded(cell, str(path), None, {}, error=str(exc)))
        return
    except Exception as exc:  # the store validates everything; if something slips through, say so
        post(ModelLoaded(cell, str(path), None, {}, error=f"{path.name} could not be loaded "
                                                        f"({type(exc).__name__}: {exc})."))
        return
    post(ModelLoaded(cell, str(path), predictor, dict(trained.metrics)))


def build_ngram(text: str, order: int, post: Post) -> None:
    """Fit the n-gram baseline on the editor text (instant for a few MB) and measure it."""
    engine = import_engine()
    from engine.ngram import NGramLM

    try:
        corpus = engine.Corpus.from_text(text, engine.DataConfig())
        lm = NGramLM.from_corpus(corpus, order=order)
        metrics = {}
        if not corpus.stats.valid_is_train:
            metrics["valid_ppl"] = engine.evaluate(lm, corpus.valid_text, ksr=False).perplexity
    except engine.NextwordError as exc:
        post(ModelLoaded("ngram", "ngram", None, {}, error=str(exc)))
        return
    except Exception as exc:  # a bug: report it like an error rather than "Building…" for ever
        post(ModelLoaded("ngram", "ngram", None, {}, error=f"Unexpected error ({type(exc).__name__}: {exc}). "
                                                           "This is a bug."))
        raise
    post(ModelLoaded("ngram", f"ngram:{corpus.fingerprint}:{order}", engine.Predictor(lm), metrics))


@dataclass(frozen=True)
class TrainingJob:
    text: str  # a snapshot of the editor: later edits do not touch the run
    cell: str
    model: dict  # ModelConfig keyword arguments (without cell and vocab_size)
    train: dict  # TrainConfig keyword arguments


def model_name(cell: str, fingerprint: str) -> str:
    """One saved model per cell and corpus: training again replaces it."""
    return f"{cell}-{fingerprint[:8]}"


def run_training(job: TrainingJob, post: Post, should_stop: Callable[[], bool]) -> None:
    """Train, reporting through `post`; save the result and hand over a Predictor on it.

    Errors a user can cause end as TrainingFailed with the engine's sentence. Anything else is
    a bug: it is reported the same way, then raised so the worker records it.
    """
    engine = import_engine()

    cell = job.cell
    try:
        corpus = engine.Corpus.from_text(job.text, engine.DataConfig())
        model_config = engine.ModelConfig(cell=cell, vocab_size=len(corpus.vocab), **job.model)
        train_config = engine.TrainConfig(**job.train)
        post(TrainingNotice(corpus.stats.summary()))
        prompts = corpus_prompts(job.text)

        def on_event(event) -> None:
            if isinstance(event, engine.Progress):
                post(TrainingProgress(event))
            elif isinstance(event, engine.EpochEnd):
                snapshot = engine.TrainedModel(
                    model_config=model_config,
                    train_config=train_config,
                    data_config=corpus.config,
                    vocab=corpus.vocab,
                    state_dict=event.state_dict,  # already a CPU clone: training never writes it
                    corpus_fingerprint=corpus.fingerprint,
                )
                samples = continuations(engine.Predictor(snapshot.language_model()), prompts)
                # A separate Predictor for the UI, so its cache starts clean.
                post(TrainingEpoch(cell, event, engine.Predictor(snapshot.language_model()), samples))
            elif isinstance(event, engine.Notice):
                post(TrainingNotice(event.message))

        try:
            trained = engine.train(corpus, model_config, train_config, on_event=on_event, should_stop=should_stop)
        except engine.TrainingError as exc:
            if should_stop():
                post(TrainingDone(cell, None, {}, None, f"Stopped before the model learned anything: {exc}",
                                  stopped="cancelled"))
                return
            raise
        predictor = engine.Predictor(trained.language_model())
        metrics = dict(trained.metrics)
        stopped = str(metrics.get("stopped", "completed"))
        how = {"cancelled": "Stopped", "time budget": "Time budget reached",
               "early stopping": "Stopped early (no more improvement)",
               "diverged": "Stopped: the loss diverged"}.get(stopped, "Finished")
        try:
            path = engine.save_model(trained, model_name(cell, corpus.fingerprint))
        except engine.NextwordError as exc:
            post(TrainingDone(cell, predictor, metrics, None,
                              f"{how}, but the model was not saved: {exc} It is in use until you quit; "
                              "free some space (or fix the folder) and train again to keep it.",
                              stopped=stopped, save_error=str(exc)))
            return
        post(TrainingDone(cell, predictor, metrics, path, f"{how}; saved as {path.name}.", stopped=stopped))
    except engine.NextwordError as exc:
        post(TrainingFailed(cell, str(exc)))
    except Exception as exc:
        post(TrainingFailed(cell, f"Unexpected error ({type(exc).__name__}: {exc}). This is a bug."))
        raise


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
