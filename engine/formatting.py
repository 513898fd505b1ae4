"""How figures are written for people: byte counts, and "-" where there is no figure. No torch."""

from __future__ import annotations

import math


def format_number(value: object, spec: str) -> str:
    """`value` in `spec`, or '-' where there is no figure (None, NaN, infinity)."""
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, (int, float)) and math.isfinite(value):
        return format(value, spec)
    return "-"


PPL_CEILING = 1e6  # above this a perplexity is noise: no model that learned anything is there


def format_perplexity(value: object, spec: str = ".2f") -> str:
    """A perplexity for people: `spec` up to 10^6, "> 10^6" above, "diverged" for infinity or NaN
    (a run whose loss blew up), "-" where there is none. (At lr 10 a perplexity was printed as a
    253-digit number, and pushed the warning about the learning rate off the screen.)"""
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float)):
        return "-"
    if not math.isfinite(value):
        return "diverged"
    return "> 10^6" if value > PPL_CEILING else format(value, spec)


def format_bytes(n: float) -> str:
    """A byte count for people: "512 B", "3.4 MB"."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
