"""The app's training runs in a child process (tui/training_process.py): its reports arrive in
order and end with the saved model; a stop, a dead child and a failing run each end with one
final report, never a hang. These start the real child, as the app does."""

from __future__ import annotations

import engine
from engine import ModelConfig, TrainConfig
from tui import training_process as training
from tui.training_process import Epoch, Failed, Finished, Started, TrainingJob

TEXT = "\n".join(["the cat sat on the mat .", "the dog sat on the log .", "a cat and a dog ran in the garden ."] * 8) + "\n"
MODEL = ModelConfig(cell="gru", emb=16, hidden=16, dropout=0.0)


def _job(epochs: int = 2, text: str = TEXT, **train) -> TrainingJob:
    return TrainingJob(text, MODEL, TrainConfig(epochs=epochs, batch_size=4, bptt=8, seed=1, threads=1, **train))


def _run(job: TrainingJob, should_stop=lambda: False, on_report=None) -> list:
    reports = []

    def collect(report: object) -> None:
        reports.append(report)
        if on_report is not None:
            on_report(report)

    training.run(job, collect, should_stop)
    return reports


def test_a_run_reports_in_order_and_ends_with_the_saved_model():
    reports = _run(_job(epochs=2))
    assert isinstance(reports[0], Started)
    assert isinstance(reports[-1], Finished)
    assert [r for r in reports if isinstance(r, (Finished, Failed))] == [reports[-1]]  # one ending
    epochs = [r for r in reports if isinstance(r, Epoch)]
    assert [e.event.epoch for e in epochs] == [1, 2]
    assert epochs[0].samples and all(prompt for prompt, _ in epochs[0].samples)
    snapshot = training.snapshot(reports[0], epochs[-1].weights)
    assert engine.Predictor(snapshot.language_model()).suggest("the cat ", k=3)

    finished = reports[-1]
    assert finished.path is not None and finished.path.is_dir()
    saved = engine.load_model(finished.path)
    model = training.with_weights(finished.model, finished.weights)
    assert set(saved.state_dict) == set(model.state_dict)
    for name, tensor in saved.state_dict.items():
        assert tensor.equal(model.state_dict[name])  # what the app types with is what was saved
    # As `nextword-tui train` does: the blend fitted on the held-out part is saved beside it, so
    # the model learns from typing with its own setup, not the fallback for old models.
    assert engine.load_setup(finished.path, saved.vocab) is not None
    assert "learning from it" in " ".join(str(getattr(r, "message", "")) for r in reports)


def test_the_run_happens_in_another_process(monkeypatch):
    def not_here(*args, **kwargs):
        raise AssertionError("trained in the app's process")

    monkeypatch.setattr(engine, "train", not_here)  # the child has its own, untouched engine
    reports = _run(_job(epochs=1))
    assert isinstance(reports[-1], Finished), reports[-1]


def test_a_stop_ends_the_run_early_with_the_best_weights_kept():
    epochs_seen = []
    reports = _run(_job(epochs=500), should_stop=lambda: bool(epochs_seen),
                   on_report=lambda r: isinstance(r, Epoch) and epochs_seen.append(r))
    assert isinstance(reports[-1], Finished), reports[-1]
    assert reports[-1].stopped == "cancelled"
    assert len(epochs_seen) < 500
    assert reports[-1].path is not None  # stopped, but kept


def test_a_child_that_dies_ends_as_a_failure_not_a_hang(monkeypatch):
    children = []
    start = training._start_child

    def recorded(errors):
        children.append(start(errors))
        return children[-1]

    monkeypatch.setattr(training, "_start_child", recorded)
    reports = _run(_job(epochs=10_000), on_report=lambda r: isinstance(r, Started) and children[0].kill())
    assert isinstance(reports[-1], Failed)
    assert "ended unexpectedly" in reports[-1].message and "-9" in reports[-1].message


def test_a_corpus_the_engine_refuses_is_one_failed_report():
    reports = _run(_job(text=""))
    assert len(reports) == 1 and isinstance(reports[0], Failed)
    assert "empty" in reports[0].message and "bug" not in reports[0].message
