"""``ssh``: run a command on a host; check exit status, regexes and a captured number."""

from __future__ import annotations

from ..checklist import tail
from ..events import PlanItem, Verdict
from ..runbook import Runbook, SshStep
from .base import StepContext, check_output, ssh_item, summary_of


def plan(book: Runbook, step: SshStep) -> list[PlanItem]:
    item = ssh_item(book, step.host, step.command)
    if step.follow_seconds:
        return [item, PlanItem("engine", f"watch for {step.follow_seconds:g}s, then stop")]
    return [item]


async def run(ctx: StepContext, step: SshStep) -> Verdict:
    attempts = step.retries + 1
    for attempt in range(1, attempts + 1):
        result = await ctx.ssh.run(step.host, step.command, on_line=ctx.line_sink(step.host),
                                   timeout=step.timeout, follow_seconds=step.follow_seconds)
        problems, evidence = check_output(result.output, step.expect_regex, step.reject_regex,
                                          step.number)
        if result.timed_out:
            problems.insert(0, f"no result within {step.timeout:g}s")
        elif step.expect_exit is not None and step.follow_seconds is None \
                and result.exit_status != step.expect_exit:
            problems.insert(0, f"exit status {result.exit_status}, expected {step.expect_exit}")
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
        output=tail(result.output),
        evidence=evidence,
    )
