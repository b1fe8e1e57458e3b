"""``local``: a command on the operator's machine (the test suite, git), with a pass threshold
such as "40 of 48"."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from pathlib import Path

from ..checklist import tail
from ..errors import cause_of
from ..events import PlanItem, Verdict
from ..runbook import LocalStep, Runbook
from .base import ABSENT, DIFFERS, MATCHED, UNANSWERED, Check, StepContext, exit_check, failed


def plan(book: Runbook, step: LocalStep) -> list[PlanItem]:
    env = " ".join(f"{k}={v}" for k, v in step.env.items())
    where = f"local (in {step.cwd})" if step.cwd else "local"
    items = [PlanItem(where, f"{env + ' ' if env else ''}{step.command}")]
    if step.threshold:
        total = f" of {step.threshold.of}" if step.threshold.of else ""
        items.append(PlanItem("check", f"at least {step.threshold.min_passed}{total} pass"))
    return items


async def run_local(ctx: StepContext, command: str, cwd: Path, env: dict[str, str],
                    timeout: float) -> tuple[int | None, str, float]:
    started = time.monotonic()
    process = await asyncio.create_subprocess_shell(
        command, cwd=cwd, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
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
        await asyncio.wait_for(pump(), timeout)
        status: int | None = await process.wait()
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        await process.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        status = None
    return status, "\n".join(lines), time.monotonic() - started


async def run(ctx: StepContext, step: LocalStep) -> Verdict:
    cwd = Path(os.path.expanduser(step.cwd)) if step.cwd else ctx.workdir
    if not cwd.is_dir():
        problem = f"the directory {cwd} does not exist on this machine"
        return Verdict(False, problem, command=step.command,
                       checks=[Check("directory", ABSENT, problem)])
    status, output, _seconds = await run_local(ctx, step.command, cwd, step.env, step.timeout)
    checks: list[Check] = []
    evidence: dict = {}
    if status is None:
        checks.append(Check("result", UNANSWERED, f"no result within {step.timeout:g}s; stopped"))
    if step.threshold:
        # The last summary line counts: runners print per-file results before the total.
        matches = list(re.finditer(step.threshold.regex, output, re.MULTILINE))
        match = matches[-1] if matches else None
        if match is None:
            checks.append(Check("passed", ABSENT, "no test result found in the output "
                                                  f"(/{step.threshold.regex}/)"))
        else:
            passed = int(match.group(1))
            total = int(match.group(2)) if match.re.groups >= 2 and match.group(2) else None
            evidence.update(passed=passed, total=total)
            checks.append(Check("passed", MATCHED) if passed >= step.threshold.min_passed else
                          Check("passed", DIFFERS, f"{passed} passed, below the threshold of "
                                                   f"{step.threshold.min_passed}"))
    elif step.expect_exit is not None and status is not None:
        checks.append(exit_check(status, step.expect_exit,
                                 cause_of(output) if status != step.expect_exit else ""))
    problems = failed(checks)
    summary = "; ".join(problems) or (
        f"{evidence['passed']} passed (threshold {step.threshold.min_passed})"
        if step.threshold else "ok")
    return Verdict(not problems, summary, command=step.command, exit_status=status,
                   output=tail(ctx.masker(output)), evidence=evidence, checks=checks)
