"""Transports built when first used: a session's SSH pool (asyncssh, ~0.1 s to import) and HTTP
client (httpx, ~0.05 s) are not on the way to the wizard's first screen, which needs neither.

``DeferredSSH`` and ``DeferredWeb`` answer the ``SSHRunner`` and ``WebClient`` Protocols by
building the real transport on the first call (or attribute) that needs it; ``ready()`` builds
it in a worker thread instead, so the wizard warms them up after its first frame without
holding its event loop while the modules import. Closing one never used imports nothing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .protocols import SSHRunner, WebClient

if TYPE_CHECKING:
    from .commands import RunResult
    from .web import WebResult

T = TypeVar("T")


class _Deferred(Generic[T]):
    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: T | None = None
        self._lock = threading.Lock()  # ``ready()``'s thread and the loop may both build

    @property
    def built(self) -> bool:
        return self._built is not None

    @property
    def real(self) -> T:
        """The transport, built now if it was not yet."""
        if self._built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build()
        return self._built

    async def ready(self) -> None:
        """Build the transport (importing its modules) in a worker thread."""
        if self._built is None:
            await asyncio.to_thread(lambda: self.real)

    def __getattr__(self, name: str) -> Any:
        # Anything beyond the Protocol (a test's look at the pool's connections) is the real
        # transport's.
        if name.startswith("__") or name in ("_build", "_built", "_lock"):
            raise AttributeError(name)
        return getattr(self.real, name)


class DeferredSSH(_Deferred[SSHRunner]):
    """An ``SSHRunner`` whose pool is built on first use."""

    async def run(self, name: str, command: str, *, on_line: Callable[[str], None] | None = None,
                  timeout: float = 120, stdin: str | None = None,
                  follow_seconds: float | None = None) -> RunResult:
        return await self.real.run(name, command, on_line=on_line, timeout=timeout, stdin=stdin,
                                   follow_seconds=follow_seconds)

    def sftp(self, name: str) -> AbstractAsyncContextManager[Any]:
        return self.real.sftp(name)

    async def connection(self, name: str) -> object:
        return await self.real.connection(name)

    async def drop(self, name: str) -> None:
        if self._built is not None:  # nothing connected yet: nothing to forget
            await self._built.drop(name)

    async def close(self) -> None:
        if self._built is not None:
            await self._built.close()


class DeferredWeb(_Deferred[WebClient]):
    """A ``WebClient`` whose HTTP client is built on first use."""

    async def request(self, method: str, url: str, timeout: float | None = None) -> WebResult:
        return await self.real.request(method, url, timeout=timeout)

    async def close(self) -> None:
        if self._built is not None:
            await self._built.close()
