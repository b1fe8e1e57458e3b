"""The runbook's regexes (``expect_regex``, ``reject_regex``, ``number``, ``threshold``), with
one engine at load and at run time: the ``regex`` package, whose matching stops at a deadline.

A pattern such as ``(a+)+$`` takes exponential time on some output; ``re`` would hold the
thread (and with it the event loop, or the GIL) until it finishes, which may be never. Here
every match is bounded by ``MATCH_SECONDS`` and raises ``RegexTooSlow`` past it, and the steps
run their checks in a worker thread (``asyncio.to_thread``), so the UI keeps drawing meanwhile.
A pattern that does not compile is a load error of the runbook.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import regex

from .errors import CutoverError

# Seconds one search (or one pass of finditer) may take on a step's output.
MATCH_SECONDS = 2.0
FLAGS = regex.MULTILINE | regex.VERSION0  # VERSION0: the syntax and behaviour of ``re``


class RegexTooSlow(CutoverError):
    """A runbook regex did not finish matching within ``MATCH_SECONDS``."""

    def __init__(self, pattern: str, text: str):
        self.pattern = pattern
        super().__init__(f"the regex /{pattern}/ did not finish within {MATCH_SECONDS:g}s on "
                         f"{len(text):,} characters of output (it backtracks without end on "
                         "this text); simplify it in the runbook")


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern; ``ValueError`` with a sentence when it is not a valid regex."""
    try:
        return regex.compile(pattern, FLAGS)
    except (regex.error, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"expected a valid regular expression: {exc}") from None


def _bounds() -> dict[str, Any]:
    """Keyword arguments of every match: the deadline, and the GIL released while matching (so
    that the event loop's thread runs while a worker thread matches)."""
    bounds: dict[str, Any] = {"concurrent": True}
    bounds["timeout"] = MATCH_SECONDS  # guard: regex-time-limit
    return bounds


def search(pattern: str, text: str) -> Any:
    """The first match of ``pattern`` in ``text``, or None; ``RegexTooSlow`` past the limit."""
    try:
        return compile_pattern(pattern).search(text, **_bounds())
    except TimeoutError:
        raise RegexTooSlow(pattern, text) from None


def finditer(pattern: str, text: str) -> Iterator[Any]:
    """Every match of ``pattern`` in ``text``, all found within the limit together."""
    try:
        return iter(list(compile_pattern(pattern).finditer(text, **_bounds())))
    except TimeoutError:
        raise RegexTooSlow(pattern, text) from None
