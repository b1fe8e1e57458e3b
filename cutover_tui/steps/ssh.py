"""``ssh``: run a command on a host; check exit status, regexes and a captured number."""

from __future__ import annotations

from ..checklist import tail
from ..errors import cause_of
from ..events import Verdict
from ..runbook import SshStep
from .base import (
    UNANSWERED,
    Check,
    StepContext,
    exit_check,
    failed,
    judge_output_in_worker,
    summary_of,
)
from .plans import plan_ssh

plan = plan_ssh  # what the kind will do (plans.py: planning imports no run-time module)


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
