"""engine/vocab.py: counting, ids, display forms, prefix ranges and the JSON form."""

import json

import pytest

from engine.errors import ModelFileError
from engine.tokenizer import EOS, tokenize
from engine.vocab import EOS_ID, UNK_ID, Vocab


def words_of(vocab: Vocab) -> list[str]:
    return vocab.keys[2:]


def test_specials_have_ids_0_and_1():
    vocab = Vocab.build(tokenize("b a b\nc"))
    assert vocab.keys[:2] == ["<unk>", "<eos>"]
    assert (UNK_ID, EOS_ID) == (0, 1)
    assert vocab.id(EOS) == EOS_ID
    assert vocab.id("never-seen") == UNK_ID
    assert not vocab.contains("never-seen")
    assert vocab.contains("b")


def test_words_are_ordered_by_falling_frequency_then_alphabetically():
    vocab = Vocab.build("c b a b c c d".split())
    assert words_of(vocab) == ["c", "b", "a", "d"]
    assert vocab.counts == [0, 0, 3, 2, 1, 1]
    assert vocab.encode(["c", "b", "a", "d", "zz", EOS]) == [2, 3, 4, 5, UNK_ID, EOS_ID]


def test_eos_tokens_are_not_counted_as_words():
    vocab = Vocab.build(tokenize("a\na\na"))
    assert words_of(vocab) == ["a"]
    assert len(vocab) == 3


def test_min_freq_drops_rare_words():
    tokens = "a a a b b c".split()
    assert words_of(Vocab.build(tokens, min_freq=2)) == ["a", "b"]
    assert words_of(Vocab.build(tokens, min_freq=3)) == ["a"]
    assert Vocab.build(tokens, min_freq=3).id("b") == UNK_ID


def test_max_vocab_counts_the_specials_and_keeps_the_most_frequent():
    tokens = "a a a a b b b c c d".split()
    vocab = Vocab.build(tokens, max_vocab=4)
    assert len(vocab) == 4
    assert words_of(vocab) == ["a", "b"]
    assert vocab.id("c") == UNK_ID


def test_display_keeps_the_most_frequent_casing():
    vocab = Vocab.build("I I i London London london the The the".split())
    shown = dict(zip(vocab.keys, vocab.display))
    assert shown == {"<unk>": "<unk>", "<eos>": "<eos>", "i": "I", "london": "London", "the": "the"}
    # matching is case-insensitive: every casing is the same id
    assert vocab.id("LONDON") == vocab.id("london") == vocab.id("London")


def test_lowercase_false_keeps_casings_apart():
    vocab = Vocab.build("The the the".split(), lowercase=False)
    assert words_of(vocab) == ["the", "The"]
    assert vocab.id("The") != vocab.id("the")
    assert vocab.id("THE") == UNK_ID


def test_typographic_apostrophe_is_the_same_word():
    vocab = Vocab.build(["don't", "don’t", "don’t"])
    assert len(vocab) == 3
    assert vocab.display[2] == "don’t"  # the more frequent form is shown
    assert vocab.id("don't") == vocab.id("DON’T") == 2


def prefix_words(vocab: Vocab, prefix: str) -> list[str]:
    lo, hi = vocab.prefix_range(prefix)
    return sorted(vocab.keys[i] for i in vocab.sorted_ids[lo:hi])


def test_prefix_range():
    vocab = Vocab.build("apple apply app apt banana band can't".split())
    assert prefix_words(vocab, "app") == ["app", "apple", "apply"]
    assert prefix_words(vocab, "APP") == ["app", "apple", "apply"]  # case-insensitive like the keys
    assert prefix_words(vocab, "ap") == ["app", "apple", "apply", "apt"]
    assert prefix_words(vocab, "apple") == ["apple"]
    assert prefix_words(vocab, "ban") == ["banana", "band"]
    assert prefix_words(vocab, "can’") == ["can't"]
    assert prefix_words(vocab, "zebra") == []
    assert prefix_words(vocab, "") == sorted(words_of(vocab))  # the specials are never in the range


def test_json_round_trip():
    vocab = Vocab.build("The the cat sat on The mat don’t".split(), min_freq=1)
    again = Vocab.from_json(json.loads(json.dumps(vocab.to_json())))
    assert again.keys == vocab.keys
    assert again.display == vocab.display
    assert again.counts == vocab.counts
    assert again.lowercase == vocab.lowercase
    assert again.encode(["THE", "cat", "dog", EOS]) == vocab.encode(["THE", "cat", "dog", EOS])
    assert again.prefix_range("c") == vocab.prefix_range("c")


GOOD = {"lowercase": True, "keys": ["<unk>", "<eos>", "a"], "display": ["<unk>", "<eos>", "A"], "counts": [0, 0, 3]}


def test_the_good_json_used_below_is_accepted():
    assert Vocab.from_json(dict(GOOD)).display[2] == "A"


@pytest.mark.parametrize(
    "change",
    [
        "not an object",
        ["a", "list"],
        None,
        {"lowercase": None},
        {"lowercase": "yes"},
        {"lowercase": 1},
        {"keys": "<unk><eos>a"},
        {"keys": ["<unk>", "<eos>", 7]},
        {"keys": None},
        {"display": ["<unk>", "<eos>", None]},
        {"counts": [0, 0, "3"]},
        {"counts": [0, 0, 3.0]},
        {"counts": [0, 0, True]},
        {"counts": [0, 0]},  # lists of different lengths
        {"keys": ["<eos>", "<unk>", "a"]},  # specials in the wrong places
        {"keys": ["a", "b", "c"]},
        {"keys": ["<unk>", "<eos>", "<unk>"]},  # duplicate
        {"keys": ["<unk>", "<eos>", "a", "a"], "display": ["<unk>", "<eos>", "a", "a"], "counts": [0, 0, 1, 1]},
    ],
)
def test_malformed_json_is_refused(change):
    data = {**GOOD, **change} if isinstance(change, dict) else change
    with pytest.raises(ModelFileError):
        Vocab.from_json(data)


def test_missing_field_is_refused():
    for name in GOOD:
        data = {k: v for k, v in GOOD.items() if k != name}
        with pytest.raises(ModelFileError):
            Vocab.from_json(data)
