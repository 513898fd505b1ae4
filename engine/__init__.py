"""nextword engine: train, evaluate and query word-level RNN / LSTM / GRU language models.

PyTorch only; never imports Textual. The TUI, the CLI and the tests all use these few calls:

    text = load_text("corpus.txt")                       # CorpusError on unreadable / binary / non-UTF-8
    corpus = Corpus.from_text(text, DataConfig())        # tokenize, split (last 10% of lines), vocabulary
    corpus.stats.summary()                               # words, lines, vocabulary, train/valid tokens
    corpus = Corpus.from_file("big.txt", on_progress=..., should_stop=...)   # streamed, bounded memory

    config = ModelConfig(cell="gru", emb=256, hidden=256)   # vocab_size is filled in by train()
    config.param_count()                                 # known before anything is allocated

    trained = train(corpus, config, TrainConfig(max_time=60),
                    on_event=print,                      # Progress / EpochEnd / Notice dataclasses
                    should_stop=lambda: False)           # checked every batch
    save_model(trained, "my-gru")                        # atomic; into models_home() unless a path
    trained = load_model("my-gru")                       # strict validation; ModelFileError if bad

    predictor = Predictor(trained.language_model())      # cached state: O(1) model steps a keystroke
    predictor.suggest("hello how ar", k=5)               # [Suggestion(word, prob, remainder), ...]
    predictor.continue_text("I am ", n_words=8)

    evaluate(trained.language_model(), test_text)       # EvalResult: perplexity, top1/3/5, ksr, tokens

Every error a user can cause is a NextwordError whose message says what to do.
"""

from engine.corpus import Corpus, CorpusStats, DataConfig, load_text
from engine.errors import ConfigError, CorpusError, ModelFileError, NextwordError, TrainingError
from engine.evaluate import EvalResult, evaluate, keystroke_savings
from engine.lm import LanguageModel, NeuralLM
from engine.model import CELLS, ModelConfig, WordRNN
from engine.predict import Predictor, Suggestion
from engine.store import ModelInfo, list_models, load_model, models_home, resolve_model, save_model
from engine.train import EpochEnd, Notice, Progress, TrainConfig, train
from engine.trained import TrainedModel

__all__ = [
    "CELLS",
    "ConfigError",
    "Corpus",
    "CorpusError",
    "CorpusStats",
    "DataConfig",
    "EpochEnd",
    "EvalResult",
    "LanguageModel",
    "ModelConfig",
    "ModelFileError",
    "ModelInfo",
    "NeuralLM",
    "NextwordError",
    "Notice",
    "Predictor",
    "Progress",
    "Suggestion",
    "TrainConfig",
    "TrainedModel",
    "TrainingError",
    "WordRNN",
    "evaluate",
    "keystroke_savings",
    "list_models",
    "load_model",
    "load_text",
    "models_home",
    "resolve_model",
    "save_model",
    "train",
]
