"""Interpolated Kneser-Ney baseline: hand-computed probabilities, protocol consistency, orders, quality."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from engine.corpus import Corpus
from engine.errors import ConfigError, CorpusError
from engine.ngram import NGramLM
from engine.tokenizer import tokenize
from engine.vocab import Vocab

UNK, EOS, A, B, C = 0, 1, 2, 3, 4


def tiny_vocab(extra: tuple[str, ...] = ()) -> Vocab:
    keys = ["<unk>", "<eos>", "a", "b", "c", *extra]
    return Vocab(keys=keys, display=list(keys), counts=[0, 0, 2, 3, 2] + [1] * len(extra))


# The lines "a b c" / "a b" / "b c" as the corpus produces them: every line ends with <eos>.
TINY_IDS = [A, B, C, EOS, A, B, EOS, B, C, EOS]


def perplexity(lm: NGramLM, ids: list[int]) -> float:
    target = torch.tensor(ids)
    nll, seen = 0.0, 0
    for chunk in lm.log_prob_chunks(target):
        rows = torch.arange(len(chunk))
        nll -= chunk[rows, target[seen : seen + len(chunk)]].double().sum().item()
        seen += len(chunk)
    assert seen == len(ids)
    return math.exp(nll / len(ids))


# ---- 1. a hand-computed example ------------------------------------------------------------------
#
# Stream read by the model: <eos> a b c <eos> a b <eos> b c <eos>   (V = 5: <unk> <eos> a b c)
#
# Trigrams (9 windows): (<eos> a b) x2, (b c <eos>) x2, and once each (a b c) (c <eos> a) (a b <eos>)
#   (b <eos> b) (<eos> b c).  n1 = 5, n2 = 2  ->  D3 = 5 / (5 + 4) = 5/9.
# Bigram continuation counts N1+(. v w) = distinct left neighbours among the trigram types:
#   (a b): {<eos>} 1   (b c): {a, <eos>} 2   (c <eos>): {b} 1   (<eos> a): {c} 1   (b <eos>): {a} 1
#   (<eos> b): {b} 1.  n1 = 5, n2 = 1  ->  D2 = 5/7.
#   (The very first (<eos> a) has no left neighbour; its second occurrence has c.)
# Unigram continuation counts N1+(. w) over the 6 bigram types: a 1, b 2, c 1, <eos> 2, <unk> 0.
#   n1 = 2, n2 = 2  ->  D1 = 2/6 = 1/3; total 6, 4 types, so the uniform share is (1/3)(4/6)(1/5) = 2/45.
#   P1(a) = P1(c) = (1 - 1/3)/6 + 2/45 = 7/45      P1(b) = P1(<eos>) = (2 - 1/3)/6 + 2/45 = 29/90
#   P1(<unk>) = 2/45                                (sum: 14/90 + 14/90 + 29/90 + 29/90 + 4/90 = 1)
# Bigram level:
#   history b: followers c (2), <eos> (1); total 3, 2 types -> gamma = (5/7)(2/3) = 10/21
#     P2(c | b) = (2 - 5/7)/3 + (10/21)(7/45) = 3/7 + 2/27 = 95/189
#     P2(<eos> | b) = (1 - 5/7)/3 + (10/21)(29/90) = 2/21 + 29/189 = 47/189
#     P2(<unk> | b) = (10/21)(2/45) = 4/189
#   history <eos>: followers a (1), b (1); total 2, 2 types -> gamma = 5/7
#     P2(a | <eos>) = (1 - 5/7)/2 + (5/7)(7/45) = 1/7 + 1/9 = 16/63
#   history a: follower b (1); total 1, 1 type -> gamma = 5/7
#     P2(b | a) = (1 - 5/7) + (5/7)(29/90) = 2/7 + 29/126 = 65/126
# Trigram level (raw counts):
#   history (a b): c 1, <eos> 1; total 2, 2 types -> gamma = 5/9
#     P3(c | a b) = (1 - 5/9)/2 + (5/9)(95/189) = 2/9 + 475/1701 = 853/1701
#     P3(<unk> | a b) = (5/9)(4/189) = 20/1701
#   history (<eos> a): b 2; total 2, 1 type -> gamma = (5/9)(1/2) = 5/18
#     P3(b | <eos> a) = (2 - 5/9)/2 + (5/18)(65/126) = 13/18 + 325/2268 = 1963/2268
#   history (c b) was never seen: lambda = 1, so P3(c | c b) = P2(c | b) = 95/189
#   history (<unk> <unk>): unseen at both levels, so P3(<unk> | <unk> <unk>) = P1(<unk>) = 2/45
# Held-out "a b <unk> c", read after <eos>:
#   P(a | <eos>) = 16/63 (the only history at the start is one token: bigram level)
#   P(b | <eos> a) = 1963/2268, P(<unk> | a b) = 20/1701,
#   P(c | b <unk>) = P1(c) = 7/45 (trigram and bigram histories unseen)
#   perplexity = (16/63 * 1963/2268 * 20/1701 * 7/45) ** (-1/4) = 7.0620864116...


@pytest.fixture
def tiny() -> NGramLM:
    return NGramLM.fit(torch.tensor(TINY_IDS), tiny_vocab(), order=3)


def test_discounts_by_hand(tiny: NGramLM) -> None:
    assert tiny.discounts == pytest.approx([1 / 3, 5 / 7, 5 / 9], abs=1e-12)
    assert tiny.name == "3-gram KN"


@pytest.mark.parametrize(
    ("context", "token", "expected"),
    [
        ([], A, 7 / 45),
        ([], B, 29 / 90),
        ([], UNK, 2 / 45),
        ([B], C, 95 / 189),
        ([B], EOS, 47 / 189),
        ([B], UNK, 4 / 189),
        ([EOS], A, 16 / 63),
        ([A], B, 65 / 126),
        ([A, B], C, 853 / 1701),
        ([A, B], UNK, 20 / 1701),
        ([EOS, A], B, 1963 / 2268),
        ([C, B], C, 95 / 189),  # unseen trigram history backs off to the bigram level
        ([UNK, UNK], UNK, 2 / 45),  # unseen everywhere: the unigram/uniform mix
        ([B, C, A, B], C, 853 / 1701),  # only the last two ids matter
    ],
)
def test_probabilities_by_hand(tiny: NGramLM, context: list[int], token: int, expected: float) -> None:
    assert tiny.prob(context, token) == pytest.approx(expected, abs=1e-6)


def test_perplexity_by_hand(tiny: NGramLM) -> None:
    assert perplexity(tiny, [A, B, UNK, C]) == pytest.approx(7.0620864116, abs=1e-6)


def test_bigram_model_uses_raw_counts_at_its_top_order() -> None:
    # Bigram counts: (<eos> a) 2, (a b) 2, (b c) 2, (c <eos>) 2, (b <eos>) 1, (<eos> b) 1:
    # n1 = 2, n2 = 4 -> D2 = 2/10. The unigram level is the same continuation mix as above.
    # P(c | b) = (2 - 1/5)/3 + (1/5)(2/3)(7/45) = 3/5 + 14/675 = 419/675
    lm = NGramLM.fit(TINY_IDS, tiny_vocab(), order=2)
    assert lm.prob([B], C) == pytest.approx(419 / 675, abs=1e-9)
    assert lm.start() == (EOS,)


# ---- 2. protocol consistency ---------------------------------------------------------------------


def random_ids(rng: random.Random, n: int, vocab_size: int) -> list[int]:
    # Skewed towards a few ids so that n-grams repeat; <eos> every few tokens like real lines.
    weights = [1.0 / (i + 1) for i in range(vocab_size)]
    ids = rng.choices(range(vocab_size), weights=weights, k=n)
    return [EOS if i % 7 == 6 else t for i, t in enumerate(ids)]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_next_probs_and_log_prob_chunks_agree(order: int) -> None:
    rng = random.Random(order)
    vocab = tiny_vocab(extra=tuple(f"w{i}" for i in range(15)))  # 20 ids, some never in training
    lm = NGramLM.fit(random_ids(rng, 400, 16), vocab, order=order)
    held_out = random_ids(rng, 50, 20)  # includes ids unseen in training and <unk>

    chunks = list(lm.log_prob_chunks(torch.tensor(held_out), chunk=7))
    assert [len(c) for c in chunks] == [7] * 7 + [1]
    assert all(c.dtype == torch.float32 and c.shape[1] == len(vocab) for c in chunks)
    rows = torch.cat(chunks)

    state = lm.start()
    for i, token in enumerate(held_out):
        probs = lm.next_probs(state)
        assert probs.dtype == np.float32 and probs.shape == (len(vocab),)
        assert (probs > 0).all()
        assert float(probs.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
        torch.testing.assert_close(rows[i], torch.from_numpy(probs).log(), rtol=1e-6, atol=1e-6)
        # The scalar path agrees with the dense one.
        assert lm.prob(list(state), token) == pytest.approx(float(probs[token]), rel=1e-5)
        before = list(state)
        new_state = lm.advance(state, token)
        assert list(state) == before and len(new_state) <= order - 1
        state = new_state


def test_chunks_cover_long_and_empty_sequences(tiny: NGramLM) -> None:
    ids = torch.tensor(TINY_IDS * 120)  # 1200 rows: several default-sized chunks
    sizes = [len(c) for c in tiny.log_prob_chunks(ids)]
    assert sum(sizes) == 1200 and all(0 < s <= 1024 for s in sizes)
    assert list(tiny.log_prob_chunks(torch.tensor([], dtype=torch.long))) == []


def test_advance_does_not_mutate(tiny: NGramLM) -> None:
    state = tiny.start()
    assert state == (EOS,)
    after = tiny.advance(state, A)
    assert state == (EOS,) and after == (EOS, A)
    assert tiny.advance(after, B) == (A, B)
    assert after == (EOS, A)


# ---- 3. orders -------------------------------------------------------------------------------


def test_order_one_is_a_discounted_unigram_mixed_with_uniform() -> None:
    # At order 1 the unigram is the top order, so it uses raw counts over the 10 predicted tokens:
    # a 2, b 3, c 2, <eos> 3. No count is 1, so D falls back to 0.75; 4 types, V = 5:
    # P(w) = max(c(w) - 0.75, 0)/10 + 0.75 * 4/10 / 5 = (c(w) - 0.75)/10 + 0.06
    lm = NGramLM.fit(TINY_IDS, tiny_vocab(), order=1)
    expected = np.array([0.06, 0.285, 0.185, 0.285, 0.185])  # <unk> <eos> a b c
    assert lm.discounts == [0.75]
    assert lm.start() == () and lm.advance((), A) == ()
    np.testing.assert_allclose(lm.next_probs(lm.start()), expected, atol=1e-7)
    np.testing.assert_allclose([lm.prob([A, B], t) for t in range(5)], expected, atol=1e-12)
    assert perplexity(lm, [A, B]) == pytest.approx((0.185 * 0.285) ** -0.5, abs=1e-5)


def test_order_four_works() -> None:
    lm = NGramLM.fit(TINY_IDS * 3, tiny_vocab(), order=4)
    assert lm.name == "4-gram KN" and len(lm.discounts) == 4
    state = lm.start()
    for token in (A, B, C):
        state = lm.advance(state, token)
    assert state == (A, B, C)
    probs = lm.next_probs(state)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5) and (probs > 0).all()
    # After "a b c" the corpus always ends the line.
    assert int(probs.argmax()) == EOS
    # The scalar and dense paths agree on a full 4-gram history too.
    assert lm.prob([EOS, A, B], C) == pytest.approx(float(lm.next_probs((EOS, A, B))[C]), rel=1e-6)


@pytest.mark.parametrize("order", [0, -1, 10, 2.5, True, "3"])
def test_bad_orders_raise_config_error(order: object) -> None:
    with pytest.raises(ConfigError):
        NGramLM.fit(TINY_IDS, tiny_vocab(), order=order)  # type: ignore[arg-type]


def test_no_tokens_raises_corpus_error() -> None:
    with pytest.raises(CorpusError):
        NGramLM.fit(torch.tensor([], dtype=torch.long), tiny_vocab())
    with pytest.raises(CorpusError):
        NGramLM.fit([], tiny_vocab())


def test_a_single_token_is_enough() -> None:
    lm = NGramLM.fit([A], tiny_vocab(), order=3)
    probs = lm.next_probs(lm.advance(lm.start(), A))
    assert probs.sum() == pytest.approx(1.0, abs=1e-5) and (probs > 0).all()


# ---- 4. quality on generated text ----------------------------------------------------------------


def generate(rng: random.Random, n_lines: int) -> str:
    """A small grammar where the verb's tense depends on the determiner two words back."""
    nouns = ["cat", "dog", "bird", "fox", "horse", "child"]
    adjectives = ["", "small ", "old ", "quick "]
    now = ["runs", "sleeps", "eats", "jumps"]
    past = ["ran", "slept", "ate", "jumped"]
    places = ["in the park", "at home", "by the river", "on the hill"]
    lines = []
    for _ in range(n_lines):
        determiner = rng.choice(["a", "the"])
        verbs = now if determiner == "a" else past
        line = f"{determiner} {rng.choice(adjectives)}{rng.choice(nouns)} {rng.choice(verbs)}"
        if rng.random() < 0.5:
            line += " " + rng.choice(places)
        lines.append(line + " .")
    return "\n".join(lines)


def test_trigram_beats_unigram_on_held_out_text() -> None:
    rng = random.Random(0)
    corpus = Corpus.from_text(generate(rng, 800))  # ~5,000 words
    held_out = corpus.vocab.encode(tokenize(generate(rng, 100)))
    ppl = {order: perplexity(NGramLM.from_corpus(corpus, order=order), held_out) for order in (1, 2, 3)}
    assert ppl[3] < ppl[2] < ppl[1]
    assert ppl[3] < 0.5 * ppl[1]
