"""Health probing without a UI: the runbook's ``[[health]]`` endpoints on each host and the
state of its services, judged in one place and given out as frozen samples.

The wizard's health panel (its worker only posts the samples), the destroy's "<host> healthy"
precondition and, next, the monitoring week read the same samples, so "healthy" means one thing.

A sample's verdict:

- ``ok``: the endpoint answered its expected status (and contains its text); every service is
  ``active``;
- ``degraded``: an answer, but not the expected one: another status, the text missing; a
  service that is not ``active``. Something answers on the host; what it serves is not well;
- ``down``: no answer at all: refused, timed out, no connection; the host's SSH unreachable.

Every request has its own deadline and all of a round's requests run at once, so a hung
endpoint delays nothing but its own sample: ``samples()`` yields each as soon as it is judged.
``poll(interval)`` keeps polling that way, each endpoint (and each host's services) on a
schedule of its own, spread over the interval: a hung one is asked again only once its own
request has timed out, while every other is sampled at the interval.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from .aio import bounded
from .clock import Clock
from .errors import CutoverError
from .remote.protocols import SSHRunner, WebClient
from .runbook import HealthEndpoint, Runbook

HealthVerdict = Literal["ok", "degraded", "down"]
OK: HealthVerdict = "ok"
DEGRADED: HealthVerdict = "degraded"
DOWN: HealthVerdict = "down"

HTTP_TIMEOUT = 2.0  # per request, the panel's; the destroy's precondition allows more
SSH_TIMEOUT = 3.0  # per `systemctl is-active`, once connected
SSH_CONNECT_TIMEOUT = 3.0


@dataclass(frozen=True)
class HealthSample:
    """One request to one ``[[health]]`` endpoint on one host, judged."""

    host: str
    endpoint: str  # the runbook's name for it ("api /health")
    status: int | None  # the HTTP status, None when nothing answered
    latency_ms: float | None  # None when nothing answered
    verdict: HealthVerdict
    reason: str  # why, in a few words: "200", "HTTP 503", "connection refused (…)"
    at: float  # the clock's time when it was judged

    @property
    def ok(self) -> bool:
        return self.verdict == OK

    @property
    def key(self) -> tuple[str, str]:
        return self.host, self.endpoint


@dataclass(frozen=True)
class ServiceSample:
    """The systemd states of the runbook's services on one host, judged (one ``systemctl
    is-active`` for them all)."""

    host: str
    states: tuple[tuple[str, str], ...]  # (unit, state) in the runbook's order; () when down
    verdict: HealthVerdict
    reason: str
    at: float

    @property
    def ok(self) -> bool:
        return self.verdict == OK

    @property
    def key(self) -> tuple[str, str]:
        return self.host, "services"

    def state(self, unit: str) -> str:
        return dict(self.states).get(unit, "unknown")


Sample = HealthSample | ServiceSample


def judge_answer(endpoint: HealthEndpoint, status: int, body: str) -> tuple[HealthVerdict, str]:
    """An answer of ``endpoint``: ok with its expected status and text, else degraded."""
    if status != endpoint.expect_status:
        return DEGRADED, f"HTTP {status}"
    if endpoint.contains and endpoint.contains not in body:
        return DEGRADED, f"HTTP {status}, no {endpoint.contains!r}"
    return OK, f"{status}"


def judge_states(units: list[str], output: str) -> tuple[tuple[tuple[str, str], ...],
                                                          HealthVerdict, str]:
    """``systemctl is-active``'s output (one state per unit, in order): every unit active is
    ok; any other state, or a unit it printed nothing for, is degraded."""
    states = tuple(zip(units, output.split(), strict=False))
    known = dict(states)
    wrong = [f"{unit} {known.get(unit, 'unknown')}" for unit in units
             if known.get(unit) != "active"]
    if wrong:
        return states, DEGRADED, ", ".join(wrong)
    return states, OK, "all active"


def ssh_reason(exc: BaseException) -> str:
    """Why a host's services could not be read, short enough for the panel."""
    if isinstance(exc, TimeoutError):
        return "no answer"
    reason = str(exc)
    if "not in" in reason and "known_hosts" in reason:
        return "host key not trusted yet (a step will ask)"
    if "refused" in reason:
        return "SSH refused (host down?)"
    return reason[:60]


class HealthProbe:
    """Probes ``book``'s health endpoints over ``web`` and its services over ``ssh`` (without
    it, no service samples)."""

    def __init__(self, book: Runbook, web: WebClient, ssh: SSHRunner | None = None, *,
                 timeout: float = HTTP_TIMEOUT, ssh_timeout: float = SSH_TIMEOUT,
                 clock: Clock | None = None) -> None:
        self.book = book
        self.web = web
        self.ssh = ssh
        self.timeout = timeout
        self.ssh_timeout = ssh_timeout
        self.clock = clock or Clock()
        self._owned = False

    @classmethod
    def with_own_transports(cls, book: Runbook, *, clock: Clock | None = None,
                            timeout: float = HTTP_TIMEOUT) -> HealthProbe:
        """A probe with its own HTTP client and SSH pool, closed by ``aclose``: polling never
        prompts for a host key (an unknown one is a sample's reason) nor takes a step's
        channels."""
        from .remote.ssh import SSHPool, SSHTarget
        from .remote.web import Web

        targets = {name: SSHTarget(name, h.address, h.port, h.user, h.ssh_key, h.known_hosts)
                   for name, h in book.hosts.items()}
        probe = cls(book, Web(default_timeout=timeout),
                    SSHPool(targets, connect_timeout=SSH_CONNECT_TIMEOUT),
                    timeout=timeout, clock=clock)
        probe._owned = True
        return probe

    async def endpoint(self, host: str, endpoint: HealthEndpoint) -> HealthSample:
        """One request, bounded by ``timeout``; never raises a transport's error."""
        url = self.book.health_url(host, endpoint)
        try:
            result = await self.web.request("GET", url, timeout=self.timeout)
        except CutoverError as exc:  # HTTPError, or a refused non-loopback address
            reason = str(exc).split(": ", 1)[-1]  # "GET <url>: " is the sample's key already
            return HealthSample(host, endpoint.name, None, None, DOWN, reason, self.clock.time())
        verdict, reason = judge_answer(endpoint, result.status, result.text)
        return HealthSample(host, endpoint.name, result.status, result.latency_ms, verdict,
                            reason, self.clock.time())

    async def endpoints(self, host: str) -> list[HealthSample]:
        """Every endpoint of ``host`` at once, in the runbook's order."""
        return list(await asyncio.gather(*(self.endpoint(host, e) for e in self.book.health)))

    async def services(self, host: str) -> ServiceSample:
        """``systemctl is-active`` of the runbook's services on ``host``, bounded; a broken
        connection is dropped so the next round connects again."""
        units = list(self.book.services)
        if self.ssh is None:
            raise ValueError("a probe without SSH has no service samples")
        try:
            result = await bounded(self.ssh.run(host, f"systemctl is-active {' '.join(units)}",
                                                timeout=self.ssh_timeout), self.ssh_timeout + 1)
        except (CutoverError, TimeoutError) as exc:
            await self.ssh.drop(host)
            return ServiceSample(host, (), DOWN, ssh_reason(exc), self.clock.time())
        states, verdict, reason = judge_states(units, result.output)
        return ServiceSample(host, states, verdict, reason, self.clock.time())

    def _jobs(self, hosts: Iterable[str] | None) -> list[Callable[[], Awaitable[Sample]]]:
        """One request each: every endpoint on every host, then each host's services."""
        names = list(self.book.hosts) if hosts is None else list(hosts)
        jobs: list[Callable[[], Awaitable[Sample]]] = [
            functools.partial(self.endpoint, h, e) for h in names for e in self.book.health]
        if self.ssh is not None and self.book.services:
            jobs += [functools.partial(self.services, h) for h in names]
        return jobs

    async def samples(self, hosts: Iterable[str] | None = None) -> AsyncIterator[Sample]:
        """One round: every endpoint on every host and each host's services, all at once,
        yielded as each is judged (a hung endpoint holds back only its own sample)."""
        tasks = [asyncio.ensure_future(job()) for job in self._jobs(hosts)]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def poll(self, interval: float,
                   hosts: Iterable[str] | None = None) -> AsyncIterator[Sample]:
        """Samples without end, as each is judged: every endpoint and each host's services
        asked once per ``interval`` seconds on a schedule of its own, the first requests spread
        over the first interval (not all at the same instant). One still unanswered is asked
        again when its request ends (at its timeout): it delays nothing but its own samples."""
        queue: asyncio.Queue[Sample | Exception] = asyncio.Queue()
        jobs = self._jobs(hosts)

        async def every(job: Callable[[], Awaitable[Sample]], offset: float) -> None:
            loop = asyncio.get_running_loop()
            due = loop.time() + offset
            while True:
                await asyncio.sleep(max(0.0, due - loop.time()))
                try:
                    queue.put_nowait(await job())
                except Exception as exc:  # a bug, not an answer: the caller's, not lost here
                    queue.put_nowait(exc)
                    return
                # The next request one interval after this one was due; after a request that
                # took longer than the interval, at once (never a burst to catch up).
                due = max(due + interval, loop.time())

        tasks = [asyncio.ensure_future(every(job, interval * n / len(jobs)))
                 for n, job in enumerate(jobs)]
        try:
            while True:
                sample = await queue.get()
                if isinstance(sample, Exception):
                    raise sample
                yield sample
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def round(self, hosts: Iterable[str] | None = None) -> list[Sample]:
        """Every sample of one round, in the order they were judged."""
        return [sample async for sample in self.samples(hosts)]

    async def aclose(self) -> None:
        """Close the transports this probe opened itself (not ones it was given)."""
        if self._owned:
            await self.web.close()
            if self.ssh is not None:
                await self.ssh.close()
