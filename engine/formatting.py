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


def format_bytes(n: float) -> str:
    """A byte count for people: "512 B", "3.4 MB"."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
