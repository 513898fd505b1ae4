"""Models on disk. A model is a folder:

    config.json          schema, model/train/data settings, metrics, history, checksums
    vocab.json           the vocabulary
    model.safetensors    the weights (safetensors: plain tensors, nothing that can run code)
    optimizer.safetensors + the optimizer's scalars in config.json, so training can resume

Saving writes a new folder beside the old one and swaps it in with renames, after fsync, so a
crash leaves either the old model or the new one. Loading checks everything (strict JSON, types,
checksums, names, shapes and finiteness of every tensor) before anything is used, and never
unpickles: a damaged or hostile folder gives a ModelFileError and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from engine.config import DataConfig, ModelConfig, TrainConfig, parameter_shapes
from engine.errors import ConfigError, ModelFileError, NextwordError
from engine.paths import fsync_dir, models_home
from engine.training import check_optimizer_state
from engine.trained import TrainedModel
from engine.vocab import Vocab

SCHEMA = 1
CONFIG, VOCAB, WEIGHTS, OPTIMIZER = "config.json", "vocab.json", "model.safetensors", "optimizer.safetensors"
MAX_JSON_BYTES = 256 * 1024**2
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(name: str) -> str:
    """`name` if it is a valid model name for models_home(), else a ModelFileError saying what a
    name may contain."""
    if not NAME.fullmatch(name):
        raise ModelFileError(
            f"'{name}' is not a valid model name: use letters, digits, '.', '_' and '-' (at most 64, "
            "not starting with '.', '_' or '-')."
        )
    return name


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """A model name (in models_home) or a path to a model folder."""
    text = str(name_or_path)
    if NAME.fullmatch(text):
        return models_home() / text
    if (os.sep in text or (os.altsep and os.altsep in text)) and Path(text).name not in ("", ".", ".."):
        return Path(text).expanduser()
    raise ModelFileError(
        f"'{text}' is not a valid model name (letters, digits, '.', '_' and '-', at most 64) "
        "nor a path to a model folder (a path has a '/' in it)."
    )


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    cell: str
    params: int
    metrics: dict
    corpus_fingerprint: str
    saved_at: float


# -- saving ---------------------------------------------------------------------------------


def save_model(trained: TrainedModel, name_or_path: str | os.PathLike) -> Path:
    """Write the model folder atomically; returns its path. Raises NextwordError if it cannot."""
    target = resolve_model(name_or_path)
    weights = save_safetensors(_untied(trained.state_dict, trained.model_config))
    vocab = _dumps(trained.vocab.to_json())
    files = {WEIGHTS: weights, VOCAB: vocab}
    optimizer_scalars = None
    if trained.optimizer_state is not None:
        tensors, optimizer_scalars = _split_optimizer(trained.optimizer_state)
        files[OPTIMIZER] = save_safetensors(tensors)
    config = {
        "schema": SCHEMA,
        "format": "nextword-tui model",
        "model": trained.model_config.to_json(),
        "train": trained.train_config.to_json(),
        "data": trained.data_config.to_json(),
        "metrics": trained.metrics,
        "history": trained.history,
        "corpus_fingerprint": trained.corpus_fingerprint,
        "saved_at": time.time(),
        "optimizer": optimizer_scalars,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    files[CONFIG] = _dumps(config)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_folder_atomically(target, files)
    except OSError as exc:
        raise NextwordError(f"Could not save the model to {target}: {exc.strerror or exc}.") from None
    return target


LEFTOVER_AGE = 600  # seconds after which a staging folder's save is certainly not running


def _clean_leftovers(target: Path) -> None:
    """Tidy what an interrupted save left beside `target`: a swapped-out old model comes back if the
    new one never arrived; half-written staging folders go."""
    now = time.time()
    for leftover in target.parent.glob(f".{target.name}.*"):
        try:
            if now - leftover.stat().st_mtime < LEFTOVER_AGE:
                continue
            if leftover.name.endswith(".old") and not target.exists():
                os.replace(leftover, target)
            else:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue


def _keep_replaced(old: Path, name: str) -> None:
    """A model saved over (`train --resume`) is not destroyed: the old folder goes to the trash
    (engine/trash.py, kept 7 days). Where even that fails, it is removed as before."""
    from engine.trash import move_to_trash

    try:
        move_to_trash(old, "models", name=name)
    except OSError:
        shutil.rmtree(old, ignore_errors=True)


def _write_folder_atomically(target: Path, files: dict[str, bytes]) -> None:
    _clean_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))
    try:
        for name, data in files.items():
            with open(staging / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        fsync_dir(staging)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.{os.getpid()}.old"
            os.replace(target, old)
        try:
            os.replace(staging, target)
        except OSError:
            if old is not None:
                os.replace(old, target)
            raise
        fsync_dir(target.parent)
        if old is not None:
            _keep_replaced(old, target.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _dumps(data: object) -> bytes:
    return json.dumps(finite_or_none(data), indent=1, allow_nan=False, default=_json_default).encode("utf-8")


def finite_or_none(data: object) -> object:
    """JSON has no NaN or infinity: an undefined figure (a diverged epoch's loss) is stored as null."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: finite_or_none(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_none(v) for v in data]
    return data


def _json_default(value: object) -> object:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def _untied(state: dict[str, torch.Tensor], config: ModelConfig) -> dict[str, torch.Tensor]:
    """safetensors refuses shared tensors: store a tied decoder weight once, as the embedding."""
    out = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    if config.tied:
        out.pop("decoder.weight", None)
    return out


def _split_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state -> (tensors for safetensors, JSON-able scalars)."""
    tensors, scalars = {}, {"param_groups": state["param_groups"], "state": {}}
    for index, values in state["state"].items():
        scalars["state"][str(index)] = {}
        for name, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars["state"][str(index)][name] = float(value)
    json.dumps(scalars, allow_nan=False)
    return tensors, scalars


# -- loading --------------------------------------------------------------------------------


def load_model(name_or_path: str | os.PathLike, with_optimizer: bool = False) -> TrainedModel:
    """Read and fully validate a model folder. Raises ModelFileError with what is wrong."""
    folder = resolve_model(name_or_path)
    if not folder.is_dir():
        raise ModelFileError(f"No model at {folder}: train one first, or check the name.")
    config = _read_json(folder / CONFIG)
    if not isinstance(config, dict):
        raise ModelFileError(f"{folder / CONFIG} is not a JSON object.")
    schema = config.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise ModelFileError(f"{folder / CONFIG} has no valid schema number.")
    if schema > SCHEMA:
        raise ModelFileError(f"This model was saved by a newer nextword-tui (schema {schema}): upgrade to load it.")
    checksums = config.get("sha256")
    if not isinstance(checksums, dict):
        raise ModelFileError(f"{folder / CONFIG} has no checksums.")

    model_config = _dataclass_from(ModelConfig, config.get("model"), "model settings")
    train_config = _dataclass_from(TrainConfig, config.get("train"), "training settings")
    data_config = _dataclass_from(DataConfig, config.get("data"), "data settings")
    try:
        model_config.validate()
        train_config.validate()
        data_config.validate()
    except ConfigError as exc:
        raise ModelFileError(f"{folder.name}: {exc}") from None

    vocab = Vocab.from_json(_read_json(folder / VOCAB, checksums.get(VOCAB)))
    if len(vocab) != model_config.vocab_size:
        raise ModelFileError(
            f"{folder.name}: the vocabulary has {len(vocab):,} words but the model expects {model_config.vocab_size:,}."
        )
    state = _read_weights(folder / WEIGHTS, checksums.get(WEIGHTS), model_config)
    metrics = config.get("metrics", {})
    history = config.get("history", [])
    fingerprint = config.get("corpus_fingerprint", "")
    if not isinstance(metrics, dict) or not isinstance(history, list) or not isinstance(fingerprint, str):
        raise ModelFileError(f"{folder / CONFIG}: metrics, history or fingerprint has the wrong type.")
    optimizer_state = None
    if with_optimizer and (folder / OPTIMIZER).exists():
        optimizer_state = _read_optimizer(folder, config.get("optimizer"), checksums.get(OPTIMIZER))
        try:
            check_optimizer_state(optimizer_state, list(parameter_shapes(model_config).values()))
        except ConfigError:
            raise ModelFileError(f"{folder.name}: the saved optimizer state does not fit the model (damaged?).") from None
    return TrainedModel(
        model_config=model_config,
        train_config=train_config,
        data_config=data_config,
        vocab=vocab,
        state_dict=state,
        metrics=metrics,
        history=history,
        corpus_fingerprint=fingerprint,
        optimizer_state=optimizer_state,
    )


def list_models() -> list[ModelInfo]:
    """Saved models in models_home(), newest first; damaged folders are skipped (damaged_models)."""
    infos = []
    for folder in _model_folders():
        try:
            infos.append(_read_info(folder))
        except (NextwordError, KeyError, TypeError, ValueError, OSError):
            continue
    return sorted(infos, key=lambda info: info.saved_at, reverse=True)


def damaged_models() -> list[tuple[str, Path, str]]:
    """The model folders list_models skips, as (name, folder, why), by name: a damaged or
    incomplete config.json is reported, never hidden."""
    found = []
    for folder in _model_folders():
        try:
            _read_info(folder)
        except NextwordError as exc:
            found.append((folder.name, folder, str(exc)))
        except KeyError as exc:
            found.append((folder.name, folder, f"{folder / CONFIG} has no {exc} entry."))
        except (TypeError, ValueError, OSError) as exc:
            found.append((folder.name, folder, f"{folder / CONFIG} cannot be read: {exc}."))
    return sorted(found)


def _model_folders() -> list[Path]:
    home = models_home()
    if not home.is_dir():
        return []
    return [folder for folder in home.iterdir() if not folder.name.startswith(".") and folder.is_dir()]


def _read_info(folder: Path) -> ModelInfo:
    config = _read_json(folder / CONFIG)
    model_config = _dataclass_from(ModelConfig, config["model"], "model settings")
    model_config.validate()
    return ModelInfo(
        name=folder.name,
        path=folder,
        cell=model_config.cell,
        params=model_config.param_count(),
        metrics=config.get("metrics") if isinstance(config.get("metrics"), dict) else {},
        corpus_fingerprint=str(config.get("corpus_fingerprint", "")),
        saved_at=float(config.get("saved_at", 0.0)),
    )


def _read_bytes(path: Path, checksum: object = None, limit: int = MAX_JSON_BYTES) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise ModelFileError(f"{path} is too large ({size:,} bytes) to be part of a model.")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path} is missing: the model folder is incomplete.") from None
    except OSError as exc:
        raise ModelFileError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if checksum is not None and hashlib.sha256(data).hexdigest() != checksum:
        raise ModelFileError(f"{path} is damaged: its checksum does not match (truncated or modified?).")
    return data


def _read_json(path: Path, checksum: object = None) -> object:
    data = _read_bytes(path, checksum)
    if checksum is None and path.name != CONFIG:
        raise ModelFileError(f"{path} has no checksum in config.json.")
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path} is not valid JSON ({exc}).") from None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for k, v in pairs:
        if k in result:
            raise ValueError(f"duplicate key {k!r}")
        result[k] = v
    return result


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


def _dataclass_from(cls: type, data: object, what: str) -> object:
    """Build a settings dataclass from JSON, refusing unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ModelFileError(f"The saved {what} are missing or not an object.")
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ModelFileError(f"The saved {what} have unknown keys: {', '.join(sorted(unknown))}.")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ModelFileError(f"The saved {what} are invalid: {exc}.") from None


def _read_weights(path: Path, checksum: object, config: ModelConfig) -> dict[str, torch.Tensor]:
    if not isinstance(checksum, str):
        raise ModelFileError(f"{path.parent / CONFIG} has no checksum for the weights.")
    shapes = parameter_shapes(config)
    limit = 4 * sum(math.prod(s) for s in shapes.values()) + 1024**2
    data = _read_bytes(path, checksum, limit=limit)
    try:
        tensors = load_safetensors(data)
    except Exception as exc:  # safetensors raises its own error types for malformed files
        raise ModelFileError(f"{path} is not a valid safetensors file ({exc}).") from None
    if set(tensors) != set(shapes):
        missing, extra = set(shapes) - set(tensors), set(tensors) - set(shapes)
        raise ModelFileError(f"{path} does not match its settings (missing {sorted(missing)}, extra {sorted(extra)}).")
    for name, shape in shapes.items():
        tensor = tensors[name]
        if tensor.dtype != torch.float32 or tuple(tensor.shape) != shape:
            raise ModelFileError(f"{path}: {name} is {tuple(tensor.shape)} {tensor.dtype}, expected {shape} float32.")
        if not torch.isfinite(tensor).all():
            raise ModelFileError(f"{path}: {name} contains NaN or infinite values.")
    if config.tied:
        tensors["decoder.weight"] = tensors["embed.weight"]
    return tensors


def _read_optimizer(folder: Path, scalars: object, checksum: object) -> dict:
    if not isinstance(scalars, dict) or not isinstance(checksum, str):
        raise ModelFileError(f"{folder.name}: the saved optimizer state is incomplete.")
    data = _read_bytes(folder / OPTIMIZER, checksum, limit=4 * MAX_JSON_BYTES)
    try:
        tensors = load_safetensors(data)
        state = {}
        for index, values in scalars["state"].items():
            entry = {name: torch.tensor(float(value)) for name, value in values.items()}
            for name in ("exp_avg", "exp_avg_sq"):
                entry[name] = tensors[f"{index}.{name}"]
            state[int(index)] = entry
        groups = scalars["param_groups"]
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise ValueError("param_groups is not a list of objects")
        return {"state": state, "param_groups": groups}
    except Exception as exc:
        raise ModelFileError(f"{folder.name}: the saved optimizer state is damaged ({exc}).") from None
