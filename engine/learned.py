"""What typing taught a model, on disk with it: `<model folder>/learned/` (inside the folder, so a
rename, an export or the trash carries it along, and a model saved anew under the same name starts
with none: its learning belongs to the old weights).

    learned.json          strict JSON: schema, the vocabulary's checksum, paused, typed history,
                          typed counts, new words' written forms, the learning settings, and the
                          checksum of the adapted weights
    adapted.safetensors   the network after the online updates (safetensors: plain tensors)

Each file is written atomically (the weights first, then the JSON that names their checksum), so
a crash leaves the old state or the new one. Loading checks everything; a damaged state gives a
LearnedStateError that says so, and the model itself still loads (callers start fresh).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from engine.adapt import LearnConfig, Learner
from engine.errors import ModelFileError
from engine.lexicon import Lexicon
from engine.mixture import Weights
from engine.paths import atomic_write
from engine.vocab import Vocab

SCHEMA = 1
STATE, WEIGHTS = "learned.json", "adapted.safetensors"
MAX_STATE_BYTES = 64 * 1024**2
CACHE_REPLAY = 5_000  # typed tokens replayed into the cache on load (older ones have decayed away)


class LearnedStateError(ModelFileError):
    """The learned state beside a model is damaged; the model itself is fine."""


def learned_dir(model_dir: str | os.PathLike) -> Path:
    return Path(model_dir) / "learned"


def vocab_checksum(vocab: Vocab) -> str:
    return hashlib.sha256("\n".join(vocab.keys).encode("utf-8")).hexdigest()


def save_learned(folder: str | os.PathLike, learner: Learner,
                 adapted: dict[str, torch.Tensor] | None = None) -> Path:
    """Write the learner's state (and the adapted weights, if any) atomically into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights_sum, aliases = None, {}
    if adapted is not None:
        unique: dict[str, torch.Tensor] = {}
        for name, tensor in adapted.items():
            same = next((k for k, u in unique.items() if u.shape == tensor.shape and torch.equal(u, tensor)), None)
            if same is not None:
                aliases[name] = same  # tied weights: stored once
                continue
            # Clones: tensors sharing memory are refused by safetensors.
            unique[name] = tensor.detach().float().clone().contiguous()
        blob = save_safetensors(unique)
        atomic_write(folder / WEIGHTS, blob)
        weights_sum = hashlib.sha256(blob).hexdigest()
    lex = learner.lexicon
    state = {
        "schema": SCHEMA,
        "vocab": vocab_checksum(learner.open.vocab),
        "paused": learner.paused,
        "history": learner.history,
        "typed": lex.typed_counts,
        "display": {k: lex.display(k) for k in lex.typed_counts if k not in lex.corpus_counts},
        "config": learner.config.to_json(),
        "weights": learner.weights.to_json(),
        "adapted": weights_sum,
        "aliases": aliases,
    }
    atomic_write(folder / STATE, json.dumps(state, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    return folder


def load_learned(folder: str | os.PathLike, vocab: Vocab, lexicon: Lexicon,
                 shapes: dict[str, tuple[int, ...]] | None = None
                 ) -> tuple[Learner, dict[str, torch.Tensor] | None]:
    """The Learner saved in `folder` over this vocabulary and corpus lexicon (changed in place: it
    gains the typed words), and the adapted weights when saved and `shapes` allow them."""
    folder = Path(folder)
    data = _read_state(folder / STATE)
    if data["vocab"] != vocab_checksum(vocab):
        raise LearnedStateError(f"The learned state in {folder} belongs to another vocabulary; it is not used.")
    config = _dataclass(LearnConfig, data["config"], folder)
    weights = _dataclass(Weights, data["weights"], folder)
    learner = Learner(vocab, lexicon, weights, config)
    learner.restore(data["history"], data["typed"], data["display"])
    learner.paused = data["paused"]
    adapted = None
    if data["adapted"] is not None and shapes is not None:
        adapted = _read_weights(folder / WEIGHTS, data["adapted"], shapes, data.get("aliases") or {})
    return learner, adapted


def _damaged(path: Path, why: str) -> LearnedStateError:
    return LearnedStateError(
        f"The learned state {path} is damaged ({why}). The model loads without it; "
        "delete the file (or clear what was learned) to start learning afresh."
    )


def _read_state(path: Path) -> dict:
    data = _read_state_json(path)
    _check_state(path, data)
    return data


def _read_state_json(path: Path) -> object:
    """Strict JSON (no NaN, no duplicate keys) or a LearnedStateError saying the file is damaged."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _damaged(path, exc.strerror or str(exc)) from None
    if len(raw) > MAX_STATE_BYTES:
        raise _damaged(path, "too large")

    def no_duplicates(pairs: list) -> dict:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate keys")
        return dict(pairs)

    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _damaged(path, f"not strict JSON: {exc}") from None
    return data


def _check_state(path: Path, data: object) -> None:
    def fail(why: str) -> None:
        raise _damaged(path, why)

    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        fail(f"not a schema {SCHEMA} learned state")
    kinds = {"vocab": str, "paused": bool, "history": list, "typed": dict, "display": dict,
             "config": dict, "weights": dict}
    for name, kind in kinds.items():
        if not isinstance(data.get(name), kind):
            fail(f"'{name}' is missing or not a {kind.__name__}")
    if not all(isinstance(t, str) for t in data["history"]):
        fail("the history must be a list of words")
    if not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in data["typed"].values()):
        fail("typed counts must be whole numbers above 0")
    if not all(isinstance(v, str) for v in data["display"].values()):
        fail("written forms must be text")
    if data.get("adapted") is not None and not isinstance(data.get("adapted"), str):
        fail("'adapted' must be a checksum or null")
    if not isinstance(data.get("aliases", {}), dict) or not all(
            isinstance(v, str) for v in data.get("aliases", {}).values()):
        fail("'aliases' must map names to names")


def _dataclass(cls: type, values: dict, folder: Path) -> object:
    try:
        made = cls(**values)
    except TypeError as exc:
        raise _damaged(folder / STATE, f"bad {cls.__name__}: {exc}") from None
    for name, value in vars(made).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise _damaged(folder / STATE, f"{cls.__name__}.{name} is not finite")
    return made


def _read_weights(path: Path, checksum: str, shapes: dict[str, tuple[int, ...]],
                  aliases: dict[str, str]) -> dict[str, torch.Tensor]:
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise _damaged(path, exc.strerror or str(exc)) from None
    if hashlib.sha256(blob).hexdigest() != checksum:
        raise _damaged(path, "its checksum does not match learned.json")
    try:
        tensors = load_safetensors(blob)
    except Exception as exc:  # safetensors raises its own error types for malformed files
        raise _damaged(path, f"not a safetensors file: {exc}") from None
    for name, source in aliases.items():
        if isinstance(source, str) and source in tensors and name not in tensors:
            tensors[name] = tensors[source]
    for name, shape in shapes.items():
        t = tensors.get(name)
        if t is None or tuple(t.shape) != tuple(shape) or not bool(torch.isfinite(t).all()):
            raise _damaged(path, f"tensor {name} is missing, misshapen or not finite")
    return {name: tensors[name] for name in shapes}
