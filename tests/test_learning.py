"""Learning from the text and from typing: the open lexicon, the cache, the online update, the
mixture, the learned state on disk, the privacy controls and the causality of adaptive evaluation."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from engine import Corpus, DataConfig, ModelConfig, evaluate
from engine import adapt
from engine.adapt import DynamicEval, LearnConfig, Learner, OnlineUpdater
from engine.adaptive_eval import evaluate_adaptive, held_out_parts
from engine.adaptive_predict import AdaptivePredictor
from engine.learned import LearnedStateError, learned_dir, load_learned, save_learned
from engine.lexicon import Lexicon
from engine.lm import NeuralLM
from engine.mixture import MixtureLM, Weights, fit_weights, log_likelihood
from engine.model import WordRNN
from engine.ngram import NGramLM
from engine.tokenizer import tokenize

from conftest import TINY_TEXT

# "zyzzyva" is in the corpus once: under min_freq=2, so outside the network's vocabulary.
RARE_TEXT = TINY_TEXT + "the zyzzyva sat on the mat .\n"
STATIC = LearnConfig(dynamic=False)


@pytest.fixture(scope="module")
def setup():
    corpus = Corpus.from_text(RARE_TEXT, DataConfig(min_freq=2))
    torch.manual_seed(0)
    model = WordRNN(ModelConfig(cell="lstm", emb=16, hidden=16, vocab_size=len(corpus.vocab))).eval()
    return corpus, model


def lexicon() -> Lexicon:
    return Lexicon.from_tokens(tokenize(RARE_TEXT))


def predictor(setup, weights: Weights | None = None, **kw) -> AdaptivePredictor:
    corpus, model = setup
    lm = NeuralLM(model, corpus.vocab, output_dtype=torch.float32)
    return AdaptivePredictor(lm, Learner(corpus.vocab, lexicon(), weights, kw.pop("config", STATIC)), **kw)


def words(suggestions) -> list[str]:
    return [s.word for s in suggestions]


def test_a_rare_corpus_word_outside_the_vocabulary_is_completed(setup):
    corpus, _ = setup
    assert not corpus.vocab.contains("zyzzyva")
    found = predictor(setup).suggest("the zy")
    assert words(found) == ["zyzzyva"]
    assert found[0].remainder == "zzyva" and found[0].completes and found[0].insert == "zzyva "


# "He" starts more sentences than "he" appears inside one; "Anna" is a name wherever it stands.
CASED_TEXT = "He ran home .\nHe sat down .\nHe slept .\nthen he woke .\nAnna met him .\nhe and Anna ate .\n"


def test_words_are_shown_as_written_inside_a_sentence_and_capitalised_at_its_start():
    corpus = Corpus.from_text(CASED_TEXT * 3, DataConfig(valid_fraction=0.0))
    assert corpus.vocab.display[corpus.vocab.id("he")] == "He"  # the most frequent form anywhere
    lex = Lexicon.from_tokens(tokenize(CASED_TEXT * 3))
    assert lex.sentence_case and lex.display("he") == "he" and lex.display("anna") == "Anna"
    assert Lexicon.from_tokens(tokenize("Hello there .\nHello again .")).display("hello") == "Hello"
    torch.manual_seed(0)
    model = WordRNN(ModelConfig(cell="lstm", emb=16, hidden=16, vocab_size=len(corpus.vocab))).eval()
    lm = NeuralLM(model, corpus.vocab, output_dtype=torch.float32)
    p = AdaptivePredictor(lm, Learner(corpus.vocab, lex, Weights(), STATIC))
    assert "he" in words(p.suggest("then ", k=20)) and "He" not in words(p.suggest("then ", k=20))
    assert "He" in words(p.suggest("Anna ate .\n", k=20))
    assert "Anna" in words(p.suggest("then ", k=20))


def test_unk_and_eos_are_never_offered(setup):
    p = predictor(setup)
    for text in ("", "the ", "the cat sat on the mat . ", "<", "<un"):
        assert not {"<unk>", "<eos>"} & set(words(p.suggest(text, k=50)))


def test_a_new_word_typed_is_offered_next_time_as_written(setup):
    p = predictor(setup, Weights(net=0.9, cache=0.1))
    assert words(p.suggest("a Quo")) == []
    assert p.learn("a Quokka ran . ") == 4
    assert words(p.suggest("the quo")) == ["quokka"]  # a completion keeps the typed casing
    assert "Quokka" in words(p.suggest("the ", k=5))  # the cache puts it among the next words


def test_the_cache_raises_words_typed_recently(setup):
    p = predictor(setup, Weights(net=0.7, cache=0.3))
    before = {s.word: s.prob for s in p.suggest("the ", k=50)}
    p.learn("garden garden garden ")
    after = {s.word: s.prob for s in p.suggest("the ", k=50)}
    assert after["garden"] > before.get("garden", 0.0)


def test_a_typed_phrase_is_offered_again(setup):
    p = predictor(setup, Weights(net=0.5, phrase=0.5))
    p.learn("I need to renew my passport .\nI need to call the bank .\n")
    assert set(words(p.suggest("I need to ", k=2))) == {"renew", "call"}
    assert words(p.suggest("my ", k=1)) == ["passport"]


def test_pause_forget_and_clear(setup):
    p = predictor(setup, Weights(net=0.9, cache=0.1))
    p.learner.paused = True
    assert p.learn("wombat wombat ") == 0
    assert words(p.suggest("a wom")) == []
    p.learner.paused = False
    p.learn("wombat wombat numbat wombat ")  # what was typed while paused stays unlearned
    assert p.learner.lexicon.typed_counts == {"numbat": 1, "wombat": 1}
    assert words(p.suggest("a wom")) == ["wombat"]
    assert p.learner.forget("Wombat")
    assert words(p.suggest("a wom")) == [] and "wombat" not in p.learner.history
    assert not p.learner.forget("wombat")  # nothing left to forget
    assert p.learner.view()["new"] == ["numbat"]
    p.learner.clear()
    assert p.learner.view() == {"typed": [], "new": [], "history_tokens": 0, "paused": False}
    assert words(p.suggest("a num")) == []
    assert words(p.suggest("the zy")) == ["zyzzyva"]  # the corpus's words stay


def test_learned_state_persists_and_reloads(setup, tmp_path):
    corpus, model = setup
    p = predictor(setup, Weights(net=0.8, ngram=0.0, cache=0.2))
    p.learn("the Quokka saw the numbat . the quokka ran .\n")
    p.learner.paused = True
    dynamic = DynamicEval(model, LearnConfig())
    dynamic.step([1, 2, 3, 4], [2, 3, 4, 5])
    folder = save_learned(tmp_path / "m.learned", p.learner, dynamic.state_dict())
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    learner, adapted = load_learned(folder, corpus.vocab, lexicon(), shapes)
    assert learner.paused and learner.history == p.learner.history
    assert learner.lexicon.typed_counts == p.learner.lexicon.typed_counts
    assert learner.weights == p.learner.weights and learner.view() == p.learner.view()
    for name, tensor in dynamic.state_dict().items():
        assert torch.equal(adapted[name], tensor)
    saved = json.loads((folder / "learned.json").read_text(encoding="utf-8"))
    assert saved["aliases"] == {"decoder.weight": "embed.weight"}  # the tied matrix is stored once
    again = AdaptivePredictor(NeuralLM(model, corpus.vocab, output_dtype=torch.float32), learner)
    for text in ("the quo", "the ", "a num"):
        assert again.suggest(text) == p.suggest(text)


@pytest.mark.parametrize("damage", [b"{not json", b'{"schema": 1, "schema": 1}', b'{"schema": 1, "vocab": NaN}',
                                    b"[]", b'{"schema": 1}'])
def test_a_damaged_learned_state_is_a_clear_error(setup, tmp_path, damage):
    corpus, _ = setup
    folder = save_learned(tmp_path / "m.learned", predictor(setup).learner)
    (folder / "learned.json").write_bytes(damage)
    with pytest.raises(LearnedStateError, match="damaged"):
        load_learned(folder, corpus.vocab, lexicon())


def test_damaged_adapted_weights_are_refused_and_the_model_still_loads(runs, tmp_path):
    from engine import load_model, save_model

    trained = runs["lstm"].trained
    path = save_model(trained, tmp_path / "models" / "m")
    learner = Learner(trained.vocab, Lexicon.from_tokens(tokenize(TINY_TEXT)))
    dynamic = DynamicEval(trained.build_model())
    folder = save_learned(learned_dir(path), learner, dynamic.state_dict())
    (folder / "adapted.safetensors").write_bytes(b"\0" * 64)
    shapes = {k: tuple(v.shape) for k, v in trained.build_model().state_dict().items()}
    with pytest.raises(LearnedStateError, match="checksum"):
        load_learned(folder, trained.vocab, Lexicon(), shapes)
    assert load_model(path).vocab.keys == trained.vocab.keys


def test_a_state_for_another_vocabulary_is_refused(setup, runs, tmp_path):
    folder = save_learned(tmp_path / "m.learned", predictor(setup).learner)
    with pytest.raises(LearnedStateError, match="another vocabulary"):
        load_learned(folder, runs["lstm"].trained.vocab, Lexicon())


def test_adaptive_evaluation_is_causal(runs):
    """What is offered before token i is the same whatever follows i (dynamic update included)."""
    trained = runs["lstm"].trained
    lex = Lexicon.from_tokens(tokenize(TINY_TEXT))
    prefix = "the cat sat on the mat . Zorro saw the dog .\nthe dog ran to Zorro ."
    config = LearnConfig(dynamic=True, dynamic_every=4, dynamic_lr=0.5)
    weights = Weights(net=0.6, cache=0.2, unigram=0.2)
    traces = []
    for suffix in ("\nZorro Zorro garden Xavier .", "\nthe cat ran away . Alice Alice Alice"):
        trace: list = []
        evaluate_adaptive(trained.build_model(), trained.vocab, lex, prefix + suffix, weights=weights,
                          config=config, trace=trace)
        traces.append(trace)
    n = len([t for t in tokenize(prefix) if t != "<eos>"])
    assert traces[0][:n] == traces[1][:n]
    assert traces[0][n:] != traces[1][n:]  # the check can see a difference where there is one


def test_adaptive_evaluation_without_learning_matches_the_static_perplexity(runs):
    trained = runs["lstm"].trained
    text = "the cat saw Bob on the log .\nAlice ran to the garden ."
    static = evaluate(trained.language_model(output_dtype=torch.float32), text)
    adaptive = evaluate_adaptive(trained.build_model(), trained.vocab, Lexicon.from_tokens(tokenize(TINY_TEXT)),
                                 text, config=STATIC)
    assert adaptive.perplexity == pytest.approx(static.perplexity, rel=1e-4)
    assert adaptive.top1 == static.top1 and adaptive.ksr >= static.ksr


def test_fitted_weights_beat_every_part_on_the_held_out_text(runs, tiny_corpus):
    trained = runs["lstm"].trained
    kn = NGramLM.from_corpus(tiny_corpus)
    rows = held_out_parts(trained.build_model(), trained.vocab, Lexicon.from_tokens(tokenize(TINY_TEXT)),
                          tiny_corpus.valid_text, ngram=kn, config=STATIC)
    fitted = fit_weights(rows)
    assert sum(fitted.values()) == pytest.approx(1.0)
    for alone in np.eye(5):
        assert log_likelihood(rows, fitted) >= log_likelihood(rows, Weights(*alone)) - 1e-9


def test_em_recovers_known_weights():
    rng = np.random.default_rng(0)
    parts = rng.random((20_000, 5))
    truth = np.array([0.5, 0.3, 0.2, 0.0, 0.0])
    choice = rng.choice(5, size=20_000, p=truth)
    rows = parts * 0.01
    rows[np.arange(20_000), choice] = 1.0  # the part that "made" each token gives it high probability
    fitted = fit_weights(rows).values()
    assert np.abs(fitted - truth).max() < 0.03
    assert fit_weights(rows, ("net", "ngram")).values()[2:].sum() == 0


def test_the_mixture_lm_agrees_step_by_step_and_batched(runs, tiny_corpus):
    net = runs["lstm"].trained.language_model(output_dtype=torch.float32)
    mix = MixtureLM(net, NGramLM.from_corpus(tiny_corpus), 0.3)
    ids = torch.tensor(tiny_corpus.vocab.encode(tokenize("the cat sat on the mat .")))
    batched = torch.cat(list(mix.log_prob_chunks(ids)))
    state = mix.start()
    for i, token in enumerate(ids.tolist()):
        assert np.allclose(np.log(mix.next_probs(state)), batched[i].numpy(), atol=1e-4)
        state = mix.advance(state, token)
    assert "3-gram (0.30)" in mix.name


def _wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_the_online_update_swaps_in_a_whole_new_network(runs):
    lm = runs["lstm"].trained.language_model()
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    updater = OnlineUpdater(lm, LearnConfig(dynamic_every=5))
    try:
        updater.feed(lm.vocab.encode(tokenize("the cat sat on the mat . the dog ran")))
        _wait_for(lambda: updater.updates)  # the update runs in its own thread
    finally:
        updater.close()
    assert updater.updates >= 1 and updater.lm is not lm
    assert all(torch.equal(v, before[k]) for k, v in lm.model.state_dict().items())  # old one untouched
    assert any(not torch.equal(v, before[k]) for k, v in updater.lm.model.state_dict().items())


def test_an_online_update_waits_for_a_pause_in_the_typing(runs, monkeypatch):
    monkeypatch.setattr(adapt, "UPDATE_PAUSE_S", 0.3)
    lm = runs["lstm"].trained.language_model()
    updater = OnlineUpdater(lm, LearnConfig(dynamic_every=5))
    try:
        updater.feed(lm.vocab.encode(tokenize("the cat sat on the mat")))  # one whole segment
        typing_until = time.monotonic() + 1.0
        while time.monotonic() < typing_until:  # keystrokes every 50 ms: no pause yet
            updater.touch()
            time.sleep(0.05)
        assert updater.updates == 0
        assert _wait_for(lambda: updater.updates == 1)  # the typing stopped: it steps
    finally:
        updater.close()


def test_typing_without_a_pause_still_updates_and_closing_steps_what_waits(runs, monkeypatch):
    monkeypatch.setattr(adapt, "UPDATE_PAUSE_S", 60.0)  # no pause ever comes
    monkeypatch.setattr(adapt, "MAX_WAITING_SEGMENTS", 2)
    lm = runs["lstm"].trained.language_model()
    updater = OnlineUpdater(lm, LearnConfig(dynamic_every=3))
    ids = lm.vocab.encode(tokenize("the cat sat on the mat . the dog ran to the cat"))[:9]
    updater.feed(ids[:3])
    time.sleep(0.2)
    assert updater.updates == 0  # one segment waits for a pause
    updater.feed(ids[3:6])  # two wait: the first is stepped while typing goes on
    assert _wait_for(lambda: updater.updates == 1)
    updater.feed(ids[6:])
    updater.close()  # the segments still waiting are learned before the thread ends
    assert updater.updates == 3


def test_learning_while_typing_key_by_key_learns_each_token_once(setup):
    p = predictor(setup)
    text = "the Quokka sat .\nthe dog ran to the Quokka .\nAlice"
    for end in range(1, len(text) + 1):
        p.learn(text[:end])
    assert p.learner.history == tokenize("the Quokka sat .\nthe dog ran to the Quokka .")
    p.learn(text[:10])  # deleting back and typing again relearns nothing already learned
    assert p.learner.lexicon.typed_counts["quokka"] == 2


def test_the_fit_sees_each_part_exactly_as_the_blend_uses_it(setup, tiny_corpus):
    corpus, _ = setup
    learner = Learner(corpus.vocab, lexicon(), Weights(), STATIC)
    kn = NGramLM.fit(corpus.train_ids, corpus.vocab, 3)
    state, rng = kn.start(), np.random.default_rng(0)
    for token in tokenize("the zyzzyva sat .\nthe Quokka saw the zyzzyva and the Quokka ran ."):
        if token != "<eos>":
            p_net = rng.dirichlet(np.ones(len(corpus.vocab)))
            word = learner.open.add(token)
            one_hot = []
            for w in np.eye(5):
                learner.weights = Weights(*w)
                one_hot.append(learner.distribution(p_net, kn.next_probs(state))[word])
            assert np.allclose(learner.parts(p_net, kn.next_probs(state), word), one_hot, rtol=1e-9, atol=1e-15)
        learner.observe(token)
        state = kn.advance(state, corpus.vocab.id(token))


@pytest.mark.parametrize("with_rare_words", [True, False])
def test_the_blend_is_a_distribution(setup, with_rare_words):
    corpus, _ = setup
    vocab = corpus.vocab
    lex = lexicon() if with_rare_words else Lexicon.from_counts(vocab.keys[2:], vocab.counts[2:], vocab.display[2:])
    learner = Learner(vocab, lex, Weights(net=0.5, ngram=0.2, cache=0.1, unigram=0.1, phrase=0.1), STATIC)
    learner.observe("Quokka")
    p_net = np.random.default_rng(1).dirichlet(np.ones(len(vocab)))
    kn = NGramLM.fit(corpus.train_ids, vocab, 3)
    assert learner.distribution(p_net, kn.next_probs(kn.start())).sum() == pytest.approx(1.0)
