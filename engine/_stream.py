"""Corpus.from_file for files too big to read whole: two passes in bounded memory.

Pass 1 reads the file as decode_text would and counts its non-empty lines, so the training /
validation boundary (a line number, from the split policy `plan_split`) is known. Pass 2 tokenizes
block by block (a block ends at a line break) with the tokenizer's pattern plus line breaks, which is
what tokenize() gives line by line: NFC normalisation never crosses a line break. Each distinct
surface token gets a provisional id as it is first seen, so the token stream is kept only as int32
arrays; the training part's counts per surface give exactly Vocab.build's vocabulary, and one lookup
table then turns the provisional ids into vocabulary ids.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine.config import DataConfig, Split, default_min_freq, plan_split
from engine.corpus import Corpus, CorpusStats, check_spaced_words
from engine.errors import CorpusError, LoadCancelled
from engine.textfile import check_head, damaged_utf16, not_utf8, nul_byte
from engine.tokenizer import EOS, TOKEN_OR_BREAK, key, normalize, split_lines
from engine.vocab import EOS_ID, Vocab

STREAM_CHUNK_BYTES = 4 * 1024**2  # read size of the streaming passes (its tokens are ~60 MB of str)
# A streamed corpus keeps this much of its validation text: what evaluation.final_eval_text cuts
# (FINAL_EVAL_CHARS = 50,000) with room to spare. Must stay above FINAL_EVAL_CHARS.
VALID_TEXT_CHARS = 100_000
MAX_UNBROKEN_CHARS = 64 * 1024**2  # text without any space or line break: not a corpus
PROGRESS_INTERVAL = 0.1  # seconds between on_progress calls
_BREAK = re.compile(r"\r\n|\r|\n")
_SPACE = re.compile(r"\s")
_MB = 1024**2
_CHECK_SHARE = 0.05  # of the progress bar: pass 1 (decoding and checks) is ~20x faster than pass 2
_BUILD_SHARE = 0.05  # the vocabulary and the final id arrays


class _Progress:
    def __init__(self, on_progress: Callable[[float, str], None] | None, should_stop: Callable[[], bool] | None):
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.last = -float("inf")
        self.fraction = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        """Poll should_stop, and report if the last report is old enough."""
        if self.should_stop is not None and self.should_stop():
            raise LoadCancelled()
        self.fraction = min(max(fraction, self.fraction), 1.0)  # never backwards, whatever the rounding
        now = time.monotonic()
        if self.on_progress is not None and now - self.last >= PROGRESS_INTERVAL:
            self.last = now
            self.on_progress(self.fraction, message)

    def done(self, message: str) -> None:
        if self.on_progress is not None:
            self.on_progress(1.0, message)


def _has_content(line: str) -> bool:
    """What from_text keeps as a line: `line.strip()` is not empty (equivalently: it has a token)."""
    return bool(line) and not line.isspace()


def _count_lines(text: str, lines: int, open_content: bool) -> tuple[int, bool]:
    """Add the non-empty lines that end in `text` to `lines`. `open_content`: whether the line still
    open before `text` has content; returned for the line left open after it."""
    last = max(text.rfind("\n"), text.rfind("\r"))
    if last == -1:
        return lines, open_content or _has_content(text)
    first = min(i for i in (text.find("\n"), text.find("\r")) if i != -1)
    if open_content or _has_content(text[:first]):
        lines += 1
    middle = text[first : last + 1]  # starts and ends with a line break
    pieces = middle.split("\n") if "\r" not in middle else split_lines(middle)
    lines += sum(1 for piece in pieces if piece and not piece.isspace())
    return lines, _has_content(text[last + 1 :])


@dataclass
class _Scan:
    encoding: str
    bom: int  # bytes of UTF-8 BOM skipped
    lines: int
    fingerprint: str
    sample: str  # the first characters, for check_spaced_words


def _scan(p: Path, f, size: int, progress: _Progress) -> _Scan:
    """Pass 1: decode_text's checks over the whole file (the first NUL byte wins over an earlier
    UTF-8 error, as there), the number of non-empty lines, the fingerprint and a sample."""
    name = str(p)
    head = f.read(max(STREAM_CHUNK_BYTES, 16))
    encoding = check_head(head, size, name)
    bom = 3 if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8) else 0
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    hasher = hashlib.sha256()
    lines, open_content = 0, False
    sample, sample_chars = [], 0
    bad: tuple[int, bytes] | None = None  # the first bytes that are not UTF-8
    data, pos, final = head[bom:], bom, False
    while True:
        if encoding == "utf-8":
            nul = data.find(b"\x00")
            if nul != -1:
                raise nul_byte(name, pos + nul)
        if bad is None:
            pending = len(decoder.getstate()[0])  # bytes held back from the previous chunk
            try:
                text = decoder.decode(data, final)
            except UnicodeDecodeError as exc:
                offset = pos - pending + exc.start
                if encoding != "utf-8":
                    raise damaged_utf16(name, offset) from None
                bad, text = (offset, exc.object[exc.start : exc.start + 1]), ""
            # A valid UTF-8 file's bytes (BOM excluded) are the UTF-8 encoding of its text.
            hasher.update(data if encoding == "utf-8" else text.encode("utf-8", "surrogatepass"))
            lines, open_content = _count_lines(text, lines, open_content)
            if sample_chars < 100_000:
                sample.append(text[: 100_000 - sample_chars])
                sample_chars += len(sample[-1])
        pos += len(data)
        progress(_CHECK_SHARE * pos / max(size, 1), f"Checking {p.name}: {pos / _MB:,.0f} of {size / _MB:,.0f} MB")
        if final:
            break
        data = f.read(STREAM_CHUNK_BYTES)
        final = not data
    if bad is not None:
        raise not_utf8(name, *bad)
    lines += open_content
    return _Scan(encoding, bom, lines, hasher.hexdigest()[:16], "".join(sample))


class _SurfaceIds(dict):
    """Surface token -> provisional id, numbered as first seen; line breaks are 0, for <eos>."""

    def __init__(self) -> None:
        super().__init__({"\n": 0, "\r\n": 0, "\r": 0})
        self.surfaces = [EOS]

    def __missing__(self, token: str) -> int:
        self[token] = i = len(self.surfaces)
        self.surfaces.append(token)
        return i


class _ValidText:
    """The first `limit` characters of "\n".join(non-empty lines), fed raw text from a line start."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.chars = 0
        self.open = ""
        self.started = self.done = False

    def feed(self, text: str, final: bool) -> None:
        if self.done:
            return
        pieces = split_lines(text)
        pieces[0] = self.open + pieces[0]
        complete, self.open = (pieces, "") if final else (pieces[:-1], pieces[-1])
        for line in complete:
            if _has_content(line):
                self.lines.append(line)
                self.chars += len(line) + 1
                if self.chars > self.limit:
                    self.done = True
                    return
        if len(self.open) > self.limit:  # a huge line: its start is all that is needed
            if _has_content(self.open):
                self.lines.append(self.open)
                self.done = True
            else:
                self.open = self.open[: self.limit + 1]

    def text(self) -> str:
        return "\n".join(self.lines)[: self.limit]


def _after_lines(block: str, count: int, open_content: bool) -> str:
    """`block` after the end of its `count`-th non-empty line (the first piece of `block` continues
    a line whose earlier part had content if `open_content`)."""
    start = 0
    for match in _BREAK.finditer(block):
        if (start == 0 and open_content) or _has_content(block[start : match.start()]):
            count -= 1
        start = match.end()
        if count == 0:
            return block[start:]
    return ""


def _block_end(text: str, name: str) -> int:
    """Where a block of decoded text can end without cutting a token: after its last line break,
    else after its last space; 0 to wait for more text."""
    cut = max(text.rfind("\n"), text.rfind("\r")) + 1
    if cut:
        return cut
    space = _SPACE.search(text[::-1])
    if space is not None:
        return len(text) - space.start()
    if len(text) > MAX_UNBROKEN_CHARS:
        raise CorpusError(
            f"{name} has over {MAX_UNBROKEN_CHARS // _MB} MB of text without a space or a line break: "
            "it is not ordinary text."
        )
    return 0


def _changed(p: Path) -> CorpusError:
    return CorpusError(f"{p} changed while it was being read: try again once it is saved.")


def stream_corpus(p: Path, info: os.stat_result, config: DataConfig,
                  on_progress: Callable[[float, str], None] | None,
                  should_stop: Callable[[], bool] | None) -> Corpus:
    """The Corpus of a big file (see Corpus.from_file), read twice in STREAM_CHUNK_BYTES reads."""
    progress = _Progress(on_progress, should_stop)
    try:
        f = open(p, "rb")  # closed in the finally below
    except OSError as exc:
        raise CorpusError(f"Cannot read {p}: {exc.strerror or exc}") from None
    try:
        scan = _scan(p, f, info.st_size, progress)
        if scan.lines == 0:
            raise CorpusError("The corpus is empty: add some text (a few sentences at least).")
        check_spaced_words(scan.sample)
        split = plan_split(scan.lines, config)
        f.seek(scan.bom)
        tokens = _read_tokens(p, f, info.st_size, scan.encoding, split, progress)
        now = os.fstat(f.fileno())
        if tokens.lines_done != scan.lines or (now.st_size, now.st_mtime_ns) != (info.st_size, info.st_mtime_ns):
            raise _changed(p)
    except OSError as exc:
        raise CorpusError(f"Cannot read {p}: {exc.strerror or exc}") from None
    finally:
        f.close()
    corpus = _build(tokens, split, scan, config, progress)
    progress.done(f"Loaded {p.name}")
    return corpus


class _Tokens:
    """Pass 2's results so far: provisional ids of every token (training, then validation), the
    training part's count of each, and the start of the validation text."""

    def __init__(self, split: Split) -> None:
        self.split = split
        self.ids = _SurfaceIds()
        self.stream = _IdStream()
        self.train_tokens = 0
        self.counts = np.zeros(1024, dtype=np.int64)  # of each provisional id in the training part
        self.valid = _ValidText(VALID_TEXT_CHARS)
        self.valid_start = split.n_train if not split.valid_is_train else 0  # first validation line
        self.valid.started = self.valid_start == 0
        self.lines_done = 0
        self.last_was_eos = True

    def add(self, block: str, final: bool) -> None:
        """Tokenize one block of text that ends at a token boundary (and the file's end if final)."""
        tokens = TOKEN_OR_BREAK.findall(normalize(block))
        if final:
            tokens.append("\n")  # the last line ends like the others
        arr = np.fromiter(map(self.ids.__getitem__, tokens), dtype=np.int32, count=len(tokens))
        del tokens
        # A line break is an <eos> only after a token: drop the breaks of empty lines.
        brk = arr == 0
        drop = brk.copy()
        drop[1:] &= brk[:-1]
        if drop.size:
            drop[0] &= self.last_was_eos
        if drop.any():
            arr = arr[~drop]
        open_content = not self.last_was_eos  # the line open before this block has a token
        if arr.size:
            self.last_was_eos = bool(arr[-1] == 0)
        ends = np.flatnonzero(arr == 0)
        self._count_training(arr, ends)
        self.stream.append(arr)
        self._feed_valid(block, final, ends.size, open_content)
        self.lines_done += ends.size

    def _count_training(self, arr: np.ndarray, ends: np.ndarray) -> None:
        need = self.split.n_train - self.lines_done  # line ends before the validation part starts
        cut = 0 if need <= 0 else arr.size if need > ends.size else int(ends[need - 1]) + 1
        if cut:
            self.train_tokens += cut
            found = np.bincount(arr[:cut])
            if found.size > self.counts.size:
                grown = max(found.size, 2 * self.counts.size) - self.counts.size
                self.counts = np.concatenate([self.counts, np.zeros(grown, np.int64)])
            self.counts[: found.size] += found

    def _feed_valid(self, block: str, final: bool, line_ends: int, open_content: bool) -> None:
        if self.valid.done:
            return
        if self.valid.started:
            self.valid.feed(block, final)
        elif 0 < self.valid_start - self.lines_done <= line_ends:
            self.valid.started = True
            self.valid.feed(_after_lines(block, self.valid_start - self.lines_done, open_content), final)


def _read_tokens(p: Path, f, size: int, encoding: str, split: Split, progress: _Progress) -> _Tokens:
    """Pass 2: the file's tokens as provisional ids, split at the end of line split.n_train."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    tokens = _Tokens(split)
    carry, pos, final = "", f.tell(), False
    while not final:
        data = f.read(STREAM_CHUNK_BYTES)
        final = not data
        pos += len(data)
        try:
            text = carry + decoder.decode(data, final)
        except UnicodeDecodeError:
            raise _changed(p) from None
        cut = len(text) if final else _block_end(text, str(p))
        block, carry = text[:cut], text[cut:]
        tokens.add(block, final)
        progress(_CHECK_SHARE + (1 - _CHECK_SHARE - _BUILD_SHARE) * pos / max(size, 1),
                 f"Reading words: {pos / _MB:,.0f} of {size / _MB:,.0f} MB")
    return tokens


def _build(tokens: _Tokens, split: Split, scan: _Scan, config: DataConfig, progress: _Progress) -> Corpus:
    """The vocabulary from the training counts, then the ids remapped to it."""
    building = 1 - _BUILD_SHARE
    progress(building, "Building the vocabulary")
    train_tokens = tokens.train_tokens
    valid_tokens = train_tokens if split.valid_is_train else tokens.stream.size - train_tokens
    if train_tokens - split.n_train == 0:
        raise CorpusError("The corpus has no words, only spaces: add some text.")
    words = train_tokens - split.n_train + (0 if split.valid_is_train else valid_tokens - split.n_valid)
    surfaces = tokens.ids.surfaces
    tokens.ids = None  # the surface -> id dictionary: not needed any more, and big
    vocab = _vocab(surfaces, tokens.counts, config, train_tokens)
    remap = np.fromiter((vocab.id(s) for s in surfaces), dtype=np.int32, count=len(surfaces))
    remap[0] = EOS_ID
    del surfaces
    ids = tokens.stream.take(remap, lambda done: progress(building + _BUILD_SHARE * done, "Building the vocabulary"))
    train_ids = torch.from_numpy(ids[:train_tokens])
    valid_ids = train_ids if split.valid_is_train else torch.from_numpy(ids[train_tokens:])
    stats = CorpusStats(words=words, lines=scan.lines, vocab_size=len(vocab), train_tokens=train_tokens,
                        valid_tokens=valid_tokens, valid_is_train=split.valid_is_train)
    return Corpus(vocab=vocab, train_ids=train_ids, valid_ids=valid_ids, valid_text=tokens.valid.text(),
                  stats=stats, fingerprint=scan.fingerprint, config=config)


def _vocab(surfaces: list[str], counts: np.ndarray, config: DataConfig, train_tokens: int) -> Vocab:
    """Vocab.build's vocabulary, from the training part's count of each surface token."""
    key_counts: dict[str, int] = {}
    surface_counts: dict[tuple[str, str], int] = {}
    for i in np.flatnonzero(counts[1:]) + 1:  # seen in training; 0 is <eos>
        surface, c = surfaces[i], int(counts[i])
        k = key(surface, config.lowercase)
        key_counts[k] = key_counts.get(k, 0) + c
        surface_counts[(k, surface)] = c
    min_freq = default_min_freq(config, train_tokens)
    return Vocab.from_counts(key_counts, surface_counts, min_freq, config.max_vocab, config.lowercase)


class _IdStream:
    """A growing int32 token stream kept in SEGMENT-id arrays: bigger than glibc's largest mmap
    threshold (32 MB), so each segment is its own mapping and goes back to the system when freed."""

    SEGMENT = 16 * 1024**2  # ids: 64 MB

    def __init__(self) -> None:
        self.segments: list[np.ndarray] = []
        self.size = 0

    def append(self, ids: np.ndarray) -> None:
        while ids.size:
            used = self.size % self.SEGMENT
            if used == 0:
                self.segments.append(np.empty(self.SEGMENT, dtype=np.int32))  # pages used as written
            n = min(ids.size, self.SEGMENT - used)
            self.segments[-1][used : used + n] = ids[:n]
            self.size += n
            ids = ids[n:]

    def take(self, table: np.ndarray, progress: Callable[[float], None]) -> np.ndarray:
        """`table[stream]` as one array; each segment is freed as soon as it is copied, so the peak
        is the result plus one segment."""
        out = np.empty(self.size, dtype=np.int32)
        step = 1024**2  # np.take makes an int64 copy of the indices: keep it small
        self.segments.reverse()
        pos = 0
        while self.segments:
            segment = self.segments.pop()
            n = min(self.SEGMENT, self.size - pos)
            for i in range(0, n, step):
                m = min(step, n - i)
                np.take(table, segment[i : i + m], out=out[pos + i : pos + i + m], mode="clip")  # all valid
            del segment
            pos += n
            progress(pos / max(self.size, 1))
        return out
