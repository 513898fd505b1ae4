"""Never lose a model (issue 11, item 2), in the registry: a cell uses the best model on held-out
text or the one the user chose, never just the newest; a run that is not better gives the cell
back; the registry says why a model is in use."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Corpus, ModelInfo, NGramLM, Predictor
from tui.models import ActiveModel, LiveKey, ModelRegistry, SavedKey

CELLS = ("rnn", "lstm", "gru", "ngram")


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(NGramLM.from_corpus(Corpus.from_text("the cat sat on the mat\nthe dog sat\n"), order=2))


def info(name: str, ppl: float | None, saved_at: float, fingerprint: str = "text-a") -> ModelInfo:
    metrics = {} if ppl is None else {"valid_ppl": ppl}
    return ModelInfo(name=name, path=Path("/models") / name, cell="gru", params=1000, metrics=metrics,
                     corpus_fingerprint=fingerprint, saved_at=saved_at)


def registry(*infos: ModelInfo) -> ModelRegistry:
    models = ModelRegistry(CELLS)
    models.set_saved(sorted(infos, key=lambda i: i.saved_at, reverse=True))
    models.set_fingerprint("text-a")
    return models


def test_the_best_on_held_out_text_wins_over_the_newest() -> None:
    good, quick = info("gru-good", 43.4, saved_at=1), info("gru-5s", 64.5, saved_at=2)  # the numbers
    models = registry(good, quick, info("gru-nofig", None, saved_at=3))
    assert models.choose("gru") == good


def test_the_users_choice_wins(predictor) -> None:
    good, quick = info("gru-good", 43.4, saved_at=1), info("gru-5s", 64.5, saved_at=2)
    models = registry(good, quick)
    models.offer("gru", ActiveModel(SavedKey(good.path), predictor, good.metrics, "text-a"))
    models.choose_for("gru", quick.path)
    assert models.choose("gru") == quick and models.to_load("gru") == SavedKey(quick.path)
    assert models.why("gru") == "chosen by you on the models screen"
    fresh = registry(good, quick)
    fresh.set_choices({"gru": quick.path})  # remembered from an earlier session
    assert fresh.choose("gru") == quick


def test_a_run_that_is_not_better_gives_the_cell_back(predictor) -> None:
    good = info("gru-good", 43.4, saved_at=1)
    models = registry(good)
    models.offer("gru", ActiveModel(SavedKey(good.path), predictor, good.metrics, "text-a"))
    models.start_training("gru")
    models.epoch_ended("gru", 1, ActiveModel(LiveKey("gru"), predictor, {"valid_ppl": 64.5}))
    new = ActiveModel(SavedKey(Path("/models/gru-5s")), predictor, {"valid_ppl": 64.5}, "text-a")
    models.end_training("gru", new, switch=False, reason="kept gru-good: the new run is not better")
    assert models.active("gru") is None and models.to_load("gru") == SavedKey(good.path)
    assert models.why("gru") == "kept gru-good: the new run is not better"
    models.set_saved([info("gru-5s", 64.5, saved_at=2), good])
    assert models.choose("gru") == good  # and it stays so once the new folder is listed


def test_why_a_model_is_in_use(predictor) -> None:
    good = info("gru-good", 43.4, saved_at=1)
    models = registry(good)
    assert models.why("gru") == ""
    models.offer("gru", ActiveModel(SavedKey(good.path), predictor, good.metrics, "text-a"))
    assert models.why("gru") == "the best on this text's held-out lines"
    assert models.saved_path("gru") == good.path
