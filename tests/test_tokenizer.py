"""engine/tokenizer.py: text -> tokens, the typed-word split and the model's view of typed context."""

import unicodedata

import pytest

from engine.tokenizer import (
    EOS,
    UNK,
    context_tokens,
    is_partial_word,
    key,
    split_lines,
    split_partial,
    token_spans,
    tokenize,
    tokenize_line,
)
from engine.vocab import EOS_ID, UNK_ID, Vocab


@pytest.mark.parametrize(
    "line, tokens",
    [
        ("don't stop", ["don't", "stop"]),
        ("it’s fine", ["it’s", "fine"]),  # typographic apostrophe stays inside the word
        ("a well-known fact", ["a", "well-known", "fact"]),
        ("rock'n'roll mother-in-law", ["rock'n'roll", "mother-in-law"]),
        # only INNER apostrophes / hyphens: at the edges they are tokens of their own
        ("'quoted' -x y-", ["'", "quoted", "'", "-", "x", "y", "-"]),
        ("a--b", ["a", "-", "-", "b"]),
        ("snake_case", ["snake", "_", "case"]),
    ],
)
def test_words_keep_inner_apostrophes_and_hyphens(line, tokens):
    assert tokenize_line(line) == tokens


def test_punctuation_and_numbers_are_tokens():
    assert tokenize_line("Hello, world! Pi is 3.14; 1,000 cats (or 42).") == [
        "Hello", ",", "world", "!", "Pi", "is", "3.14", ";", "1,000", "cats", "(", "or", "42", ")", ".",
    ]


def test_symbols_are_single_character_tokens():
    assert tokenize_line("a+b=c?!") == ["a", "+", "b", "=", "c", "?", "!"]


def test_nfc_and_nfd_give_the_same_token():
    composed = "café naïve"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed  # the test really compares two different strings
    assert tokenize(decomposed) == tokenize(composed) == ["café", "naïve", EOS]
    assert tokenize_line(decomposed) == ["café", "naïve"]
    assert context_tokens(decomposed) == ["café", "naïve"]


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_crlf_cr_and_lf_give_the_same_tokens(newline):
    text = newline.join(["one two", "three", "four"]) + newline
    assert tokenize(text) == ["one", "two", EOS, "three", EOS, "four", EOS]
    assert split_lines(f"a{newline}b") == ["a", "b"]


def test_eos_after_each_non_empty_line_only():
    text = "a b\n\n   \nc\n\n"
    assert tokenize(text) == ["a", "b", EOS, "c", EOS]
    assert tokenize("no newline at end") == ["no", "newline", "at", "end", EOS]
    assert tokenize(text, eos=False) == ["a", "b", "c"]
    assert tokenize("") == []
    assert tokenize(" \n\t\n") == []


def test_literal_unk_and_eos_in_text_are_not_the_special_tokens():
    tokens = tokenize("say <unk> and <eos> now")
    assert tokens == ["say", "<", "unk", ">", "and", "<", "eos", ">", "now", EOS]
    assert tokens.count(EOS) == 1  # only the real line end
    assert UNK not in tokens
    vocab = Vocab.build(tokens)
    ids = vocab.encode(tokens)
    assert UNK_ID not in ids
    assert ids.count(EOS_ID) == 1
    assert vocab.contains("unk") and vocab.contains("eos")


def test_token_spans_match_tokens():
    line = "Hi, don't go."
    spans = token_spans(line)
    assert [line[a:b] for a, b in spans] == tokenize_line(line) == ["Hi", ",", "don't", "go", "."]


@pytest.mark.parametrize(
    "text, split",
    [
        ("", ("", "")),
        ("hello", ("", "hello")),
        ("hello wor", ("hello ", "wor")),
        ("hello ", ("hello ", "")),
        ("hello,", ("hello,", "")),
        ("say (he", ("say (", "he")),
        ("I don'", ("I ", "don'")),  # cut inside an apostrophe: still the word being typed
        ("a well-", ("a ", "well-")),
        ("line one\n", ("line one\n", "")),
        ("line one\ntw", ("line one\n", "tw")),
        ("tab\t", ("tab\t", "")),
    ],
)
def test_split_partial(text, split):
    assert split_partial(text) == split


def test_split_partial_normalises_nfd():
    assert split_partial("a cafe\u0301") == ("a ", "café")


@pytest.mark.parametrize(
    "context, tokens",
    [
        ("", []),
        ("hello how are ", ["hello", "how", "are"]),
        ("a b\nc d", ["a", "b", EOS, "c", "d"]),
        ("a b\r\nc", ["a", "b", EOS, "c"]),
        ("a\n", ["a", EOS]),  # a finished line ends with EOS; the open last line does not
        ("a\n\n\nb", ["a", EOS, "b"]),  # empty lines add nothing, as in tokenize
        ("\n\n", []),
        ("Hi, you", ["Hi", ",", "you"]),
    ],
)
def test_context_tokens(context, tokens):
    assert context_tokens(context) == tokens


def test_context_tokens_agree_with_tokenize_on_finished_lines():
    text = "one two.\nthree\r\n\nfour five\n"
    assert context_tokens(text) == tokenize(text)


@pytest.mark.parametrize("text, partial", [("wor", True), ("don'", True), ("well-", True), ("x,", False), ("", False), (" a", False)])
def test_is_partial_word(text, partial):
    assert is_partial_word(text) is partial


def test_key_folds_case_and_typographic_apostrophe():
    assert key("Don’t") == "don't"
    assert key("Don’t", lowercase=False) == "Don't"


def test_a_word_longer_than_the_search_window_is_still_one_partial_word():
    long_word = "a" * 200
    assert split_partial("hello " + long_word) == ("hello ", long_word)
    assert split_partial("x" * 1000 + " ab") == ("x" * 1000 + " ", "ab")


def test_control_characters_are_never_tokens():
    assert tokenize("red \x1b[31mtext\x07 here\x7f\x85") == ["red", "[", "31mtext", "here", "<eos>"]
