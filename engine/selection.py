"""Which of two models to use: the one with the lower perplexity on held-out text.

A new model replaces the one in use only if it is better there (issue: a 5-second run stopped
early must not push out a model trained for minutes). Perplexities are compared only where they
are measured on the same text: two models trained on the same corpus were scored on the same
held-out lines (the split is a function of the text), so their saved figures compare as they
are; otherwise both are scored on the held-out text given. Torch loads only for that scoring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from engine.trained import TrainedModel


@dataclass(frozen=True)
class Judgement:
    better: bool  # the new model should replace the one in use
    reason: str  # one sentence for the user
    new_ppl: float | None = None
    old_ppl: float | None = None


def _ppl(metrics: Mapping[str, object]) -> float | None:
    value = metrics.get("valid_ppl")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def no_better_than_uniform(metrics: Mapping[str, object], vocab_size: int) -> bool:
    """A diverged run (issue 12): its best validation perplexity is not finite or at least the
    vocabulary size, which is what guessing uniformly over the words scores. Such a model is never
    made active, and saved only on request. No perplexity measured at all is not counted here."""
    value = metrics.get("valid_ppl")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return not math.isfinite(value) or value >= vocab_size


def compare_perplexity(new_ppl: float | None, old_ppl: float | None, where: str = "held-out text") -> Judgement:
    """The new model wins only with a strictly lower, finite perplexity (a tie keeps the old)."""
    if old_ppl is None:
        if new_ppl is None:
            return Judgement(True, "no model was in use", new_ppl, old_ppl)
        return Judgement(True, f"no measured model was in use (new: perplexity {new_ppl:,.1f})", new_ppl, old_ppl)
    if new_ppl is None:
        return Judgement(False, f"the new model has no perplexity on {where}; the one in use has {old_ppl:,.1f}",
                         new_ppl, old_ppl)
    if new_ppl < old_ppl:
        return Judgement(True, f"better on {where}: perplexity {new_ppl:,.1f} against {old_ppl:,.1f}",
                         new_ppl, old_ppl)
    return Judgement(False, f"not better on {where}: perplexity {new_ppl:,.1f} against {old_ppl:,.1f} "
                            "for the one in use", new_ppl, old_ppl)


def judge_saved(new_metrics: Mapping[str, object], new_fingerprint: str,
                old_metrics: Mapping[str, object] | None, old_fingerprint: str | None) -> Judgement | None:
    """From saved figures alone (no torch): a Judgement when both models were scored on the same
    held-out text (same corpus), None when they must be scored again (judge())."""
    if old_metrics is None:
        return compare_perplexity(_ppl(new_metrics), None)
    if not new_fingerprint or new_fingerprint != old_fingerprint:
        return None
    return compare_perplexity(_ppl(new_metrics), _ppl(old_metrics), "the same held-out text")


def judge(new: "TrainedModel", old: "TrainedModel | None", held_out: str | None = None) -> Judgement:
    """Whether `new` should replace `old`. Same corpus: their saved held-out perplexities. Else
    both are scored on `held_out` (the held-out part of the text now in use); without it, and
    without comparable figures, the model in use stays. A run no better than uniform guessing
    never replaces anything, even with no model in use."""
    if no_better_than_uniform(new.metrics, len(new.vocab)):
        return Judgement(False, f"diverged: perplexity {new.metrics.get('valid_ppl')} is no better than guessing "
                                f"among its {len(new.vocab):,} words", _ppl(new.metrics),
                         _ppl(old.metrics) if old is not None else None)
    saved = judge_saved(new.metrics, new.corpus_fingerprint, old.metrics if old is not None else None,
                        old.corpus_fingerprint if old is not None else None)
    if saved is not None:
        return saved
    if not held_out or not held_out.strip():
        return Judgement(False, "the models were trained on different texts and there is no held-out text "
                                "to score them on: the one in use stays")
    from engine.evaluation import evaluate

    new_ppl = evaluate(new.language_model(), held_out, ksr=False).perplexity
    old_ppl = evaluate(old.language_model(), held_out, ksr=False).perplexity
    return compare_perplexity(new_ppl if math.isfinite(new_ppl) else None,
                              old_ppl if math.isfinite(old_ppl) else None, "the held-out text")
