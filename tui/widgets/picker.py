"""The model picker pane: which cell to use (RNN / LSTM / GRU, n-gram when available), its
training settings with a live parameter count, and what each cell has learned so far."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Callable

from engine import (NGRAM, NGRAM_ORDER, ModelConfig, NextwordError, TrainConfig, check_fits, check_ngram_order,
                    format_perplexity, parse_setting)
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from tui.models import CellModel
from tui.safe import plain

CELL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "ngram": "n-gram"}
CELL_KEYS = {"rnn": "F2", "lstm": "F3", "gru": "F4", "ngram": "F5"}
TIME_BUDGET = 120.0  # the app's one change to the engine's defaults: ctrl+t never runs for hours


@dataclass(frozen=True)
class Field:
    name: str  # the ModelConfig / TrainConfig field it sets ("order": the n-gram's)
    label: str
    parse: Callable[[str], object]
    default: str
    optional: bool = False  # empty means "no limit"


def _setting(config: type, name: str) -> Callable[[str], object]:
    """A field's parser: engine.parse_setting, the CLI's reading of the same setting ('1,000' and
    '1e3' are 1000 in both), with its message as a ValueError."""
    def parse(text: str) -> object:
        try:
            return parse_setting(config, name, text)
        except NextwordError as exc:
            raise ValueError(str(exc)) from None
    return parse


def _whole(text: str) -> int:
    """The n-gram order (no config field): read as a whole-number setting is."""
    return _setting(TrainConfig, "epochs")(text)


def _text(value: object) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def _fields(config: type, labels: dict[str, str], **defaults: object) -> tuple[Field, ...]:
    """Form fields for some of a config dataclass's fields: its own defaults (unless overridden
    in `defaults`), parsed as its field types say."""
    known = {f.name: f for f in fields(config)}
    made = []
    for name, label in labels.items():
        default = defaults.get(name, known[name].default)
        kinds = str(known[name].type).split(" | ")  # "int", "float | None" (annotations are text)
        made.append(Field(name, label, _setting(config, name), _text(default), "None" in kinds))
    return tuple(made)


MODEL_FIELDS = _fields(ModelConfig, {"emb": "emb", "hidden": "hidden", "layers": "layers", "dropout": "dropout"})
TRAIN_FIELDS = _fields(TrainConfig, {"epochs": "epochs", "max_time": "time s", "lr": "lr", "batch_size": "batch",
                                     "bptt": "bptt"}, max_time=TIME_BUDGET)
NGRAM_FIELDS = (Field("order", "order", _whole, str(NGRAM_ORDER)),)
ALL_FIELDS = MODEL_FIELDS + TRAIN_FIELDS + NGRAM_FIELDS


@dataclass(frozen=True)
class Settings:
    """Validated settings: a network's configs (its vocab_size the editor text's, as counted), or
    the n-gram's order."""

    cell: str
    model: ModelConfig | None = None
    train: TrainConfig | None = None
    order: int | None = None


def format_metrics(metrics: Mapping[str, object]) -> str:
    """'ppl 85.3 · top-1 21% · top-3 35% · KSR 40%', with whatever of these is known."""
    parts = []
    ppl = metrics.get("valid_ppl")
    if isinstance(ppl, (int, float)):
        parts.append(f"ppl {format_perplexity(ppl, ',.1f')}")
    for key, label in (("top1", "top-1"), ("top3", "top-3"), ("ksr", "KSR")):
        value = metrics.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{label} {value:.0%}" if value <= 1 else f"{label} {value:.0f}%")
    return " · ".join(parts)


class ModelPicker(Vertical, can_focus=False):
    """Chooses the cell and holds each cell's settings. Posts CellSelected when the cell changes."""

    cell: reactive[str] = reactive("lstm", init=False)
    vocab_size: reactive[int] = reactive(0, init=False)

    @dataclass
    class CellSelected(Message):
        cell: str

    @dataclass
    class SettingsChanged(Message):
        """A setting was edited (valid or not: call settings() to find out)."""

    def __init__(self, cells: tuple[str, ...] = ("rnn", "lstm", "gru"), **kwargs) -> None:
        super().__init__(**kwargs)
        self.cells = cells
        # Each cell keeps its own settings, as typed (so a half-typed value survives switching).
        self._raw = {cell: {f.name: f.default for f in ALL_FIELDS} for cell in cells}
        self._models: dict[str, CellModel] = {}
        self._loading_inputs = False
        self.settings_ready = False  # the settings' inputs are mounted (just after the first frame)

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

    async def mount_settings(self) -> None:
        """Mount the twenty settings widgets. The main screen calls this just after the first
        frame, which then comes sooner; nobody can type into them that fast anyway."""
        if self.settings_ready:
            return
        widgets = []
        for f in ALL_FIELDS:
            widgets.append(Label(f.label, classes=f"setting-label field-{f.name}"))
            widgets.append(Input(self._raw[self.cell][f.name], id=f"set-{f.name}", compact=True,
                                 classes=f"setting field-{f.name}"))
        await self.query_one("#settings", Grid).mount_all(widgets)
        self.settings_ready = True
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
        if not self.settings_ready:
            return
        for f in ALL_FIELDS:
            self._raw[cell][f.name] = self.query_one(f"#set-{f.name}", Input).value

    def _load_inputs(self, cell: str) -> None:
        if not self.settings_ready:
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
        if not self.settings_ready:
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
        ppl_text = f" ppl {format_perplexity(ppl, ',.1f')}" if isinstance(ppl, (int, float)) else ""
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

    def validate(self) -> Settings | None:
        """Parse and check the current cell's settings; show the parameter count or the first
        problem. Returns the settings, or None if something is wrong."""
        label = self.query_one("#param-count", Static)
        if not self.settings_ready:
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

    def values(self) -> dict[str, dict[str, str]]:
        """Each cell's settings as typed (what tui/settings.py keeps between sessions)."""
        self._store_inputs(self.cell)
        return {cell: dict(raw) for cell, raw in self._raw.items()}

    def restore_values(self, values: Mapping[str, Mapping[str, str]]) -> None:
        """Settings as typed in an earlier session; cells and fields this picker lacks are ignored."""
        for cell, raw in values.items():
            if cell in self._raw:
                self._raw[cell].update({k: v for k, v in raw.items() if k in self._raw[cell]})
        self._load_inputs(self.cell)
        self.validate()

    def ngram_order(self) -> int:
        """The n-gram's order as set, whichever cell is selected (the default while what is typed
        is not an order): the n-gram serves suggestions until a network has a model."""
        text = self.values().get(NGRAM, {}).get("order", "")
        try:
            return check_ngram_order(_whole(text))
        except (ValueError, NextwordError):
            return NGRAM_ORDER

    def _parse(self) -> Settings:
        """The settings typed for the current cell, as the engine's configs (ValueError: the first
        that is not a number, or that the engine refuses)."""
        values: dict[str, object] = {}
        ngram = self.cell == NGRAM
        problem = None
        for f in NGRAM_FIELDS if ngram else MODEL_FIELDS + TRAIN_FIELDS:
            widget = self.query_one(f"#set-{f.name}", Input)
            text = widget.value.strip()
            try:
                values[f.name] = None if f.optional and text in ("", "-", "none", "off") else f.parse(text)
                widget.remove_class("-invalid")
            except ValueError as exc:
                widget.add_class("-invalid")
                problem = problem or f"{f.label}: {exc}"
        if problem:
            raise ValueError(problem)
        try:
            if ngram:
                return Settings(self.cell, order=check_ngram_order(values["order"]))
            model = {f.name: values[f.name] for f in MODEL_FIELDS}
            # Tie the input and output embeddings whenever the shapes allow (fewer parameters,
            # usually better); untie rather than refuse when emb and hidden differ.
            config = ModelConfig(cell=self.cell, vocab_size=max(self.vocab_size, 3),
                                 tied=model["emb"] == model["hidden"], **model)
            train = TrainConfig(**{f.name: values[f.name] for f in TRAIN_FIELDS})
            config.validate()
            train.validate()
            # The memory estimate, before ctrl+t rather than after: train() would refuse too.
            check_fits(config, train.batch_size, train.bptt)
        except NextwordError as exc:
            raise ValueError(str(exc)) from None
        return Settings(self.cell, model=config, train=train)

    @staticmethod
    def _summary(settings: Settings) -> str:
        if settings.model is None or settings.train is None:
            return f"order {settings.order} · F7 edits"
        m, t = settings.model, settings.train
        budget = f" · {t.max_time:g} s" if t.max_time else ""
        return (f"emb {m.emb} · hidden {m.hidden} · {m.layers} layer"
                f"{'s' if m.layers != 1 else ''} · {t.epochs} epochs{budget} · F7 edits")

    @staticmethod
    def _check(settings: Settings) -> str:
        """The line under the settings: the parameter count, or what the n-gram is."""
        if settings.model is None:
            return f"{settings.order}-gram: built from the editor text"
        config = settings.model
        tied = " · tied" if config.tied else ""
        return f"{format_count(config.param_count())} params · vocab ≈{config.vocab_size:,}{tied}"


def format_count(n: int) -> str:
    """1234 -> '1,234'; 3_200_000 -> '3.2M'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n:,}"
