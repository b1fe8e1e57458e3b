"""Small asyncio helpers.

``bounded`` replaces ``asyncio.wait_for``: on Python 3.11, ``wait_for`` loses a cancellation
that arrives in the same loop iteration as its awaitable finishes (it returns the result), so a
Ctrl-C that came while the loop was busy could be swallowed and the run went on. ``asyncio.timeout``
(3.11+) keeps the cancellation and raises ``TimeoutError`` on expiry, as ``wait_for`` did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def bounded(awaitable: Awaitable[T], seconds: float | None) -> T:
    """``await awaitable``, raising ``TimeoutError`` after ``seconds`` (None: no limit)."""
    async with asyncio.timeout(seconds):
        return await awaitable
