"""engine.compare() (RNN vs LSTM vs GRU vs n-gram on one corpus), its CLI and its in-app screen.

Tiny on purpose: emb = hidden = 16, about a second of training per cell, a made-up corpus.
"""

from __future__ import annotations

import json
import math
import re
import time

import pytest
import torch

from engine import EpochEnd, ModelConfig, Progress
from engine.comparison import (
    COLUMNS,
    CellDone,
    CellEvent,
    CellStart,
    Comparison,
    Row,
    compare,
    percentile,
    typing_session,
    write_verdicts,
)
from engine import TrainConfig

def row_of(result: Comparison, cell: str) -> Row:
    """The row of `cell` (each cell has at most one)."""
    (row,) = [r for r in result.rows if r.cell == cell]
    return row


SMALL = ModelConfig(emb=16, hidden=16, dropout=0.0)
BUDGET = 0.8
_LINES = [
    "the cat sat on the mat .",
    "the dog sat on the log .",
    "a cat and a dog played in the garden .",
    "the cat saw the dog and ran away .",
    "Alice has a cat and Bob has a dog .",
    "the dog ran to the garden .",
    "Alice saw the cat on the mat .",
    "Bob saw the dog on the log .",
    "the cat and the dog are friends .",
    "a dog sat in the garden .",
]
TEXT = "\n".join(_LINES * 2) + "\n"  # 20 lines: the last 2 are held out for validation
THREE_LINES = "the cat sat on the mat\nthe dog sat on the log\nthe cat ate the fish\n"
ORDER = ["rnn", "lstm", "gru", "ngram"]


@pytest.fixture(scope="module")
def measured() -> tuple[Comparison, list]:
    events: list = []
    result = compare(TEXT, BUDGET, SMALL, TrainConfig(batch_size=8, bptt=10, lr=1e-2), on_event=events.append)
    return result, events


def test_one_row_per_cell_and_the_ngram(measured):
    result, _ = measured
    assert [r.cell for r in result.rows] == ORDER
    assert not result.cancelled and not result.valid_is_train
    for r in result.rows:
        assert r.params > 0 and r.tokens_per_s > 0 and r.train_time > 0
        assert 1 < r.valid_ppl < math.inf
        assert 0 <= r.top1 <= r.top3 <= 1
        assert r.ksr is not None and 0 <= r.ksr <= 1
        assert 0 < r.latency_p50_ms <= r.latency_p99_ms
        assert r.verdict
    for r in result.rows[:3]:
        assert r.epochs >= 1 and len(r.curve) == r.epochs and r.epoch_time > 0
        assert r.stopped in ("time budget", "completed", "early stopping")
        sized = ModelConfig(**{**SMALL.to_json(), "cell": r.cell, "vocab_size": result.model_config.vocab_size})
        assert r.params == sized.param_count()
    gram = row_of(result, "ngram")
    assert gram.epochs is None and gram.curve == [] and gram.stopped == "counted"
    assert set(result.models) == set(ORDER)


def test_networks_get_the_same_budget_and_settings(measured):
    result, _ = measured
    assert result.train_config.max_time == BUDGET
    for r in result.rows[:3]:
        # the budget ends training (a tiny corpus never converges in under a second)
        assert r.train_time < BUDGET + 5
    assert result.model_config.emb == 16 and result.model_config.hidden == 16


def test_table_has_every_row_and_column(measured):
    result, _ = measured
    table = result.format_table()
    header = next(line for line in table.splitlines() if line.startswith("model"))
    for column in ("params", "tok/s", "s/epoch", "epochs", "val ppl", "top-1", "top-3", "KSR", "p50 ms", "p99 ms"):
        assert column in header
    for label in ("RNN", "LSTM", "GRU", "3-gram"):
        assert re.search(rf"^{re.escape(label)}\s+[\d,]+\s", table, re.M), label
        assert re.search(rf"^{re.escape(label)}: \S", table, re.M), f"no verdict line for {label}"


def test_verdicts_quote_the_measured_numbers(measured):
    result, _ = measured
    for r in result.rows:
        assert format(r.valid_ppl, ".1f") in r.verdict, (r.cell, r.verdict)


def test_json_is_valid_and_holds_every_column(measured):
    result, _ = measured
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert data["columns"] == list(COLUMNS)
    assert [row["cell"] for row in data["rows"]] == ORDER
    for row in data["rows"]:
        assert set(row) == set(COLUMNS)
    assert data["model_config"]["hidden"] == 16
    assert data["train_config"]["max_time"] == BUDGET


def test_events_are_tagged_with_their_cell(measured):
    result, events = measured
    starts = [e for e in events if isinstance(e, CellStart)]
    assert [e.cell for e in starts] == ["ngram", "rnn", "lstm", "gru"]
    assert [e.index for e in starts] == [0, 1, 2, 3] and {e.count for e in starts} == {4}
    done = [e for e in events if isinstance(e, CellDone)]
    assert sorted(e.cell for e in done) == sorted(ORDER)
    assert {e.cell: e.row for e in done} == {r.cell: r for r in result.rows}
    tagged = [e for e in events if isinstance(e, CellEvent)]
    for cell in ("rnn", "lstm", "gru"):
        mine = [e.event for e in tagged if e.cell == cell]
        assert any(isinstance(e, Progress) for e in mine)
        ends = [e for e in mine if isinstance(e, EpochEnd)]
        assert [e.valid_loss for e in ends] == row_of(result, cell).curve
    assert not any(e.cell == "ngram" for e in tagged)


def test_ngram_top_k_is_scored_on_the_same_text_as_the_networks(monkeypatch):
    """train() scores top-k/KSR on the start of the validation text; compare cuts the n-gram's text the
    same way (checked with a tiny limit, so the cut falls inside the validation text)."""
    import importlib

    from engine import evaluate, final_eval_text

    monkeypatch.setattr(importlib.import_module("engine.evaluation"), "FINAL_EVAL_CHARS", 50)
    text = "\n".join(_LINES * 4) + "\n"  # 40 lines: 4 held out, about 130 characters
    result = compare(text, 0.3, SMALL, cells=("rnn",))
    cut = final_eval_text(text.strip().split("\n", 36)[-1])
    assert 0 < len(cut) <= 50 and result.eval_chars == len(cut)
    rnn = row_of(result, "rnn")
    again = evaluate(result.models["rnn"], cut)
    assert (rnn.top1, rnn.top3, rnn.ksr) == (again.top1, again.top3, again.ksr)


def test_should_stop_before_anything():
    result = compare(TEXT, 30, SMALL, should_stop=lambda: True)
    assert result.rows == [] and result.cancelled
    assert "Stopped early" in result.format_table()


def test_should_stop_during_training_returns_promptly():
    """A 60 s budget, stopped as soon as the first network reports progress: its row is dropped."""
    events: list = []
    stopped = []

    def on_event(event):
        events.append(event)
        if isinstance(event, CellEvent):
            stopped.append(True)

    started = time.perf_counter()
    result = compare(TEXT, 60, SMALL, on_event=on_event, should_stop=lambda: bool(stopped))
    assert time.perf_counter() - started < 30
    assert result.cancelled
    assert [r.cell for r in result.rows] == ["ngram"]
    assert "no rows for RNN, LSTM, GRU" in result.format_table()


def test_a_tiny_corpus_says_validation_reuses_training():
    before = torch.get_num_threads()
    result = compare(THREE_LINES, 0.3, SMALL, cells=("gru",), threads=1)
    assert torch.get_num_threads() == before
    assert result.valid_is_train
    assert [r.cell for r in result.rows] == ["gru", "ngram"]
    assert "memorisation" in result.format_table()


def _row(cell: str, ppl: float, tps: float, params: int, ksr: float = 0.3) -> Row:
    return Row(cell=cell, label={"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "ngram": "3-gram"}[cell],
               params=params, tokens_per_s=tps, epoch_time=1.0, epochs=None if cell == "ngram" else 3,
               train_time=10.0, stopped="counted" if cell == "ngram" else "time budget", valid_ppl=ppl,
               top1=0.2, top3=0.4, ksr=ksr, latency_p50_ms=0.1, latency_p99_ms=0.5)


def test_verdicts_follow_the_numbers_not_the_tutorial():
    rows = [_row("rnn", 145.2, 20_000, 1_000_000), _row("lstm", 129.6, 8_000, 1_400_000, ksr=0.35),
            _row("gru", 131.0, 10_000, 1_300_000), _row("ngram", 133.0, 1e6, 50_000)]
    write_verdicts(rows)
    rnn, lstm, gru, gram = rows
    assert rnn.verdict.startswith("Fastest to train (20,000 tokens/s, 2.5x LSTM)")
    assert "12% worse perplexity than LSTM (145.2 vs 129.6)" in rnn.verdict
    assert "fewest parameters (1,000,000)" in rnn.verdict
    assert lstm.verdict.startswith("Best perplexity (129.6); saves the most keystrokes (KSR 35.0%)")
    assert "1.40x the parameters of RNN" in lstm.verdict and "slowest to train" in lstm.verdict
    assert "1% worse perplexity than LSTM" in gru.verdict or "about the same perplexity as LSTM" in gru.verdict
    assert "within 3% of the best network's perplexity (LSTM, 133.0 vs 129.6)" in gram.verdict
    assert "does not earn its cost" in gram.verdict

    # The same table with an RNN that is best: the verdicts change with the numbers.
    rows = [_row("rnn", 120.0, 20_000, 1_000_000), _row("lstm", 160.0, 8_000, 1_400_000),
            _row("gru", 150.0, 10_000, 1_300_000), _row("ngram", 200.0, 1e6, 50_000)]
    write_verdicts(rows)
    assert "; best perplexity (120.0)" in rows[0].verdict
    assert "keystrokes" not in rows[0].verdict  # equal KSRs: nobody "saves the most"
    assert "33% worse perplexity than RNN (160.0 vs 120.0)" in rows[1].verdict
    assert "67% worse perplexity than RNN" in rows[3].verdict and "earn their training time" in rows[3].verdict


def test_an_ngram_better_than_every_network_is_called_so():
    rows = [_row("lstm", 300.0, 8_000, 1_400_000), _row("ngram", 200.0, 1e6, 50_000)]
    write_verdicts(rows)
    assert "33% lower perplexity than the best network (LSTM, 200.0 vs 300.0)" in rows[1].verdict


def test_non_finite_numbers_become_null_in_json():
    rows = [_row("lstm", math.inf, 8_000, 1_400_000), _row("ngram", 200.0, 1e6, 50_000)]
    write_verdicts(rows)
    assert rows[0].to_json()["valid_ppl"] is None
    json.dumps([r.to_json() for r in rows], allow_nan=False)


def test_typing_session_types_one_character_at_a_time():
    session = typing_session("ab cd", keys=12)
    assert len(session) == 12
    assert session[0] == "a" and session[4] == "ab cd" and session[5] == "ab cd\n"
    assert all(b.startswith(a) and len(b) == len(a) + 1 for a, b in zip(session, session[1:]))
    assert typing_session("   ") == []


def test_percentile():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))


# -- the command line ----------------------------------------------------------------------------


def test_cli_compare_json(tmp_path, monkeypatch, capsys):
    from tui.cli import main

    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(THREE_LINES, encoding="utf-8")
    assert main(["compare", str(corpus), "--max-time", "0.3", "--hidden", "16", "--threads", "1", "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert [r["cell"] for r in data["rows"]] == ORDER
    assert data["model_config"]["emb"] == 16  # --hidden alone sizes both (the weights are tied)
    assert "RNN: training for 0.3 s" in err and "LSTM epoch 1" in err


def test_cli_compare_table_and_probe(tmp_path, monkeypatch, capsys):
    from tui.cli import main

    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(THREE_LINES, encoding="utf-8")
    assert main(["compare", str(corpus), "--max-time", "0.3", "--hidden", "16", "--probe", "--probe-time", "0.6"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Corpus: ") and "3-gram:" in out
    assert "Long-range probe" in out and "gap 50" in out


def test_cli_compare_errors(tmp_path, capsys):
    from tui.cli import main

    assert main(["compare", str(tmp_path / "missing.txt"), "--max-time", "1"]) == 2
    assert "No such file" in capsys.readouterr().err
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(THREE_LINES, encoding="utf-8")
    assert main(["compare", str(corpus), "--max-time", "0"]) == 2
    assert main(["compare", str(corpus), "--emb", "8", "--hidden", "16"]) == 2
    assert "--emb == --hidden" in capsys.readouterr().err


# -- the screen ------------------------------------------------------------------------------------


async def test_compare_screen_shows_the_table(tmp_path, monkeypatch):
    from textual.app import App
    from textual.widgets import DataTable, Static

    from tui.screens.compare import CompareScreen

    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    dismissed = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(CompareScreen(THREE_LINES, 1.0, SMALL), dismissed.append)

    app = Host()
    async with app.run_test(size=(120, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        table = screen.query_one("#compare-table", DataTable)
        deadline = time.monotonic() + 90
        while screen.comparison is None and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert screen.comparison is not None, "the comparison did not finish"
        await pilot.pause()
        assert table.row_count == 4
        assert [key.value for key in table.rows] == ORDER
        assert [table.get_row(key)[0] for key in table.rows] == ["RNN", "LSTM", "GRU", "3-gram"]
        verdicts = str(screen.query_one("#compare-verdicts", Static).render())
        assert "3-gram" in verdicts and "perplexity" in verdicts
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
    assert len(dismissed) == 1 and dismissed[0] is not None


async def test_compare_screen_escape_cancels_the_run(tmp_path, monkeypatch):
    from textual.app import App

    from tui.screens.compare import CompareScreen

    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    dismissed = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(CompareScreen(TEXT, 60.0, SMALL), dismissed.append)

    app = Host()
    async with app.run_test() as pilot:
        screen = app.screen
        await pilot.pause(0.5)
        worker = screen._worker
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        assert dismissed == [None]
        assert worker.is_cancelled
        started = time.monotonic()
        while worker.is_running and time.monotonic() - started < 30:
            await pilot.pause(0.1)
        assert not worker.is_running, "the worker kept training after escape"
