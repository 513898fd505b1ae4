"""Fuzzing: random text through the tokenizer, random bytes through the corpus decoder and the model
loader. Nothing may escape but the project's own error type."""

import hashlib
import json
import re
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Corpus, decode_text
from engine.errors import ModelFileError, NextwordError
from engine.store import load_model, save_model
from engine.tokenizer import EOS, context_tokens, normalize, split_partial, tokenize
from engine.vocab import Vocab

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def saved_model(runs, tmp_path_factory):
    """A real saved model folder to damage (a copy per example)."""
    return save_model(runs["gru"].trained, tmp_path_factory.mktemp("fuzz") / "gru")


@FUZZ
@given(st.text())
def test_tokenizer_never_fails_and_tokens_are_clean(text):
    tokens = tokenize(text)
    assert all(t == EOS or (t and not any(c.isspace() for c in t)) for t in tokens)
    context, partial = split_partial(text)
    assert context + partial == normalize(text)
    context_tokens(context)


WORDISH = st.text(alphabet=st.sampled_from("ab1_'’- .,\u00e9\u0301\u00b2\u0661\n"), max_size=150)


@FUZZ
@given(st.one_of(st.text(), WORDISH))
def test_split_partial_agrees_with_its_regex_definition(text):
    """The fast backward walk gives what the definition says: the partial word is the longest
    run of letters/digits/'/’/- at the end that starts with a letter or digit (underscore is not one)."""
    text = normalize(text)
    match = re.search(r"[^\W_](?:[^\W_]|['’\-])*\Z", text)
    expected = match.group() if match else ""
    assert split_partial(text) == (text[: len(text) - len(expected)], expected)


@FUZZ
@given(st.binary(max_size=512))
def test_decoding_random_bytes_gives_text_or_a_corpus_error(data):
    try:
        text = decode_text(data)
    except NextwordError:
        return
    assert isinstance(text, str)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_builds_a_corpus_or_says_why(text):
    try:
        corpus = Corpus.from_text(text)
    except NextwordError:
        return
    assert len(corpus.vocab) >= 3


def fresh_copy(saved_model, name):
    """A copy of the saved model folder to damage (each example starts from a good one)."""
    folder = saved_model.parent / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved_model, folder)
    return folder


@FUZZ
@given(st.binary(max_size=2048))
def test_loading_random_weights_gives_a_model_file_error(saved_model, data):
    folder = fresh_copy(saved_model, "fuzz")
    (folder / "model.safetensors").write_bytes(data)
    config = json.loads((folder / "config.json").read_text())
    config["sha256"]["model.safetensors"] = hashlib.sha256(data).hexdigest()  # get past the checksum
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError):
        load_model(folder)


@FUZZ
@given(st.binary(max_size=1024))
def test_loading_a_random_config_gives_a_model_file_error(saved_model, data):
    folder = fresh_copy(saved_model, "fuzz-config")
    (folder / "config.json").write_bytes(data)
    with pytest.raises(ModelFileError):
        load_model(folder)


@FUZZ
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12))
def test_vocabulary_from_any_json_value_is_refused_cleanly(value):
    try:
        Vocab.from_json(value)
    except ModelFileError:
        pass
