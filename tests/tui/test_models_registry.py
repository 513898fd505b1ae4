"""The model registry (tui/models.py) on its own, without Textual: which model each cell uses,
what is loading, live, broken or the n-gram, and what the picker shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine import Corpus, ModelInfo, NGramLM, Predictor

from tui.models import ActiveModel, LiveKey, ModelRegistry, NgramKey, SavedKey

TEXT = "the cat sat on the mat\nthe dog sat on the log\n"
CELLS = ("rnn", "lstm", "gru", "ngram")


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    """A real predictor (a bigram model of two lines): the registry only hands it on."""
    return Predictor(NGramLM.from_corpus(Corpus.from_text(TEXT), order=2))


def info(name: str, cell: str = "lstm", fingerprint: str = "text-a", saved_at: float = 0.0,
         ppl: float = 50.0) -> ModelInfo:
    return ModelInfo(name=name, path=Path("/models") / name, cell=cell, params=1000,
                     metrics={"valid_ppl": ppl}, corpus_fingerprint=fingerprint, saved_at=saved_at)


def registry(*infos: ModelInfo, fingerprint: str = "text-a") -> ModelRegistry:
    models = ModelRegistry(CELLS)
    models.set_saved(sorted(infos, key=lambda i: i.saved_at, reverse=True))
    models.set_fingerprint(fingerprint)
    return models


def test_a_cell_uses_the_newest_model_of_this_text_else_the_one_in_use_else_the_newest(predictor) -> None:
    old_here, new_here = info("old-here", saved_at=1), info("new-here", saved_at=2)
    elsewhere = info("elsewhere", fingerprint="text-b", saved_at=3)
    models = registry(old_here, new_here, elsewhere)
    assert models.choose("lstm") == new_here  # trained on the editor's text, and newest
    assert models.choose("gru") is None

    models.offer("lstm", ActiveModel(SavedKey(old_here.path), predictor))
    assert models.set_fingerprint("text-c")  # the text changed: nothing was trained on it
    assert models.choose("lstm") == old_here  # so the model in use stays
    models = registry(old_here, new_here, elsewhere, fingerprint="text-c")
    assert models.choose("lstm") == elsewhere  # none in use: the newest of the cell
    assert not models.set_fingerprint("text-c")  # the same text again is no change


def test_what_to_load_and_stale_results(predictor) -> None:
    first, second = info("first", saved_at=1), info("second", saved_at=2)
    models = registry(first, second)
    key = models.to_load("lstm")
    assert key == SavedKey(second.path)
    models.loading("lstm", key)
    assert models.is_loading("lstm") and models.to_load("lstm") is None  # already on its way
    assert not models.offer("lstm", ActiveModel(SavedKey(first.path), predictor))  # not what was asked for
    assert models.active("lstm") is None
    assert models.offer("lstm", ActiveModel(key, predictor, {"valid_ppl": 9.0}))
    assert models.active("lstm").source == "saved" and not models.is_loading("lstm")
    assert models.to_load("lstm") is None  # in use


def test_the_ngram_is_built_for_the_text_and_order(predictor) -> None:
    models = ModelRegistry(CELLS)
    assert models.to_load("ngram", order=3) is None  # the text is not counted yet
    models.set_fingerprint("text-a")
    assert models.to_load("ngram") is None  # no valid order typed
    key = models.to_load("ngram", order=3)
    assert key == NgramKey("text-a", 3)
    models.loading("ngram", key)
    models.offer("ngram", ActiveModel(key, predictor, {"valid_ppl": 20.0}, "text-a"))
    assert models.to_load("ngram", order=3) is None
    assert models.to_load("ngram", order=2) == NgramKey("text-a", 2)  # a new order, a new model
    view = models.view("ngram")
    assert view.name == "n-gram" and view.current_corpus and view.metrics["valid_ppl"] == 20.0
    models.set_fingerprint("text-b")
    assert not models.view("ngram").current_corpus
    assert models.to_load("ngram", order=3) == NgramKey("text-b", 3)


def test_damaged_models_are_listed_with_their_reason_and_skipped(predictor) -> None:
    good, bad = info("good", saved_at=1), info("bad", saved_at=2)
    models = registry(good, bad)
    key = models.to_load("lstm")
    models.loading("lstm", key)
    [broken] = models.fail("lstm", key, "bad: the weights are damaged.")
    assert broken.info == bad and broken.reason == "bad: the weights are damaged."
    assert models.broken() == [broken] and models.is_broken(bad)
    assert not models.is_loading("lstm")
    assert models.choose("lstm") == good and models.to_load("lstm") == SavedKey(good.path)
    assert models.fail("lstm", key, "again") == []  # listed once
    resaved = info("bad", saved_at=5)  # the same folder, saved again: worth a try
    models.set_saved([resaved, good])
    assert not models.is_broken(resaved) and models.choose("lstm") == resaved
    assert models.fail("ngram", NgramKey("text-a", 3), "the text is empty") == []  # nothing on disk


def test_a_training_run_feeds_its_cell_then_its_saved_model_takes_over(predictor) -> None:
    saved = info("lstm-saved", saved_at=1)
    models = registry(saved)
    models.offer("lstm", ActiveModel(SavedKey(saved.path), predictor))
    models.start_training("lstm")
    assert models.view("lstm").live == "training…"
    models.epoch_ended("lstm", 2, ActiveModel(LiveKey("lstm"), predictor, {"valid_ppl": 30.0}))
    assert models.active("lstm").source == "live" and models.run.epoch == 2
    view = models.view("lstm")
    assert view.name == "training" and view.live == "training, epoch 2" and view.metrics["valid_ppl"] == 30.0
    assert models.to_load("lstm") is None  # the run feeds the cell
    assert not models.offer("lstm", ActiveModel(SavedKey(saved.path), predictor))  # a late load loses

    new = Path("/models/lstm-new")
    models.end_training("lstm", ActiveModel(SavedKey(new), predictor, {"valid_ppl": 25.0}, "text-a"))
    assert models.run is None and models.active("lstm").key == SavedKey(new)
    view = models.view("lstm")  # before the folder is listed: shown from the model itself
    assert view.name == "lstm-new" and view.current_corpus and view.live == ""
    assert models.to_load("lstm") is None  # the older model of this text does not come back
    listed = info("lstm-new", saved_at=2, ppl=25.0)
    models.set_saved([listed, saved])
    assert models.choose("lstm") == listed and models.view("lstm").name == "lstm-new"


def test_a_run_without_a_result_gives_the_cell_back_to_its_saved_model(predictor) -> None:
    saved = info("lstm-saved", saved_at=1)
    models = registry(saved)
    models.start_training("lstm")
    models.epoch_ended("lstm", 1, ActiveModel(LiveKey("lstm"), predictor))
    models.end_training("lstm", None)
    assert models.active("lstm") is None and models.to_load("lstm") == SavedKey(saved.path)
    assert models.view("lstm").name == "lstm-saved"


def test_a_new_model_replaces_the_one_in_use_only_when_told_to(predictor) -> None:
    models = registry()
    kept = ActiveModel(SavedKey(Path("/models/kept")), predictor)
    models.offer("gru", kept)
    models.start_training("gru")
    models.end_training("gru", ActiveModel(SavedKey(Path("/models/new")), predictor), switch=False)
    assert models.active("gru") is kept


def test_saving_again_clears_a_broken_mark(predictor) -> None:
    bad = info("rnn-here", cell="rnn", saved_at=1)
    models = registry(bad)
    models.fail("rnn", SavedKey(bad.path), "NaN weights")
    assert models.choose("rnn") is None and models.view("rnn") is None
    models.end_training("rnn", ActiveModel(SavedKey(bad.path), predictor, {}, "text-a"))
    assert models.broken() == [] and models.choose("rnn") == bad
    assert set(models.views()) == {"rnn"}
