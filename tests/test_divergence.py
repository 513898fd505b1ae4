"""Issue 12 item 4: a run no better than uniform guessing (best validation perplexity at least the
vocabulary size, or not finite) is never made active, and the CLI saves it only on request."""

from __future__ import annotations

import math
from dataclasses import replace

from engine import judge, no_better_than_uniform


def test_the_rule_at_the_vocabulary_size() -> None:
    assert no_better_than_uniform({"valid_ppl": 100.0}, 100)
    assert no_better_than_uniform({"valid_ppl": math.inf}, 100)
    assert no_better_than_uniform({"valid_ppl": math.nan}, 100)
    assert not no_better_than_uniform({"valid_ppl": 99.9}, 100)
    assert not no_better_than_uniform({}, 100)  # nothing measured: not a divergence


def test_a_diverged_run_is_never_made_active(runs) -> None:
    good = runs["gru"].trained
    size = len(good.vocab)
    diverged = replace(good, metrics={**good.metrics, "valid_ppl": float(size) * 3})
    verdict = judge(diverged, None)  # even with no model in use
    assert not verdict.better and verdict.reason.startswith("diverged")
    assert not judge(diverged, good).better
    assert judge(good, None).better
