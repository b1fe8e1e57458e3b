"""``local``: a command on the operator's machine (the test suite, git), with a pass threshold
such as "40 of 48"."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..aio import bounded
from ..checklist import tail
from ..credentials import local_env
from ..errors import cause_of
from ..events import Verdict
from ..patterns import RegexTooSlow, finditer
from ..runbook import LocalStep, PassThreshold
from .base import ABSENT, DIFFERS, MATCHED, UNANSWERED, Check, StepContext, exit_check, failed
from .plans import plan_local

plan = plan_local  # what the kind will do (plans.py: planning imports no run-time module)

# A command stopped (timed out, or the step cancelled) gets SIGTERM, then SIGKILL this much later:
# its whole process group, children included.
KILL_GRACE_SECONDS = 5


async def run_local(ctx: StepContext, command: str, cwd: Path, env: dict[str, str],
                    timeout: float, pass_env: Sequence[str] = ()
                    ) -> tuple[int | None, str, float]:
    started = time.monotonic()
    process = await asyncio.create_subprocess_shell(
        # Without the tool's credentials (DigitalOcean token, scratch database) unless passed.
        command, cwd=cwd, env=local_env(pass_env, env), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    lines: list[str] = []
    sink = ctx.line_sink("local")

    async def pump() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            lines.append(line)
            sink(line)

    try:
        await bounded(pump(), timeout)
        status: int | None = await process.wait()
    except (TimeoutError, asyncio.CancelledError) as exc:
        await asyncio.shield(stop_group(process))
        if isinstance(exc, asyncio.CancelledError):
            raise
        status = None
    return status, "\n".join(lines), time.monotonic() - started


async def stop_group(process: asyncio.subprocess.Process,
                     grace: float | None = None) -> None:
    """End a command started with ``start_new_session=True`` and everything it started:
    SIGTERM to its process group, SIGKILL to the group after ``grace`` seconds."""
    grace = KILL_GRACE_SECONDS if grace is None else grace
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await bounded(process.wait(), grace)
    _signal_group(process.pid, signal.SIGKILL)  # guard: local-kill-after-grace
    # wait() also waits for the pipes: a process that left the group may still hold one.
    with contextlib.suppress(TimeoutError):
        await bounded(process.wait(), grace)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def judge_threshold(output: str, threshold: PassThreshold) -> tuple[Check, dict[str, Any]]:
    """The pass threshold against a test run's output: (check, evidence). Blocking (a regex
    with its time limit): run it in a worker thread."""
    # The last summary line counts: runners print per-file results before the total.
    try:
        matches = list(finditer(threshold.regex, output))
    except RegexTooSlow as exc:
        return Check("passed", ABSENT, str(exc)), {}
    match = matches[-1] if matches else None
    if match is None:
        return Check("passed", ABSENT, "no test result found in the output "
                                       f"(/{threshold.regex}/)"), {}
    counts = [match.group(1), match.group(2) if match.re.groups >= 2 else None]
    if not (counts[0] or "").isdigit() or not (counts[1] or "0").isdigit():
        return Check("passed", ABSENT, f"the test result {match.group(0)!r} has no count of "
                                       f"passed tests in /{threshold.regex}/'s groups"), {}
    passed = int(counts[0])
    evidence = {"passed": passed, "total": int(counts[1]) if counts[1] else None}
    if passed < threshold.min_passed:
        return Check("passed", DIFFERS, f"{passed} passed, below the threshold of "
                                        f"{threshold.min_passed}"), evidence
    return Check("passed", MATCHED), evidence


async def run(ctx: StepContext, step: LocalStep) -> Verdict:
    cwd = Path(os.path.expanduser(step.cwd)) if step.cwd else ctx.workdir
    if not cwd.is_dir():
        problem = f"the directory {cwd} does not exist on this machine"
        return Verdict(False, problem, command=step.command,
                       checks=[Check("directory", ABSENT, problem)])
    status, output, _seconds = await run_local(ctx, step.command, cwd, step.env, step.timeout,
                                               step.pass_env)
    checks: list[Check] = []
    evidence: dict[str, Any] = {}
    if status is None:
        checks.append(Check("result", UNANSWERED, f"no result within {step.timeout:g}s; stopped"))
    if step.threshold:
        found, evidence = await asyncio.to_thread(judge_threshold, output, step.threshold)
        checks.append(found)
    elif step.expect_exit is not None and status is not None:
        checks.append(exit_check(status, step.expect_exit,
                                 cause_of(output) if status != step.expect_exit else ""))
    problems = failed(checks)
    summary = "; ".join(problems) or (
        f"{evidence['passed']} passed (threshold {step.threshold.min_passed})"
        if step.threshold else "ok")
    return Verdict(not problems, summary, command=step.command, exit_status=status,
                   output=tail(ctx.masker(output)), evidence=evidence, checks=checks)
