"""A corpus: training and validation token ids, the vocabulary built from the training part.

`Corpus.from_text` and `Corpus.from_file` share one split policy (engine.config.plan_split: the
last `valid_fraction` of non-empty lines are held out) and one vocabulary policy
(default_min_freq); files too big to read whole are streamed by engine/_stream.py with the same
result. Reading files safely is engine/textfile.py; batching is beside the training loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from engine.config import DataConfig, default_min_freq, plan_split
from engine.errors import CorpusError
from engine.textfile import fingerprint, load_text, stat_text_file
from engine.tokenizer import EOS, split_lines, tokenize
from engine.vocab import Vocab

MAX_STREAM_BYTES = 4 * 1024**3  # Corpus.from_file streams bigger files: ~4 bytes a token in memory
STREAM_THRESHOLD_BYTES = 16 * 1024**2  # from_file reads files up to this size with load_text


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
        split = plan_split(len(lines), config)
        train_lines, valid_lines = lines[: split.n_train], lines[len(lines) - split.n_valid :]
        train_tokens = tokenize("\n".join(train_lines))
        valid_tokens = tokenize("\n".join(valid_lines))
        words = sum(1 for t in train_tokens if t != EOS)
        if words == 0:
            raise CorpusError("The corpus has no words, only spaces: add some text.")
        min_freq = default_min_freq(config, len(train_tokens))
        vocab = Vocab.build(train_tokens, min_freq=min_freq, max_vocab=config.max_vocab, lowercase=config.lowercase)
        valid_is_train = split.valid_is_train
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

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        config: DataConfig | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> "Corpus":
        """A corpus file of any size up to MAX_STREAM_BYTES, in bounded memory.

        Files up to STREAM_THRESHOLD_BYTES are `from_text(load_text(path), config)`. Bigger ones are
        streamed in STREAM_CHUNK_BYTES reads, with the same result as that (vocabulary, ids, stats,
        fingerprint, the same refusals with the same absolute byte offsets) except that:
        - `train_ids` / `valid_ids` are int32 (4 bytes a token; the whole text never is in memory),
          and the same tensor when the validation reuses the training text;
        - `valid_text` is only the first VALID_TEXT_CHARS characters of the validation lines, which
          covers everything evaluation.final_eval_text reads.
        The fingerprint is always that of the decoded text, `fingerprint(load_text(path))`, so a model
        trained from the file matches the same text opened in the editor.

        `on_progress(fraction, message)` is called at most every PROGRESS_INTERVAL seconds and last
        with 1.0; `should_stop()` is polled for every chunk read and raises LoadCancelled.
        """
        config = config or DataConfig()
        config.validate()
        p = Path(path)
        info = stat_text_file(p)
        if info.st_size <= STREAM_THRESHOLD_BYTES:
            corpus = cls.from_text(load_text(p), config)
            if on_progress is not None:
                on_progress(1.0, f"Loaded {p.name}")
            return corpus
        if info.st_size > MAX_STREAM_BYTES:
            raise CorpusError(
                f"{p} is {info.st_size / 1024**2:,.0f} MB; the limit is {MAX_STREAM_BYTES // 1024**2:,} MB."
            )
        from engine._stream import stream_corpus  # which builds on this module's Corpus

        return stream_corpus(p, info, config, on_progress, should_stop)


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
