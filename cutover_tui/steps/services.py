"""``services``: systemctl status/start/stop/restart across units, with the state parsed."""

from __future__ import annotations

import re
import shlex

from ..checklist import tail
from ..errors import cause_of
from ..events import Verdict
from ..runbook import ServicesStep
from .base import ABSENT, DIFFERS, MATCHED, Check, StepContext
from .plans import expected_state, plan_services
from .plans import service_commands as commands

plan = plan_services  # what the kind will do (plans.py: planning imports no run-time module)

ACTIVE_LINE = re.compile(r"^\s*Active:\s+(\S+)\s+\(([^)]*)\)", re.MULTILINE)


def parse_status(output: str) -> str:
    """'active (running)', 'inactive (dead)', 'failed (Result: exit-code)' or 'unknown'."""
    match = ACTIVE_LINE.search(output)
    return f"{match.group(1)} ({match.group(2)})" if match else "unknown"


async def run(ctx: StepContext, step: ServicesStep) -> Verdict:
    outputs: list[str] = []
    problems: list[str] = []
    sink = ctx.line_sink(step.host)
    if step.action != "status":
        for unit in step.units:
            command = f"systemctl {step.action} {shlex.quote(unit)}"
            result = await ctx.ssh.run(step.host, command, on_line=sink, timeout=90)
            outputs.append(f"$ {command}\n{result.output}")
            if result.exit_status != 0:
                problems.append(f"`{command}` exited {result.exit_status} on {step.host}: "
                                f"{cause_of(result.output)}")
            if step.pause_after.get(unit):
                ctx.say(f"waiting {step.pause_after[unit]:g}s after {step.action} {unit}")
                await ctx.clock.sleep(step.pause_after[unit])
    if step.settle_seconds:
        await ctx.clock.sleep(step.settle_seconds)
    want = expected_state(step)
    states: dict[str, str] = {}
    checks = [Check("action", DIFFERS, problem) for problem in problems]  # actions that failed
    for unit in step.units:
        command = f"systemctl status {shlex.quote(unit)} --no-pager"
        result = await ctx.ssh.run(step.host, command, on_line=sink, timeout=30)
        outputs.append(f"$ {command}\n{result.output}")
        states[unit] = parse_status(result.output)
        # "active (running)" must match whole; any "inactive (...)" counts as stopped.
        stopped = want.startswith("inactive") and states[unit].startswith("inactive")
        if states[unit] != want and not stopped:
            problem = f"{unit} on {step.host} is {states[unit]}, expected {want}"
            problems.append(problem)
            # No "Active:" line at all (no such unit): the check cannot pass on this host.
            checks.append(Check(unit, ABSENT if states[unit] == "unknown" else DIFFERS, problem))
        else:
            checks.append(Check(unit, MATCHED))
    return Verdict(
        ok=not problems,
        summary="; ".join(problems) or f"{len(step.units)} unit(s) {want} on {step.host}",
        command="\n".join(commands(step)),
        exit_status=0 if not problems else 1,
        output=tail(ctx.masker("\n".join(outputs))),
        evidence={"states": states},
        checks=checks,
    )
