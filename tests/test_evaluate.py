"""engine/evaluate.py: perplexity, top-k accuracy and keystroke savings, checked by hand and against
the literal typing simulation."""

import pytest
import torch

from engine.errors import CorpusError
from engine import evaluate, keystroke_savings

WORDS = ["the", "cat", "sat", "on", "mat"]
# P(next | previous). No two WORDS tie in a row, so every ranking below is unambiguous.
ROWS = {
    "<eos>": {"the": 0.4, "cat": 0.2, "on": 0.15, "sat": 0.1, "mat": 0.05, "<unk>": 0.05, "<eos>": 0.05},
    "the": {"cat": 0.5, "on": 0.15, "<unk>": 0.12, "mat": 0.1, "sat": 0.08, "<eos>": 0.03, "the": 0.02},
    "cat": {"on": 0.4, "sat": 0.3, "mat": 0.1, "the": 0.06, "<unk>": 0.05, "<eos>": 0.05, "cat": 0.04},
    "sat": {"<eos>": 0.5, "on": 0.2, "the": 0.12, "mat": 0.08, "<unk>": 0.05, "cat": 0.03, "sat": 0.02},
    "<unk>": {"<eos>": 0.25, "<unk>": 0.25, "the": 0.2, "cat": 0.1, "sat": 0.09, "on": 0.07, "mat": 0.04},
}
TEXT = "the cat sat\nthe dog\nthe sat"


@pytest.fixture
def lm(table_lm):
    return table_lm(WORDS, ROWS, chunk=3)  # 10 tokens arrive in chunks of 3, 3, 3 and 1


def test_hand_checked_example(lm):
    result = evaluate(lm, TEXT)
    # Tokens, each with the row it is predicted from and its rank among WORDS (specials never listed):
    #   the   | <eos>  p=0.40  rank 1
    #   cat   | the    p=0.50  rank 1
    #   sat   | cat    p=0.30  rank 2  (on 0.40 is first)
    #   <eos> | sat    p=0.50  -       (<eos> is not a word: not scored for top-k)
    #   the   | <eos>  p=0.40  rank 1
    #   dog   | the    p=0.12  miss    (out of vocabulary: <unk>, always a miss although <unk>'s
    #                                   0.12 would rank 3rd if specials were listed)
    #   <eos> | <unk>  p=0.25  -
    #   the   | <eos>  p=0.40  rank 1
    #   sat   | the    p=0.08  rank 4  (cat 0.5, on 0.15, mat 0.1 come first)
    #   <eos> | sat    p=0.50  -
    assert result.tokens == 10
    assert result.words == 7
    # Perplexity over all 10 tokens, <eos> and <unk> included:
    # product = .4*.5*.3*.5*.4*.12*.25*.4*.08*.5 = 5.76e-6, perplexity = (1 / 5.76e-6) ** (1/10) = 3.3416
    product = 0.4 * 0.5 * 0.3 * 0.5 * 0.4 * 0.12 * 0.25 * 0.4 * 0.08 * 0.5
    assert product == pytest.approx(5.76e-6)
    assert result.perplexity == pytest.approx(product ** (-1 / 10), rel=1e-5)
    assert result.perplexity == pytest.approx(3.3416, abs=1e-4)
    # Top-k over the 7 word positions: rank 1 x4 (the, cat, the, the), rank 2 (sat), rank 4 (sat), dog missed.
    assert result.top1 == pytest.approx(4 / 7)
    assert result.top3 == pytest.approx(5 / 7)
    assert result.top5 == pytest.approx(6 / 7)
    # Keystrokes without help: 11 + 7 + 7 characters + 2 line breaks = 27.
    # With 3 suggestions on offer:
    #   line 1: "the" offered at the start (rank 1): 1 key, the space comes with it;
    #           "cat" offered (rank 1): 1 key + space; "sat" offered (rank 2 <= 3): 1 key   -> 3 keys
    #   Enter                                                                               -> 1
    #   line 2: "the": 1 key; "dog" is never offered: d, o, g                               -> 4 keys
    #   Enter                                                                               -> 1
    #   line 3: "the": 1 key; "sat" is 4th after "the": type "s", then "sat" is the only
    #           completion of "s": 1 key                                                    -> 3 keys
    # keys with help = 3 + 1 + 4 + 1 + 3 = 12, KSR = 1 - 12/27 = 15/27
    assert result.keys_without == 27
    assert result.keys_with == 12
    assert result.ksr == pytest.approx(15 / 27)
    assert keystroke_savings(lm, TEXT) == pytest.approx(15 / 27)


def test_chunk_size_does_not_matter(table_lm):
    results = [evaluate(table_lm(WORDS, ROWS, chunk=chunk), TEXT).to_json() for chunk in (1, 2, 3, 7, 100)]
    perplexity = results[0]["perplexity"]
    for result in results:
        assert result.pop("perplexity") == pytest.approx(perplexity, rel=1e-6)  # float32 sums in another order
        assert result == results[0]


def test_out_of_vocabulary_words_are_misses_and_eos_is_not_scored(lm):
    # "the" is rank 1 after <eos>; "dog" is <unk>, the likeliest token after "the" apart from "cat" and "on"
    result = evaluate(lm, "the dog")
    assert (result.tokens, result.words) == (3, 2)
    assert (result.top1, result.top3, result.top5) == (0.5, 0.5, 0.5)
    # a text of in-vocabulary words whose line ends are all predicted with p=0.5 by "sat"
    result = evaluate(lm, "the cat sat\nthe cat sat")
    assert result.words == 6 and result.top1 == pytest.approx(4 / 6) and result.top3 == 1.0


def test_ksr_can_be_turned_off(lm):
    result = evaluate(lm, TEXT, ksr=False)
    assert result.ksr is None
    assert result.top1 == pytest.approx(4 / 7)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t"])
def test_a_text_without_words_is_refused(lm, text):
    with pytest.raises(CorpusError):
        evaluate(lm, text)


def test_to_json(lm):
    data = evaluate(lm, TEXT).to_json()
    assert data["words"] == 7 and data["keys_with"] == 12


TEXTS = [
    "the cat sat on the mat .",
    "the cat sat on the mat .\nthe dog sat on the log .\nAlice has a cat and Bob has a dog .",
    "The Cat saw BOB .\r\nalice ran to the garden .",
    "the zebra sat on the sofa .\n\nthe dog ran away .\n",
    "a  cat,and a dog;  the end",
    "Alice's cat ran-away\tto Bob",
    "   the dog\n\n\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_fast_ksr_equals_the_literal_typing_simulation(runs, text):
    for cell, run in runs.items():
        lm = run.trained.language_model(torch.float32)  # the batched pass is float32: same logits, same ties
        fast = evaluate(lm, text).ksr
        literal = keystroke_savings(lm, text)
        assert fast == pytest.approx(literal, abs=1e-12), f"{cell}: {text!r}"


def test_trained_model_scores_better_on_its_corpus_than_on_nonsense(runs):
    for run in runs.values():
        lm = run.trained.language_model()
        good = evaluate(lm, "the cat sat on the mat .\nthe dog sat on the log .")
        bad = evaluate(lm, "mat the on sat . cat\nlog . the dog on")
        assert good.perplexity < bad.perplexity
        assert good.top1 > bad.top1
        assert good.ksr > bad.ksr


def test_fast_ksr_equals_literal_for_numbers(table_lm):
    row = {"pi": 0.3, "is": 0.25, "a": 0.2, "b": 0.1, "3.14": 0.05, "<unk>": 0.01, "<eos>": 0.09}
    words = ["pi", "is", "3.14", "a", "b"]
    # every row is the same: "3.14" is never among the 3 likeliest words, but it is the only completion of "3"
    lm = table_lm(words, {prev: row for prev in words + ["<eos>", "<unk>"]})
    # Typing "3.14": 1 key for "3", then "3.14" is offered and 1 key accepts it: 2 keys instead of 4.
    assert keystroke_savings(lm, "3.14") == pytest.approx(0.5)
    assert evaluate(lm, "3.14").ksr == pytest.approx(0.5)  # today: 0.0, no saving found
    assert evaluate(lm, "pi is 3.14").ksr == pytest.approx(keystroke_savings(lm, "pi is 3.14"))


def test_a_vocabulary_of_two_words_can_be_evaluated(table_lm):
    lm = table_lm(["hello", "world"], {"<eos>": {"hello": 0.7, "world": 0.2, "<eos>": 0.1}})
    result = evaluate(lm, "hello world")
    assert result.top1 == pytest.approx(1 / 2) and result.top5 == 1.0
