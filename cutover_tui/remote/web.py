"""HTTP transport: one ``httpx.AsyncClient`` for the run, a timeout on every request, and the
loopback guard checked before each one.

The timeout is a total deadline for the whole request (connect, send, headers and body):
httpx's own timeouts bound each network operation, so a server sending a byte a second would
otherwise hold a request as long as it liked."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..aio import bounded
from ..errors import HTTPError
from ..netguard import ensure_url_allowed


@dataclass
class WebResult:
    status: int
    text: str
    latency_ms: float
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def _connect_reason(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
            return "connection refused (nothing is listening there)"
        cause = cause.__cause__ or cause.__context__
    return f"could not connect ({exc})"


class Web:
    """``transport``: what the client sends through instead of the network — an
    ``httpx.MockTransport(handler)`` in tests, as httpx's own tests do; None for the network."""

    def __init__(self, default_timeout: float = 10.0, *,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.default_timeout = default_timeout
        self.transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False,
                                             transport=self.transport)
        return self._client

    async def request(self, method: str, url: str, timeout: float | None = None) -> WebResult:
        ensure_url_allowed(url, f"HTTP {method} {url}")
        started = time.monotonic()
        limit = timeout or self.default_timeout
        # httpx's own timeouts a little inside the total deadline, so a server that took the
        # connection and hangs is told apart (ReadTimeout) from one never reached.
        sending = self.client.request(method, url, timeout=httpx.Timeout(limit * 0.9))
        sending = bounded(sending, limit)  # guard: http-total-deadline
        try:
            response = await sending
        except (httpx.ReadTimeout, httpx.WriteTimeout):
            raise HTTPError(f"{method} {url}: connected, but no answer within {limit:g}s",
                            connected=True) from None
        except (httpx.TimeoutException, TimeoutError):
            raise HTTPError(f"{method} {url}: no answer within {limit:g}s") from None
        except httpx.ConnectError as exc:
            raise HTTPError(f"{method} {url}: {_connect_reason(exc)}") from None
        except httpx.HTTPError as exc:
            raise HTTPError(f"{method} {url}: {exc or type(exc).__name__}") from None
        return WebResult(response.status_code, response.text,
                         (time.monotonic() - started) * 1000, dict(response.headers))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
