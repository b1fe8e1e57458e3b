"""The SFTP client of ``SSHPool.sftp``, bounded: every request answered within a time limit,
every transfer moving at least that often, or ``TimeoutError`` (and the pool drops the
connection)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable
from typing import Any

from ..aio import bounded

# SFTP client calls that move a whole file: bounded by progress, not by their total duration.
TRANSFERS = frozenset({"get", "put", "copy", "mget", "mput", "mcopy"})


class BoundedSFTP:
    """An asyncssh SFTP client or open file whose every request must be answered within
    ``limit`` seconds, and whose transfers must make progress at least that often. Anything
    else (attributes, iterators) passes through unchanged."""

    def __init__(self, inner: Any, limit: float):
        self._inner = inner
        self._limit = limit

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name in TRANSFERS:
            return lambda *args, **kwargs: self._transfer(attr, *args, **kwargs)
        if not callable(attr) or name.startswith("_"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            if hasattr(result, "__aenter__") and inspect.isawaitable(result):
                return BoundedOpen(result, self._limit)  # `sftp.open(...)`: await or async with
            if inspect.isawaitable(result):
                return self._bounded(result)
            return result

        return call

    async def _bounded(self, awaitable: Any) -> Any:
        awaitable = bounded(awaitable, self._limit)  # guard: ssh-sftp-timeout
        return await awaitable

    async def _transfer(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        moved = [time.monotonic()]
        progress = kwargs.get("progress_handler")

        def on_progress(*info: Any) -> None:
            moved[0] = time.monotonic()
            if progress is not None:
                progress(*info)

        kwargs["progress_handler"] = on_progress
        task = asyncio.ensure_future(method(*args, **kwargs))
        stalled = False
        try:
            while not stalled:
                idle = time.monotonic() - moved[0]
                done, _ = await asyncio.wait({task}, timeout=max(0.05, self._limit - idle))
                if done:
                    return task.result()
                stalled = time.monotonic() - moved[0] >= self._limit  # guard: ssh-sftp-stall
            raise TimeoutError(f"no data moved for {self._limit:g}s")
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


class BoundedOpen:
    """``sftp.open(...)`` bounded: awaited, or used as ``async with`` (which closes the file)."""

    def __init__(self, opening: Any, limit: float):
        self._opening = opening
        self._limit = limit
        self._file: BoundedSFTP | None = None

    def __await__(self) -> Any:
        return self._open().__await__()

    async def _open(self) -> BoundedSFTP:
        handle = await bounded(self._opening, self._limit)
        return BoundedSFTP(handle, self._limit)

    async def __aenter__(self) -> BoundedSFTP:
        self._file = await self._open()
        return self._file

    async def __aexit__(self, *exc: Any) -> None:
        if self._file is not None:
            await self._file.close()
