"""The messages that thread workers post back to the UI (tui/worker.py, the compare screen).

Plain dataclasses. Engine events of a training run and of a comparison travel in one wrapper,
`EngineEvent(kind, event)`; the UI unwraps it once. Progress events coalesce: when a newer one of
the same kind is already queued, the older is dropped rather than drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine import EpochEnd, Notice, Progress, StopReason
from textual.message import Message

from tui.files import UTF8, DiskState, FileFormat
from tui.models import ActiveModel, ModelKey

if TYPE_CHECKING:
    from engine import CellDone, CellStart, Comparison, Judgement, ModelInfo, Predictor

    Event = Progress | EpochEnd | Notice | CellStart | CellDone


@dataclass
class EngineReady(Message):
    """The engine (and torch) is loaded; `models` are the saved ones, newest first; `damaged` the
    folders that cannot be read, as engine.damaged_models() gives them: (name, folder, why)."""

    models: list[ModelInfo]
    damaged: list[tuple[str, Path, str]] = field(default_factory=list)


@dataclass
class EngineFailed(Message):
    """The engine could not be loaded (a broken install): the editor still works."""

    error: str


@dataclass
class ModelsListed(Message):
    models: list[ModelInfo]


@dataclass
class ModelLoaded(Message):
    """A saved model was read from disk, or an n-gram model built, for `cell`."""

    cell: str
    model: ActiveModel


@dataclass
class ModelFailed(Message):
    """`key` could not be loaded (or built) for `cell`; `error` says why."""

    cell: str
    key: ModelKey
    error: str


@dataclass
class EngineEvent(Message):
    """An engine event: of the training run (`kind` is its cell) or of a comparison (`kind` is the
    row being measured)."""

    kind: str
    event: Event

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, EngineEvent) and message.kind == self.kind
                and isinstance(self.event, Progress) and isinstance(message.event, Progress))


@dataclass
class TrainingEpoch(Message):
    """An epoch ended; `predictor` runs on a frozen copy of its weights, `samples` are
    (prompt, continuation) pairs from it."""

    cell: str
    event: EpochEnd
    predictor: Predictor
    samples: list[tuple[str, str]]


@dataclass
class TrainingDone(Message):
    """A run ended (completed, stopped, or out of time). `path` is None if nothing was saved;
    `save_error` says why, when saving failed."""

    cell: str
    predictor: Predictor | None
    metrics: Mapping[str, object]
    path: Path | None
    note: str
    stopped: StopReason = "completed"
    save_error: str | None = None
    fingerprint: str | None = None  # of the text it was trained on
    judgement: Judgement | None = None  # against the model in use when the run started (None: none)
    diverged: bool = False  # no better than uniform guessing: not used, not saved (issue 12)


@dataclass
class TrainingFailed(Message):
    cell: str
    message: str


@dataclass
class CompareFinished(Message):
    comparison: Comparison


@dataclass
class CompareFailed(Message):
    message: str


@dataclass
class FileLoaded(Message):
    """A corpus file was read (`text`), or could not be (`error`)."""

    path: str
    text: str | None
    error: str | None = None
    fmt: FileFormat = UTF8  # the file's encoding, kept when saving
    disk: DiskState | None = None  # the file's disk_state() from before it was read
