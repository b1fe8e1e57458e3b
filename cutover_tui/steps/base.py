"""What every step kind shares: the context it runs in and small helpers.

A step kind is a module with two functions:

- ``plan(book, step) -> list[PlanItem]``: what it will do, exactly, before it runs;
- ``async run(ctx, step) -> Verdict``: do it, streaming events through ``ctx``; raise a
  ``CutoverError`` (or return a failed verdict) with a sentence when it cannot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checklist import Checklist
from ..clock import Clock
from ..events import OutputLine, PlanItem, Progress, StepEvent
from ..masking import Masker
from ..operator import Operator
from ..runbook import Runbook


@dataclass
class StepContext:
    book: Runbook
    checklist: Checklist
    operator: Operator
    ssh: Any  # remote.ssh.SSHPool
    web: Any  # remote.web.Web
    clock: Clock
    masker: Masker
    emit: Callable[[StepEvent], None]
    droplets: Callable[[], Any]  # returns a remote.droplets.DropletAPI, created on first use
    workdir: Path = field(default_factory=Path.cwd)
    step_id: str = ""

    def say(self, text: str, stream: str = "info", host: str = "") -> None:
        self.emit(OutputLine(self.step_id, self.masker(text), stream, host))

    def line_sink(self, host: str) -> Callable[[str], None]:
        return lambda line: self.emit(OutputLine(self.step_id, self.masker(line), "stdout", host))

    def progress(self, done: float, total: float | None, label: str = "") -> None:
        self.emit(Progress(self.step_id, done, total, label))

    def record(self, step_id: str) -> dict[str, Any]:
        return self.checklist.read().get("steps", {}).get(step_id, {})


def where(book: Runbook, host_name: str) -> str:
    host = book.hosts[host_name]
    return f"{host_name} ({host.user}@{host.address}:{host.port})"


def ssh_item(book: Runbook, host_name: str, command: str) -> PlanItem:
    return PlanItem(where(book, host_name), command)


def check_output(output: str, expect_regex: list[str], reject_regex: list[str],
                 number: Any) -> tuple[list[str], dict[str, Any]]:
    """Apply regex and number checks to output; return (problems, evidence)."""
    problems: list[str] = []
    evidence: dict[str, Any] = {}
    for pattern in expect_regex:
        if not re.search(pattern, output, re.MULTILINE):
            problems.append(f"expected output matching /{pattern}/ was not found")
    for pattern in reject_regex:
        found = re.search(pattern, output, re.MULTILINE)
        if found:
            problems.append(f"output contains {found.group(0)!r} (matches /{pattern}/)")
    if number is not None:
        match = re.search(number.regex, output, re.MULTILINE)
        if not match:
            problems.append(f"no {number.label} found in the output (/{number.regex}/)")
        else:
            try:
                value = float(match.group(1))
            except ValueError:
                problems.append(f"{number.label} {match.group(1)!r} is not a number")
            else:
                evidence[number.label] = int(value) if value.is_integer() else value
                if number.min is not None and value < number.min:
                    problems.append(f"{number.label} is {value:g}, below the minimum "
                                    f"{number.min:g}")
                if number.max is not None and value > number.max:
                    problems.append(f"{number.label} is {value:g}, above the maximum "
                                    f"{number.max:g}")
    return problems, evidence


def summary_of(problems: list[str], ok_text: str) -> str:
    return ok_text if not problems else "; ".join(problems)
