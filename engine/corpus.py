"""Read a corpus file safely, split it into training and validation text, and batch it for BPTT."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from engine.errors import ConfigError, CorpusError
from engine.tokenizer import EOS, split_lines, tokenize
from engine.vocab import Vocab

MAX_CORPUS_BYTES = 512 * 1024**2
# Magic numbers of files people pick by mistake: say what the file is rather than "not UTF-8".
_BINARY_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"PK\x03\x04": "a zip archive (or .docx/.xlsx)",
    b"\x1f\x8b": "a gzip archive",
    b"%PDF": "a PDF document",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x80\x02": "a Python pickle",
    b"\x80\x03": "a Python pickle",
    b"\x80\x04": "a Python pickle",
    b"\x80\x05": "a Python pickle",
    b"\x7fELF": "a program (ELF executable)",
}


def decode_text(data: bytes, name: str = "The file") -> str:
    """Bytes -> text: UTF-8 (BOM allowed) or UTF-16 with a BOM; anything else is refused clearly."""
    for signature, kind in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise CorpusError(f"{name} is {kind}, not text: choose a plain-text (.txt) file.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{name} starts like UTF-16 but is damaged at byte {exc.start}.") from None
    if len(data) > 8 and data[8:9] == b"{" and 0 < int.from_bytes(data[:8], "little") < len(data):
        raise CorpusError(f"{name} looks like a model weights file (safetensors), not text.")
    nul = data.find(b"\x00")
    if nul != -1:
        raise CorpusError(f"{name} contains a NUL byte at offset {nul}: it is binary, not text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)  # the BOM is not counted
        bad = data[offset : offset + 1].hex()
        raise CorpusError(
            f"{name} is not UTF-8: byte 0x{bad} at offset {offset} "
            "(perhaps Latin-1 or Windows-1252; re-save it as UTF-8)."
        ) from None
    return text


def load_text(path: str | os.PathLike) -> str:
    """Read a corpus file as text, with a clear error for anything that is not a readable text file."""
    p = Path(path)
    try:
        info = p.stat()
    except FileNotFoundError:
        raise CorpusError(f"No such file: {p}") from None
    except OSError as exc:
        raise CorpusError(f"Cannot read {p}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CorpusError(f"{p} is a folder: choose a text file inside it.")
    if not stat.S_ISREG(info.st_mode):
        raise CorpusError(f"{p} is not a regular file (a pipe or device?): choose a text file.")
    if info.st_size > MAX_CORPUS_BYTES:
        raise CorpusError(f"{p} is {info.st_size / 1024**2:.0f} MB; the limit is {MAX_CORPUS_BYTES // 1024**2} MB.")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CorpusError(f"Cannot read {p}: {exc.strerror or exc}") from None
    return decode_text(data, name=str(p))


@dataclass(frozen=True)
class DataConfig:
    """How text becomes training data. Saved with the model so its vocabulary can be explained."""

    lowercase: bool = True
    min_freq: int | None = None  # None: 1 for small corpora, 2 from 50,000 tokens on
    max_vocab: int = 20_000
    valid_fraction: float = 0.1

    def validate(self) -> None:
        if self.min_freq is not None and (isinstance(self.min_freq, bool) or not isinstance(self.min_freq, int) or self.min_freq < 1):
            raise ConfigError(f"min_freq must be a whole number of at least 1 (got {self.min_freq!r}).")
        if isinstance(self.max_vocab, bool) or not isinstance(self.max_vocab, int) or not 3 <= self.max_vocab <= 2_000_000:
            raise ConfigError(f"max_vocab must be from 3 to 2,000,000 (got {self.max_vocab!r}).")
        if not isinstance(self.valid_fraction, (int, float)) or not 0 <= self.valid_fraction < 1:
            raise ConfigError(f"valid_fraction must be at least 0 and below 1 (got {self.valid_fraction!r}).")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CorpusStats:
    words: int
    lines: int
    vocab_size: int
    train_tokens: int
    valid_tokens: int
    valid_is_train: bool  # too few lines to hold some back: validation reuses the training text

    def summary(self) -> str:
        valid = "reusing training text" if self.valid_is_train else f"{self.valid_tokens:,} tokens"
        return (
            f"{self.words:,} words, {self.lines:,} lines, vocabulary {self.vocab_size:,}; "
            f"train {self.train_tokens:,} tokens, validation {valid}"
        )


MIN_LINES_TO_SPLIT = 10


@dataclass
class Corpus:
    """Token ids of the training and validation splits, with the vocabulary built from training."""

    vocab: Vocab
    train_ids: torch.Tensor
    valid_ids: torch.Tensor
    valid_text: str
    stats: CorpusStats
    fingerprint: str
    config: DataConfig

    @classmethod
    def from_text(cls, text: str, config: DataConfig | None = None) -> "Corpus":
        """Tokenize, split the last `valid_fraction` of lines off for validation, build the vocabulary."""
        config = config or DataConfig()
        config.validate()
        lines = [line for line in split_lines(text) if line.strip()]
        if not lines:
            raise CorpusError("The corpus is empty: add some text (a few sentences at least).")
        check_spaced_words(text)
        n_valid = round(len(lines) * config.valid_fraction)
        valid_is_train = len(lines) < MIN_LINES_TO_SPLIT or n_valid == 0
        train_lines = lines if valid_is_train else lines[: len(lines) - n_valid]
        valid_lines = lines if valid_is_train else lines[len(lines) - n_valid :]
        train_tokens = tokenize("\n".join(train_lines))
        valid_tokens = tokenize("\n".join(valid_lines))
        words = sum(1 for t in train_tokens if t != EOS)
        if words == 0:
            raise CorpusError("The corpus has no words, only spaces: add some text.")
        min_freq = config.min_freq or (2 if len(train_tokens) >= 50_000 else 1)
        vocab = Vocab.build(train_tokens, min_freq=min_freq, max_vocab=config.max_vocab, lowercase=config.lowercase)
        all_words = words + (0 if valid_is_train else sum(1 for t in valid_tokens if t != EOS))
        stats = CorpusStats(
            words=all_words,
            lines=len(lines),
            vocab_size=len(vocab),
            train_tokens=len(train_tokens),
            valid_tokens=len(valid_tokens),
            valid_is_train=valid_is_train,
        )
        return cls(
            vocab=vocab,
            train_ids=torch.tensor(vocab.encode(train_tokens), dtype=torch.long),
            valid_ids=torch.tensor(vocab.encode(valid_tokens), dtype=torch.long),
            valid_text="\n".join(valid_lines),
            stats=stats,
            fingerprint=fingerprint(text),
            config=config,
        )


# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, CJK, kana.
_UNSPACED = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF), (0x3400, 0x4DBF),
             (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


def check_spaced_words(text: str, sample: int = 100_000) -> None:
    """Refuse text that is mostly in a script without spaces between words, which a word-level
    model cannot split: every sentence would become one "word"."""
    letters = unspaced = 0
    for ch in text[:sample]:
        if ch.isalpha():
            letters += 1
            code = ord(ch)
            if any(lo <= code <= hi for lo, hi in _UNSPACED):
                unspaced += 1
    if letters and unspaced / letters > 0.5:
        raise CorpusError(
            "This text is mostly Chinese, Japanese, Thai or another script written without spaces "
            "between words; nextword-tui learns space-separated words and cannot split it. "
            "Put spaces between words first (for example with a word segmenter)."
        )


def fingerprint(text: str) -> str:
    """A short hash of the text, so a saved model knows which corpus it was trained on."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a token stream into `batch_size` parallel streams: [length, batch]."""
    length = ids.numel() // batch_size
    return ids[: length * batch_size].view(batch_size, length).t().contiguous()


def fit_stream(ids: torch.Tensor, batch_size: int, bptt: int, min_batches: int = 4) -> tuple[torch.Tensor, int]:
    """Repeat a stream too short for `min_batches` full batches, so a tiny corpus still trains.

    Returns the (possibly repeated) stream and how many times it was repeated.
    """
    need = batch_size * (bptt * min_batches + 1)
    if ids.numel() >= need:
        return ids, 1
    if ids.numel() < 2:
        raise CorpusError("The corpus needs at least two tokens to learn anything.")
    repeats = -(-need // ids.numel())
    return ids.repeat(repeats), repeats
