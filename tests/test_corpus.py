"""engine/corpus.py: reading corpus files safely, the train/validation split and BPTT batches."""

import gzip
import io
import os
import pickle
import zipfile

import pytest
import torch

from engine import Corpus, DataConfig, load_text
from engine.training import batchify, fit_stream
from engine.errors import ConfigError, CorpusError
from engine.tokenizer import tokenize
from engine.vocab import UNK_ID


def write(tmp_path, data: bytes, name="corpus.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refusal(path) -> str:
    """load_text's CorpusError message, without the file's path (which contains the test's name)."""
    with pytest.raises(CorpusError) as err:
        load_text(path)
    return str(err.value).replace(str(path), "<path>")


# -- load_text ------------------------------------------------------------------------------


def test_plain_utf8(tmp_path):
    assert load_text(write(tmp_path, "héllo wörld\n".encode())) == "héllo wörld\n"


def test_utf8_with_bom_drops_the_bom(tmp_path):
    text = load_text(write(tmp_path, b"\xef\xbb\xbf" + "héllo\n".encode()))
    assert text == "héllo\n"


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_utf16_with_bom(tmp_path, encoding, bom):
    text = "héllo wörld\nsecond line\n"
    assert load_text(write(tmp_path, bom + text.encode(encoding))) == text


def test_latin1_is_refused_naming_the_byte_and_offset(tmp_path):
    message = refusal(write(tmp_path, "hello\nnaïve café".encode("latin-1")))
    assert "0xef" in message  # ï in Latin-1
    assert "offset 8" in message


def test_latin1_after_a_utf8_bom_names_the_right_byte_and_offset(tmp_path):
    message = refusal(write(tmp_path, b"\xef\xbb\xbf" + "café".encode("latin-1")))
    # The bad byte is 0xe9 at offset 6 (3 BOM bytes + "caf"); today it says "byte 0x63 at offset 3".
    assert "0xe9" in message and "offset 6" in message


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("a.txt", "hello")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, kind",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(32), "PNG"),
        (_zip_bytes(), "zip"),
        (gzip.compress(b"hello world"), "gzip"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        (pickle.dumps({"a": [1, 2]}, protocol=2), "pickle"),
        (pickle.dumps({"a": [1, 2]}, protocol=4), "pickle"),
        (b"\xff\xd8\xff\xe0" + bytes(16), "JPEG"),
        (b"\x7fELF\x02\x01\x01" + bytes(16), "ELF"),
    ],
    ids=["png", "zip", "gzip", "pdf", "pickle2", "pickle4", "jpeg", "elf"],
)
def test_binary_files_are_refused_by_what_they_are(tmp_path, data, kind):
    assert kind in refusal(write(tmp_path, data))


@pytest.mark.parametrize("protocol", range(1, pickle.HIGHEST_PROTOCOL + 1))
def test_pickles_of_every_binary_protocol_are_refused(tmp_path, protocol):
    with pytest.raises(CorpusError):
        load_text(write(tmp_path, pickle.dumps({"a": [1, 2]}, protocol=protocol)))


@pytest.mark.parametrize("protocol", [3, 5])
def test_pickle_protocols_3_and_5_are_named(tmp_path, protocol):
    assert "pickle" in refusal(write(tmp_path, pickle.dumps({"a": [1, 2]}, protocol=protocol)))


def test_torch_save_file_is_refused(tmp_path):
    path = tmp_path / "weights.txt"
    torch.save({"w": torch.zeros(3)}, path)
    assert "zip" in refusal(path)


def test_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save

    assert "safetensors" in refusal(write(tmp_path, save({"w": torch.zeros(3)})))


def test_nul_byte_is_refused_with_its_offset(tmp_path):
    message = refusal(write(tmp_path, b"hello\x00world"))
    assert "NUL" in message and "offset 5" in message


@pytest.mark.parametrize("data", [b"", b"   \n\t\n  \r\n", b"\xef\xbb\xbf", "\u00a0\u3000\n".encode()])
def test_empty_or_whitespace_only_corpus_is_refused(tmp_path, data):
    text = load_text(write(tmp_path, data))
    with pytest.raises(CorpusError):
        Corpus.from_text(text)


def test_a_directory_is_refused(tmp_path):
    assert "folder" in refusal(tmp_path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CorpusError) as err:
        load_text(tmp_path / "nope.txt")
    assert "nope.txt" in str(err.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CorpusError):
        load_text(fifo)


# -- Corpus.from_text: the split ----------------------------------------------------------------


def numbered(n: int) -> str:
    return "\n".join(f"common w{i}" for i in range(n)) + "\n"


def test_last_ten_percent_of_lines_are_held_out():
    corpus = Corpus.from_text(numbered(20))
    stats = corpus.stats
    assert not stats.valid_is_train
    assert stats.lines == 20
    assert corpus.valid_text == "common w18\ncommon w19"
    # validation is the last two lines; its words w18, w19 were never seen in training: <unk>
    assert corpus.valid_ids.tolist() == [corpus.vocab.id("common"), UNK_ID, 1, corpus.vocab.id("common"), UNK_ID, 1]
    assert corpus.vocab.contains("w17") and not corpus.vocab.contains("w18")
    assert stats.train_tokens == 18 * 3 and stats.valid_tokens == 2 * 3
    assert corpus.train_ids.tolist() == corpus.vocab.encode(tokenize(numbered(18)))


def test_blank_lines_do_not_count_for_the_split():
    text = "\n\n".join(f"common w{i}" for i in range(10)) + "\n\n\n"
    corpus = Corpus.from_text(text)
    assert corpus.stats.lines == 10
    assert corpus.valid_text == "common w9"


def test_valid_fraction_is_a_setting():
    corpus = Corpus.from_text(numbered(20), DataConfig(valid_fraction=0.25))
    assert corpus.valid_text.splitlines() == [f"common w{i}" for i in range(15, 20)]


def test_tiny_corpus_validates_on_its_training_text():
    corpus = Corpus.from_text("hello how are you\nI am fine thank you\nhow about you\n")
    assert corpus.stats.valid_is_train
    assert torch.equal(corpus.valid_ids, corpus.train_ids)
    assert "reusing training text" in corpus.stats.summary()
    assert corpus.stats.words == 12


def test_vocabulary_settings_are_applied():
    text = "a a a b b c\n" * 2
    assert len(Corpus.from_text(text, DataConfig(min_freq=3)).vocab) == 2 + 2  # a (6), b (4)
    assert len(Corpus.from_text(text, DataConfig(max_vocab=3)).vocab) == 3
    assert Corpus.from_text("Apple apple\n", DataConfig(lowercase=False)).vocab.keys[2:] == ["Apple", "apple"]


@pytest.mark.parametrize(
    "config",
    [DataConfig(min_freq=0), DataConfig(min_freq=1.5), DataConfig(max_vocab=2), DataConfig(max_vocab=10**9),
     DataConfig(valid_fraction=1.0), DataConfig(valid_fraction=-0.1)],
)
def test_bad_data_settings_are_refused(config):
    with pytest.raises(ConfigError):
        Corpus.from_text(numbered(20), config)


def test_fingerprint_depends_on_the_text():
    a, b = Corpus.from_text("one two\n"), Corpus.from_text("one three\n")
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == Corpus.from_text("one two\n").fingerprint


# -- batchify and fit_stream ----------------------------------------------------------------------


def test_batchify_shapes_and_content():
    data = batchify(torch.arange(10), 3)
    # 10 tokens in 3 streams of 3: the last token is dropped; stream j is a contiguous piece.
    assert data.shape == (3, 3)
    assert data.tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert data[:, 1].tolist() == [3, 4, 5]
    assert data.is_contiguous()


def test_batchify_batch_of_one():
    assert batchify(torch.arange(4), 1).tolist() == [[0], [1], [2], [3]]


def test_fit_stream_repeats_a_tiny_stream():
    ids = torch.arange(5)
    stream, repeats = fit_stream(ids, batch_size=2, bptt=3, min_batches=4)
    # needs 2 * (3 * 4 + 1) = 26 tokens: ceil(26 / 5) = 6 copies
    assert repeats == 6
    assert torch.equal(stream, ids.repeat(6))
    assert batchify(stream, 2).size(0) - 1 >= 3 * 4  # four full BPTT windows


def test_fit_stream_leaves_a_long_stream_alone():
    ids = torch.arange(100)
    stream, repeats = fit_stream(ids, batch_size=2, bptt=3, min_batches=4)
    assert repeats == 1 and stream is ids


def test_fit_stream_needs_two_tokens():
    with pytest.raises(CorpusError):
        fit_stream(torch.tensor([2]), batch_size=2, bptt=3)
