"""What every step kind shares: the context it runs in and small helpers.

A step kind is a module with two functions:

- ``plan(book, step) -> list[PlanItem]``: what it will do, exactly, before it runs;
- ``async run(ctx, step) -> Verdict``: do it, streaming events through ``ctx``; raise a
  ``CutoverError`` (or return a failed verdict) with a sentence when it cannot.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checklist import Checklist
from ..clock import Clock
from ..events import OutputLine, Progress, StepEvent
from ..masking import Masker
from ..operator import Operator
from ..patterns import RegexTooSlow, search
from ..records import RunRecords, StepRecord
from ..remote.protocols import DropletsAPI, SSHRunner, WebClient
from ..runbook import Runbook


@dataclass
class StepContext:
    book: Runbook
    checklist: Checklist
    operator: Operator
    ssh: SSHRunner
    web: WebClient
    clock: Clock
    masker: Masker
    emit: Callable[[StepEvent], None]
    droplets: Callable[[], DropletsAPI]  # the API, created on first use
    workdir: Path = field(default_factory=Path.cwd)
    step_id: str = ""

    def say(self, text: str, stream: str = "info", host: str = "") -> None:
        self.emit(OutputLine(self.step_id, self.masker(text), stream, host))

    def line_sink(self, host: str) -> Callable[[str], None]:
        mask = self.masker.stream()  # a private key's lines arrive one by one
        return lambda line: self.emit(OutputLine(self.step_id, mask(line), "stdout", host))

    def progress(self, done: float, total: float | None, label: str = "") -> None:
        self.emit(Progress(self.step_id, done, total, label))

    @property
    def records(self) -> RunRecords:
        """Every step's record, read-only: the checklist as the engine re-read it when this step
        started (``Engine.run_step``), with this run's own writes since. No file read."""
        return self.checklist.records

    def record(self, step_id: str) -> StepRecord:
        return self.records[step_id]

    def fresh_records(self) -> RunRecords:
        """The records re-read from the file now, for a check that must see what another
        operator recorded while this step ran (the destroy's preconditions, checked again after
        the name was typed)."""
        self.checklist.read()
        return self.checklist.records


# What a check found, for the step's verdict and for `cutover preflight`: the expectation held
# (MATCHED); what it looks at is there with another value — a field, a number out of range, a
# real answer of the command or the server (DIFFERS); what it looks for is not in the output at
# all, so the check is wrong for these hosts (ABSENT); or there was no answer to judge
# (UNANSWERED: a timeout, a refused connection).
MATCHED, DIFFERS, ABSENT, UNANSWERED = "matched", "differs", "absent", "unanswered"


@dataclass(frozen=True)
class Check:
    """One expectation of a step, judged against what the step saw."""

    what: str  # "/pattern/", "roles", "exit status", "status", "field environment" ...
    outcome: str  # MATCHED, DIFFERS, ABSENT or UNANSWERED
    problem: str = ""  # the sentence the step reports when it did not hold

    @property
    def ok(self) -> bool:
        return self.outcome == MATCHED


def failed(checks: list[Check]) -> list[str]:
    return [check.problem for check in checks if not check.ok]


# `… || echo 'no app processes'`: text the command itself prints in one of its branches.
_ECHOED = re.compile(r"""\b(?:echo|printf)\s+(?:-[neE]+\s+)*('([^']*)'|"([^"]*)"|([^|;&)\n]+))""")
_JSON_KEY = re.compile(r'^"([\w.-]+)":')


def _absent_or_differs(pattern: str, output: str, command: str) -> str:
    """An expected pattern that did not match: DIFFERS when the step can be seen to produce it
    in another state — the command echoes matching text in one of its branches, or the pattern
    is a JSON field (``"status": "healthy"``) whose field is in the output with another value;
    otherwise ABSENT (nothing shows the step could ever print it)."""
    for match in _ECHOED.finditer(command):
        text = next(g for g in match.groups()[1:] if g is not None)
        try:
            if search(pattern, text.strip()):
                return DIFFERS
        except RegexTooSlow:
            continue
    key = _JSON_KEY.match(pattern)
    if key and re.search(rf'"{re.escape(key.group(1))}"\s*:', output):
        return DIFFERS
    return ABSENT


def exit_check(status: int | None, expected: int, cause: str = "") -> Check:
    """An exit status other than the expected one is an answer of the command (DIFFERS), except
    126/127: the shell could not run it at all (not executable, not found). ``cause`` (what the
    output says went wrong) ends the problem's sentence."""
    if status == expected:
        return Check("exit status", MATCHED)
    return Check("exit status", ABSENT if status in (126, 127) else DIFFERS,
                 f"exit status {status}, expected {expected}" + (f": {cause}" if cause else ""))


def judge_output(output: str, expect_regex: Sequence[str], reject_regex: Sequence[str], number: Any,
                 command: str = "") -> tuple[list[Check], dict[str, Any]]:
    """Apply regex and number checks to output; return (checks, evidence). Each regex is
    bounded in time (``patterns``): one that does not finish is a failed check saying so (the
    regex is wrong for this output: ABSENT). Blocking: run it with ``judge_output_in_worker``
    from a step."""
    checks: list[Check] = []
    evidence: dict[str, Any] = {}
    for pattern in expect_regex:
        try:
            found = search(pattern, output)
        except RegexTooSlow as exc:
            checks.append(Check(f"/{pattern}/", ABSENT, str(exc)))
            continue
        if found:
            checks.append(Check(f"/{pattern}/", MATCHED))
        else:
            checks.append(Check(f"/{pattern}/", _absent_or_differs(pattern, output, command),
                                f"expected output matching /{pattern}/ was not found"))
    for pattern in reject_regex:
        try:
            found = search(pattern, output)
        except RegexTooSlow as exc:
            checks.append(Check(f"not /{pattern}/", ABSENT, str(exc)))
            continue
        # Output that contains what it must not can stop containing it: never ABSENT.
        checks.append(Check(f"not /{pattern}/", DIFFERS, f"output contains {found.group(0)!r} "
                            f"(matches /{pattern}/)") if found else
                      Check(f"not /{pattern}/", MATCHED))
    if number is not None:
        try:
            match = search(number.regex, output)
            slow = ""
        except RegexTooSlow as exc:
            match, slow = None, str(exc)
        if match is None:
            checks.append(Check(number.label, ABSENT, slow or f"no {number.label} found in the "
                                                              f"output (/{number.regex}/)"))
        else:
            try:
                value = float(match.group(1))
            except (TypeError, ValueError):
                checks.append(Check(number.label, ABSENT,
                                    f"{number.label} {match.group(1)!r} is not a number"))
            else:
                evidence[number.label] = int(value) if value.is_integer() else value
                problems = []
                if number.min is not None and value < number.min:
                    problems.append(f"{number.label} is {value:g}, below the minimum "
                                    f"{number.min:g}")
                if number.max is not None and value > number.max:
                    problems.append(f"{number.label} is {value:g}, above the maximum "
                                    f"{number.max:g}")
                checks.append(Check(number.label, DIFFERS if problems else MATCHED,
                                    "; ".join(problems)))
    return checks, evidence


async def judge_output_in_worker(output: str, expect_regex: Sequence[str],
                                 reject_regex: Sequence[str],
                                 number: Any, command: str = ""
                                 ) -> tuple[list[Check], dict[str, Any]]:
    """``judge_output`` in a worker thread: the event loop (the UI, the health panel, other
    steps) goes on while the regexes run, each within its time limit."""
    judge = functools.partial(judge_output, output, expect_regex, reject_regex, number, command)
    return await asyncio.to_thread(judge)  # guard: regex-worker-thread


def check_output(output: str, expect_regex: list[str], reject_regex: list[str],
                 number: Any) -> tuple[list[str], dict[str, Any]]:
    """Apply regex and number checks to output; return (problems, evidence)."""
    checks, evidence = judge_output(output, expect_regex, reject_regex, number)
    return failed(checks), evidence


def summary_of(problems: list[str], ok_text: str) -> str:
    return ok_text if not problems else "; ".join(problems)
