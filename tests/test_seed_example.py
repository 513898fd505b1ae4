"""The tutorial's example: three sentences are enough for every cell to learn what comes next.

Default settings throughout (TrainConfig(), DataConfig(), dropout 0.3, tied weights, one layer),
except emb = hidden = 64 instead of 256: the default size takes ~10 s per cell on a shared CPU and
gives the same predictions.
"""

import pytest

from engine import CELLS, Corpus, ModelConfig, Predictor, TrainConfig, train

SEED_TEXT = "hello how are you\nI am fine thank you\nhow about you\n"


@pytest.fixture(scope="module", params=CELLS)
def predictor(request):
    trained = train(Corpus.from_text(SEED_TEXT), ModelConfig(cell=request.param, emb=64, hidden=64), TrainConfig())
    return Predictor(trained.language_model())


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("hello how are ", "you"),
        ("I ", "am"),
        ("I am ", "fine"),
        ("I am fine ", "thank"),
    ],
)
def test_predicts_the_next_word_of_the_tutorial(predictor, typed, expected):
    best = predictor.suggest(typed, k=3)[0]
    assert best.word == expected
    assert best.remainder == expected


def test_completes_a_word_of_the_tutorial(predictor):
    assert predictor.suggest("I am fi", k=3)[0].word == "fine"
    assert predictor.suggest("i am fine th", k=3)[0].remainder == "ank"
