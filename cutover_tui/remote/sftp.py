"""The SFTP client of ``SSHPool.sftp``, bounded: every request answered within a time limit,
every transfer moving at least that often, or ``TimeoutError`` (and the pool drops the
connection). ``get_hashed`` downloads and hashes in one pass over the bytes (``inorder.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..aio import bounded
from .inorder import InOrder

# SFTP client calls that move a whole file: bounded by progress, not by their total duration.
TRANSFERS = frozenset({"get", "put", "copy", "mget", "mput", "mcopy"})


class BoundedSFTP:
    """An asyncssh SFTP client or open file whose every request must be answered within
    ``limit`` seconds, and whose transfers must make progress at least that often. Anything
    else (attributes, iterators) passes through unchanged."""

    def __init__(self, inner: Any, limit: float):
        self._inner = inner
        self._limit = limit

    async def get_hashed(self, remote_path: str, local: Path, *, block_size: int,
                         max_requests: int, size: int | None = None,
                         progress: Callable[[int, int], None] | None = None) -> str:
        """Download ``remote_path`` (``size`` bytes, or to its end) into the existing file
        ``local`` and return its sha256, computed on the way: one pass over the bytes instead of
        a download and a second read. Reads of ``block_size`` go out ``max_requests`` at a time
        and come back in any order (``InOrder`` puts them back in order); every block must
        arrive within the time limit, as every request must."""
        # No read larger than the server sends at once: it would come back short, and its rest
        # cost one more request (OpenSSH: 255 KiB, so 256 KiB reads went out twice).
        block_size = min(block_size, getattr(self.limits, "max_read_len", 0) or block_size)
        with open(local, "r+b") as out:  # made by the caller, with its mode
            out.truncate(0)
            sink = InOrder(out, progress, size)
            async with self.open(remote_path, "rb", block_size=block_size,
                                 max_requests=max_requests) as remote:
                blocks = await remote.read_parallel(-1 if size is None else size)
                try:
                    while (block := await self._next_block(blocks)) is not None:
                        sink.add(*block)
                finally:
                    with contextlib.suppress(BaseException):
                        await blocks.aclose()
        return sink.sha256(remote_path)

    async def _next_block(self, blocks: Any) -> tuple[int, bytes] | None:
        """The next (offset, bytes) of a parallel read, None at its end."""
        try:
            waiting = anext(blocks)
            waiting = bounded(waiting, self._limit)  # guard: backup-download-stall
            block: tuple[int, bytes] = await waiting
        except StopAsyncIteration:
            return None
        return block

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

