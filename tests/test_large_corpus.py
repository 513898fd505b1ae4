"""Corpus.from_file streams big files: same corpus as from_text, same refusals, progress, cancel.

No big files here: the streaming threshold and the chunk size are patched down to bytes, so a few
kilobytes go through the streaming path in dozens of chunks, with multi-byte characters, CRLF pairs
and UTF-16 code units cut at chunk boundaries.
"""

import os
import random
import unicodedata

import pytest
import torch

import engine._stream as stream_module
import engine.corpus as corpus_module
from engine import ModelConfig, NextwordError, TrainConfig, train
from engine import Corpus, DataConfig, LoadCancelled, load_text
from engine.errors import CorpusError
from engine.ngram import NGramLM
from engine.evaluation import FINAL_EVAL_CHARS
from engine.training import validation_loss

_WORDS = (
    "the The cat dog sat on a mat and ran to Alice Bob garden . , ! ? ; : ( ) \" "
    "café naïve Straße Ünïcödé λόγος привет don’t don't well-known 3.14 1,000 2024 "
    "日本 😀 — … « » x_y <eos> <unk> ¿qué?"
).split()
_NFD = unicodedata.normalize("NFD", "café résumé naïve")  # combining accents: NFC-equal to the above


def make_text(seed: int = 0, lines: int = 160, newline: str = "\n", trailing: bool = True) -> str:
    """Lines of words with blank, whitespace-only and oddly spaced lines among them."""
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        kind = rng.random()
        if kind < 0.08:
            out.append("")
        elif kind < 0.12:
            out.append(rng.choice(["  \t", "\u00a0", "\x0c", "\u2028 ", "\x85"]))  # whitespace only
        else:
            words = [rng.choice(_WORDS) for _ in range(rng.randint(1, 14))]
            if rng.random() < 0.2:
                words.insert(rng.randint(0, len(words)), _NFD)
            sep = rng.choice([" ", " ", " ", "  ", "\t", "\u00a0", "\u2028", "\x1c"])
            out.append(("  " if rng.random() < 0.1 else "") + sep.join(words))
    text = newline.join(out)
    return text + newline if trailing else text


@pytest.fixture
def streaming(monkeypatch):
    """Everything above 1 KB streams, in 64-byte reads; progress is reported for every chunk."""
    monkeypatch.setattr(corpus_module, "STREAM_THRESHOLD_BYTES", 1024)
    monkeypatch.setattr(stream_module, "STREAM_CHUNK_BYTES", 64)
    monkeypatch.setattr(stream_module, "PROGRESS_INTERVAL", 0.0)
    monkeypatch.setattr(stream_module._IdStream, "SEGMENT", 97)  # ids kept in many small arrays
    return monkeypatch


def write(tmp_path, data: bytes, name: str = "big.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    assert len(data) > corpus_module.STREAM_THRESHOLD_BYTES  # or it would not stream
    return path


def assert_same_corpus(streamed: Corpus, expected: Corpus) -> None:
    assert streamed.vocab.keys == expected.vocab.keys
    assert streamed.vocab.display == expected.vocab.display
    assert streamed.vocab.counts == expected.vocab.counts
    assert streamed.vocab.lowercase == expected.vocab.lowercase
    assert streamed.train_ids.dtype == torch.int32 and streamed.valid_ids.dtype == torch.int32
    assert torch.equal(streamed.train_ids.long(), expected.train_ids)
    assert torch.equal(streamed.valid_ids.long(), expected.valid_ids)
    assert streamed.stats == expected.stats
    assert streamed.fingerprint == expected.fingerprint
    assert streamed.config == expected.config
    assert streamed.valid_text == expected.valid_text[: stream_module.VALID_TEXT_CHARS]


def streamed_and_expected(path, config=None, **kwargs) -> tuple[Corpus, Corpus]:
    return Corpus.from_file(path, config, **kwargs), Corpus.from_text(load_text(path), config)


# -- the same corpus as from_text ------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("trailing", [True, False])
@pytest.mark.parametrize("chunk", [64, 61, 1000])
def test_streamed_corpus_equals_from_text(streaming, tmp_path, newline, trailing, chunk):
    streaming.setattr(stream_module, "STREAM_CHUNK_BYTES", chunk)
    path = write(tmp_path, make_text(1, newline=newline, trailing=trailing).encode())
    assert_same_corpus(*streamed_and_expected(path))


def test_mixed_line_ends_and_a_crlf_cut_between_chunks(streaming, tmp_path):
    text = make_text(2)
    lines = text.split("\n")
    text = "".join(line + ["\n", "\r\n", "\r", "\r\n\r\n", "\n\r"][i % 5] for i, line in enumerate(lines))
    data = text.encode()
    assert any(data[i - 1 : i + 1] == b"\r\n" for i in range(64, len(data), 64))  # a pair across a chunk edge
    assert_same_corpus(*streamed_and_expected(write(tmp_path, data)))


def test_utf8_bom(streaming, tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + make_text(3).encode())
    streamed, expected = streamed_and_expected(path)
    assert_same_corpus(streamed, expected)
    assert "\ufeff" not in streamed.vocab.display


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
@pytest.mark.parametrize("chunk", [64, 61])
def test_utf16_with_bom_streams(streaming, tmp_path, encoding, bom, chunk):
    streaming.setattr(stream_module, "STREAM_CHUNK_BYTES", chunk)  # 61: code units and surrogates cut
    path = write(tmp_path, bom + make_text(4, newline="\r\n").encode(encoding))
    assert_same_corpus(*streamed_and_expected(path))


def test_nfd_text_gives_the_nfc_words(streaming, tmp_path):
    text = (unicodedata.normalize("NFD", "Café résumé naïve Ünïcödé Straße\n") * 80)
    streamed, expected = streamed_and_expected(write(tmp_path, text.encode()))
    assert_same_corpus(streamed, expected)
    assert "café" in streamed.vocab.keys and "Café" in streamed.vocab.display


def test_multibyte_characters_at_every_chunk_offset(streaming, tmp_path):
    """4-, 3- and 2-byte characters shifted one byte at a time past the 64-byte boundaries."""
    for shift in range(4):
        text = "a" * shift + "😀 日本 é x\n" * 120
        path = write(tmp_path, text.encode(), name=f"shift{shift}.txt")
        assert_same_corpus(*streamed_and_expected(path))


def test_data_settings_are_applied_the_same_way(streaming, tmp_path):
    path = write(tmp_path, make_text(5).encode())
    for config in (DataConfig(lowercase=False), DataConfig(min_freq=3), DataConfig(max_vocab=12),
                   DataConfig(valid_fraction=0.3), DataConfig(valid_fraction=0.0)):
        streamed, expected = streamed_and_expected(path, config)
        assert_same_corpus(streamed, expected)
    assert streamed.stats.valid_is_train
    assert streamed.valid_ids is streamed.train_ids  # one tensor, not two copies


def test_few_long_lines_validate_on_the_training_text(streaming, tmp_path):
    text = "\n".join(" ".join(["the cat sat on the mat ."] * 20) for _ in range(9))
    streamed, expected = streamed_and_expected(write(tmp_path, text.encode()))
    assert expected.stats.valid_is_train
    assert_same_corpus(streamed, expected)


def test_one_huge_line_without_line_breaks(streaming, tmp_path):
    """Like text8: the stream is cut at spaces instead of line breaks."""
    rng = random.Random(6)
    text = " ".join(rng.choice(_WORDS) for _ in range(2000))
    assert_same_corpus(*streamed_and_expected(write(tmp_path, text.encode())))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lines_longer_than_a_chunk_cut_at_spaces(streaming, tmp_path, newline):
    """A line longer than a read is cut after a space; at some shift a read ends just before the
    line break, so the next block starts with it (and at one shift, that is the validation boundary)."""
    for shift in range(64):
        # 130+ characters ending in a space, then 3 short validation lines in the block after the cut
        lines = [f"{i} " + "word " * 26 if i < 27 else f"{i} end" for i in range(30)]
        text = "x" * shift + newline.join(lines) + newline
        assert_same_corpus(*streamed_and_expected(write(tmp_path, text.encode(), name=f"s{shift}.txt")))


def test_automatic_min_freq_switches_at_50000_tokens(streaming, tmp_path):
    streaming.setattr(stream_module, "STREAM_CHUNK_BYTES", 4096)
    rng = random.Random(7)
    lines = [" ".join(rng.choice(_WORDS) + str(rng.randint(0, 3000) if rng.random() < 0.05 else "")
                      for _ in range(10)) for _ in range(5000)]
    streamed, expected = streamed_and_expected(write(tmp_path, "\n".join(lines).encode()))
    assert expected.stats.train_tokens >= 50_000  # so rare words are <unk> (min_freq 2)
    assert_same_corpus(streamed, expected)


def test_valid_text_keeps_only_its_start(streaming, tmp_path):
    streaming.setattr(stream_module, "VALID_TEXT_CHARS", 300)
    streamed, expected = streamed_and_expected(write(tmp_path, make_text(8, lines=400).encode()))
    assert len(expected.valid_text) > 300
    assert streamed.valid_text == expected.valid_text[:300]


def test_valid_text_covers_what_final_metrics_reads():
    assert stream_module.VALID_TEXT_CHARS > FINAL_EVAL_CHARS


def test_fingerprint_is_that_of_the_text(streaming, tmp_path):
    for data in (make_text(9).encode(), b"\xef\xbb\xbf" + make_text(9).encode(),
                 b"\xff\xfe" + make_text(9).encode("utf-16-le")):
        path = write(tmp_path, data)
        assert Corpus.from_file(path).fingerprint == corpus_module.fingerprint(load_text(path))


def test_small_files_are_read_whole(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text(make_text(10))
    calls = []
    corpus = Corpus.from_file(path, on_progress=lambda f, m: calls.append(f))
    assert_same = Corpus.from_text(load_text(path))
    assert corpus.train_ids.dtype == torch.long and torch.equal(corpus.train_ids, assert_same.train_ids)
    assert corpus.valid_text == assert_same.valid_text and calls == [1.0]


# -- refusals: the same as load_text's, with absolute byte offsets --------------------------------


def refusal(call, path) -> str:
    with pytest.raises(CorpusError) as err:
        call(path)
    return str(err.value)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("offset", [2047, 2048, 2049, 5003])
def test_a_bad_byte_deep_in_the_file_names_its_offset(streaming, tmp_path, bom, offset):
    data = bytearray(bom + ("é" + "word " * 2000).encode())
    data[offset] = 0xE9  # Latin-1 é: not UTF-8 here
    path = write(tmp_path, bytes(data))
    message = refusal(Corpus.from_file, path)
    assert message == refusal(load_text, path)
    assert f"offset {offset}" in message
    assert "not UTF-8" in message


def test_a_cut_character_at_the_end_of_the_file(streaming, tmp_path):
    path = write(tmp_path, ("word " * 400).encode() + "€".encode()[:2])
    message = refusal(Corpus.from_file, path)
    assert message == refusal(load_text, path) and "offset 2000" in message


def test_a_nul_byte_deep_in_the_file_is_refused(streaming, tmp_path):
    data = bytearray(("word " * 2000).encode())
    data[7777] = 0
    path = write(tmp_path, bytes(data))
    message = refusal(Corpus.from_file, path)
    assert message == refusal(load_text, path) and "NUL byte at offset 7777" in message


def test_a_nul_byte_wins_over_an_earlier_bad_byte_as_in_load_text(streaming, tmp_path):
    data = bytearray(("word " * 2000).encode())
    data[100], data[9000] = 0xFF, 0
    path = write(tmp_path, bytes(data))
    message = refusal(Corpus.from_file, path)
    assert message == refusal(load_text, path) and "offset 9000" in message


def test_damaged_utf16_is_refused_like_load_text(streaming, tmp_path):
    data = b"\xff\xfe" + ("word " * 400).encode("utf-16-le") + "\ud83d".encode("utf-16-le", "surrogatepass") + b"a\x00"
    path = write(tmp_path, data)
    message = refusal(Corpus.from_file, path)
    assert message == refusal(load_text, path) and "damaged" in message
    odd = write(tmp_path, b"\xff\xfe" + ("word " * 400).encode("utf-16-le") + b"x", name="odd.txt")
    assert refusal(Corpus.from_file, odd) == refusal(load_text, odd)


@pytest.mark.parametrize("head", [b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"%PDF-1.4", b"\x80\x04\x95",
                                  (100).to_bytes(8, "little") + b'{"a": 1}'])
def test_binary_files_are_refused_by_what_they_are(streaming, tmp_path, head):
    path = write(tmp_path, head + b"x" * 3000)
    assert refusal(Corpus.from_file, path) == refusal(load_text, path)


def test_empty_and_unspaced_corpora_are_refused(streaming, tmp_path):
    blank = write(tmp_path, b" \n\t\r\n" * 500, name="blank.txt")
    assert "empty" in refusal(Corpus.from_file, blank)
    chinese = write(tmp_path, "我们今天去公园散步。天气很好。\n".encode() * 100, name="zh.txt")
    assert refusal(Corpus.from_file, chinese) == refusal(lambda p: Corpus.from_text(load_text(p)), chinese)


def test_folders_pipes_and_missing_files_are_refused(tmp_path):
    assert refusal(Corpus.from_file, tmp_path) == refusal(load_text, tmp_path)
    assert refusal(Corpus.from_file, tmp_path / "nope.txt") == refusal(load_text, tmp_path / "nope.txt")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert refusal(Corpus.from_file, fifo) == refusal(load_text, fifo)


def test_files_above_the_streaming_limit_are_refused(streaming, tmp_path):
    streaming.setattr(corpus_module, "MAX_STREAM_BYTES", 2000)
    assert "the limit is" in refusal(Corpus.from_file, write(tmp_path, b"word " * 500))


def test_text_without_spaces_or_line_breaks_is_refused(streaming, tmp_path):
    streaming.setattr(stream_module, "MAX_UNBROKEN_CHARS", 1000)
    assert "without a space" in refusal(Corpus.from_file, write(tmp_path, b"x" * 3000))


def test_a_file_that_changes_while_it_is_read_is_refused(streaming, tmp_path):
    path = write(tmp_path, make_text(11).encode())
    scan = stream_module._scan

    def scan_then_append(*args):
        result = scan(*args)
        with open(path, "ab") as f:
            f.write(b"one more line\n")
        return result

    streaming.setattr(stream_module, "_scan", scan_then_append)
    assert "changed while it was being read" in refusal(Corpus.from_file, path)


# -- progress and cancelling ----------------------------------------------------------------------


def test_progress_rises_to_one(streaming, tmp_path):
    calls = []
    Corpus.from_file(write(tmp_path, make_text(12).encode()), on_progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert len(calls) > 20 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(0 <= f <= 1 and isinstance(m, str) and m for f, m in calls)
    assert any(m.startswith("Checking") for _, m in calls) and any(m.startswith("Reading") for _, m in calls)


def test_progress_is_throttled(streaming, tmp_path):
    streaming.setattr(stream_module, "PROGRESS_INTERVAL", 3600.0)
    calls = []
    Corpus.from_file(write(tmp_path, make_text(12).encode()), on_progress=lambda f, m: calls.append(f))
    assert calls[-1] == 1.0 and len(calls) <= 2  # the first report, then only the end


@pytest.mark.parametrize("polls", [1, 30, 150])  # in pass 1, in pass 2, ...
def test_should_stop_cancels(streaming, tmp_path, polls):
    seen = []

    def should_stop():
        seen.append(1)
        return len(seen) >= polls

    with pytest.raises(LoadCancelled) as err:
        Corpus.from_file(write(tmp_path, make_text(13, lines=300).encode()), should_stop=should_stop)
    assert isinstance(err.value, NextwordError) and str(err.value) == "Loading the corpus was cancelled."
    assert len(seen) == polls  # stopped at the first True


# -- int32 ids downstream ---------------------------------------------------------------------


def int32_copy(corpus: Corpus) -> Corpus:
    return Corpus(corpus.vocab, corpus.train_ids.int(), corpus.valid_ids.int(), corpus.valid_text,
                  corpus.stats, corpus.fingerprint, corpus.config)


def test_a_model_trains_on_int32_ids_as_on_int64(tiny_corpus):
    config = ModelConfig(cell="gru", emb=16, hidden=16, dropout=0.0)
    settings = TrainConfig(epochs=2, batch_size=4, bptt=8, seed=0, device="cpu", threads=1)
    small = int32_copy(tiny_corpus)
    a = train(small, config, settings)
    b = train(tiny_corpus, config, settings)
    assert small.train_ids.dtype == torch.int32
    assert a.metrics["valid_loss"] == pytest.approx(b.metrics["valid_loss"], rel=1e-5)
    for name, tensor in a.state_dict.items():
        torch.testing.assert_close(tensor, b.state_dict[name])


def test_validation_loss_and_ngram_accept_int32(tiny_corpus, runs):
    model = runs["lstm"].trained.language_model().model
    ids = tiny_corpus.valid_ids
    assert validation_loss(model, ids.int(), 8) == pytest.approx(validation_loss(model, ids, 8))
    a = NGramLM.fit(tiny_corpus.train_ids.int(), tiny_corpus.vocab, 3)
    b = NGramLM.fit(tiny_corpus.train_ids, tiny_corpus.vocab, 3)
    assert a.prob([1, 5], 6) == b.prob([1, 5], 6)


# -- the CLI --------------------------------------------------------------------------------------


def test_cli_trains_on_a_streamed_file(streaming, tmp_path, capsys):
    from tui.cli import main

    streaming.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    path = write(tmp_path, make_text(14).encode())
    code = main(["train", str(path), "--emb", "8", "--hidden", "8", "--epochs", "1", "--cell", "gru", "--name", "s"])
    err = capsys.readouterr().err
    assert code == 0 and "Loading the corpus: 0% (Checking big.txt" in err
    assert f"Corpus: {Corpus.from_text(load_text(path)).stats.summary()}" in err


def test_cli_ctrl_c_while_loading_exits_2_with_one_line(streaming, tmp_path, capsys):
    import signal

    from tui.cli import main

    streaming.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    scan = stream_module._scan

    def interrupted_scan(*args):
        os.kill(os.getpid(), signal.SIGINT)  # the CLI's handler asks from_file to stop
        return scan(*args)

    streaming.setattr(stream_module, "_scan", interrupted_scan)
    code = main(["train", str(write(tmp_path, make_text(15).encode())), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "nextword-tui: error: Loading the corpus was cancelled."
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
