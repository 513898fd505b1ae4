"""Engine work that must not run on the UI thread. Each function runs in a Textual thread worker,
reports only through `post` (a thread-safe post_message, see tui/messages.py) and never touches a
widget.

This is the one place where the app touches the engine's torch-backed names. `import engine` is
cheap (PEP 562): `engine.Predictor`, `engine.load_model` and the rest load their modules (and
torch) on first use, here, in a thread, after the first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import engine
from engine import NGRAM, DataConfig, ModelConfig, NextwordError, TrainConfig
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
from tui.models import ActiveModel, NgramKey, SavedKey

Post = Callable[[Message], object]
ShouldStop = Callable[[], bool]

PROMPTS = 3  # lines of the corpus whose start the log continues after each epoch
PROMPT_WORDS = 2
SAMPLE_WORDS = 6
TORCH_NAMES = ("Corpus", "NGramLM", "TrainedModel", "evaluate", "list_models", "load_model", "train", "compare")
HOW_IT_ENDED = {"cancelled": "Stopped", "time budget": "Time budget reached",
                "early stopping": "Stopped early (no more improvement)", "diverged": "Stopped: the loss diverged"}


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
        # Issue 10: a saved network learns from what is typed in the writing pane.
        predictor, note = engine.open_for_typing(trained, key.path)
        predictor.model_folder, predictor.open_note = key.path, note
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


@dataclass(frozen=True)
class TrainingJob:
    text: str  # a snapshot of the editor: later edits do not touch the run
    model: ModelConfig  # its vocab_size is the corpus's, filled in when the run starts
    train: TrainConfig
    incumbent: Path | None = None  # the saved model the cell used when the run started

    @property
    def cell(self) -> str:
        return self.model.cell


def model_name(cell: str, fingerprint: str) -> str:
    """A new folder for every run (cell, corpus, time): training again never replaces a model."""
    return engine.new_model_name(cell, fingerprint)


def run_training(job: TrainingJob, post: Post, should_stop: ShouldStop) -> None:
    """Train, reporting through `post`; save the result and hand over a Predictor on it.

    Errors a user can cause end as TrainingFailed with the engine's sentence. Anything else is
    a bug: it is reported the same way, then raised so the worker records it.
    """
    cell = job.cell
    try:
        corpus = engine.Corpus.from_text(job.text, DataConfig())
        model_config = replace(job.model, vocab_size=len(corpus.vocab))
        post(EngineEvent(cell, engine.Notice(corpus.stats.summary())))
        on_event = _epoch_reporter(cell, corpus, model_config, job.train, corpus_prompts(job.text), post)
        try:
            trained = engine.train(corpus, model_config, job.train, on_event=on_event, should_stop=should_stop)
        except engine.TrainingError as exc:
            if should_stop():
                post(TrainingDone(cell, None, {}, None, f"Stopped before the model learned anything: {exc}",
                                  stopped="cancelled"))
                return
            raise
        held_out = None if corpus.stats.valid_is_train else corpus.valid_text
        _save_and_report(cell, trained, corpus.fingerprint, post, judge_against(trained, job.incumbent, held_out))
    except NextwordError as exc:
        post(TrainingFailed(cell, str(exc)))
    except Exception as exc:
        post(TrainingFailed(cell, f"Unexpected error ({type(exc).__name__}: {exc}). This is a bug."))
        raise


def _epoch_reporter(cell: str, corpus, model_config: ModelConfig, train_config: TrainConfig,
                    prompts: list[str], post: Post) -> Callable[[object], None]:
    """The on_event callback of a run: engine events go to the UI as they are, and each epoch's
    weights also as a Predictor with what it now predicts for the prompts."""
    def on_event(event) -> None:
        if not isinstance(event, engine.EpochEnd):
            post(EngineEvent(cell, event))
            return
        snapshot = engine.TrainedModel(
            model_config=model_config, train_config=train_config, data_config=corpus.config,
            vocab=corpus.vocab, corpus_fingerprint=corpus.fingerprint,
            state_dict=event.state_dict,  # already a CPU clone: training never writes it
        )
        samples = continuations(engine.Predictor(snapshot.language_model()), prompts)
        # A separate Predictor for the UI, so its cache starts clean.
        post(TrainingEpoch(cell, event, engine.Predictor(snapshot.language_model()), samples))

    return on_event


def judge_against(trained, incumbent: Path | None, held_out: str | None):
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


def _save_and_report(cell: str, trained, fingerprint: str, post: Post, judgement=None) -> None:
    predictor = engine.Predictor(trained.language_model())
    metrics = dict(trained.metrics)
    stopped = str(metrics.get("stopped", "completed"))
    how = HOW_IT_ENDED.get(stopped, "Finished")
    if engine.no_better_than_uniform(metrics, len(trained.vocab)):
        # Issue 12: no better than guessing uniformly among its words. Never used, never saved.
        ppl = engine.format_perplexity(metrics.get("valid_ppl"), ",.1f")
        post(TrainingDone(cell, predictor, metrics, None,
                          f"{how}: diverged (validation perplexity {ppl}, no better than guessing among "
                          f"{len(trained.vocab):,} words): not used and not saved. Train again with a lower "
                          "learning rate.", stopped=stopped, fingerprint=fingerprint, judgement=judgement,
                          diverged=True))
        return
    try:
        path = engine.save_model(trained, model_name(cell, fingerprint))
    except NextwordError as exc:
        post(TrainingDone(cell, predictor, metrics, None,
                          f"{how}, but the model was not saved: {exc} It is in use until you quit; "
                          "free some space (or fix the folder) and train again to keep it.",
                          stopped=stopped, save_error=str(exc), fingerprint=fingerprint, judgement=judgement))
        return
    post(TrainingDone(cell, predictor, metrics, path, f"{how}; saved as {path.name}.", stopped=stopped,
                      fingerprint=fingerprint, judgement=judgement))


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
