"""engine/train.py: training each cell, events, stopping, time budget, settings, divergence, seeds, resume."""

import copy
import importlib
import math
import time
from dataclasses import replace

import pytest
import torch

from conftest import TINY_MODEL, TINY_TRAIN
from engine import (
    ConfigError,
    Corpus,
    EpochEnd,
    ModelConfig,
    Notice,
    Predictor,
    Progress,
    TrainConfig,
    TrainingError,
    WordRNN,
    train,
)

train_module = importlib.import_module("engine.training")
evaluation_module = importlib.import_module("engine.evaluation")
model_module = importlib.import_module("engine.model")  # its forward computes the fused loss

# A shorter run than the session fixture's, for tests that train their own models.
QUICK = replace(TINY_TRAIN, epochs=3)


def gru(**settings) -> ModelConfig:
    return ModelConfig(**{"cell": "gru", **TINY_MODEL, **settings})


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- each cell learns (one session-wide run per cell, see conftest.py) ---------------------------


def test_validation_loss_goes_down(run, tiny_corpus):
    losses = [e.valid_loss for e in run.epoch_ends]
    uniform = math.log(len(tiny_corpus.vocab))  # what a model that learned nothing scores
    assert losses[0] < uniform + 0.1
    best = run.trained.metrics["valid_loss"]
    assert best == min(losses)
    assert best < losses[0] - 0.5
    assert best < uniform - 1.0


def test_training_loss_goes_down(run):
    first, last = run.progress[0].train_loss, run.progress[-1].train_loss
    assert last < first - 0.5


def test_events_arrive_in_order(run):
    events = run.events
    # the corpus is tiny, so the engine says it repeats it (before any progress)
    assert isinstance(events[0], Notice) and "Small corpus" in events[0].message
    assert [type(e) for e in events[1:]].count(Notice) == 0
    progress = run.progress
    assert progress, "no Progress events"
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] == pytest.approx(1.0)
    for p in progress:
        assert p.epochs == TINY_TRAIN.epochs and 1 <= p.epoch <= p.epochs
        assert 1 <= p.step <= p.steps_per_epoch
        assert math.isfinite(p.train_loss) and p.tokens_per_s > 0 and p.lr > 0
    # every epoch ends with one EpochEnd, after that epoch's progress
    ends = run.epoch_ends
    assert [e.epoch for e in ends] == list(range(1, TINY_TRAIN.epochs + 1))
    for end in ends:
        last_progress = max(i for i, e in enumerate(events) if isinstance(e, Progress) and e.epoch == end.epoch)
        assert events.index(end) > last_progress
        assert end.valid_ppl == pytest.approx(math.exp(end.valid_loss))


def test_epoch_end_carries_a_cpu_copy_of_the_weights(run):
    expected_keys = WordRNN(run.trained.model_config).state_dict().keys()
    ends = run.epoch_ends
    for end in ends:
        assert end.state_dict.keys() == expected_keys
        assert all(t.device.type == "cpu" for t in end.state_dict.values())
    # copies, not views of the live model: each epoch's snapshot kept its own values
    assert not same_weights(ends[0].state_dict, ends[-1].state_dict)
    # and usable elsewhere, as the TUI does to refresh its predictor at each epoch end
    snapshot = replace(run.trained, state_dict=ends[0].state_dict, optimizer_state=None)
    assert Predictor(snapshot.language_model()).suggest("the ", k=3)


def test_improved_flags_and_the_best_weights_are_kept(run):
    best_so_far = math.inf
    for end in run.epoch_ends:
        assert end.improved == (end.valid_loss < best_so_far)
        best_so_far = min(best_so_far, end.valid_loss)
    best = min(run.epoch_ends, key=lambda e: e.valid_loss)
    assert same_weights(run.trained.state_dict, best.state_dict)


def test_result_metrics_and_history(run):
    trained = run.trained
    metrics = trained.metrics
    assert metrics["stopped"] == "completed"
    assert metrics["epochs"] == len(trained.history) == TINY_TRAIN.epochs
    assert metrics["params"] == trained.model_config.param_count()
    assert trained.model_config.vocab_size == len(trained.vocab)
    for name in ("top1", "top3", "top5", "ksr"):
        assert 0 <= metrics[name] <= 1
    assert metrics["top1"] <= metrics["top3"] <= metrics["top5"]
    assert [h["valid_loss"] for h in trained.history] == [e.valid_loss for e in run.epoch_ends]
    assert trained.optimizer_state is not None


# -- stopping ----------------------------------------------------------------------------------------


def test_should_stop_stops_within_one_batch_and_keeps_the_best_weights(tiny_corpus):
    events: list = []
    epochs_seen_at_poll: list[int] = []

    def should_stop() -> bool:
        epochs_seen_at_poll.append(sum(isinstance(e, EpochEnd) for e in events))
        # polled before every batch: let exactly one batch of epoch 3 run, then ask to stop
        return epochs_seen_at_poll.count(2) >= 2

    trained = train(tiny_corpus, gru(), replace(TINY_TRAIN, epochs=10), on_event=events.append, should_stop=should_stop)
    steps_per_epoch = next(e for e in events if isinstance(e, Progress)).steps_per_epoch
    assert trained.metrics["stopped"] == "cancelled"
    assert trained.metrics["steps"] == 2 * steps_per_epoch + 1  # no batch after the request
    assert epochs_seen_at_poll.count(2) == 2  # and not polled again
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert len(ends) == 2 == len(trained.history)
    # the half-trained third epoch is dropped: the result holds the best of the finished epochs
    best = min(ends, key=lambda e: e.valid_loss)
    assert same_weights(trained.state_dict, best.state_dict)


def test_stop_in_the_first_epoch_still_gives_a_model(tiny_corpus):
    polls = []
    trained = train(tiny_corpus, gru(), QUICK, should_stop=lambda: polls.append(1) or len(polls) > 2)
    assert trained.metrics["steps"] == 2
    assert trained.metrics["stopped"] == "cancelled"
    assert len(trained.history) == 1  # the two batches were validated
    assert math.isfinite(trained.metrics["valid_loss"])


def test_stop_before_any_batch_is_a_training_error(tiny_corpus):
    with pytest.raises(TrainingError):
        train(tiny_corpus, gru(), QUICK, should_stop=lambda: True)


def test_max_time_is_respected(tiny_corpus):
    events: list = []
    budget = 0.5
    started = time.perf_counter()
    trained = train(tiny_corpus, gru(), replace(TINY_TRAIN, epochs=100_000, max_time=budget, patience=1000), on_event=events.append)
    took = time.perf_counter() - started
    assert trained.metrics["stopped"] == "time budget"
    assert took < budget + 10  # 100,000 epochs would take hours; the slack is for a busy machine
    # no batch starts after the budget: the last progress is within one batch of it
    assert max(e.elapsed for e in events if isinstance(e, Progress)) < budget + 2
    assert trained.metrics["epochs"] >= 1


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"lr": 0},
        {"lr": 0.0},
        {"lr": -1e-3},
        {"lr": math.nan},
        {"lr": math.inf},
        {"lr": 1e6},
        {"lr": "0.01"},
        {"epochs": 0},
        {"epochs": 10**9},
        {"epochs": 2.5},
        {"epochs": True},
        {"batch_size": 0},
        {"batch_size": 10**6},
        {"bptt": 0},
        {"clip": 0},
        {"clip": math.nan},
        {"weight_decay": -0.1},
        {"max_time": 0},
        {"max_time": -5},
        {"max_time": math.inf},
        {"max_time": math.nan},
        {"patience": 0},
        {"seed": -1},
        {"optimizer": "sgd"},
        {"device": "tpu"},
    ],
)
def test_bad_train_settings_are_refused(settings, tiny_corpus):
    config = TrainConfig(**settings)
    with pytest.raises(ConfigError):
        config.validate()
    with pytest.raises(ConfigError):
        train(tiny_corpus, gru(), config)


@pytest.mark.parametrize("settings", [{"dropout": 1.0}, {"dropout": 1.2}, {"hidden": 0, "tied": False}, {"cell": "bert"}])
def test_bad_model_settings_are_refused_by_train(settings, tiny_corpus):
    with pytest.raises(ConfigError):
        train(tiny_corpus, gru(**settings), QUICK)


def test_good_train_settings_are_accepted():
    TrainConfig().validate()
    TrainConfig(lr=10.0, epochs=100_000, max_time=60, optimizer="adamw", weight_decay=0.01, device="cpu").validate()


# -- divergence -----------------------------------------------------------------------------------


def nan_losses(monkeypatch, is_nan):
    """Make the training loss NaN for the training batches n (counted from 1) where is_nan(n)."""
    real = model_module.linear_cross_entropy
    calls = {"n": 0}

    def linear_cross_entropy(*args, **kwargs):
        loss = real(*args, **kwargs)
        calls["n"] += 1  # only training batches use it; validation goes through the model's forward
        if is_nan(calls["n"]):
            return loss * math.nan
        return loss

    monkeypatch.setattr(model_module, "linear_cross_entropy", linear_cross_entropy)
    return calls


def test_a_loss_that_is_always_nan_ends_with_a_training_error(tiny_corpus, monkeypatch):
    nan_losses(monkeypatch, lambda n: True)
    events: list = []
    with pytest.raises(TrainingError) as err:
        train(tiny_corpus, gru(), QUICK, on_event=events.append)
    assert "learning rate" in str(err.value)
    halvings = [e for e in events if isinstance(e, Notice) and "halved the learning rate" in e.message]
    assert len(halvings) == train_module.MAX_DIVERGENCES
    assert not any(isinstance(e, EpochEnd) for e in events)


def test_divergence_after_the_first_epoch_keeps_the_best_model_with_a_notice(tiny_corpus, monkeypatch):
    events: list = []
    steps = {}

    def is_nan(n):
        return "epoch1" in steps and n > steps["epoch1"]

    def on_event(event):
        events.append(event)
        if isinstance(event, EpochEnd) and event.epoch == 1:
            steps["epoch1"] = calls["n"]

    calls = nan_losses(monkeypatch, is_nan)
    trained = train(tiny_corpus, gru(), replace(TINY_TRAIN, epochs=10), on_event=on_event)
    assert trained.metrics["stopped"] == "diverged"
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("diverged again" in m and "best weights" in m for m in notices)
    ends = [e for e in events if isinstance(e, EpochEnd)]
    best = min(ends, key=lambda e: e.valid_loss)
    assert best.epoch == 1
    assert same_weights(trained.state_dict, ends[0].state_dict)
    assert all(torch.isfinite(t).all() for t in trained.state_dict.values())


def test_a_single_nan_batch_restores_weights_and_halves_the_learning_rate(tiny_corpus, monkeypatch):
    nan_losses(monkeypatch, lambda n: n == 2)
    events: list = []
    trained = train(tiny_corpus, gru(), QUICK, on_event=events.append)
    assert trained.metrics["stopped"] == "completed"
    notices = [i for i, e in enumerate(events) if isinstance(e, Notice) and "halved" in e.message]
    assert len(notices) == 1
    after = next(e for e in events[notices[0]:] if isinstance(e, Progress))
    assert after.lr == pytest.approx(QUICK.lr / 2)
    assert len(trained.history) == QUICK.epochs


def test_the_highest_allowed_learning_rate_is_reported(tiny_corpus):
    events: list = []
    try:
        trained = train(tiny_corpus, ModelConfig(cell="lstm", **TINY_MODEL), replace(QUICK, lr=10.0), on_event=events.append)
    except TrainingError:
        return
    uniform = math.log(len(tiny_corpus.vocab))
    assert trained.metrics["valid_loss"] > uniform  # what happens today: worse than guessing...
    warnings = [e for e in events if isinstance(e, Notice) and "Small corpus" not in e.message]
    assert warnings, "...and nothing tells the user"


# -- reproducibility and resuming -----------------------------------------------------------------


def test_same_seed_gives_the_same_weights(tiny_corpus):
    config = replace(QUICK, epochs=2)
    model = gru(dropout=0.3)  # dropout draws random numbers too
    a = train(tiny_corpus, model, config)
    b = train(tiny_corpus, model, config)
    assert same_weights(a.state_dict, b.state_dict)
    c = train(tiny_corpus, model, replace(config, seed=1))
    assert not same_weights(a.state_dict, c.state_dict)


def test_resume_with_optimizer_state_continues_the_run(tiny_corpus):
    model = gru()  # no dropout: the continued run must match the uninterrupted one exactly
    config = replace(TINY_TRAIN, epochs=2)
    events: list = []
    straight = train(tiny_corpus, model, config, on_event=events.append)
    epoch2 = [e for e in events if isinstance(e, EpochEnd)][1]

    first = train(tiny_corpus, model, replace(config, epochs=1))
    steps = first.metrics["steps"]
    resumed_events: list = []
    resumed = train(tiny_corpus, model, replace(config, epochs=1), resume=first, on_event=resumed_events.append)
    assert same_weights(resumed.state_dict, epoch2.state_dict)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert [e.epoch for e in resumed_events if isinstance(e, EpochEnd)] == [2]
    assert resumed.history[0] == first.history[0]
    assert all(float(s["step"]) == 2 * steps for s in resumed.optimizer_state["state"].values())
    assert straight.metrics["epochs"] == 2

    # without the optimizer state (fresh Adam moments) the continuation is different
    no_optimizer = train(tiny_corpus, model, replace(config, epochs=1), resume=replace(first, optimizer_state=None))
    assert not same_weights(no_optimizer.state_dict, epoch2.state_dict)


def test_resuming_leaves_the_model_resumed_from_unchanged(tiny_corpus):
    model, config = gru(), replace(TINY_TRAIN, epochs=1)
    first = train(tiny_corpus, model, config)
    before = copy.deepcopy(first.optimizer_state)
    once = train(tiny_corpus, model, config, resume=first)
    after = first.optimizer_state
    for index, values in before["state"].items():
        for name, value in values.items():
            assert torch.equal(value, after["state"][index][name]), f"state {index}.{name} changed"
    twice = train(tiny_corpus, model, config, resume=first)  # so resuming again repeats the same run
    assert same_weights(once.state_dict, twice.state_dict)


def test_resume_refuses_another_vocabulary_or_other_settings(tiny_corpus):
    first = train(tiny_corpus, gru(), replace(QUICK, epochs=1))
    other = Corpus.from_text("completely different words here\nand here\n")
    with pytest.raises(ConfigError):
        train(other, gru(), QUICK, resume=first)
    with pytest.raises(ConfigError):
        train(tiny_corpus, gru(emb=16, hidden=16), QUICK, resume=first)


# -- corpora at the edges -------------------------------------------------------------------------


def test_a_two_word_corpus_trains(tmp_path):
    trained = train(Corpus.from_text("hello world\n"), gru(), QUICK)
    assert Predictor(trained.language_model()).suggest("hello ", k=5)[0].word in ("hello", "world")


def test_final_metrics_of_a_corpus_that_is_one_long_line(tiny_corpus, monkeypatch):
    seen = []
    real_evaluate = train_module.evaluate

    def spy(lm, text, **kwargs):
        seen.append(text)
        return real_evaluate(lm, text, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", spy)
    monkeypatch.setattr(evaluation_module, "FINAL_EVAL_CHARS", 100)  # stands for 50,000 at real scale
    one_line = " ".join(["the cat sat on the mat ."] * 20)  # 500 characters, no newline
    corpus = Corpus.from_text(one_line)
    train(corpus, gru(), replace(QUICK, epochs=1))
    assert len(seen[0].split()) > 5, f"final metrics measured on {seen[0]!r}"
