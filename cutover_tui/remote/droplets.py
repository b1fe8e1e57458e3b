"""DigitalOcean droplets through pydo (blocking: call it from a thread).

pydo's own retries are switched off (it retries POSTs, and a retried destroy or power action is
not what an operator asked for). Reads are retried here on 429 (honouring ``Retry-After`` and
``ratelimit-reset``) and 5xx, with bounded backoff. Actions and destroy are sent once. The token
comes from the environment and is never written anywhere.
"""

from __future__ import annotations

import asyncio
import builtins
import email.utils
import functools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar

from ..clock import Clock
from ..errors import ConfigError, DropletAPIError, DropletNotFound
from ..netguard import ensure_url_allowed

DEFAULT_API = "https://api.digitalocean.com"
TOKEN_VARIABLES = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")
READ_ATTEMPTS = 5
MAX_BACKOFF = 30.0

T = TypeVar("T")


class _Limits(TypedDict, total=False):
    """azure-core's transport timeouts, passed to pydo's Client as keyword arguments."""

    connection_timeout: float
    read_timeout: float


@dataclass(frozen=True)
class Droplet:
    id: int
    name: str
    ip: str
    status: str
    size: str
    region: str
    created_at: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Droplet:
        v4 = data.get("networks", {}).get("v4", [])
        public = [n["ip_address"] for n in v4 if n.get("type") == "public"]
        return cls(
            id=int(data["id"]), name=data["name"], ip=(public or [""])[0],
            status=data.get("status", "?"), size=data.get("size_slug", "?"),
            region=(data.get("region") or {}).get("slug", "?"),
            created_at=data.get("created_at", "?"),
        )

    def describe(self) -> str:
        return (f"droplet {self.name} (id {self.id}, {self.ip}, {self.status}, {self.size}, "
                f"{self.region}, created {self.created_at})")


def _number(text: Any) -> float | None:
    """A header's value as a finite number, or None."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def token_from_env() -> str:
    for name in TOKEN_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    raise ConfigError("no DigitalOcean token: set DIGITALOCEAN_TOKEN (or doctl's "
                      "DIGITALOCEAN_ACCESS_TOKEN) in the environment")


class DropletAPI:
    def __init__(self, token: str, endpoint: str = DEFAULT_API, timeout: float = 30,
                 sleep: Callable[[float], None] = time.sleep):
        ensure_url_allowed(endpoint, "the DigitalOcean API")
        from azure.core.pipeline import PipelineRequest
        from azure.core.pipeline.policies import SansIOHTTPPolicy
        from azure.core.rest import HttpRequest, HttpResponse
        from pydo import Client

        class BearerPolicy(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
            # azure-core's BearerTokenCredentialPolicy refuses plain http (the rehearsal API).
            def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
                request.http_request.headers["Authorization"] = f"Bearer {token}"

        self.endpoint = endpoint
        self.sleep = sleep
        # azure-core's transport waits 300 s to connect and 300 s per read unless told;
        # `timeout` alone only caps its retry policy. A read is bounded by `timeout`.
        limits: _Limits = {"connection_timeout": min(timeout, 10)}
        limits["read_timeout"] = timeout  # guard: do-read-timeout
        self._client = Client(token, endpoint=endpoint, authentication_policy=BearerPolicy(),
                              retry_total=0, timeout=int(timeout), **limits)

    @classmethod
    def from_env(cls, **kwargs: Any) -> DropletAPI:
        return cls(token_from_env(), os.environ.get("DIGITALOCEAN_API_URL") or DEFAULT_API,
                   **kwargs)

    # ------------------------------------------------------------------ error handling

    def _explain(self, exc: Exception, what: str, attempts: int = 1) -> DropletAPIError:
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            return DropletAPIError(f"{what}: the token is missing, invalid or lacks write scope "
                                   f"(HTTP {status})")
        if status == 404:
            return DropletNotFound(f"{what}: not found")
        if status == 429:
            times = f", {attempts} times" if attempts > 1 else ""
            return DropletAPIError(f"{what}: DigitalOcean's rate limit refused it (HTTP 429"
                                   f"{times}); wait for the limit to reset and retry")
        if status is None:
            return DropletAPIError(f"{what}: no answer from {self.endpoint} "
                                   f"({type(exc).__name__}: {exc})")
        message = getattr(exc, "message", "") or str(exc)
        return DropletAPIError(f"{what}: HTTP {status}: {message.splitlines()[0][:200]}")

    @staticmethod
    def _retry_delay(exc: Exception, attempt: int) -> float | None:
        status = getattr(exc, "status_code", None)
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", {}) or {}
        if status == 429:
            # Retry-After (seconds), else ratelimit-reset (epoch seconds), capped; a value
            # that is not a number is passed over for the backoff (never a traceback).
            retry_after = _number(headers.get("Retry-After"))
            if retry_after is not None:
                return min(MAX_BACKOFF, max(0.0, retry_after))
            reset = _number(headers.get("ratelimit-reset"))
            if reset is not None:
                return min(MAX_BACKOFF, max(0.0, reset - time.time()))
            return min(MAX_BACKOFF, 2.0 ** attempt)
        if status is not None and status >= 500:
            return min(MAX_BACKOFF, 0.5 * 2.0 ** attempt)
        return None

    def _read(self, what: str, call: Callable[[], T]) -> T:
        from azure.core.exceptions import AzureError

        for attempt in range(READ_ATTEMPTS):
            try:
                result = call()
            except AzureError as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None or attempt == READ_ATTEMPTS - 1:
                    raise self._explain(exc, what, attempt + 1) from None
                self.sleep(delay)
                continue
            if isinstance(result, dict) and result.get("id") == "not_found":
                raise DropletNotFound(f"{what}: not found ({result.get('message', '')})")
            return result
        raise AssertionError("unreachable")

    def _once(self, what: str, call: Callable[[], T]) -> T:
        from azure.core.exceptions import AzureError

        try:
            result = call()
        except AzureError as exc:
            raise self._explain(exc, what) from None
        if isinstance(result, dict) and result.get("id") == "not_found":
            raise DropletNotFound(f"{what}: not found ({result.get('message', '')})")
        return result

    # ------------------------------------------------------------------ reads

    def list(self) -> list[Droplet]:
        droplets: list[Droplet] = []
        page = 1
        while True:
            data = self._read("listing droplets",
                              functools.partial(self._client.droplets.list, per_page=200,
                                                page=page))
            droplets += [Droplet.from_json(d) for d in data.get("droplets", [])]
            if not (data.get("links") or {}).get("pages", {}).get("next"):
                return droplets
            page += 1

    def get(self, droplet_id: int) -> Droplet:
        data = self._read(f"reading droplet {droplet_id}",
                          lambda: self._client.droplets.get(droplet_id))
        return Droplet.from_json(data["droplet"])

    def find(self, name: str | None = None, ip: str | None = None) -> Droplet:
        """The one droplet with this name and/or public IPv4; refuse on none or ambiguity."""
        matches = [d for d in self.list()
                   if (name is None or d.name == name) and (ip is None or d.ip == ip)]
        wanted = " and ".join(x for x in (f"name {name}" if name else "",
                                           f"IP {ip}" if ip else "") if x)
        if not matches:
            raise DropletNotFound(f"no droplet with {wanted}")
        if len(matches) > 1:
            ids = ", ".join(str(d.id) for d in matches)
            raise DropletAPIError(f"{len(matches)} droplets match {wanted} (ids {ids}); "
                                  "refusing to guess which one is meant")
        return matches[0]

    def action_status(self, action_id: int) -> dict[str, Any]:
        action: dict[str, Any] = self._read(f"reading action {action_id}",
                                            lambda: self._client.actions.get(action_id))["action"]
        return action

    # ``builtins.list``: in this class, ``list`` is the method above.
    def actions(self, droplet_id: int) -> tuple[builtins.list[dict[str, Any]], float | None]:
        """The droplet's action history (``GET /v2/droplets/{id}/actions``, every page), and
        the time at DigitalOcean when it was read (the answer's ``Date``), or None."""
        dates: list[str] = []

        def keep_date(pipeline_response: Any, body: Any, _headers: Any) -> Any:
            dates.append(pipeline_response.http_response.headers.get("Date") or "")
            return body

        actions: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self._read(f"reading the actions of droplet {droplet_id}",
                              functools.partial(self._client.droplet_actions.list, droplet_id,
                                                per_page=200, page=page, cls=keep_date)) or {}
            actions += data.get("actions", [])
            if not (data.get("links") or {}).get("pages", {}).get("next"):
                break
            page += 1
        try:
            server_time = email.utils.parsedate_to_datetime(dates[-1]).timestamp()
        except (IndexError, TypeError, ValueError):
            server_time = None
        return actions, server_time

    # ------------------------------------------------------------------ writes (sent once)

    def post_action(self, droplet_id: int, action: str, **extra: Any) -> dict[str, Any]:
        body = {"type": action, **extra}
        started: dict[str, Any] = self._once(
            f"{action} on droplet {droplet_id}",
            lambda: self._client.droplet_actions.post(droplet_id, body=body))["action"]
        return started

    def destroy(self, droplet_id: int) -> None:
        """DELETE once. Never retried here or by pydo."""
        self._once(f"destroying droplet {droplet_id}",
                   lambda: self._client.droplets.destroy(droplet_id))


async def wait_action(api: Any, action_id: int, timeout: float, *, clock: Clock | None = None,
                      interval: float = 2.0,
                      on_status: Callable[[str, float], None] | None = None) -> str:
    """Poll action ``action_id`` of ``api`` (a ``DropletAPI``) until it is completed or errored,
    and return that status, or the last one read ('in-progress') once ``timeout`` seconds have
    passed. Each read runs in a thread (pydo blocks); the waits between them are ``clock``'s, so
    a rehearsal moves its clock instead of waiting and a cancelled step stops polling at once.
    ``on_status(status, seconds elapsed)`` follows every read."""
    clock = clock or Clock()
    started = clock.time()
    while True:
        status: str = (await asyncio.to_thread(api.action_status, action_id))["status"]
        elapsed = clock.time() - started
        if on_status is not None:
            on_status(status, elapsed)
        if status in ("completed", "errored") or elapsed >= timeout:
            return status
        await clock.sleep(interval)
