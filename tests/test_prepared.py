"""A prepared corpus (engine/prepared.py) is the in-memory corpus: the same vocabulary, ids, split,
stats, fingerprint and validation text, and the same BPTT batches, whoever reads them."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from engine import ConfigError, Corpus, CorpusError, DataConfig
from engine.batches import StreamBatches, shard
from engine.prepared import META, TOKENS, VOCAB_FILE, prepare
from engine.prepared_corpus import is_prepared, load_prepared

WORDS = ("the cat dog sat on mat Alice Bob garden ran saw café naïve don't well-known 3.14 1,000 "
         "Über über THE The").split()


def _text(lines: int, seed: int = 0) -> str:
    """Varied lines: CRLF, CR and LF endings, blank and whitespace-only lines, a control-only line,
    punctuation, NFD accents (NFC-normalised by the tokenizer)."""
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14)))
        if i % 17 == 3:
            words += " cafe\u0301 ,"
        if i % 29 == 5:
            words = "   \t "
        if i % 31 == 7:
            words = "\x01\x02"
        out.append(words + ("\r\n", "\r", "\n", "\n")[i % 4])
    return "".join(out)


def _same(a: Corpus, b: Corpus) -> None:
    assert b.vocab.keys == a.vocab.keys and b.vocab.display == a.vocab.display and b.vocab.counts == a.vocab.counts
    assert b.vocab.lowercase == a.vocab.lowercase
    assert torch.equal(b.train_ids.long(), a.train_ids.long())
    assert torch.equal(b.valid_ids.long(), a.valid_ids.long())
    assert b.stats == a.stats
    assert b.fingerprint == a.fingerprint
    assert b.valid_text == a.valid_text[: len(b.valid_text)] and len(b.valid_text) == min(len(a.valid_text), 100_000)
    assert b.config == a.config


@pytest.fixture(scope="module")
def text() -> str:
    return _text(3000)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("prep")
    path = folder / "corpus.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # a BOM, not part of the text
    # Small ranges: the file is cut at many line breaks, and tokenized by two processes.
    out = prepare(path, folder / "out", workers=2, range_bytes=7_000)
    return out, load_prepared(out)


def test_prepared_corpus_equals_the_in_memory_one(prepared, text):
    out, corpus = prepared
    assert is_prepared(out) and not is_prepared(out / TOKENS)
    _same(Corpus.from_text(text), corpus)
    assert corpus.train_ids.dtype == torch.uint16  # a small vocabulary: two bytes a token
    meta = json.loads((out / META).read_text())
    assert meta["tokens"] * 2 == (out / TOKENS).stat().st_size


def test_prepared_batches_equal_the_in_memory_batches(prepared, text):
    _, corpus = prepared
    memory = Corpus.from_text(text)
    length = memory.train_ids.numel() // 8
    data = memory.train_ids[: length * 8].view(8, length).t()  # batchify's definition: stream b is column b
    for world in (1, 2, 4):
        ranks = [StreamBatches(corpus.train_ids, 8, *shard(8, rank, world)) for rank in range(world)]
        assert ranks[0].size(0) == data.size(0)
        for i in (0, 35, data.size(0) - 36):
            x = torch.cat([r.chunk(i, 35)[0] for r in ranks], 1)
            y = torch.cat([r.chunk(i, 35)[1] for r in ranks], 1)
            assert torch.equal(x, data[i : i + 35]) and torch.equal(y, data[i + 1 : i + 36])
            assert x.dtype == torch.int64


def test_shard_needs_a_batch_that_the_processes_divide():
    assert shard(20, 1, 4) == (5, 10)
    with pytest.raises(ConfigError, match="multiple of the number of processes"):
        shard(20, 0, 3)


def test_settings_are_the_in_memory_ones(tmp_path, text):
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf-8", newline="")
    config = DataConfig(lowercase=False, min_freq=3, max_vocab=12, valid_fraction=0.25)
    corpus = load_prepared(prepare(path, tmp_path / "p", config=config, workers=1, range_bytes=50_000))
    _same(Corpus.from_text(text, config), corpus)
    with pytest.raises(ConfigError, match="prepared with other data settings"):
        load_prepared(tmp_path / "p", DataConfig())


def test_a_tiny_corpus_validates_on_its_training_text(tmp_path):
    text = "the cat sat .\nthe dog ran .\n"
    path = tmp_path / "tiny.txt"
    path.write_text(text)
    corpus = load_prepared(prepare(path, workers=1))
    assert corpus.stats.valid_is_train
    _same(Corpus.from_text(text), corpus)
    assert (tmp_path / "tiny.txt.prepared" / META).is_file()  # the default folder


def test_a_large_vocabulary_takes_four_bytes_a_token(tmp_path):
    text = "\n".join(" ".join(f"w{i * 10 + j}" for j in range(10)) for i in range(8000)) + "\n"
    path = tmp_path / "big.txt"
    path.write_text(text)
    config = DataConfig(min_freq=1, max_vocab=100_000)
    corpus = load_prepared(prepare(path, config=config, workers=2, range_bytes=200_000))
    assert len(corpus.vocab) > 2**16 and corpus.train_ids.dtype == torch.uint32
    _same(Corpus.from_text(text, config), corpus)


@pytest.mark.parametrize("data, message", [
    (b"good line\nbad \xff byte\n", "not UTF-8: byte 0xff at offset 14"),
    (b"good line\nnul \x00 here\n", "NUL byte at offset 14"),
    (b"\n \n\t\n", "empty"),
    (b"%PDF-1.4 stuff\n", "PDF"),
])
def test_unusable_text_is_refused_like_the_in_memory_path(tmp_path, data, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(CorpusError, match=message):
        prepare(path, workers=1)
    assert not (tmp_path / "bad.txt.prepared").exists()


def test_a_damaged_folder_is_refused(prepared, tmp_path):
    out, _ = prepared
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (META, VOCAB_FILE, TOKENS, "valid.txt"):
        (copy / name).write_bytes((out / name).read_bytes())
    load_prepared(copy)
    with open(copy / TOKENS, "ab") as f:
        f.write(b"\0")
    with pytest.raises(CorpusError, match="prepare"):
        load_prepared(copy)
    (copy / TOKENS).write_bytes((out / TOKENS).read_bytes())
    (copy / VOCAB_FILE).write_text((out / VOCAB_FILE).read_text().replace('"the"', '"thx"', 1))
    with pytest.raises(CorpusError, match="checksum"):
        load_prepared(copy)
    (copy / META).write_text((out / META).read_text().replace('"tokens"', '"tokens": NaN, "x"', 1))
    with pytest.raises(CorpusError, match="not a usable prepared corpus"):
        load_prepared(copy)


def test_prepare_never_writes_over_a_folder_that_is_not_its_own(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(ConfigError, match="not a prepared corpus"):
        prepare(path, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    prepare(path, tmp_path / "p", workers=1)
    path.write_text("d e f\n")
    corpus = load_prepared(prepare(path, tmp_path / "p", workers=1))  # its own: replaced
    assert corpus.vocab.keys[2:] == ["d", "e", "f"]
    assert np.array_equal(corpus.train_ids.numpy(), np.array([2, 3, 4, 1]))
