"""``http``: a request from the operator's machine; check status, JSON fields, body, latency."""

from __future__ import annotations

import json
from typing import Any

from ..checklist import tail
from ..errors import HTTPError
from ..events import Verdict
from ..runbook import HttpStep
from .base import ABSENT, DIFFERS, MATCHED, UNANSWERED, Check, StepContext, failed, summary_of
from .plans import plan_http

plan = plan_http  # what the kind will do (plans.py: planning imports no run-time module)


def field_value(document: Any, dotted: str) -> tuple[bool, Any]:
    value = document
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def judge_json(document: Any, expected: dict[str, Any]) -> tuple[list[Check], dict[str, Any]]:
    """Each expected field: MATCHED; DIFFERS when it is there with another value or out of
    range; ABSENT when the field is missing, or is not a number where one is expected."""
    checks: list[Check] = []
    seen: dict[str, Any] = {}
    for dotted, want in expected.items():
        what = f"field {dotted}"
        found, value = field_value(document, dotted)
        if not found:
            checks.append(Check(what, ABSENT, f"the JSON has no field {dotted!r}"))
            continue
        seen[dotted] = value
        if isinstance(want, dict) and set(want) <= {"min", "max"}:
            if not isinstance(value, int | float):
                checks.append(Check(what, ABSENT, f"{dotted} is {value!r}, not a number"))
            elif "min" in want and value < want["min"]:
                checks.append(Check(what, DIFFERS, f"{dotted} is {value}, below {want['min']}"))
            elif "max" in want and value > want["max"]:
                checks.append(Check(what, DIFFERS, f"{dotted} is {value}, above {want['max']}"))
            else:
                checks.append(Check(what, MATCHED))
        elif value != want:
            checks.append(Check(what, DIFFERS, f"{dotted} is {json.dumps(value)}, expected "
                                               f"{json.dumps(want)}"))
        else:
            checks.append(Check(what, MATCHED))
    return checks, seen


def json_problems(document: Any, expected: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    checks, seen = judge_json(document, expected)
    return failed(checks), seen


def status_check(status: int, expected: int) -> Check:
    """Another status is a real answer of the server (DIFFERS: 503 while it starts, 502 behind
    a proxy), except a client error: 4xx (but 408 and 429) says the request itself is wrong —
    no such path, not allowed — so the check cannot pass (ABSENT)."""
    if status == expected:
        return Check("status", MATCHED)
    wrong_request = 400 <= status < 500 and status not in (408, 429)
    return Check("status", ABSENT if wrong_request else DIFFERS,
                 f"status {status}, expected {expected}")


def judge_response(step: HttpStep, status: int, body: str, document: Any,
                   latency_ms: float) -> tuple[list[Check], dict[str, Any]]:
    """Every expectation of ``step`` against one response; (checks, JSON fields seen)."""
    checks = [status_check(status, step.expect_status)]
    body_checks: list[Check] = []
    seen: dict[str, Any] = {}
    if step.expect_json:
        if document is None:
            body_checks.append(Check("JSON body", ABSENT, "the body is not JSON"))
        else:
            found, seen = judge_json(document, step.expect_json)
            body_checks += found
    for text in step.expect_contains:
        body_checks.append(Check(f"contains {text!r}", MATCHED) if text in body else
                           Check(f"contains {text!r}", ABSENT,
                                 f"the body does not contain {text!r}"))
    if not checks[0].ok:
        # The body answers another state (an error page): it cannot show a check is wrong.
        body_checks = [Check(c.what, DIFFERS, c.problem) if c.outcome == ABSENT else c
                       for c in body_checks]
    checks += body_checks
    if step.max_latency_ms:
        checks.append(Check("latency", MATCHED) if latency_ms <= step.max_latency_ms else
                      Check("latency", DIFFERS, f"latency {latency_ms:.0f} ms above "
                                                f"{step.max_latency_ms:g} ms"))
    return checks, seen


async def run(ctx: StepContext, step: HttpStep) -> Verdict:
    command = f"{step.method} {step.url}"
    for attempt in range(1, step.retries + 2):
        evidence: dict[str, Any] = {}
        try:
            result = await ctx.web.request(step.method, step.url, timeout=step.timeout)
        except HTTPError as exc:
            checks = [Check("answer", UNANSWERED, str(exc))]
            body = ""
        else:
            body = result.text
            evidence.update(status=result.status, latency_ms=round(result.latency_ms, 1))
            ctx.say(f"{command} → {result.status} in {result.latency_ms:.0f} ms")
            for line in body.splitlines()[:30]:
                ctx.say(line, stream="stdout")
            document = result.json() if step.expect_json else None
            checks, values = judge_response(step, result.status, body, document,
                                            result.latency_ms)
            if document is not None:
                evidence["fields"] = values
        problems = failed(checks)
        if not problems or attempt > step.retries:
            break
        ctx.say(f"attempt {attempt}: {problems[0]}; retrying in {step.retry_interval:g}s")
        await ctx.clock.sleep(step.retry_interval)
    return Verdict(
        ok=not problems,
        summary=summary_of(problems, f"{command} ok"),
        command=command,
        exit_status=evidence.get("status"),
        output=tail(ctx.masker(body), 20),
        evidence=evidence,
        checks=checks,
    )
