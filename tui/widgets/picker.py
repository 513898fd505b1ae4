"""The model picker pane: which cell to use (RNN / LSTM / GRU, n-gram when available), its
training settings with a live parameter count, and what each cell has learned so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from tui.safe import plain

CELL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "ngram": "n-gram"}
CELL_KEYS = {"rnn": "F2", "lstm": "F3", "gru": "F4", "ngram": "F5"}


@dataclass(frozen=True)
class Field:
    name: str  # the ModelConfig / TrainConfig field it sets
    label: str
    parse: Callable[[str], object]
    default: str
    optional: bool = False  # empty means "no limit"


def _whole(text: str) -> int:
    """'1,000' -> 1000; '1e9' -> 1000000000 (so the engine can say it is too many)."""
    text = text.replace(",", "").replace("_", "")
    try:
        return int(text)
    except ValueError:
        value = float(text)  # ValueError if not a number at all
        if not value.is_integer():  # also refuses nan and inf
            raise
        return int(value)


# The engine's defaults (ModelConfig, TrainConfig), repeated here because importing the engine
# loads torch (about a second) and the first frame must not wait; tests check they agree.
# The one difference: the app gives training a time budget, so ctrl+t never runs for hours.
MODEL_FIELDS = (
    Field("emb", "emb", _whole, "256"),
    Field("hidden", "hidden", _whole, "256"),
    Field("layers", "layers", _whole, "1"),
    Field("dropout", "dropout", float, "0.3"),
)
TRAIN_FIELDS = (
    Field("epochs", "epochs", _whole, "40"),
    Field("max_time", "time s", float, "120", optional=True),
    Field("lr", "lr", float, "0.002"),
    Field("batch_size", "batch", _whole, "20"),
    Field("bptt", "bptt", _whole, "35"),
)
NGRAM_FIELDS = (Field("order", "order", _whole, "3"),)
ALL_FIELDS = MODEL_FIELDS + TRAIN_FIELDS + NGRAM_FIELDS


@dataclass(frozen=True)
class Settings:
    """Validated settings for one training run, as keyword arguments for the engine's configs."""

    cell: str
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CellModel:
    """What the app knows about a cell's active model, for display."""

    name: str
    metrics: dict
    current_corpus: bool  # trained on the text now in the editor
    live: str = ""  # e.g. "training, epoch 3" while a run is going


def format_metrics(metrics: dict) -> str:
    """'ppl 85.3 · top-1 21% · top-3 35% · KSR 40%', with whatever of these is known."""
    parts = []
    ppl = metrics.get("valid_ppl")
    if isinstance(ppl, (int, float)):
        parts.append(f"ppl {ppl:,.1f}")
    for key, label in (("top1", "top-1"), ("top3", "top-3"), ("ksr", "KSR")):
        value = metrics.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{label} {value:.0%}" if value <= 1 else f"{label} {value:.0f}%")
    return " · ".join(parts)


class ModelPicker(Vertical, can_focus=False):
    """Chooses the cell and holds each cell's settings. Posts CellSelected when the cell changes."""

    cell: reactive[str] = reactive("lstm", init=False)
    vocab_size: reactive[int] = reactive(0, init=False)
    engine_loaded: reactive[bool] = reactive(False, init=False)

    class CellSelected(Message):
        def __init__(self, cell: str) -> None:
            super().__init__()
            self.cell = cell

    class SettingsChanged(Message):
        """A setting was edited (valid or not: call settings() to find out)."""

    def __init__(self, cells: tuple[str, ...] = ("rnn", "lstm", "gru"), **kwargs) -> None:
        super().__init__(**kwargs)
        self.cells = cells
        # Each cell keeps its own settings, as typed (so a half-typed value survives switching).
        self._raw = {cell: {f.name: f.default for f in ALL_FIELDS} for cell in cells}
        self._models: dict[str, CellModel] = {}
        self._loading_inputs = False
        self._settings_ready = False

    def compose(self) -> ComposeResult:
        with RadioSet(id="cells", compact=True):
            for cell in self.cells:
                yield RadioButton(self._cell_label(cell), value=cell == self.cell, id=f"cell-{cell}")
        yield Static("", id="cell-metrics")
        yield Grid(id="settings")
        # On a short terminal the grid folds away until the pane has focus; this line stands in.
        yield Static("", id="settings-summary")
        yield Static("", id="param-count")

    def on_mount(self) -> None:
        self._refresh_cell_info()
        # The twenty settings widgets are mounted just after the first frame, which then comes
        # sooner (startup budget: 0.5 s); nobody can type into them that fast anyway.
        self.call_after_refresh(self._mount_settings)

    async def _mount_settings(self) -> None:
        widgets = []
        for f in ALL_FIELDS:
            widgets.append(Label(f.label, classes=f"setting-label field-{f.name}"))
            widgets.append(Input(self._raw[self.cell][f.name], id=f"set-{f.name}", compact=True,
                                 classes=f"setting field-{f.name}"))
        await self.query_one("#settings", Grid).mount_all(widgets)
        self._settings_ready = True
        self._show_fields()
        self.validate()

    # --- cell selection ------------------------------------------------------------------------

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        cell = (event.pressed.id or "").removeprefix("cell-")
        if cell in self.cells:
            self.cell = cell

    def validate_cell(self, cell: str) -> str:
        return cell if cell in self.cells else self.cell

    def watch_cell(self, old: str, new: str) -> None:
        self._store_inputs(old)
        self.query_one(f"#cell-{new}", RadioButton).value = True
        self._load_inputs(new)
        self._show_fields()
        self._refresh_cell_info()
        self.validate()
        self.post_message(self.CellSelected(new))

    def _store_inputs(self, cell: str) -> None:
        if not self._settings_ready:
            return
        for f in ALL_FIELDS:
            self._raw[cell][f.name] = self.query_one(f"#set-{f.name}", Input).value

    def _load_inputs(self, cell: str) -> None:
        if not self._settings_ready:
            return
        self._loading_inputs = True
        try:
            for f in ALL_FIELDS:
                self.query_one(f"#set-{f.name}", Input).value = self._raw[cell][f.name]
        finally:
            self._loading_inputs = False

    def _show_fields(self) -> None:
        """The n-gram model has one setting; the neural cells have the rest."""
        ngram = self.cell == "ngram"
        if not self._settings_ready:
            return
        for f in ALL_FIELDS:
            visible = (f in NGRAM_FIELDS) == ngram
            for widget in self.query(f".field-{f.name}"):
                widget.display = visible

    # --- trained models ------------------------------------------------------------------------

    def set_models(self, models: dict[str, CellModel]) -> None:
        """Show which cells have a model (and how good it is)."""
        self._models = dict(models)
        self._refresh_cell_info()

    def _cell_label(self, cell: str) -> str:
        name = f"{CELL_NAMES[cell]} {CELL_KEYS[cell]}"
        model = self._models.get(cell)
        if model is None:
            return name
        mark = "●" if model.current_corpus else "○"
        ppl = model.metrics.get("valid_ppl")
        ppl_text = f" ppl {ppl:,.1f}" if isinstance(ppl, (int, float)) else ""
        return f"{name:<10}{mark}{ppl_text} {model.live}".rstrip()

    def _refresh_cell_info(self) -> None:
        for cell in self.cells:
            self.query_one(f"#cell-{cell}", RadioButton).label = self._cell_label(cell)
        model = self._models.get(self.cell)
        if model is None:
            hint = "built from the text" if self.cell == "ngram" else "ctrl+t trains one"
            text = f"No {CELL_NAMES[self.cell]} yet ({hint})"
        else:
            where = "this text" if model.current_corpus else "another text"
            metrics = format_metrics(model.metrics) or "no metrics yet"
            text = f"{'●' if model.current_corpus else '○'} {where}: {metrics}"
        self.query_one("#cell-metrics", Static).update(text)

    # --- settings ------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if not self._loading_inputs:
            self.validate()
            self.post_message(self.SettingsChanged())

    def watch_vocab_size(self) -> None:
        self.validate()

    def watch_engine_loaded(self) -> None:
        self.validate()

    def validate(self) -> Settings | None:
        """Parse and check the current cell's settings; show the parameter count or the first
        problem. Returns the settings, or None if something is wrong."""
        label = self.query_one("#param-count", Static)
        if not self._settings_ready:
            return None
        try:
            settings = self._parse()
            summary = self._check(settings)
        except ValueError as exc:
            # The message quotes what was typed: never markup ("[/]" would crash the app).
            label.update(Content.assemble(("✗", "bold"), " ", plain(str(exc))))
            label.add_class("-error")
            return None
        label.remove_class("-error")
        label.update(summary)
        self.query_one("#settings-summary", Static).update(self._summary(settings))
        return settings

    def settings(self) -> Settings | None:
        return self.validate()

    def _parse(self) -> Settings:
        values: dict[str, object] = {}
        fields = NGRAM_FIELDS if self.cell == "ngram" else MODEL_FIELDS + TRAIN_FIELDS
        problem = None
        for f in fields:
            widget = self.query_one(f"#set-{f.name}", Input)
            text = widget.value.strip()
            try:
                if f.optional and text in ("", "-", "none", "off"):
                    values[f.name] = None
                else:
                    values[f.name] = f.parse(text)
                widget.remove_class("-invalid")
            except ValueError:
                widget.add_class("-invalid")
                kind = "a whole number" if f.parse is _whole and _is_number(text) else "a number"
                problem = problem or f"{f.label}: '{text}' is not {kind}."
        if problem:
            raise ValueError(problem)
        model = {f.name: values[f.name] for f in fields if f in MODEL_FIELDS}
        train = {f.name: values[f.name] for f in fields if f in TRAIN_FIELDS}
        if self.cell == "ngram":
            model = {"order": values["order"]}
        else:
            # Tie the input and output embeddings whenever the shapes allow (fewer parameters,
            # usually better); untie rather than refuse when emb and hidden differ.
            model["tied"] = model["emb"] == model["hidden"]
        return Settings(cell=self.cell, model=model, train=train)

    @staticmethod
    def _summary(settings: Settings) -> str:
        if settings.cell == "ngram":
            return f"order {settings.model['order']} · F7 edits"
        m, t = settings.model, settings.train
        budget = f" · {t['max_time']:g} s" if t.get("max_time") else ""
        return (f"emb {m['emb']} · hidden {m['hidden']} · {m['layers']} layer"
                f"{'s' if m['layers'] != 1 else ''} · {t['epochs']} epochs{budget} · F7 edits")

    def _check(self, settings: Settings) -> str:
        """Validate with the engine's own rules once it is loaded; return the summary line."""
        if self.cell == "ngram":
            order = settings.model["order"]
            if not 1 <= order <= 6:
                raise ValueError(f"order must be from 1 to 6 (got {order}).")
            return f"{order}-gram: built from the editor text"
        if not self.engine_loaded:
            return "parameters: loading the engine…"
        from engine.errors import NextwordError
        from engine.model import ModelConfig
        from engine.train import TrainConfig

        vocab = max(self.vocab_size, 3)
        from engine.model import check_fits

        try:
            config = ModelConfig(cell=self.cell, vocab_size=vocab, **settings.model)
            config.validate()
            train = TrainConfig(**settings.train)
            train.validate()
            # The memory estimate, before ctrl+t rather than after: train() would refuse too.
            check_fits(config, train.batch_size, train.bptt)
        except NextwordError as exc:
            raise ValueError(str(exc)) from None
        tied = " · tied" if config.tied else ""
        return f"{format_count(config.param_count())} params · vocab ≈{vocab:,}{tied}"


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").replace("_", ""))
    except ValueError:
        return False
    return True


def format_count(n: int) -> str:
    """1234 -> '1,234'; 3_200_000 -> '3.2M'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n:,}"
