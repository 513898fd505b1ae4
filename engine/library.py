"""Managing saved models: a fresh name for every training run, rename, delete (to the trash),
export to a folder, import from one.

Nothing here overwrites a model. Imports and exports copy the model's files into a hidden staging
folder beside the target, validate the copy exactly as load_model does (checksums, settings,
shapes, finiteness), and only then rename it into place: a damaged or hostile folder is refused
and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelFileError, NextwordError
from engine.paths import fsync_dir, models_home
from engine.store import CONFIG, NAME, OPTIMIZER, VOCAB, WEIGHTS, check_name, load_model, resolve_model
from engine.trash import move_to_trash

MODEL_FILES = (CONFIG, VOCAB, WEIGHTS, OPTIMIZER)


def new_model_name(cell: str, fingerprint: str, when: float | None = None) -> str:
    """A name no saved model has: cell, corpus and the time, e.g. 'gru-1a2b3c4d-20261201-101500'."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if when is None else when))
    base = f"{cell}-{fingerprint[:8]}-{stamp}" if fingerprint else f"{cell}-{stamp}"
    return free_name(base)


def free_name(base: str) -> str:
    """`base`, or `base-2`, `base-3`... : the first that no folder in models_home() has."""
    home = models_home()
    name, n = base, 1
    while (home / name).exists() or (home / name).is_symlink():
        n += 1
        name = f"{base[:60]}-{n}"
    return check_name(name)


def _model_folder(name_or_path: str | os.PathLike) -> Path:
    folder = resolve_model(name_or_path)
    if not (folder / CONFIG).is_file():
        raise ModelFileError(f"No model at {folder}: check the name (`nextword-tui models` lists them).")
    return folder


def rename_model(name_or_path: str | os.PathLike, new_name: str) -> Path:
    """Give a saved model a new name (in the same folder). Refuses a name already taken."""
    folder = _model_folder(name_or_path)
    check_name(new_name)
    target = folder.parent / new_name
    if target.exists() or target.is_symlink():
        raise ModelFileError(f"There is already a model called {new_name}: choose another name.")
    try:
        os.rename(folder, target)
    except OSError as exc:
        raise NextwordError(f"Could not rename {folder.name}: {exc.strerror or exc}.") from None
    fsync_dir(target.parent)
    return target


def delete_model(name_or_path: str | os.PathLike) -> Path:
    """Move a saved model to the trash (kept 7 days); returns where it went."""
    folder = _model_folder(name_or_path)
    try:
        return move_to_trash(folder, "models")
    except OSError as exc:
        raise NextwordError(f"Could not move {folder.name} to the trash: {exc.strerror or exc}.") from None


def export_model(name_or_path: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Copy a saved model to `destination` (a new folder; or, if it is an existing folder, a new
    folder inside it named after the model). The copy is validated before it appears."""
    folder = _model_folder(name_or_path)
    target = Path(destination).expanduser()
    if target.is_dir():
        target = target / folder.name
    if target.exists() or target.is_symlink():
        raise ModelFileError(f"{target} already exists: export to a new folder.")
    return _copy_validated(folder, target)


def import_model(source: str | os.PathLike, name: str | None = None) -> Path:
    """Copy a model folder into models_home(), validated exactly as on load (a damaged folder is
    refused, with what is wrong). The name: `name`, else the folder's own if it is a valid
    model name, made unique with -2, -3... when taken."""
    folder = Path(source).expanduser()
    if not (folder / CONFIG).is_file():
        raise ModelFileError(f"{folder} is not a model folder (it has no {CONFIG}).")
    if name is not None:
        check_name(name)
        if (models_home() / name).exists():
            raise ModelFileError(f"There is already a model called {name}: choose another name.")
    else:
        base = folder.resolve().name
        name = free_name(base if NAME.fullmatch(base) else "imported")
    return _copy_validated(folder, models_home() / name)


def _copy_validated(source: Path, target: Path) -> Path:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))
    except OSError as exc:
        raise NextwordError(f"Could not write to {target.parent}: {exc.strerror or exc}.") from None
    try:
        for file in MODEL_FILES:  # only the model's own files: nothing else rides along
            if (source / file).is_file():
                _copy_file(source / file, staging / file)
        load_model(staging, with_optimizer=True)  # ModelFileError: the copy is not a sound model
        fsync_dir(staging)
        if target.exists():
            raise ModelFileError(f"{target} appeared meanwhile: nothing was replaced.")
        os.rename(staging, target)
        fsync_dir(target.parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise NextwordError(f"Could not copy the model to {target}: {exc.strerror or exc}.") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _copy_file(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
        dst.flush()
        os.fsync(dst.fileno())


@dataclass(frozen=True)
class ModelDetails:
    """What the models screen shows beyond ModelInfo: size on disk and the learning curve."""

    size_bytes: int
    history: list[dict]


def model_details(name_or_path: str | os.PathLike) -> ModelDetails:
    """Size and per-epoch history of a saved model; empty where its config cannot be read."""
    folder = resolve_model(name_or_path)
    size = 0
    for file in MODEL_FILES:
        try:
            size += (folder / file).stat().st_size
        except OSError:
            pass
    try:
        history = json.loads((folder / CONFIG).read_text(encoding="utf-8")).get("history", [])
    except (OSError, ValueError, AttributeError):
        history = []
    history = [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []
    return ModelDetails(size, history)
