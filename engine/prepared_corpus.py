"""Reading a prepared corpus (engine/prepared.py writes it): a `Corpus` whose training ids are a
memory map of tokens.bin, so a corpus larger than memory trains in bounded memory and each rank
touches only the pages of its own streams (engine/batches.py).

Importing this module does not load torch (`load_prepared` does). Everything is checked before use (strict JSON, the format and schema, types, checksums of the
small files, the token file's size); a damaged or foreign folder gives a CorpusError that says
to prepare it again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from engine.config import DataConfig
from engine.errors import ConfigError, CorpusError, ModelFileError
from engine.prepared import FORMAT, META, SCHEMA, TOKENS, VALID_TEXT, VOCAB_FILE
from engine.vocab import Vocab

if TYPE_CHECKING:
    from engine.corpus import Corpus

_INTS = ("vocab_size", "tokens", "train_tokens", "lines", "words")


def is_prepared(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder written by `prepare` (it has a meta.json)."""
    p = Path(path)
    return p.is_dir() and (p / META).is_file()


def prepared_summary(folder: str | os.PathLike) -> dict:
    """The figures of a prepared folder (tokens, dtype, vocabulary, split, lines, words), checked."""
    meta = _read_meta(Path(folder))
    return {k: meta[k] for k in ("tokens", "dtype", "vocab_size", "train_tokens", "valid_is_train", "lines", "words")}


def load_prepared(folder: str | os.PathLike, config: DataConfig | None = None) -> "Corpus":
    """The prepared corpus in `folder` as a Corpus: `train_ids` memory-mapped (uint16/uint32),
    `valid_ids` int32 in memory (validation reads all of it every epoch), `valid_text` the start
    of the validation text. `config`, if given, must be the one it was prepared with."""
    import torch  # here, not at the top: is_prepared and prepared_summary stay torch-free

    from engine.corpus import Corpus, CorpusStats

    p = Path(folder)
    meta = _read_meta(p)
    stored = _data_config(meta, p)
    if config is not None and config != stored:
        raise ConfigError(
            f"{p} was prepared with other data settings ({stored}); prepare it again with these "
            "settings, or train without --min-freq / --max-vocab / --keep-case."
        )
    vocab = _read_vocab(p, meta)
    ids = _token_map(p, meta)
    train = ids[: meta["train_tokens"]]
    valid = train if meta["valid_is_train"] else ids[meta["train_tokens"] :]
    valid_text = _read_small(p / VALID_TEXT, meta).decode("utf-8", "surrogatepass")
    stats = CorpusStats(
        words=meta["words"],
        lines=meta["lines"],
        vocab_size=len(vocab),
        train_tokens=int(train.size),
        valid_tokens=int(valid.size),
        valid_is_train=meta["valid_is_train"],
    )
    return Corpus(
        vocab=vocab,
        train_ids=torch.from_numpy(train),
        valid_ids=torch.from_numpy(np.asarray(valid, dtype=np.int32)),
        valid_text=valid_text,
        stats=stats,
        fingerprint=meta["fingerprint"],
        config=stored,
    )


def _damaged(p: Path, what: str) -> CorpusError:
    return CorpusError(f"{p} is not a usable prepared corpus ({what}): run `nextword-tui prepare` again.")


def _read_meta(p: Path) -> dict:
    try:
        meta = json.loads((p / META).read_bytes().decode("utf-8"), parse_constant=_refuse)
    except FileNotFoundError:
        raise CorpusError(f"{p} is not a prepared corpus (no {META}): run `nextword-tui prepare CORPUS` first.") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _damaged(p, f"{META}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _damaged(p, f"{META} is not a prepared corpus's")
    schema = meta.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema > SCHEMA:
        raise _damaged(p, f"schema {schema!r}; this nextword-tui reads schema {SCHEMA} at most")
    for name in _INTS:
        value = meta.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _damaged(p, f"{name} is {value!r}")
    ok = (meta.get("dtype") in ("uint16", "uint32") and isinstance(meta.get("valid_is_train"), bool)
          and isinstance(meta.get("fingerprint"), str) and isinstance(meta.get("sha256"), dict)
          and 0 < meta["train_tokens"] <= meta["tokens"])
    if not ok:
        raise _damaged(p, "its settings have the wrong types")
    return meta


def _refuse(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


def _data_config(meta: dict, p: Path) -> DataConfig:
    data = meta.get("data")
    try:
        config = DataConfig(**data)
        config.validate()
    except (TypeError, ConfigError) as exc:
        raise _damaged(p, f"data settings: {exc}") from None
    return config


def _read_small(path: Path, meta: dict) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _damaged(path.parent, f"{path.name}: {exc.strerror or exc}") from None
    if hashlib.sha256(data).hexdigest() != meta["sha256"].get(path.name):
        raise _damaged(path.parent, f"{path.name} does not match its checksum")
    return data


def _read_vocab(p: Path, meta: dict) -> Vocab:
    try:
        vocab = Vocab.from_json(json.loads(_read_small(p / VOCAB_FILE, meta), parse_constant=_refuse))
    except (ValueError, ModelFileError) as exc:
        raise _damaged(p, f"{VOCAB_FILE}: {exc}") from None
    if len(vocab) != meta["vocab_size"] or (meta["dtype"] == "uint16" and len(vocab) > 2**16):
        raise _damaged(p, "the vocabulary does not fit the token file")
    return vocab


def _token_map(p: Path, meta: dict) -> np.ndarray:
    dtype = np.dtype(meta["dtype"])
    path = p / TOKENS
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _damaged(p, f"{TOKENS}: {exc.strerror or exc}") from None
    if size != meta["tokens"] * dtype.itemsize:
        raise _damaged(p, f"{TOKENS} has {size:,} bytes, expected {meta['tokens'] * dtype.itemsize:,}")
    # Copy-on-write: a writable array (torch.from_numpy wants one) that can never change the file.
    return np.memmap(path, dtype=dtype, mode="c", shape=(meta["tokens"],))
