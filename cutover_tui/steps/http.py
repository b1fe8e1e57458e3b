"""``http``: a request from the operator's machine; check status, JSON fields, body, latency."""

from __future__ import annotations

import json
from typing import Any

from ..checklist import tail
from ..errors import HTTPError
from ..events import PlanItem, Verdict
from ..runbook import HttpStep, Runbook
from .base import StepContext, summary_of


def plan(book: Runbook, step: HttpStep) -> list[PlanItem]:
    checks = [f"status {step.expect_status}"]
    checks += [f"{k} = {json.dumps(v)}" for k, v in step.expect_json.items()]
    checks += [f"body contains {c!r}" for c in step.expect_contains]
    if step.max_latency_ms:
        checks.append(f"latency ≤ {step.max_latency_ms:g} ms")
    return [PlanItem("local", f"{step.method} {step.url}  (expect {', '.join(checks)})")]


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


def json_problems(document: Any, expected: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    seen: dict[str, Any] = {}
    for dotted, want in expected.items():
        found, value = field_value(document, dotted)
        if not found:
            problems.append(f"the JSON has no field {dotted!r}")
            continue
        seen[dotted] = value
        if isinstance(want, dict) and set(want) <= {"min", "max"}:
            if not isinstance(value, int | float):
                problems.append(f"{dotted} is {value!r}, not a number")
            elif "min" in want and value < want["min"]:
                problems.append(f"{dotted} is {value}, below {want['min']}")
            elif "max" in want and value > want["max"]:
                problems.append(f"{dotted} is {value}, above {want['max']}")
        elif value != want:
            problems.append(f"{dotted} is {json.dumps(value)}, expected {json.dumps(want)}")
    return problems, seen


async def run(ctx: StepContext, step: HttpStep) -> Verdict:
    command = f"{step.method} {step.url}"
    for attempt in range(1, step.retries + 2):
        problems: list[str] = []
        evidence: dict[str, Any] = {}
        try:
            result = await ctx.web.request(step.method, step.url, timeout=step.timeout)
        except HTTPError as exc:
            problems = [str(exc)]
            body = ""
        else:
            body = result.text
            evidence.update(status=result.status, latency_ms=round(result.latency_ms, 1))
            ctx.say(f"{command} → {result.status} in {result.latency_ms:.0f} ms")
            for line in body.splitlines()[:30]:
                ctx.say(line, stream="stdout")
            if result.status != step.expect_status:
                problems.append(f"status {result.status}, expected {step.expect_status}")
            if step.expect_json:
                document = result.json()
                if document is None:
                    problems.append("the body is not JSON")
                else:
                    found, values = json_problems(document, step.expect_json)
                    problems += found
                    evidence["fields"] = values
            for text in step.expect_contains:
                if text not in body:
                    problems.append(f"the body does not contain {text!r}")
            if step.max_latency_ms and result.latency_ms > step.max_latency_ms:
                problems.append(f"latency {result.latency_ms:.0f} ms above "
                                f"{step.max_latency_ms:g} ms")
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
    )
