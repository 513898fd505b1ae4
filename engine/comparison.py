"""RNN vs LSTM vs GRU (and an n-gram reference), measured on the user's own text.

    result = compare(text, max_time_per_cell=60)          # one Corpus, the same settings and budget
    print(result.format_table())                         # plain-text table + one verdict per row
    json.dumps(result.to_json())                         # every column, non-finite numbers as null

Each network is trained with `engine.train()` under `TrainConfig(max_time=...)`; the n-gram (order 3,
interpolated Kneser-Ney) is fitted on the same training split. Every row is then measured the same
way on the corpus's validation text:

- perplexity: `evaluate(lm, valid_text, ksr=False)` on the whole validation text, for every row;
- top-1 / top-3 / KSR: `evaluate` on the start of the validation text (the text `train()` itself
  scores in its final metrics, so the network rows reuse those numbers);
- suggestion latency: `Predictor.suggest` timed over a scripted typing session of the validation
  text (typed one character at a time, `TYPING_KEYS` keystrokes) with one torch thread, as the app's
  UI thread runs it;
- training cost: parameters, tokens/s, seconds per epoch, epochs reached within the budget, and the
  validation loss after each epoch (for the plot).

The verdicts are sentences built from those numbers only.

Events (`on_event`): `CellStart(cell, index, count)` when a row starts, `CellEvent(cell, event)` for
every engine event (Progress / EpochEnd / Notice) of the network being trained, and
`CellDone(cell, row)` when a row is measured. `should_stop` is polled between rows and every batch;
once it returns true, `compare` returns what it has so far (`Comparison.cancelled`), without the row
that was interrupted (its budget was not spent, so it could not be compared fairly).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable, Iterator

import torch

from engine.config import CELLS, KINDS, LABELS, NGRAM, NGRAM_ORDER, DataConfig, ModelConfig, TrainConfig
from engine.corpus import Corpus
from engine.errors import TrainingError
from engine.evaluation import evaluate, final_eval_text
from engine.formatting import format_number
from engine.lm import LanguageModel
from engine.predict import Predictor
from engine.store import finite_or_none
from engine.training import fit_stream, train

ROWS = KINDS
TYPING_KEYS = 300  # keystrokes of the scripted typing session that times suggestions
SUGGEST_K = 5  # as many suggestions as the app shows
SAME = 0.01  # relative differences below this are called "about the same"
NGRAM_CLOSE = 0.03  # an n-gram within this of the best network: the network does not earn its cost


@dataclass(frozen=True)
class CellStart:
    cell: str
    index: int  # 0-based position in the run
    count: int  # rows in the run


@dataclass(frozen=True)
class CellEvent:
    """An engine training event (engine.Progress / EpochEnd / Notice) of `cell`."""

    cell: str
    event: object


@dataclass(frozen=True)
class CellDone:
    cell: str
    row: "Row"


@dataclass
class Row:
    """One measured row. Network-only fields are None for the n-gram."""

    cell: str  # rnn | lstm | gru | ngram
    label: str
    params: int  # trainable parameters; for the n-gram, stored numbers (probabilities and weights)
    tokens_per_s: float  # training tokens per second (the n-gram: tokens counted per second)
    epoch_time: float | None  # seconds per epoch at the measured speed; the n-gram: the time to count
    epochs: int | None  # epochs measured on the validation text within the budget
    train_time: float  # seconds spent training (or counting)
    stopped: str  # why training ended: time budget, early stopping, completed, diverged, counted
    valid_ppl: float
    top1: float
    top3: float
    ksr: float | None
    latency_p50_ms: float
    latency_p99_ms: float
    curve: list[float] = field(default_factory=list)  # validation loss (nats/token) after each epoch
    verdict: str = ""

    def to_json(self) -> dict:
        return finite_or_none(asdict(self))


COLUMNS = tuple(f.name for f in fields(Row))


@dataclass
class Comparison:
    rows: list[Row]
    corpus_summary: str
    valid_is_train: bool
    max_time_per_cell: float
    model_config: ModelConfig
    train_config: TrainConfig
    data_config: DataConfig
    eval_chars: int  # characters of validation text behind top-1 / top-3 / KSR
    typing_keys: int  # keystrokes timed per row
    cancelled: bool = False
    # The measured language models by row (not part of the JSON): benchmarks evaluate them elsewhere.
    models: dict[str, LanguageModel] = field(default_factory=dict, repr=False)

    def format_table(self) -> str:
        head = (f"{'model':<7} {'params':>10} {'tok/s':>9} {'s/epoch':>8} {'epochs':>6} {'val ppl':>9} "
                f"{'top-1':>6} {'top-3':>6} {'KSR':>6} {'p50 ms':>7} {'p99 ms':>7}")
        lines = [f"Corpus: {self.corpus_summary}",
                 f"Budget: {_secs(self.max_time_per_cell)} of training per network; "
                 f"{self.model_config.layers} layer(s), emb {self.model_config.emb}, hidden {self.model_config.hidden}",
                 "", head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r.label:<7} {r.params:>10,} {r.tokens_per_s:>9,.0f} {format_number(r.epoch_time, '.1f'):>8} "
                f"{format_number(r.epochs, 'd'):>6} {format_number(r.valid_ppl, '.2f'):>9} "
                f"{r.top1:>6.1%} {r.top3:>6.1%} {format_number(r.ksr, '.1%'):>6} "
                f"{r.latency_p50_ms:>7.3f} {r.latency_p99_ms:>7.3f}"
            )
        lines.append("")
        for r in self.rows:
            lines.append(f"{r.label}: {r.verdict}")
        lines.append("")
        lines.append(
            f"Perplexity on the whole validation text; top-k and KSR on its first {self.eval_chars:,} characters; "
            f"latency of Predictor.suggest over {self.typing_keys} typed keystrokes (1 thread)."
        )
        if self.valid_is_train:
            lines.append("The corpus is too short to hold text back: validation reuses the training text, "
                         "so these numbers measure memorisation, not prediction.")
        if self.cancelled:
            missing = [LABELS[c] for c in ROWS if c not in {r.cell for r in self.rows}]
            lines.append(f"Stopped early: no rows for {', '.join(missing) or 'nothing'}.")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "rows": [r.to_json() for r in self.rows],
            "columns": list(COLUMNS),
            "corpus": self.corpus_summary,
            "valid_is_train": self.valid_is_train,
            "max_time_per_cell": self.max_time_per_cell,
            "model_config": self.model_config.to_json(),
            "train_config": finite_or_none(self.train_config.to_json()),
            "data_config": self.data_config.to_json(),
            "eval_chars": self.eval_chars,
            "typing_keys": self.typing_keys,
            "cancelled": self.cancelled,
        }


def compare(
    text: str,
    max_time_per_cell: float,
    model_config: ModelConfig = ModelConfig(),
    train_config: TrainConfig | None = None,
    data_config: DataConfig | None = None,
    on_event: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    cells: tuple[str, ...] = CELLS,
    ngram: bool = True,
    threads: int | None = None,
) -> Comparison:
    """Train every cell on `text` with the same settings and time budget, fit the n-gram, measure all.

    `threads`: torch threads for training and evaluation (None: leave torch's setting alone). On a
    CPU shared with other work, 1 thread is often faster than several (threads wait for each other).
    """
    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    train_config = replace(train_config or TrainConfig(), max_time=max_time_per_cell)
    train_config.validate()
    corpus = Corpus.from_text(text, data_config or DataConfig())
    sized = replace(model_config, vocab_size=len(corpus.vocab))
    sized.validate()
    eval_text = final_eval_text(corpus.valid_text)
    typing = typing_session(corpus.valid_text)
    result = Comparison(
        rows=[], corpus_summary=corpus.stats.summary(), valid_is_train=corpus.stats.valid_is_train,
        max_time_per_cell=max_time_per_cell, model_config=sized, train_config=train_config,
        data_config=corpus.config, eval_chars=len(eval_text), typing_keys=len(typing),
    )
    order = [NGRAM] * ngram + [c for c in CELLS if c in cells]  # the n-gram first: it is instant
    with torch_threads(threads):
        _measure_all(order, result, corpus, sized, train_config, eval_text, typing, emit, stop)
    result.rows.sort(key=lambda r: ROWS.index(r.cell))
    write_verdicts(result.rows)
    return result


def _measure_all(order: list[str], result: Comparison, corpus: Corpus, sized: ModelConfig,
                 train_config: TrainConfig, eval_text: str, typing: list[str],
                 emit: Callable[[object], None], stop: Callable[[], bool]) -> None:
    for index, cell in enumerate(order):
        if stop():
            result.cancelled = True
            return
        emit(CellStart(cell, index, len(order)))
        if cell == NGRAM:
            row, lm = _measure_ngram(corpus, eval_text, typing)
        else:
            measured = _measure_network(cell, corpus, sized, train_config, typing, emit, stop)
            if measured is None:
                result.cancelled = True
                return
            row, lm = measured
        result.rows.append(row)
        result.models[cell] = lm
        emit(CellDone(cell, row))


def typing_session(text: str, keys: int = TYPING_KEYS) -> list[str]:
    """The text as it grows one typed character at a time (a short text is typed again on a new line)."""
    if not text.strip():
        return []
    source = text
    while len(source) < keys:
        source += "\n" + text
    return [source[: i + 1] for i in range(keys)]


def time_suggestions(lm: LanguageModel, typing: list[str], k: int = SUGGEST_K) -> list[float]:
    """Seconds per `Predictor.suggest` call while `typing` is typed, on one torch thread."""
    with one_thread():
        Predictor(lm).suggest("", k)  # warm up once (first-call allocations), on a throwaway predictor
        predictor = Predictor(lm)
        times = []
        for typed in typing:
            start = time.perf_counter()
            predictor.suggest(typed, k)
            times.append(time.perf_counter() - start)
    return times


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block with `threads` torch threads (None: unchanged), then restore the previous count."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def one_thread():
    return torch_threads(1)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between ranks; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# -- measuring ---------------------------------------------------------------------------------


def _measure_ngram(corpus: Corpus, eval_text: str, typing: list[str]) -> tuple[Row, LanguageModel]:
    from engine.ngram import NGramLM

    started = time.perf_counter()
    lm = NGramLM.from_corpus(corpus, order=NGRAM_ORDER)
    fit_time = time.perf_counter() - started
    scores = evaluate(lm, eval_text)
    ppl = evaluate(lm, corpus.valid_text, ksr=False).perplexity if eval_text != corpus.valid_text else scores.perplexity
    latency = time_suggestions(lm, typing)
    row = Row(
        cell=NGRAM, label=LABELS[NGRAM], params=lm.size,
        tokens_per_s=corpus.train_ids.numel() / fit_time if fit_time > 0 else math.inf,
        epoch_time=fit_time, epochs=None, train_time=fit_time, stopped="counted",
        valid_ppl=ppl, top1=scores.top1, top3=scores.top3, ksr=scores.ksr,
        latency_p50_ms=1000 * percentile(latency, 50), latency_p99_ms=1000 * percentile(latency, 99),
        curve=[],
    )
    return row, lm


def _measure_network(cell: str, corpus: Corpus, config: ModelConfig, train_config: TrainConfig,
                     typing: list[str], emit: Callable[[object], None],
                     stop: Callable[[], bool]) -> tuple[Row, LanguageModel] | None:
    try:
        trained = train(corpus, replace(config, cell=cell), train_config,
                        on_event=lambda event: emit(CellEvent(cell, event)), should_stop=stop)
    except TrainingError:
        if stop():
            return None
        raise
    m = trained.metrics
    if m["stopped"] == "cancelled":
        return None
    lm = trained.language_model()
    ppl = evaluate(lm, corpus.valid_text, ksr=False).perplexity
    latency = time_suggestions(lm, typing)
    history = trained.history
    row = Row(
        cell=cell, label=LABELS[cell], params=m["params"], tokens_per_s=m["tokens_per_s"],
        epoch_time=_epoch_time(corpus, train_config, m["tokens_per_s"]), epochs=m["epochs"], train_time=m["train_time"], stopped=m["stopped"],
        valid_ppl=ppl, top1=m["top1"], top3=m["top3"], ksr=m["ksr"],
        latency_p50_ms=1000 * percentile(latency, 50), latency_p99_ms=1000 * percentile(latency, 99),
        curve=[h["valid_loss"] for h in history],
    )
    return row, lm


def _epoch_time(corpus: Corpus, config: TrainConfig, tokens_per_s: float) -> float | None:
    """Seconds per epoch at the measured training speed (validation included in that speed).

    Computed from the speed rather than from the epochs' timestamps, because within a short budget
    the only epoch may be a partial one.
    """
    stream, _ = fit_stream(corpus.train_ids, config.batch_size, config.bptt)
    per_epoch = (stream.numel() // config.batch_size - 1) * config.batch_size
    return per_epoch / tokens_per_s if tokens_per_s > 0 else None


# -- verdicts ----------------------------------------------------------------------------------


def write_verdicts(rows: list[Row]) -> None:
    """One sentence per row, from the measured numbers only."""
    nets = [r for r in rows if r.cell != NGRAM]
    gram = next((r for r in rows if r.cell == NGRAM), None)
    if nets:
        best = min(nets, key=lambda r: _ppl_key(r.valid_ppl))
        fastest = max(nets, key=lambda r: r.tokens_per_s)
        slowest = min(nets, key=lambda r: r.tokens_per_s)
        smallest = min(nets, key=lambda r: r.params)
        best_ksr = max(nets, key=lambda r: r.ksr if r.ksr is not None else -1.0)
        for r in nets:
            good, bad = [], []
            if len(nets) > 1 and r is fastest and _rel(fastest.tokens_per_s, slowest.tokens_per_s) > SAME:
                good.append(f"fastest to train ({r.tokens_per_s:,.0f} tokens/s, "
                            f"{r.tokens_per_s / slowest.tokens_per_s:.1f}x {slowest.label})")
            elif len(nets) > 1 and r is slowest and _rel(fastest.tokens_per_s, slowest.tokens_per_s) > SAME:
                bad.append(f"slowest to train ({r.tokens_per_s:,.0f} tokens/s, "
                           f"{fastest.tokens_per_s / r.tokens_per_s:.1f}x slower than {fastest.label})")
            if len(nets) == 1 or r is best:
                runner = min((n for n in nets if n is not r), key=lambda n: _ppl_key(n.valid_ppl), default=None)
                if runner is not None and _rel(runner.valid_ppl, r.valid_ppl) <= SAME:
                    good.append(f"best perplexity ({format_number(r.valid_ppl, '.1f')}), level with "
                                f"{runner.label} ({format_number(runner.valid_ppl, '.1f')})")
                else:
                    good.append(f"best perplexity ({format_number(r.valid_ppl, '.1f')})")
            elif _rel(r.valid_ppl, best.valid_ppl) <= SAME:
                good.append(f"about the same perplexity as {best.label} "
                            f"({_pair(r.valid_ppl, best.valid_ppl)})")
            else:
                bad.append(f"{_pct(r.valid_ppl, best.valid_ppl)} worse perplexity than {best.label} "
                           f"({_pair(r.valid_ppl, best.valid_ppl)})")
            others_ksr = [n.ksr for n in nets if n is not r and n.ksr is not None]
            if r is best_ksr and r.ksr is not None and others_ksr and r.ksr > max(others_ksr) + 0.005:
                good.append(f"saves the most keystrokes (KSR {r.ksr:.1%})")
            if r is not smallest and r.params > smallest.params * (1 + SAME):
                bad.append(f"{r.params / smallest.params:.2f}x the parameters of {smallest.label}")
            elif len(nets) > 1 and r is smallest:
                good.append(f"fewest parameters ({r.params:,})")
            if r.stopped not in ("time budget", "completed"):
                bad.append(f"training ended by {r.stopped} after {r.epochs} epoch(s)")
            r.verdict = _sentence(good, bad)
    if gram is not None:
        gram.verdict = _ngram_verdict(gram, nets)


def _ngram_verdict(gram: Row, nets: list[Row]) -> str:
    counted = f"counted in {_secs(gram.train_time)}"
    if not nets:
        return f"{counted}; perplexity {format_number(gram.valid_ppl, '.1f')}, KSR {format_number(gram.ksr, '.1%')}"
    best = min(nets, key=lambda r: _ppl_key(r.valid_ppl))
    if _ppl_key(gram.valid_ppl) <= _ppl_key(best.valid_ppl):
        return (f"{counted}, and {_lower(gram.valid_ppl, best.valid_ppl)} lower perplexity than the best network "
                f"({best.label}, {_pair(gram.valid_ppl, best.valid_ppl)}): "
                "the networks do not earn their cost on this corpus at this budget")
    gap = _rel(gram.valid_ppl, best.valid_ppl)
    if gap <= NGRAM_CLOSE:
        return (f"{counted}, within {gap:.0%} of the best network's perplexity ({best.label}, "
                f"{_pair(gram.valid_ppl, best.valid_ppl)}): "
                "the network does not earn its cost on this corpus")
    return (f"{counted}, but {_pct(gram.valid_ppl, best.valid_ppl)} worse perplexity than {best.label} "
            f"({_pair(gram.valid_ppl, best.valid_ppl)}): the networks earn their training time here")


def _sentence(good: list[str], bad: list[str]) -> str:
    if good and bad:
        text = "; ".join(good) + ", but " + "; ".join(bad)
    else:
        text = "; ".join(good or bad)
    return text[:1].upper() + text[1:] if text else ""


def _ppl_key(ppl: float) -> float:
    return ppl if isinstance(ppl, (int, float)) and math.isfinite(ppl) else math.inf


def _rel(worse: float, better: float) -> float:
    """How much larger `worse` is than `better`, as a fraction of `better` (inf if unmeasurable)."""
    if not (math.isfinite(worse) and math.isfinite(better)) or better <= 0:
        return math.inf
    return worse / better - 1


def _pct(worse: float, better: float) -> str:
    rel = _rel(worse, better)
    return "infinitely" if math.isinf(rel) else f"{rel:.0%}"


def _pair(a: float, b: float) -> str:
    """'a vs b' with one decimal, or more (up to three) when one decimal would show them equal."""
    for digits in (1, 2, 3):
        x, y = format_number(a, f".{digits}f"), format_number(b, f".{digits}f")
        if x != y:
            break
    return f"{x} vs {y}"


def _lower(better: float, worse: float) -> str:
    """How much lower `better` is than `worse`, as a percentage of `worse`."""
    if not math.isfinite(worse) or worse <= 0:
        return "infinitely"
    return f"{1 - better / worse:.0%}"


def _secs(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
