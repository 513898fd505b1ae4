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
    found = predictor.suggest("hello how ar", k=5)       # [Suggestion(word, prob, remainder, ...), ...]
    apply_suggestion("hello how ar", found[0])           # "hello how are ": the text once accepted
    predictor.continue_text("I am ", n_words=8)

    evaluate(trained.language_model(), test_text)       # EvalResult: perplexity, top1/3/5, ksr, tokens

Every error a user can cause is a NextwordError whose message says what to do.

`import engine` is cheap: each name below is loaded from its submodule on first use (PEP 562), so
torch loads only when a torch-backed name is first touched. Torch-free: the configs and their
limits (engine.config), the errors, load_text / decode_text / fingerprint (engine.textfile), the
tokenizer and its spacing rules, the paths and atomic writes (engine.paths), format_number /
format_bytes, and Predictor / Suggestion / apply_suggestion (numpy only). A module-level
`from engine import X` of a torch-backed X loads torch at that import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Every public name, by the submodule that defines it. Torch-free modules first.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "engine.config": (
        "CELLS", "DEVICES", "KINDS", "LABELS", "LIMITS", "MAX_PARAMS", "NGRAM", "NGRAM_MAX_ORDER",
        "NGRAM_ORDER", "OPTIMIZERS", "DataConfig", "ModelConfig", "TrainConfig", "available_memory",
        "check_fits", "check_ngram_order", "parameter_shapes", "parse_setting",
        "MIN_LINES_TO_SPLIT", "Split", "default_min_freq", "plan_split",
    ),
    "engine.errors": (
        "ConfigError", "CorpusError", "LoadCancelled", "ModelFileError", "NextwordError", "TrainingError",
    ),
    "engine.formatting": ("format_bytes", "format_number", "format_perplexity"),
    "engine.paths": ("atomic_write", "data_dir", "fsync_dir", "models_home"),
    "engine.textfile": ("MAX_CORPUS_BYTES", "decode_text", "fingerprint", "load_text"),
    "engine.tokenizer": (
        "EOS", "NO_SPACE_AFTER", "NO_SPACE_BEFORE", "UNK", "context_tokens", "detokenize", "insertion",
        "key", "normalize", "split_lines", "split_partial", "tokenize",
    ),
    "engine.vocab": ("Vocab",),
    "engine.predict": ("Predictor", "Suggestion", "apply_suggestion"),
    "engine.selection": ("Judgement", "compare_perplexity", "judge", "judge_saved", "no_better_than_uniform"),
    "engine.trash": ("KEEP_DAYS", "move_to_trash", "purge", "trash_dir", "trashed"),
    # torch from here on
    "engine.corpus": ("Corpus", "CorpusStats"),
    "engine.model": ("WordRNN",),
    "engine.lm": ("LanguageModel", "NeuralLM"),
    "engine.evaluation": ("EvalResult", "evaluate", "final_eval_text", "keystroke_savings"),
    "engine.events": ("EpochEnd", "Event", "Notice", "Progress", "StopReason"),
    "engine.training": ("default_threads", "train"),
    "engine.trained": ("TrainedModel",),
    "engine.store": ("ModelInfo", "check_name", "damaged_models", "finite_or_none", "list_models", "load_model",
                     "resolve_model", "save_model"),
    "engine.ngram": ("NGramLM",),
    "engine.comparison": ("CellDone", "CellEvent", "CellStart", "Comparison", "Row", "compare",
                          "torch_threads"),
    "engine.probe": ("ProbeResult", "ProbeRunDone", "ProbeTask", "run_probe"),
    "engine.library": ("ModelDetails", "delete_model", "export_model", "free_name", "import_model",
                       "model_details", "new_model_name", "rename_model"),
    # learning from the text and from typing (issue 10)
    "engine.lexicon": ("Lexicon",),
    "engine.mixture": ("MixtureLM", "Weights"),
    "engine.adapt": ("LearnConfig", "Learner", "OnlineUpdater"),
    "engine.adaptive_eval": ("evaluate_adaptive",),
    "engine.adaptive_predict": ("AdaptivePredictor",),
    "engine.learned": ("LearnedStateError", "learned_dir", "load_learned", "save_learned"),
    "engine.learning_setup": ("LearningSetup", "adaptive_evaluate", "learn_after_training", "load_setup",
                              "open_for_typing", "save_setup", "save_typing"),
    # corpora larger than memory, devices, several processes (issue 13); prepared* load no torch
    "engine.prepared": ("default_out", "prepare"),
    "engine.prepared_corpus": ("is_prepared", "load_prepared", "prepared_summary"),
    "engine.device": ("describe_device", "pick_device"),
    "engine.distributed": ("DistContext", "finish_distributed", "init_distributed", "under_torchrun"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> object:
    """Load a public name from its submodule on first use, and keep it here."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and IDEs see; tests/test_import_hygiene.py keeps it equal to _EXPORTS
    from engine.comparison import CellDone, CellEvent, CellStart, Comparison, Row, compare, torch_threads
    from engine.config import (
        CELLS,
        DEVICES,
        KINDS,
        LABELS,
        LIMITS,
        MAX_PARAMS,
        NGRAM,
        NGRAM_MAX_ORDER,
        NGRAM_ORDER,
        OPTIMIZERS,
        DataConfig,
        ModelConfig,
        TrainConfig,
        available_memory,
        check_fits,
        check_ngram_order,
        parameter_shapes,
        parse_setting,
        MIN_LINES_TO_SPLIT,
        Split,
        default_min_freq,
        plan_split,
    )
    from engine.corpus import Corpus, CorpusStats
    from engine.errors import (
        ConfigError,
        CorpusError,
        LoadCancelled,
        ModelFileError,
        NextwordError,
        TrainingError,
    )
    from engine.events import EpochEnd, Event, Notice, Progress, StopReason
    from engine.evaluation import EvalResult, evaluate, final_eval_text, keystroke_savings
    from engine.formatting import format_bytes, format_number, format_perplexity
    from engine.lm import LanguageModel, NeuralLM
    from engine.model import WordRNN
    from engine.ngram import NGramLM
    from engine.paths import atomic_write, data_dir, fsync_dir, models_home
    from engine.predict import Predictor, Suggestion, apply_suggestion
    from engine.probe import ProbeResult, ProbeRunDone, ProbeTask, run_probe
    from engine.lexicon import Lexicon
    from engine.mixture import MixtureLM, Weights
    from engine.adapt import LearnConfig, Learner, OnlineUpdater
    from engine.adaptive_eval import evaluate_adaptive
    from engine.adaptive_predict import AdaptivePredictor
    from engine.learned import LearnedStateError, learned_dir, load_learned, save_learned
    from engine.learning_setup import (
        LearningSetup,
        adaptive_evaluate,
        learn_after_training,
        load_setup,
        open_for_typing,
        save_setup,
        save_typing,
    )
    from engine.device import describe_device, pick_device
    from engine.distributed import DistContext, finish_distributed, init_distributed, under_torchrun
    from engine.prepared import default_out, prepare
    from engine.prepared_corpus import is_prepared, load_prepared, prepared_summary
    from engine.store import (
        ModelInfo,
        check_name,
        damaged_models,
        finite_or_none,
        list_models,
        load_model,
        resolve_model,
        save_model,
    )
    from engine.textfile import MAX_CORPUS_BYTES, decode_text, fingerprint, load_text
    from engine.tokenizer import (
        EOS,
        NO_SPACE_AFTER,
        NO_SPACE_BEFORE,
        UNK,
        context_tokens,
        detokenize,
        insertion,
        key,
        normalize,
        split_lines,
        split_partial,
        tokenize,
    )
    from engine.library import (
        ModelDetails,
        delete_model,
        export_model,
        free_name,
        import_model,
        model_details,
        new_model_name,
        rename_model,
    )
    from engine.selection import Judgement, compare_perplexity, judge, judge_saved, no_better_than_uniform
    from engine.trained import TrainedModel
    from engine.training import default_threads, train
    from engine.trash import KEEP_DAYS, move_to_trash, purge, trash_dir, trashed
    from engine.vocab import Vocab
