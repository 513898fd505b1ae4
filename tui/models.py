"""The model registry: which model each cell (rnn, lstm, gru, n-gram) uses, and why.

Pure Python, no Textual: the main screen tells it what happened (models listed on disk, a load
that ended, a training run's epochs) and asks it what to do (which model to load) and what to show.
Every fact about a cell's model lives here once:

- the saved model folders (newest first) and the one each cell should use: the one the user chose
  (the models screen, remembered in the settings); else the best on held-out text (lowest
  perplexity) of those trained on the editor's text; else the one in use (editing the text does
  not swap models under the user); else the best of the cell;
- what is loading, what is in use (`ActiveModel`: saved, live or n-gram), and which folders are
  broken, with the reason (skipped until saved again);
- the training run: its cell and epoch. While it runs, its epoch snapshots are the cell's model.

When a run ends, `end_training(..., switch=...)` moves the cell to the new model only if it is
better on held-out text (engine.judge, run by the training worker against the model in use when
the run started); otherwise the cell goes back to that model. `why(cell)` says which model is in
use and why, for the status line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from engine import ModelInfo, Predictor

Source = Literal["saved", "live", "ngram"]


@dataclass(frozen=True)
class SavedKey:
    """A model folder on disk."""

    path: Path


@dataclass(frozen=True)
class LiveKey:
    """The weights of a training run (its latest epoch), or of a run whose model was not saved."""

    cell: str


@dataclass(frozen=True)
class NgramKey:
    """An n-gram model built from a text (its fingerprint) at an order."""

    fingerprint: str
    order: int


ModelKey = SavedKey | LiveKey | NgramKey
SOURCES: dict[type, Source] = {SavedKey: "saved", LiveKey: "live", NgramKey: "ngram"}


@dataclass(frozen=True)
class ActiveModel:
    """A model that is ready to suggest: what it is, and its held-out figures."""

    key: ModelKey
    predictor: Predictor
    metrics: Mapping[str, object] = field(default_factory=dict)
    fingerprint: str | None = None  # of the text it was trained on (or built from), if known

    @property
    def source(self) -> Source:
        return SOURCES[type(self.key)]


@dataclass(frozen=True)
class BrokenModel:
    """A model folder that failed to load, and why. Skipped until it is saved again."""

    info: ModelInfo
    reason: str


@dataclass(frozen=True)
class LiveRun:
    """A training run in progress."""

    cell: str
    epoch: int = 0  # epochs finished so far

    @property
    def label(self) -> str:
        return f"training, epoch {self.epoch}" if self.epoch else "training…"


@dataclass(frozen=True)
class CellModel:
    """What the picker shows for a cell's model."""

    name: str
    metrics: Mapping[str, object]
    current_corpus: bool  # trained on (or built from) the text now in the editor
    live: str = ""  # e.g. "training, epoch 3" while a run is going


def _held_out_rank(info: ModelInfo) -> float:
    """Lower is better: the held-out perplexity; a model without one comes last."""
    ppl = info.metrics.get("valid_ppl")
    return float(ppl) if isinstance(ppl, (int, float)) and not isinstance(ppl, bool) and ppl == ppl else float("inf")


class ModelRegistry:
    """Which model each cell uses. See the module docstring for the rules."""

    def __init__(self, cells: tuple[str, ...]) -> None:
        self.cells = cells
        self.fingerprint: str | None = None  # of the editor's text, once counted
        self.run: LiveRun | None = None
        self._saved: list[ModelInfo] = []  # newest first
        self._active: dict[str, ActiveModel] = {}
        self._loading: dict[str, ModelKey] = {}
        self._broken: list[BrokenModel] = []
        self._choices: dict[str, Path] = {}  # cell -> the folder the user chose for it
        self._why: dict[str, str] = {}  # cell -> why its model is the one in use, when it was decided

    # --- facts coming in ------------------------------------------------------------------------

    def set_saved(self, infos: list[ModelInfo]) -> None:
        """The model folders on disk, newest first (engine.list_models())."""
        self._saved = list(infos)

    def set_fingerprint(self, fingerprint: str) -> bool:
        """The editor's text changed; True if that is a different text."""
        changed = fingerprint != self.fingerprint
        self.fingerprint = fingerprint
        return changed

    def loading(self, cell: str, key: ModelKey) -> None:
        """A load (or an n-gram build) of `key` for `cell` has started."""
        self._loading[cell] = key

    def offer(self, cell: str, model: ActiveModel) -> bool:
        """A loaded model arrives. False (and not used): a stale result, since the text or the
        order changed meanwhile, or a training run took over the cell."""
        expected = self._loading.get(cell)
        if expected is not None and expected != model.key:
            return False
        self._loading.pop(cell, None)
        if self._is_live(cell):
            return False
        self._active[cell] = model
        return True

    def fail(self, cell: str, key: ModelKey, reason: str) -> list[BrokenModel]:
        """A load failed. A saved folder is marked broken (and skipped from now on); returns the
        folders newly marked."""
        if self._loading.get(cell) == key:
            del self._loading[cell]
        if not isinstance(key, SavedKey):
            return []
        marked = [BrokenModel(info, reason) for info in self._saved
                  if info.path == key.path and not self.is_broken(info)]
        self._broken.extend(marked)
        return marked

    # --- training ---------------------------------------------------------------------------------

    def start_training(self, cell: str) -> None:
        self.run = LiveRun(cell)

    def epoch_ended(self, cell: str, epoch: int, model: ActiveModel) -> None:
        """The run's newest weights: the cell uses them at once."""
        self.run = LiveRun(cell, epoch)
        self._active[cell] = model

    def end_training(self, cell: str, model: ActiveModel | None, switch: bool = True, reason: str = "") -> None:
        """The run is over. `model`: its result (a SavedKey if it was saved, else a LiveKey), or
        None if it produced nothing, in which case the cell goes back to its saved model. The
        cell moves to the result when `switch` says so."""
        self.run = None
        if model is None:
            if self._is_live(cell):
                del self._active[cell]
            return
        if isinstance(model.key, SavedKey):
            path = model.key.path  # saved anew: a broken mark on the old files is void
            self._broken = [b for b in self._broken if b.info.path != path]
        if switch:
            self._active[cell] = model
        elif self._is_live(cell):
            del self._active[cell]  # back to the saved model it had: to_load() brings it back
        if reason:
            self._why[cell] = reason

    # --- what to do ---------------------------------------------------------------------------------

    def choose(self, cell: str) -> ModelInfo | None:
        """The saved model `cell` should use (see the module docstring), or None."""
        infos = [info for info in self._saved if info.cell == cell and not self.is_broken(info)]
        active = self._active.get(cell)
        in_use = active.key.path if active is not None and isinstance(active.key, SavedKey) else None
        chosen = self._choices.get(cell)
        for wanted in (lambda info: info.path == chosen,
                       lambda info: info.corpus_fingerprint == self.fingerprint,
                       lambda info: info.path == in_use,
                       lambda info: True):
            found = [info for info in infos if wanted(info)]
            if found:
                return min(found, key=_held_out_rank)  # stable: the newest of equals
        return None

    # --- the user's choice, and why --------------------------------------------------------------

    def set_choices(self, choices: Mapping[str, Path]) -> None:
        """The folders the user chose in an earlier session (tui/settings.py)."""
        self._choices = {cell: Path(path) for cell, path in choices.items() if cell in self.cells}

    def choose_for(self, cell: str, path: Path) -> None:
        """The user says so: `cell` uses this folder from now on, better or not."""
        self._choices[cell] = Path(path)
        self._why[cell] = "chosen by you on the models screen"
        active = self._active.get(cell)
        if active is not None and active.key != SavedKey(Path(path)) and not self._is_live(cell):
            del self._active[cell]  # to_load() loads the chosen one

    def saved_path(self, cell: str) -> Path | None:
        """The folder `cell` uses (or would use) now, if it is a saved model."""
        active = self._active.get(cell)
        if active is not None and isinstance(active.key, SavedKey):
            return active.key.path
        info = self.choose(cell)
        return info.path if info is not None else None

    def why(self, cell: str) -> str:
        """Why the cell's model is the one in use, in a few words, for the status line."""
        if cell in self._why:
            return self._why[cell]
        active = self._active.get(cell)
        if active is None or not isinstance(active.key, SavedKey):
            return ""
        if self._choices.get(cell) == active.key.path:
            return "chosen by you on the models screen"
        if active.fingerprint == self.fingerprint:
            return "the best on this text's held-out lines"
        return "trained on another text"

    def to_load(self, cell: str, order: int | None = None) -> ModelKey | None:
        """What to load (or build, for the n-gram at `order`) so that `cell` has its model; None
        when nothing needs loading: it is in use, already loading, or fed by a training run."""
        if self._is_live(cell):
            return None
        if cell == "ngram":
            if order is None or self.fingerprint is None:
                return None
            key: ModelKey = NgramKey(self.fingerprint, order)
        elif self._just_saved(cell) is not None:
            return None  # the newest there is
        else:
            info = self.choose(cell)
            if info is None:
                return None
            key = SavedKey(info.path)
        active = self._active.get(cell)
        if (active is not None and active.key == key) or self._loading.get(cell) == key:
            return None
        return key

    # --- what to show -------------------------------------------------------------------------------

    def active(self, cell: str) -> ActiveModel | None:
        """The model `cell` suggests with now, or None."""
        return self._active.get(cell)

    def is_loading(self, cell: str) -> bool:
        return cell in self._loading

    def is_broken(self, info: ModelInfo) -> bool:
        return any(b.info.path == info.path and b.info.saved_at == info.saved_at for b in self._broken)

    def broken(self) -> list[BrokenModel]:
        """The damaged model folders, with the reason each failed to load."""
        return list(self._broken)

    def view(self, cell: str) -> CellModel | None:
        """What the picker shows for `cell`: the model in use or chosen, and a running run."""
        active = self._active.get(cell)
        live = self.run.label if self.run is not None and self.run.cell == cell else ""
        if active is not None and active.source == "live":
            return CellModel("training", active.metrics, True, live)
        if active is not None and isinstance(active.key, NgramKey):
            return CellModel("n-gram", active.metrics, active.key.fingerprint == self.fingerprint)
        fresh = self._just_saved(cell)
        if fresh is not None:
            return CellModel(fresh.key.path.name, fresh.metrics, True, live)
        info = self.choose(cell)
        if info is not None:
            return CellModel(info.name, info.metrics, info.corpus_fingerprint == self.fingerprint, live)
        if live:
            return CellModel("training", {}, True, live)
        return None

    def views(self) -> dict[str, CellModel]:
        return {cell: view for cell in self.cells if (view := self.view(cell)) is not None}

    def _just_saved(self, cell: str) -> ActiveModel | None:
        """The model in use, if it was trained on this text and saved after the last listing:
        the newest model of this text, though not listed yet."""
        active = self._active.get(cell)
        if active is None or not isinstance(active.key, SavedKey) or active.fingerprint != self.fingerprint:
            return None
        listed = any(info.path == active.key.path for info in self._saved)
        return None if listed else active

    def _is_live(self, cell: str) -> bool:
        active = self._active.get(cell)
        return active is not None and active.source == "live"
