"""engine.probe: the long-range memory probe's data and its (tiny) runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.probe import KEY, LEAD, QUERY, ProbeResult, ProbeRunDone, ProbeTask, make_sequences, run_probe

TASK = ProbeTask(n_keys=4, n_fillers=10)


@pytest.mark.parametrize("gap", [1, 2, 5, 20, 50])
def test_the_key_is_exactly_gap_tokens_before_the_query(gap):
    rng = np.random.default_rng(gap)
    inputs, keys = make_sequences(TASK, np.full(200, gap), rng)
    seqs = inputs.numpy()
    assert seqs.shape == (200, LEAD + gap + 2)
    query = seqs.shape[1] - 1
    assert (seqs[:, query] == QUERY).all()
    assert (seqs[:, query - gap] == keys.numpy()).all()
    assert (seqs[:, query - gap - 1] == KEY).all()
    is_key = np.isin(seqs, list(TASK.key_ids))
    assert (is_key.sum(axis=1) == 1).all(), "a key word appears somewhere else than at the key position"
    fillers = np.ones_like(seqs, dtype=bool)
    fillers[:, query] = fillers[:, query - gap] = fillers[:, query - gap - 1] = False
    assert np.isin(seqs[fillers], list(TASK.filler_ids)).all()
    assert set(keys.tolist()) == set(TASK.key_ids)  # every key is used


def test_mixed_gaps_in_one_batch():
    gaps = np.array([1, 3, 7, 7, 2])
    inputs, keys = make_sequences(TASK, gaps, np.random.default_rng(0), length=12)
    seqs = inputs.numpy()
    assert seqs.shape == (5, 12)
    for row, gap in enumerate(gaps):
        assert seqs[row, 11 - gap] == keys[row] and seqs[row, 10 - gap] == KEY and seqs[row, 11] == QUERY


def test_bad_gaps_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        make_sequences(TASK, [0], rng)
    with pytest.raises(ValueError):
        make_sequences(TASK, [11], rng, length=12)
    with pytest.raises(ValueError):
        run_probe(gaps=(), seconds_per_cell=1)


@pytest.fixture(scope="module")
def tiny_probe() -> tuple[ProbeResult, list]:
    events: list = []
    result = run_probe(gaps=(2, 6), seconds_per_cell=0.6, hidden=16, batch_size=16, test_per_gap=64,
                       task=TASK, on_event=events.append)
    return result, events


def test_probe_gives_an_accuracy_for_every_gap_and_cell(tiny_probe):
    result, events = tiny_probe
    assert set(result.accuracy) == {"rnn", "lstm", "gru"}
    for cell, by_gap in result.accuracy.items():
        assert set(by_gap) == {2, 6}
        assert all(0.0 <= a <= 1.0 for a in by_gap.values())
        assert all(result.steps[cell][g] >= 1 for g in (2, 6))
    assert [(e.cell, e.gap) for e in events if isinstance(e, ProbeRunDone)] == [
        (c, g) for c in ("rnn", "lstm", "gru") for g in (2, 6)
    ]
    assert result.chance == 0.25 and not result.cancelled


def test_probe_table_and_json(tiny_probe):
    result, _ = tiny_probe
    table = result.format_table()
    assert "gap 2" in table and "gap 6" in table
    for label in ("RNN", "LSTM", "GRU"):
        assert f"\n{label} " in table
    assert "Gap 6:" in table
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert set(data["accuracy"]["gru"]) == {"2", "6"}


def test_probe_respects_should_stop():
    result = run_probe(gaps=(5,), seconds_per_cell=60, should_stop=lambda: True)
    assert result.cancelled and result.accuracy == {}


def _result(rnn: float, lstm: float) -> ProbeResult:
    return ProbeResult(gaps=(5, 50), cells=("rnn", "lstm"), accuracy={"rnn": {5: 1.0, 50: rnn}, "lstm": {5: 1.0, 50: lstm}},
                       steps={"rnn": {5: 10, 50: 10}, "lstm": {5: 10, 50: 10}}, seconds_per_cell=2, task=ProbeTask(),
                       hidden=16, batch_size=8, lr=1e-3, test_per_gap=10, seed=0)


def test_the_summary_reports_what_was_measured():
    same = _result(rnn=0.96, lstm=0.98).format_table()
    assert "The plain RNN does as well as LSTM at gap 50" in same
    assert "RNN and LSTM recall at least 90%" in same
    apart = _result(rnn=0.13, lstm=0.98).format_table()
    assert "At gap 50, LSTM beats the plain RNN by 85 points" in apart
    assert "RNN is within 10 points of chance" in apart
