"""Durations in the words a person reads, as the portal's UI writes them (frontend/src/lib/durations.ts): a plan's
window ("per hour") and a time left ("59 min 58 s")."""

from __future__ import annotations

import math

__all__ = ["duration_text", "window_text"]

# (seconds, one, many, short form in a time left; None: the word itself, "1 day", "2 days")
_UNITS = ((86400, "day", "days", None), (3600, "hour", "hours", "h"), (60, "minute", "minutes", "min"))
_SECOND = (1, "second", "seconds", "s")


def window_text(seconds: float) -> str:
    """A window, to follow "per": "minute", "hour", "15 minutes", "90 seconds"; in the largest unit it is a whole
    number of, so the count stays exact (5400 s is "90 minutes", not "1.5 hours")."""
    whole = max(1, round(seconds)) if math.isfinite(seconds) else 1
    size, one, many, _ = next((u for u in _UNITS if whole % u[0] == 0), _SECOND)
    count = whole // size
    return one if count == 1 else f"{count} {many}"


def duration_text(seconds: float) -> str:
    """A time left, rounded up to the second and never below 1 s: "41 s", "59 min 58 s", "1 day 2 h"."""
    left = max(1, math.ceil(seconds)) if math.isfinite(seconds) else 1
    parts = []
    for size, one, many, short in (*_UNITS, _SECOND):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {short or (one if count == 1 else many)}")
    return " ".join(parts)
