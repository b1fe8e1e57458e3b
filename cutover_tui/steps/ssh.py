"""``ssh``: run a command on a host; check exit status, regexes and a captured number."""

from __future__ import annotations

from ..checklist import tail
from ..errors import cause_of
from ..events import PlanItem, Verdict
from ..runbook import Runbook, SshStep
from .base import (
    UNANSWERED,
    Check,
    StepContext,
    exit_check,
    failed,
    judge_output_in_worker,
    ssh_item,
    summary_of,
)


def plan(book: Runbook, step: SshStep) -> list[PlanItem]:
    items = [ssh_item(book, step.host, step.command)]
    if step.follow_seconds:
        items.append(PlanItem("engine", f"watch for {step.follow_seconds:g}s, then stop"))
    checks = [f"output matches /{pattern}/" for pattern in step.expect_regex]
    checks += [f"output has no /{pattern}/" for pattern in step.reject_regex]
    if step.number is not None:
        bounds = [f"≥ {step.number.min:g}" if step.number.min is not None else "",
                  f"≤ {step.number.max:g}" if step.number.max is not None else ""]
        checks.append(f"{step.number.label} from /{step.number.regex}/ "
                      f"{' and '.join(b for b in bounds if b)}".rstrip())
    items += [PlanItem("check", check) for check in checks]
    return items


async def run(ctx: StepContext, step: SshStep) -> Verdict:
    attempts = step.retries + 1
    for attempt in range(1, attempts + 1):
        result = await ctx.ssh.run(step.host, step.command, on_line=ctx.line_sink(step.host),
                                   timeout=step.timeout, follow_seconds=step.follow_seconds)
        checks, evidence = await judge_output_in_worker(
            result.output, step.expect_regex, step.reject_regex, step.number, step.command)
        if result.timed_out:
            checks.insert(0, Check("result", UNANSWERED, f"no result within {step.timeout:g}s"))
        elif step.expect_exit is not None and step.follow_seconds is None:
            checks.insert(0, exit_check(
                result.exit_status, step.expect_exit,
                cause_of(result.output) if result.exit_status != step.expect_exit else ""))
        problems = failed(checks)
        if not problems or attempt == attempts:
            break
        ctx.say(f"attempt {attempt}/{attempts}: {problems[0]}; retrying in "
                f"{step.retry_interval:g}s")
        await ctx.clock.sleep(step.retry_interval)
    return Verdict(
        ok=not problems,
        summary=summary_of(problems, f"ok on {step.host}"),
        command=step.command,
        exit_status=result.exit_status,
        output=tail(ctx.masker(result.output)),  # whole: a tail may start inside a key
        evidence=evidence,
        checks=checks,
    )
