"""Durations written the way people write them in runbooks: ``90s``, ``10m``, ``1h30m``, ``7d``."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# The longest duration a runbook may write: a year and a day. Longer is a typo, and past what
# clocks, sleeps and dates can hold it would fail at run time (OverflowError, OSError).
MAX_DAYS = 366
MAX_SECONDS = MAX_DAYS * 86400


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``text``; raises ValueError with the accepted forms, or when it is longer
    than ``MAX_DAYS``."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        compact = text.replace(" ", "").lower()
        parts = _PART.findall(compact)
        if not compact or "".join(n + u for n, u in parts) != compact:
            raise ValueError(f"{text!r} is not a duration; write e.g. '90s', '10m', '1h30m', "
                             "'7d'")
        seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    if not 0 <= seconds <= MAX_SECONDS:  # guard: duration-bound
        raise ValueError(f"expected a duration of at most {MAX_DAYS}d")
    return seconds


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out[:2])
