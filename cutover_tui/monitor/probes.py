"""A red-flag rule's probe, run once: an observation the rule's state machine judges.

A probe is one of the runbook's own checks, so "healthy" means what it means everywhere else:

- ``health``: one request to a ``[[health]]`` endpoint on a host, judged as the health panel
  judges it (``health.judge_answer``: its status and text); with ``value`` the rule measures
  that JSON field of the answer (``total_errors``), else the latency;
- ``step``: an http step or an ssh step that changes nothing, run by its own kind without a run
  record and without its retries (the rule's trigger is the repetition), judged as the
  preflight judges a step: ok, bad, or no answer at all.

``answered`` says whether anything answered: a rule with ``unanswered_is_bad = false`` takes no
evidence from a probe that got no answer (the health rule covers an API that is down)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from ..clock import Clock
from ..errors import CutoverError, HTTPError
from ..events import StepEvent
from ..health import HTTP_TIMEOUT, judge_answer
from ..masking import Masker
from ..preflight import CANNOT_CHECK, NoChecklist, classify, no_droplets
from ..remote.protocols import SSHRunner, WebClient
from ..runbook import Runbook
from ..runbook.models import RedFlag
from ..steps import kind_module
from ..steps.base import StepContext
from .rules import Observation


@dataclass(frozen=True)
class Probed:
    observation: Observation
    answered: bool


def field_value(body: Any, dotted: str) -> float | None:
    """``body``'s number at ``a.b`` (None when absent or not a number)."""
    value = body
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


async def probe_health(book: Runbook, flag: RedFlag, web: WebClient, clock: Clock,
                       timeout: float = HTTP_TIMEOUT) -> Probed:
    assert flag.health is not None and flag.host is not None  # a health probe (checked at load)
    endpoint = next(e for e in book.health if e.name == flag.health)
    url = book.health_url(flag.host, endpoint)
    try:
        result = await web.request("GET", url, timeout=timeout)
    except CutoverError as exc:
        reason = str(exc).split(": ", 1)[-1]
        # A server that took the connection and hangs (a database check that blocks) is bad
        # evidence for its own rule; refused or unreachable is the health rule's.
        hung = isinstance(exc, HTTPError) and exc.connected  # guard: hung-probe-is-bad
        return Probed(Observation(clock.time(), False, None, reason[:120]), answered=hung)
    verdict, reason = judge_answer(endpoint, result.status, result.text)
    value: float | None = round(result.latency_ms, 1)
    if flag.value:
        value = field_value(result.json(), flag.value)
        if value is None:
            return Probed(Observation(clock.time(), False, None,
                                      f"{reason}, no number {flag.value!r}"), answered=True)
        reason = f"{reason}, {flag.value} {value:g}"
    return Probed(Observation(clock.time(), verdict == "ok", value, reason), answered=True)


async def probe_step(book: Runbook, flag: RedFlag, *, ssh: SSHRunner, web: WebClient,
                     clock: Clock, masker: Masker, workdir: Path) -> Probed:
    assert flag.step is not None  # a step probe (checked at load)
    step = book.step(flag.step)
    if getattr(step, "retries", 0):
        step = msgspec.structs.replace(step, retries=0)

    def drop(_event: StepEvent) -> None:
        return None

    ctx = StepContext(book, NoChecklist(), None, ssh, web,  # type: ignore[arg-type]
                      clock, masker, drop, no_droplets, workdir, step.id)
    try:
        verdict = await kind_module(step.kind).run(ctx, step)
    except CutoverError as exc:
        if step.kind == "ssh":
            await ssh.drop(step.host)  # the next probe connects afresh
        return Probed(Observation(clock.time(), False, None, masker(str(exc))[:120]), False)
    label, reason = classify(verdict)
    detail = masker(reason if not verdict.ok else verdict.summary)
    return Probed(Observation(clock.time(), verdict.ok, None, detail[:120]),
                  answered=label != CANNOT_CHECK)


async def probe(book: Runbook, flag: RedFlag, *, ssh: SSHRunner, web: WebClient, clock: Clock,
                masker: Masker, workdir: Path) -> Probed:
    """Run ``flag``'s probe once; never raises a transport's error (it is the observation)."""
    if flag.health is not None:
        return await probe_health(book, flag, web, clock)
    return await probe_step(book, flag, ssh=ssh, web=web, clock=clock, masker=masker,
                            workdir=workdir)
