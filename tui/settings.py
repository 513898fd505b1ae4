"""What the app remembers between sessions: each cell's settings as typed in the picker, the
n-gram order, the theme, the selected cell and the model each cell uses.

One JSON file, `settings.json` in the data folder, written atomically. Reading never raises: a
missing file gives the defaults; a damaged one gives the defaults and a notice, and is kept aside
as `settings.damaged.json` so that saving the defaults does not destroy what the user had.
Pure Python (no torch, no Textual): it is read before the first frame.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine import atomic_write, data_dir

FILE_NAME = "settings.json"
DAMAGED_NAME = "settings.damaged.json"
VERSION = 1
CELLS = ("rnn", "lstm", "gru", "ngram")
MAX_BYTES = 256 * 1024  # a settings file is a few hundred bytes; anything huge is not ours
MAX_VALUE = 64  # characters of one setting as typed
ORDERS = range(1, 10)  # the n-gram orders the engine accepts (engine.ngram)


@dataclass(frozen=True)
class AppSettings:
    """Everything that persists. `fields[cell]` maps a picker field name to its text as typed;
    `models[cell]` is the model folder name the user chose for that cell (None: the app picks)."""

    cell: str = "lstm"
    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    ngram_order: int = 3
    theme: str | None = None
    models: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"version": VERSION, "cell": self.cell, "fields": self.fields, "ngram_order": self.ngram_order,
                "theme": self.theme, "models": self.models}

    def with_field(self, cell: str, name: str, value: str) -> "AppSettings":
        fields = {c: dict(v) for c, v in self.fields.items()}
        fields.setdefault(cell, {})[name] = value
        return replace(self, fields=fields)

    def with_model(self, cell: str, name: str | None) -> "AppSettings":
        models = {c: n for c, n in self.models.items() if c != cell}
        if name is not None:
            models[cell] = name
        return replace(self, models=models)


@dataclass(frozen=True)
class Loaded:
    settings: AppSettings
    notice: str | None = None  # why the defaults are in use, when the file was damaged


class SettingsError(ValueError):
    """The settings file is not what this module writes."""


class SettingsStore:
    """settings.json in `folder` (default: the data folder)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or data_dir()
        self.file = self.folder / FILE_NAME

    def load(self) -> Loaded:
        """The saved settings; the defaults (and a notice) if the file is missing or damaged."""
        try:
            size = self.file.stat().st_size
            if size > MAX_BYTES:
                raise SettingsError(f"it is {size:,} bytes, far more than settings take")
            data = json.loads(self.file.read_bytes().decode("utf-8"))
            return Loaded(parse(data))
        except FileNotFoundError:
            return Loaded(AppSettings())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            return Loaded(AppSettings(), self._set_aside(exc))

    def save(self, settings: AppSettings) -> None:
        """Write atomically (the old file or the new one, never half). OSError if it cannot."""
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.file, json.dumps(settings.to_json(), indent=1, ensure_ascii=False).encode("utf-8"))

    def reset(self) -> AppSettings:
        """Forget every setting: the file goes (a copy stays as settings.reset.json, in case the
        reset was a slip). Returns the defaults."""
        try:
            os.replace(self.file, self.folder / "settings.reset.json")
        except FileNotFoundError:
            pass
        return AppSettings()

    def _set_aside(self, exc: BaseException) -> str:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        kept = ""
        try:
            os.replace(self.file, self.folder / DAMAGED_NAME)
            kept = f" It is kept as {DAMAGED_NAME}."
        except OSError:
            pass
        return f"The settings file {self.file} could not be read ({why}): the defaults are in use.{kept}"


def parse(data: object) -> AppSettings:
    """AppSettings from the JSON this module writes; SettingsError if it is anything else.
    Unknown cells and keys from a newer version are ignored; wrong types are refused."""
    if not isinstance(data, dict):
        raise SettingsError("it is not a JSON object")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SettingsError("it has no valid version number")
    defaults = AppSettings()
    cell = data.get("cell", defaults.cell)
    if cell not in CELLS:
        raise SettingsError(f"the cell {str(cell)[:20]!r} is not one of {', '.join(CELLS)}")
    order = data.get("ngram_order", defaults.ngram_order)
    if not isinstance(order, int) or isinstance(order, bool) or order not in ORDERS:
        raise SettingsError(f"the n-gram order {str(order)[:20]!r} is not a whole number from 1 to 9")
    theme = data.get("theme")
    if theme is not None and not (isinstance(theme, str) and 0 < len(theme) <= MAX_VALUE):
        raise SettingsError("the theme is not a name")
    return AppSettings(cell=cell, fields=_fields(data.get("fields", {})), ngram_order=order, theme=theme,
                       models=_models(data.get("models", {})))


def _fields(data: object) -> dict[str, dict[str, str]]:
    if not isinstance(data, dict):
        raise SettingsError("the picker settings are not an object")
    out = {}
    for cell, values in data.items():
        if cell not in CELLS:
            continue  # a cell this version does not have
        if not isinstance(values, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_VALUE for k, v in values.items()):
            raise SettingsError(f"the {cell} settings are not short texts")
        out[cell] = dict(values)
    return out


def _models(data: object) -> dict[str, str]:
    if not isinstance(data, dict):
        raise SettingsError("the models in use are not an object")
    out = {}
    for cell, name in data.items():
        if cell not in CELLS:
            continue
        if not isinstance(name, str) or not 0 < len(name) <= 4096:
            raise SettingsError(f"the {cell} model is not a name")
        out[cell] = name
    return out
