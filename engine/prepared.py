"""`prepare`: tokenize a corpus once, in parallel, into a memory-mapped token-id file (as nanoGPT's
data/*/prepare.py does), so that corpora larger than memory can be trained on, each rank reading
only its slice.

A prepared corpus is a folder:

    meta.json     strict JSON: format, schema, dtype, token counts, the split, stats, fingerprint,
                  the data settings, sha256 of the small files
    vocab.json    the vocabulary (Vocab.to_json), built from the training lines only
    tokens.bin    every token id in file order (uint16, or uint32 for vocabularies over 65,536):
                  the training part first, then the validation part (the last lines)
    valid.txt     the start of the validation text (VALID_TEXT_CHARS), for the final metrics

The policy is the in-memory path's, reused rather than copied: the same tokenizer
(`tokenize_line`, one <eos> after each line with tokens), the same split (the last
`valid_fraction` of non-empty lines; all of them when there are too few), the same vocabulary
(`Vocab.from_counts` over the training tokens, the same default min_freq), the same fingerprint
(sha256 of the decoded text). `load_prepared(folder)` gives the `Corpus` that
`Corpus.from_text(text)` gives, except that its ids are memory-mapped (tests/test_prepared.py).

The work: the file is cut into line-aligned byte ranges; a process pool tokenizes each range into
provisional ids (numbered per range as first seen) written to a scratch file, with the range's
token counts; the vocabulary is built from the merged counts of the training part; the pool then
maps each range's provisional ids to vocabulary ids, written at the range's offset in tokens.bin.
The text is tokenized once; each worker holds one PIECE_BYTES piece of text at a time.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from engine.config import DataConfig, default_min_freq, plan_split
from engine.errors import ConfigError, CorpusError
from engine.textfile import check_head, not_utf8, nul_byte, stat_text_file
from engine.tokenizer import EOS, key, split_lines, tokenize_line
from engine.vocab import EOS_ID, Vocab

if TYPE_CHECKING:
    from engine.corpus import Corpus

FORMAT = "nextword-tui prepared corpus"
SCHEMA = 1
META, VOCAB_FILE, TOKENS, VALID_TEXT = "meta.json", "vocab.json", "tokens.bin", "valid.txt"
RANGE_BYTES = 32 * 1024**2  # one task of the pool
PIECE_BYTES = 4 * 1024**2  # what a worker decodes and tokenizes at a time (~60 MB of token strings)
MAX_LINE_BYTES = 64 * 1024**2  # a longer line is not ordinary text
VALID_TEXT_CHARS = 100_000  # as engine.corpus: what the final metrics read, with room to spare
SAMPLE_CHARS = 100_000  # for check_spaced_words
COPY_TOKENS = 4 * 1024**2  # tokens remapped at a time


@dataclass(frozen=True)
class _Range:
    path: str
    start: int
    end: int
    scratch: str  # path prefix of this range's scratch files


# -- reading a range -------------------------------------------------------------------------


def _pieces(f, path: str, start: int, end: int):
    """(offset, text) of the range [start, end) in pieces that end at a line break (the last at
    `end`), decoded as strict UTF-8; the errors decode_text gives, at absolute offsets."""
    f.seek(start)
    pos, carry = start, b""
    while pos < end or carry:
        data = f.read(min(PIECE_BYTES, end - pos)) if pos < end else b""
        pos += len(data)
        data = carry + data
        cut = data.rfind(b"\n") + 1 if pos < end else len(data)
        if cut == 0:
            if len(data) > MAX_LINE_BYTES:
                raise CorpusError(f"{path} has a line longer than {MAX_LINE_BYTES // 1024**2} MB: it is not ordinary text.")
            carry = data
            continue
        piece, carry = data[:cut], data[cut:]
        offset = pos - len(data)
        nul = piece.find(b"\x00")
        if nul != -1:
            raise nul_byte(path, offset + nul)
        try:
            yield offset, piece.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise not_utf8(path, offset + exc.start, piece[exc.start : exc.start + 1]) from None


def _has_content(line: str) -> bool:
    """What Corpus.from_text keeps as a line: `line.strip()` is not empty."""
    return bool(line) and not line.isspace()


class _SurfaceIds(dict):
    """Surface token -> provisional id, numbered as first seen; <eos> is 0."""

    def __init__(self) -> None:
        super().__init__({EOS: 0})
        self.surfaces = [EOS]

    def __missing__(self, token: str) -> int:
        self[token] = i = len(self.surfaces)
        self.surfaces.append(token)
        return i


def _tokenize_range(task: _Range) -> dict:
    """Pool worker: provisional ids of the range's tokens to `scratch.ids` (uint32), the token
    count after each non-empty line to `scratch.lines` (int64); returns the surfaces and counts."""
    ids = _SurfaceIds()
    counts = np.zeros(1, dtype=np.int64)
    line_ends: list[int] = []
    n = 0
    with open(task.path, "rb") as f, open(task.scratch + ".ids", "wb") as out:
        for _, text in _pieces(f, task.path, task.start, task.end):
            tokens: list[str] = []
            for line in split_lines(text):
                if _has_content(line):
                    words = tokenize_line(line)
                    if words:
                        tokens.extend(words)
                        tokens.append(EOS)
                    line_ends.append(n + len(tokens))
            arr = np.fromiter(map(ids.__getitem__, tokens), dtype=np.uint32, count=len(tokens))
            del tokens
            found = np.bincount(arr, minlength=len(ids.surfaces))
            counts = np.concatenate([counts, np.zeros(found.size - counts.size, np.int64)]) + found
            out.write(arr.tobytes())
            n += arr.size
    np.asarray(line_ends, dtype=np.int64).tofile(task.scratch + ".lines")
    return {"surfaces": ids.surfaces, "counts": counts, "tokens": n, "lines": len(line_ends)}


def _write_range(args: tuple[_Range, np.ndarray, str, int, str]) -> int:
    """Pool worker: the range's provisional ids mapped through `table`, written at `offset` (in
    tokens) of the token file; the scratch files are removed. Returns the tokens written."""
    task, table, out_path, offset, dtype = args
    ids = np.memmap(task.scratch + ".ids", dtype=np.uint32, mode="r") if os.path.getsize(task.scratch + ".ids") else np.zeros(0, np.uint32)
    itemsize = np.dtype(dtype).itemsize
    with open(out_path, "r+b") as out:
        for i in range(0, ids.size, COPY_TOKENS):
            chunk = np.take(table, ids[i : i + COPY_TOKENS]).astype(dtype)
            out.seek((offset + i) * itemsize)
            out.write(chunk.tobytes())
    size = int(ids.size)
    del ids
    os.remove(task.scratch + ".ids")
    return size


# -- the plan: ranges, split, vocabulary -------------------------------------------------------


def _line_ranges(path: str, size: int, start: int, target: int, scratch: Path) -> list[_Range]:
    """Byte ranges of about `target` bytes, each ending just after a line break (or at the end)."""
    cuts = [start]
    with open(path, "rb") as f:
        while cuts[-1] < size:
            pos = cuts[-1] + target
            if pos >= size:
                cuts.append(size)
                break
            f.seek(pos)
            while True:
                block = f.read(1024**2)
                if not block:
                    cuts.append(size)
                    break
                newline = block.find(b"\n")
                if newline != -1:
                    cuts.append(pos + newline + 1)
                    break
                pos += len(block)
    return [_Range(path, a, b, str(scratch / f"part-{i:05d}")) for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]


def _head_checks(path: str, size: int) -> int:
    """decode_text's checks of the file's start, check_spaced_words on a sample; the BOM length."""
    from engine.corpus import check_spaced_words

    with open(path, "rb") as f:
        head = f.read(SAMPLE_CHARS * 4)
    if check_head(head, size, path) != "utf-8":
        raise CorpusError(f"{path} is UTF-16: prepare reads UTF-8 text; re-save it as UTF-8.")
    bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    check_spaced_words(head[bom:].decode("utf-8", errors="ignore")[:SAMPLE_CHARS])
    return bom


def _hash_file(path: str, start: int) -> str:
    """The fingerprint of the decoded text: a valid UTF-8 file's bytes after its BOM are the UTF-8
    encoding of its text, so this is textfile.fingerprint(load_text(path))."""
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(start)
        while block := f.read(16 * 1024**2):
            hasher.update(block)
    return hasher.hexdigest()[:16]


def _train_end(ranges: list[_Range], results: list[dict], n_train_lines: int) -> tuple[int, int, int]:
    """(index of the range where the validation lines start, its training tokens, training tokens
    in all): the token offset just after the n_train_lines-th non-empty line."""
    before = tokens = 0
    for i, result in enumerate(results):
        if before + result["lines"] >= n_train_lines:
            need = n_train_lines - before
            ends = np.fromfile(ranges[i].scratch + ".lines", dtype=np.int64)
            local = int(ends[need - 1]) if need > 0 else 0
            return i, local, tokens + local
        before += result["lines"]
        tokens += result["tokens"]
    return len(results) - 1, results[-1]["tokens"] if results else 0, tokens


class _Merged:
    """The ranges' results merged as they arrive, so that this process holds each distinct surface
    once (not once per range): global ids, counts over all tokens, each range's map to global ids."""

    def __init__(self) -> None:
        self.ids = _SurfaceIds()
        self.counts = np.zeros(1, dtype=np.int64)
        self.maps: list[np.ndarray] = []
        self.sizes: list[dict] = []  # tokens and lines of each range

    def add(self, result: dict) -> None:
        surfaces = result["surfaces"]
        local = np.fromiter(map(self.ids.__getitem__, surfaces), dtype=np.int64, count=len(surfaces))
        if len(self.ids.surfaces) > self.counts.size:
            grown = max(len(self.ids.surfaces), 2 * self.counts.size)
            self.counts = np.concatenate([self.counts, np.zeros(grown - self.counts.size, np.int64)])
        self.counts[local] += result["counts"]  # `local` has no repeats
        self.maps.append(local.astype(np.int32))
        self.sizes.append({"tokens": result["tokens"], "lines": result["lines"]})

    def train_counts(self, ranges: list[_Range], split: tuple[int, int, int]) -> np.ndarray:
        """Counts over the training part: all counts less those of the validation tokens."""
        index, local, _ = split
        counts = self.counts.copy()
        for i in range(index, len(ranges)):
            start = local if i == index else 0
            ids = np.fromfile(ranges[i].scratch + ".ids", dtype=np.uint32, offset=4 * start)
            counts -= np.bincount(self.maps[i][ids], minlength=counts.size)
        return counts

    def surface_counts(self, counts: np.ndarray) -> dict[str, int]:
        surfaces = self.ids.surfaces
        return {surfaces[j]: int(counts[j]) for j in np.flatnonzero(counts[1:]) + 1}  # 0 is <eos>

    def tables(self, vocab: Vocab) -> list[np.ndarray]:
        """Per range: provisional id -> vocabulary id."""
        table = np.fromiter((vocab.id(s) for s in self.ids.surfaces), dtype=np.int64, count=len(self.ids.surfaces))
        table[0] = EOS_ID
        return [table[m] for m in self.maps]


def _build_vocab(surface_counts: dict[str, int], train_tokens: int, config: DataConfig) -> Vocab:
    """Vocab.build's vocabulary from counts: the same keys, display forms, order and min_freq."""
    key_counts: dict[str, int] = {}
    by_key: dict[tuple[str, str], int] = {}
    for surface, count in surface_counts.items():
        k = key(surface, config.lowercase)
        key_counts[k] = key_counts.get(k, 0) + count
        by_key[(k, surface)] = count
    min_freq = default_min_freq(config, train_tokens)  # the one rule, as Corpus.from_text
    return Vocab.from_counts(key_counts, by_key, min_freq, config.max_vocab, config.lowercase)


def _valid_head(path: str, ranges: list[_Range], index: int, skip_lines: int) -> str:
    """The first VALID_TEXT_CHARS of "\\n".join(validation lines), which start after `skip_lines`
    non-empty lines of range `index`."""
    lines: list[str] = []
    chars = 0
    with open(path, "rb") as f:
        for r in ranges[index:]:
            for _, text in _pieces(f, path, r.start, r.end):
                for line in split_lines(text):
                    if not _has_content(line):
                        continue
                    if skip_lines > 0:
                        skip_lines -= 1
                        continue
                    lines.append(line)
                    chars += len(line) + 1
                    if chars > VALID_TEXT_CHARS:
                        return "\n".join(lines)[:VALID_TEXT_CHARS]
    return "\n".join(lines)[:VALID_TEXT_CHARS]


# -- prepare ----------------------------------------------------------------------------------


def default_out(corpus: str | os.PathLike) -> Path:
    """Where `prepare` writes by default: beside the corpus, CORPUS.prepared."""
    p = Path(corpus)
    return p.with_name(p.name + ".prepared")


def prepare(
    corpus: str | os.PathLike,
    out: str | os.PathLike | None = None,
    config: DataConfig | None = None,
    workers: int | None = None,
    range_bytes: int = RANGE_BYTES,
    on_progress: Callable[[float, str], None] | None = None,
) -> Path:
    """Tokenize `corpus` into a prepared folder (default CORPUS.prepared); returns its path.

    `workers` processes (default: every core) tokenize line-aligned ranges of `range_bytes`.
    An existing prepared folder at `out` is replaced only once the new one is complete.
    """
    config = config or DataConfig()
    config.validate()
    path = str(Path(corpus))
    info = stat_text_file(Path(path))
    target = Path(out) if out is not None else default_out(path)
    _check_target(target)
    report = on_progress or (lambda fraction, message: None)
    bom = _head_checks(path, info.st_size)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _prepare_into(staging, path, info, bom, config, workers, range_bytes, report)
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report(1.0, f"Prepared {target}")
    return target


def _check_target(target: Path) -> None:
    if target.exists() and not (target / META).is_file():
        raise ConfigError(f"{target} exists and is not a prepared corpus: choose another --out folder.")


def _swap_in(staging: Path, target: Path) -> None:
    from engine.paths import fsync_dir

    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.{os.getpid()}.old")
        os.replace(target, old)
    os.replace(staging, target)
    fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _prepare_into(folder: Path, path: str, info: os.stat_result, bom: int, config: DataConfig,
                  workers: int | None, range_bytes: int, report: Callable[[float, str], None]) -> None:
    ranges = _line_ranges(path, info.st_size, bom, max(1, range_bytes), folder)
    workers = max(1, min(workers or os.cpu_count() or 1, len(ranges)))
    # spawn, not fork: the caller may hold torch's thread pools, which a forked child can deadlock on.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pending = pool.imap(_tokenize_range, ranges)
        fingerprint = _hash_file(path, bom)  # meanwhile, in this process
        merged = _Merged()
        for r, result in zip(ranges, pending):
            merged.add(result)
            del result
            report(0.9 * (r.end / max(info.st_size, 1)), f"Tokenizing: {r.end / 1024**2:,.0f} of {info.st_size / 1024**2:,.0f} MB")
        plan = _plan(ranges, merged, config)
        report(0.9, "Building the vocabulary")
        vocab = _build_vocab(merged.surface_counts(plan["train_counts"]), plan["train_tokens"], config)
        dtype = "uint16" if len(vocab) <= 2**16 else "uint32"
        tokens = sum(size["tokens"] for size in merged.sizes)
        with open(folder / TOKENS, "wb") as f:
            f.truncate(tokens * np.dtype(dtype).itemsize)
        offsets = np.cumsum([0] + [size["tokens"] for size in merged.sizes])
        jobs = [(r, t, str(folder / TOKENS), int(o), dtype) for r, t, o in zip(ranges, merged.tables(vocab), offsets)]
        written = sum(pool.imap(_write_range, jobs))
    for r in ranges:
        os.remove(r.scratch + ".lines")
    now = os.stat(path)
    if written != tokens or (now.st_size, now.st_mtime_ns) != (info.st_size, info.st_mtime_ns):
        raise CorpusError(f"{path} changed while it was being prepared: try again once it is saved.")
    index = 0 if plan["valid_is_train"] else plan["split"][0]
    valid_text = _valid_head(path, ranges, index, 0 if plan["valid_is_train"] else plan["skip"])
    words = tokens - int(merged.counts[0])  # <eos> is id 0
    _write_small_files(folder, vocab, valid_text, {
        "dtype": dtype,
        "tokens": tokens,
        "train_tokens": plan["train_tokens"],
        "valid_is_train": plan["valid_is_train"],
        "lines": plan["lines"],
        "words": plan["train_words"] if plan["valid_is_train"] else words,
        "fingerprint": fingerprint,
        "data": config.to_json(),
        "source": {"name": Path(path).name, "bytes": info.st_size},
    })


def _plan(ranges: list[_Range], merged: _Merged, config: DataConfig) -> dict:
    """The split as Corpus.from_text makes it: the last valid_fraction of non-empty lines."""
    lines = sum(size["lines"] for size in merged.sizes)
    if lines == 0:
        raise CorpusError("The corpus is empty: add some text (a few sentences at least).")
    plan = plan_split(lines, config)  # the one split policy, as Corpus.from_text
    n_train, valid_is_train = plan.n_train, plan.valid_is_train
    split = _train_end(ranges, merged.sizes, n_train)
    before = sum(size["lines"] for size in merged.sizes[: split[0]])
    train_tokens = split[2]
    counts = merged.train_counts(ranges, split)
    train_words = train_tokens - int(counts[0])
    if train_words == 0:
        raise CorpusError("The corpus has no words, only spaces: add some text.")
    return {"lines": lines, "valid_is_train": valid_is_train, "split": split, "skip": n_train - before,
            "train_tokens": train_tokens, "train_words": train_words, "train_counts": counts}


def _dumps(data: object) -> bytes:
    return json.dumps(data, indent=1, allow_nan=False).encode("utf-8")


def _write_small_files(folder: Path, vocab: Vocab, valid_text: str, meta: dict) -> None:
    files = {VOCAB_FILE: _dumps(vocab.to_json()), VALID_TEXT: valid_text.encode("utf-8", "surrogatepass")}
    meta = {"format": FORMAT, "schema": SCHEMA, "vocab_size": len(vocab), **meta,
            "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
    files[META] = _dumps(meta)  # last: a folder with meta.json is complete
    for name, data in files.items():
        with open(folder / name, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    with open(folder / TOKENS, "rb+") as f:
        os.fsync(f.fileno())
