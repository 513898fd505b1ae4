"""engine/predict.py: next words and completions, the cached state, and continue_text."""

import numpy as np
import pytest
import torch

from engine import Predictor, Suggestion, apply_suggestion, detokenize
from engine.tokenizer import context_tokens, insertion, split_partial

WORDS = ["the", "cat", "can't", "cap", "sat", "on", "mat", "London", "I", "."]


@pytest.fixture
def lm(table_lm):
    """A bigram table where <unk> and <eos> are the likeliest tokens at the start of a line."""
    return table_lm(
        WORDS,
        {
            "<eos>": {"<unk>": 0.3, "<eos>": 0.2, "the": 0.25, "cat": 0.1, "sat": 0.05, "on": 0.04, "mat": 0.03,
                      "London": 0.02, "I": 0.01},
            "the": {"cat": 0.3, "mat": 0.2, "can't": 0.15, "<unk>": 0.1, "London": 0.08, "cap": 0.05,
                    "<eos>": 0.05, "the": 0.03, "sat": 0.02, "on": 0.01, "I": 0.01},
            "cat": {"sat": 0.6, ".": 0.3, "<eos>": 0.1},
            "sat": {"on": 0.7, ".": 0.2, "<eos>": 0.1},
            "on": {"the": 0.9, "<eos>": 0.1},
            "mat": {".": 0.8, "<eos>": 0.2},
            ".": {"<eos>": 0.95, "the": 0.05},
        },
    )


def words(suggestions: list[Suggestion]) -> list[str]:
    return [s.word for s in suggestions]


# -- next words ----------------------------------------------------------------------------------------


def test_next_words_after_a_space_never_offer_unk_or_eos(lm):
    predictor = Predictor(lm)
    got = predictor.suggest("", k=3)
    assert words(got) == ["the", "cat", "sat"]  # not <unk> (0.3) or <eos> (0.2)
    assert [s.prob for s in got] == pytest.approx([0.25, 0.1, 0.05])
    assert [s.remainder for s in got] == ["the", "cat", "sat"]
    assert words(predictor.suggest("the ", k=4)) == ["cat", "mat", "can't", "London"]


def test_all_words_sorted_when_k_exceeds_the_vocabulary(lm):
    got = Predictor(lm).suggest("the ", k=1000)
    assert len(got) == len(WORDS)
    assert set(words(got)) == set(WORDS)
    probs = [s.prob for s in got]
    assert probs == sorted(probs, reverse=True)
    assert sum(probs) == pytest.approx(1 - 0.1 - 0.05)  # everything but <unk> and <eos>


def test_k_zero_gives_nothing(lm):
    assert Predictor(lm).suggest("the ", k=0) == []
    assert Predictor(lm).suggest("the ca", k=0) == []


def test_context_is_case_insensitive_and_display_forms_are_shown(lm):
    predictor = Predictor(lm)
    assert predictor.suggest("THE ", k=5) == predictor.suggest("the ", k=5)
    assert "London" in words(predictor.suggest("the ", k=5))
    assert "I" in words(predictor.suggest("", k=100))


def test_after_punctuation_next_words_are_offered(lm):
    predictor = Predictor(lm)
    assert words(predictor.suggest("the cat sat on the mat.", k=1)) == ["the"]  # after "." comes "the"
    assert words(predictor.suggest("the cat sat on the mat.\n", k=1)) == ["the"]  # a new line: the start row


# -- completions ------------------------------------------------------------------------------------


def test_completions_inside_a_word(lm):
    got = Predictor(lm).suggest("the ca", k=5)
    assert words(got) == ["cat", "can't", "cap"]
    assert [s.remainder for s in got] == ["t", "n't", "p"]
    assert [s.prob for s in got] == pytest.approx([0.3, 0.15, 0.05])


@pytest.mark.parametrize(
    "typed, word, remainder",
    [
        ("the CA", "CAt", "t"),  # the typed part keeps the user's casing
        ("the Ca", "Cat", "t"),
        ("the lo", "london", "ndon"),
        ("the Lo", "London", "ndon"),
        ("the LON", "LONdon", "don"),
        ("the can’", "can’t", "t"),  # typographic apostrophe typed, plain one in the vocabulary
    ],
)
def test_completions_keep_the_typed_casing(lm, typed, word, remainder):
    best = Predictor(lm).suggest(typed, k=1)[0]
    assert (best.word, best.remainder) == (word, remainder)
    assert typed.endswith(best.word[: -len(best.remainder)])


def test_completion_of_a_whole_word_and_of_nothing(lm):
    predictor = Predictor(lm)
    assert [(s.word, s.remainder) for s in predictor.suggest("the cat", k=5)] == [("cat", "")]
    assert predictor.suggest("the zebr", k=5) == []


def test_specials_are_never_suggested_for_any_prefix(lm):
    predictor = Predictor(lm)
    for text in ["", "the ", "the cat ", "x ", "<", "<u", "<e", "u", "e", "the <unk", "<eos"]:
        for s in predictor.suggest(text, k=50):
            assert s.word not in ("<unk>", "<eos>") and "<" not in s.word


def test_typing_inside_a_word_costs_no_model_step(lm):
    predictor = Predictor(lm)
    text = "the cat sat"
    for end in range(len(text) + 1):
        predictor.suggest(text[:end])
    assert lm.advances == 2  # one step when "the " ended and one when "cat " ended
    predictor.suggest("the cat s")  # backspacing inside the word: still cached
    predictor.suggest("the cat ")
    assert lm.advances == 2


# -- the cache equals a fresh start ------------------------------------------------------------------


def edits() -> list[str]:
    """The texts an editor passes while someone types, backspaces, pastes and breaks lines."""
    texts = []
    typed = "the cat sat on the mat ."
    texts += [typed[:i] for i in range(len(typed) + 1)]
    text = typed + "\nAlice has a dog"
    texts += [text[: len(typed) + i] for i in range(1, len(text) - len(typed) + 1)]
    texts += [text[:-i] for i in range(1, 6)]  # backspace five times
    text = text[:-5] + " cat and Bob has a dog .\nthe dog ran to "  # paste
    texts.append(text)
    texts += [text + "Bo", text + "Bob", text + "Bob ", text + "Bob zebra ", text + "Bob zebra\n\n", text + "Bob zebra\n\nthe"]
    texts += ["", "the dog sat\r\non the log\r\n", "the dog sat\r\non the ", "  \t the  cat   "]
    texts.append(texts[40].replace("cat", "dog", 1))  # an edit early in the text
    texts += ["THE CAT SAW", "The Cat Saw ", "Alice,", "Alice, Bob", "(a", "a well-known", "don't "]
    return texts


def test_cached_state_gives_the_same_probabilities_as_a_fresh_predictor(run):
    lm = run.trained.language_model()
    size = len(lm.vocab)
    cached = Predictor(lm)
    for text in edits():
        got = cached.suggest(text, k=size)
        expected = Predictor(lm).suggest(text, k=size)
        assert words(got) == words(expected), text
        assert [s.remainder for s in got] == [s.remainder for s in expected], text
        np.testing.assert_allclose([s.prob for s in got], [s.prob for s in expected], rtol=1e-6, atol=1e-9, err_msg=text)


@pytest.mark.parametrize("output_dtype, rtol", [(torch.float32, 1e-4), (torch.bfloat16, 0.05)])
def test_predictor_probabilities_match_the_batched_model(run, output_dtype, rtol):
    """Next-word probabilities equal those of one batched forward pass over the whole context,
    exactly with a float32 output layer and within bf16 rounding with the faster bf16 one."""
    lm = run.trained.language_model(output_dtype)
    vocab = lm.vocab
    predictor = Predictor(lm)
    for text in ["", "the cat ", "the cat sat on the mat .\nAlice has a ", "Bob zebra saw the "]:
        context, partial = split_partial(text)
        assert partial == ""
        ids = vocab.encode(context_tokens(context)) + [0]  # the last row predicts what follows the context
        log_probs = torch.cat(list(lm.log_prob_chunks(torch.tensor(ids))))[-1]
        expected = log_probs.exp().numpy()
        for s in predictor.suggest(text, k=len(vocab)):
            assert s.prob == pytest.approx(float(expected[vocab.id(s.word)]), rel=rtol, abs=1e-6)


def test_continue_text_stops_at_the_end_of_the_sentence(lm):
    predictor = Predictor(lm)
    # with top_k=1 the chain is deterministic: on -> the -> cat -> sat -> on ... until n_words,
    # and "mat" -> "." -> <eos> ends the line
    assert predictor.continue_text("the cat sat on the mat", n_words=10, top_k=1) == "."
    assert predictor.continue_text("I sat on the mat ", n_words=10, top_k=1) == "."
    assert predictor.continue_text("the cat ", n_words=3, top_k=1) == "sat on the"
    assert predictor.continue_text("the cat ", n_words=6, top_k=1) == "sat on the cat sat on"


def test_continue_text_joins_tokens_like_written_text(table_lm):
    lm = table_lm(["hello", ",", "world", "!"], {
        "<eos>": {"hello": 1.0}, "hello": {",": 1.0}, ",": {"world": 1.0}, "world": {"!": 1.0}, "!": {"<eos>": 1.0},
    })
    result = Predictor(lm).continue_text("", n_words=10, top_k=1)
    assert isinstance(result, str)
    assert result == "hello, world!"


def test_continue_text_never_writes_unk(table_lm):
    lm = table_lm(["a"], {"<eos>": {"<unk>": 0.99, "a": 0.01}, "a": {"<unk>": 0.9, "a": 0.05, "<eos>": 0.05}})
    for seed in range(5):
        result = Predictor(lm).continue_text("", n_words=5, seed=seed)
        assert "<unk>" not in result and set(result.split()) <= {"a"}


def test_continue_text_with_a_trained_model(run):
    predictor = Predictor(run.trained.language_model())
    result = predictor.continue_text("the cat sat on the ", n_words=8, seed=0)
    assert isinstance(result, str) and result
    assert "\n" not in result and "<eos>" not in result and "<unk>" not in result
    assert len(result.split()) <= 8
    assert predictor.continue_text("the cat ", n_words=8, seed=3) == predictor.continue_text("the cat ", n_words=8, seed=3)


@pytest.mark.parametrize("temperature", [0.0, 1e-3, 0.01])
def test_continue_text_at_temperature_zero_is_greedy(lm, temperature):
    # After "the", "cat" (0.3) is the likeliest word; greedy sampling must pick it. (Until the fix in
    # engine/predict.py, probs ** (1 / 0.001) underflowed to 0/0 here: "Probabilities contain NaN".)
    assert Predictor(lm).continue_text("the ", n_words=1, temperature=temperature) == "cat"


def test_detokenize():
    assert detokenize(["Hello", ",", "world", "!"]) == "Hello, world!"
    assert detokenize(["(", "a", ")", "b", "."]) == "(a) b."
    assert detokenize(["a", "<eos>", "b"]) == "a\nb"
    assert detokenize([]) == ""


def test_the_cache_stays_right_after_continue_text(runs):
    predictor = Predictor(runs["lstm"].trained.language_model())
    before = predictor.suggest("the cat ", k=3)
    predictor.continue_text("the dog ran to ", n_words=3, seed=1)
    assert predictor.suggest("the cat ", k=3) == before
    assert predictor.suggest("the cat ", k=3) == Predictor(runs["lstm"].trained.language_model()).suggest("the cat ", k=3)


@pytest.mark.parametrize("before, after", [
    ("I have 3.", "I have 3.14 "),        # a number with a separator is one token
    ("we paid 1,", "we paid 1,000 "),
    ("the <unk>", "the <unk> , and "),    # punctuation cannot join what follows
    ("hello ", "hello there "),
    ("one\n", "one\ntwo "),
])
def test_reading_only_the_new_text_gives_the_same_state_as_rereading_all(runs, before, after):
    lm = runs["gru"].trained.language_model()
    typed = Predictor(lm)
    typed.suggest(before)
    fresh = Predictor(lm)
    assert typed.suggest(after, k=5) == fresh.suggest(after, k=5)
    assert typed._ids == fresh._ids


# -- accepting a suggestion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word", "remainder", "completes", "expected"),
    [
        ("how ar", "are", "e", True, "how are "),
        ("How ", "are", "are", False, "How are "),
        ("Hello,", "how", "how", False, "Hello, how "),
        ("", "Good", "Good", False, "Good "),
        ("see you ", ".", ".", False, "see you. "),
        ("see you   ", "!", "!", False, "see you! "),
        ("say ", "(", "(", False, "say ("),
        ("say (", "this", "this", False, "say (this "),
        ("line one\n", "Next", "Next", False, "line one\nNext "),
    ],
)
def test_accepting_a_word_spaces_it_as_english_is_written(text, word, remainder, completes, expected):
    insert, delete = insertion(text, word, remainder, completes)
    suggestion = Suggestion(word, 0.5, remainder, completes, insert, delete)
    assert apply_suggestion(text, suggestion) == expected


def test_suggestions_know_whether_they_complete_and_what_to_insert(lm):
    predictor = Predictor(lm)
    completions = predictor.suggest("the ca", k=5)
    assert [(s.completes, s.insert, s.delete) for s in completions] == [(True, "t ", 0), (True, "n't ", 0), (True, "p ", 0)]
    assert apply_suggestion("the ca", completions[1]) == "the can't "
    after_cat = predictor.suggest("the cat ", k=2)
    assert [(s.word, s.completes) for s in after_cat] == [("sat", False), (".", False)]
    assert [apply_suggestion("the cat ", s) for s in after_cat] == ["the cat sat ", "the cat. "]
    # The same state asked again from text that ends differently: the words stay, the spacing follows the text.
    assert [apply_suggestion("the cat  ", s) for s in predictor.suggest("the cat  ", k=2)] == ["the cat  sat ", "the cat. "]
    assert [apply_suggestion("the cat.", s) for s in predictor.suggest("the cat.", k=1)] == ["the cat. the "]


def test_a_whole_typed_word_is_completed_by_a_space(lm):
    (only,) = Predictor(lm).suggest("the cat", k=5)
    assert (only.completes, only.remainder, apply_suggestion("the cat", only)) == (True, "", "the cat ")


def test_top_k_ranks_equal_values_in_position_order():
    """What is offered never depends on a sort's internals: ties go in position order (the
    vocabulary's frequency order, a prefix's alphabetical order), checked against the definition."""
    from engine.predict import top_k

    rng = np.random.default_rng(0)
    for n in range(2000):
        size = int(rng.integers(1, 60)) if n % 10 else int(rng.integers(1000, 3000))  # both ways
        values = (rng.integers(0, 5, size) / 4).astype(rng.choice([np.float32, np.float64]))
        k = int(rng.integers(1, 8))
        expected = sorted(range(values.size), key=lambda i: (-values[i], i))[:k]
        assert top_k(values, k) == (expected, [float(values[i]) for i in expected])
