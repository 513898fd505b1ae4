"""What a trained model needs to learn and to serve every word: made once after training.

- the open lexicon of *all* of the corpus (every word, however rare, the held-out part included);
- the corpus's token ids, so the Kneser-Ney n-gram counts all of the text (fitted on first use);
- the blend's weights (network, n-gram, cache, unigram, typed phrases), fitted on the held-out
  part with a lexicon and an n-gram that know only the training part, and what each part alone
  scores there, so the app can say whether the mixture beats both of its parts;
- the final pass: after the held-out part has chosen the weights, one pass of training over it, so
  the saved network has learned from all of the text too (measured against retraining on all of
  it; see /work/team/README_learning.md).

On disk, in the model's folder (`<model>/learned/`, engine/learned.py): `corpus.json` (lexicon and
blend, strict JSON) and `corpus_ids.safetensors`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from engine.adapt import LearnConfig
from engine.adaptive_eval import held_out_parts
from engine.evaluation import final_eval_text
from engine.learned import LearnedStateError, _dataclass, _read_state_json, learned_dir, vocab_checksum
from engine.lexicon import Lexicon
from engine.mixture import PARTS, Weights, fit_weights, log_likelihood
from engine.ngram import NGramLM
from engine.paths import atomic_write
from engine.tokenizer import tokenize
from engine.trained import TrainedModel
from engine.vocab import Vocab

SETUP, IDS = "corpus.json", "corpus_ids.safetensors"
NGRAM_ORDER = 3
MIN_WEIGHT = 0.01  # a part the fit gives less than this is left out (and the label says so)


@dataclass
class LearningSetup:
    lexicon: Lexicon
    ids: torch.Tensor  # every token of the corpus, train and held-out, as vocabulary ids
    weights: Weights
    held_out: dict = field(default_factory=dict)  # mean log-probability per word: each part, the blend
    _ngram: NGramLM | None = None

    def ngram(self, vocab: Vocab) -> NGramLM | None:
        """The KN n-gram over all of the corpus (None when the blend does not use one)."""
        if self.weights.ngram <= 0:
            return None
        if self._ngram is None:
            self._ngram = NGramLM.fit(self.ids, vocab, NGRAM_ORDER)
        return self._ngram

    def label(self, cell: str) -> str:
        return self.weights.label(cell, NGRAM_ORDER)


def prepare_learning(trained: TrainedModel, corpus, text: str | None, config: LearnConfig | None = None) -> LearningSetup:
    """Fit the blend on the corpus's held-out part and count all of the text."""
    config = config or LearnConfig()
    vocab, model = trained.vocab, trained.build_model()
    # Without the text (a corpus too big to hold in memory), the vocabulary's own words.
    lexicon = Lexicon.from_tokens(tokenize(text), vocab.lowercase) if text is not None else _vocab_lexicon(vocab)
    ids = torch.cat([corpus.train_ids, corpus.valid_ids]).to(torch.int32)
    held = final_eval_text(corpus.valid_text)
    if corpus.stats.valid_is_train:  # nothing held out: the fit would only learn the training text
        return LearningSetup(lexicon, ids, Weights(net=0.7, ngram=0.2, cache=0.05, phrase=0.05),
                             {"note": "too little text to hold some out: default weights"})
    train_lexicon = lexicon.without(tokenize(corpus.valid_text)) if text is not None else lexicon
    train_ngram = NGramLM.fit(corpus.train_ids, vocab, NGRAM_ORDER)
    rows = held_out_parts(model, vocab, train_lexicon, held, ngram=train_ngram, config=config)
    weights = fit_weights(rows)
    kept = tuple(p for p, w in zip(PARTS, weights.values()) if w >= MIN_WEIGHT)
    weights = fit_weights(rows, kept)
    scores = {"net": log_likelihood(rows, Weights()), "ngram": log_likelihood(rows, Weights(0, 1, 0, 0, 0)),
              "blend": log_likelihood(rows, weights), "words": int(len(rows))}
    return LearningSetup(lexicon, ids, weights, scores)


def final_pass(trained: TrainedModel, corpus, lr_fraction: float = 0.25, bptt: int = 35, batch: int = 20) -> TrainedModel:
    """One epoch of training over the held-out ids at a fraction of the starting learning rate:
    the held-out part chose the epochs and the weights; now the network learns from it too."""
    ids = corpus.valid_ids.long()
    if corpus.stats.valid_is_train or ids.numel() < 2 * (bptt + 1):
        return trained
    model = trained.build_model().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=trained.train_config.lr * lr_fraction)
    batch = min(batch, max(1, ids.numel() // (bptt + 1)))
    data = ids[: ids.numel() // batch * batch].view(batch, -1).t().contiguous()
    hidden = model.init_hidden(batch)
    for i in range(0, data.size(0) - 1, bptt):
        seq = min(bptt, data.size(0) - 1 - i)
        x, y = data[i : i + seq], data[i + 1 : i + 1 + seq]
        hidden = tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()
        loss, hidden = model(x, hidden, targets=y)  # mean cross-entropy, output layer fused
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), trained.train_config.clip)
        optimizer.step()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    metrics = {**trained.metrics, "final_pass_tokens": int(ids.numel())}
    return replace(trained, state_dict=state, metrics=metrics, optimizer_state=None)


def save_setup(model_dir: str | os.PathLike, setup: LearningSetup, vocab: Vocab) -> Path:
    folder = learned_dir(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    blob = save_safetensors({"ids": setup.ids.to(torch.int32).contiguous()})
    atomic_write(folder / IDS, blob)
    lex = setup.lexicon
    data = {
        "schema": 1, "vocab": vocab_checksum(vocab), "ids": hashlib.sha256(blob).hexdigest(),
        "weights": setup.weights.to_json(), "held_out": setup.held_out,
        "lowercase": lex.lowercase, "sentence_case": lex.sentence_case,
        "words": lex.keys(), "counts": [lex.corpus_counts[k] for k in lex.keys()],
        "display": [lex.display(k) for k in lex.keys()],
    }
    atomic_write(folder / SETUP, json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    return folder


def load_setup(model_dir: str | os.PathLike, vocab: Vocab) -> LearningSetup | None:
    """The setup saved beside a model; None when there is none; LearnedStateError when damaged."""
    folder = learned_dir(model_dir)
    path = folder / SETUP
    if not path.exists():
        return None
    data = _read_state_json(path)
    ok = (isinstance(data, dict) and data.get("schema") == 1 and isinstance(data.get("words"), list)
          and isinstance(data.get("counts"), list) and isinstance(data.get("display"), list)
          and len(data["words"]) == len(data["counts"]) == len(data["display"])
          and all(isinstance(w, str) for w in data["words"]) and all(isinstance(w, str) for w in data["display"])
          and all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in data["counts"])
          and isinstance(data.get("weights"), dict) and isinstance(data.get("ids"), str))
    if not ok:
        raise LearnedStateError(f"The learning setup {path} is damaged: retrain the model to remake it.")
    if data["vocab"] != vocab_checksum(vocab):
        raise LearnedStateError(f"The learning setup {path} belongs to another vocabulary; it is not used.")
    blob = (folder / IDS).read_bytes() if (folder / IDS).exists() else b""
    if hashlib.sha256(blob).hexdigest() != data["ids"]:
        raise LearnedStateError(f"The corpus ids {folder / IDS} are missing or damaged: retrain the model.")
    ids = load_safetensors(blob).get("ids")
    if ids is None or ids.dim() != 1 or (ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(vocab))):
        raise LearnedStateError(f"The corpus ids {folder / IDS} do not fit the vocabulary: retrain the model.")
    lexicon = Lexicon.from_counts(data["words"], data["counts"], data["display"], bool(data.get("lowercase", True)))
    lexicon.sentence_case = bool(data.get("sentence_case", False))
    weights = _dataclass(Weights, data["weights"], folder)
    return LearningSetup(lexicon, ids, weights, data.get("held_out") or {})


def learn_after_training(trained: TrainedModel, corpus, text: str | None, final: bool = True
                         ) -> tuple[TrainedModel, LearningSetup]:
    """After train(): fit the blend on the held-out part (with the network it chose), then give the
    network the final pass over that part. Save both: save_model(model), save_setup(path, setup).
    The model's metrics stay those measured on the held-out part before the pass, and say so."""
    setup = prepare_learning(trained, corpus, text)
    if final:
        trained = final_pass(trained, corpus)
    metrics = {**trained.metrics, "metrics_kind": "static, held-out part, before the final pass"}
    return replace(trained, metrics=metrics), setup


def _vocab_lexicon(vocab: Vocab) -> Lexicon:
    return Lexicon.from_counts(vocab.keys[2:], [max(1, c) for c in vocab.counts[2:]], vocab.display[2:], vocab.lowercase)


def _setup_or_fallback(trained: TrainedModel, model_dir: str | os.PathLike | None) -> tuple[LearningSetup, str]:
    """The setup saved with a model, or (trained before learning existed, or damaged) one made from
    the model's own vocabulary with a default blend, and a note that says so."""
    note = ""
    if model_dir is not None:
        try:
            setup = load_setup(model_dir, trained.vocab)
            if setup is not None:
                return setup, ""
        except LearnedStateError as exc:
            note = str(exc)
    lexicon = _vocab_lexicon(trained.vocab)
    fallback = LearningSetup(lexicon, torch.zeros(0, dtype=torch.int32), Weights(net=0.9, cache=0.05, phrase=0.05))
    return fallback, note or "No learning setup with the model (trained before learning existed): its own words, a default blend."


def adaptive_evaluate(trained: TrainedModel, model_dir: str | os.PathLike | None, text: str,
                      ksr: bool = True, config: LearnConfig | None = None) -> tuple[object, str, str]:
    """`nextword-tui eval`'s default: type `text` with the learning the app does, using the setup
    saved with the model. (EvalResult, what was blended, a note when the setup is missing)."""
    from engine.adaptive_eval import evaluate_adaptive

    setup, note = _setup_or_fallback(trained, model_dir)
    result = evaluate_adaptive(trained.build_model(), trained.vocab, setup.lexicon, text,
                               ngram=setup.ngram(trained.vocab), weights=setup.weights, config=config, ksr=ksr)
    return result, setup.label(trained.model_config.cell), note


def open_for_typing(trained: TrainedModel, model_dir: str | os.PathLike | None,
                    config: LearnConfig | None = None, online: bool | None = None):
    """An AdaptivePredictor for typing with this model: its setup, and what typing taught it before
    (learned/learned.json, adapted weights). A damaged learned state is a note, never a failure:
    the model then starts learning afresh. Returns (predictor, note)."""
    from engine.adapt import Learner
    from engine.adaptive_predict import AdaptivePredictor
    from engine.learned import load_learned

    setup, note = _setup_or_fallback(trained, model_dir)
    learner, adapted = None, None
    folder = learned_dir(model_dir) if model_dir is not None else None
    if folder is not None and (folder / "learned.json").exists():
        shapes = {k: tuple(v.shape) for k, v in trained.state_dict.items()}
        try:
            learner, adapted = load_learned(folder, trained.vocab, setup.lexicon, shapes)
        except LearnedStateError as exc:
            note = (note + " " if note else "") + str(exc)
    if learner is None:
        learner = Learner(trained.vocab, setup.lexicon, setup.weights, config)
    lm = (replace(trained, state_dict=adapted) if adapted is not None else trained).language_model()
    return AdaptivePredictor(lm, learner, setup.ngram(trained.vocab), online=online), note


def save_typing(predictor, model_dir: str | os.PathLike) -> Path:
    """Save what typing taught `predictor` (an AdaptivePredictor) into the model's folder, atomically."""
    from engine.learned import save_learned

    adapted = predictor.updater.adapted_state() if predictor.updater is not None else None
    return save_learned(learned_dir(model_dir), predictor.learner, adapted)
