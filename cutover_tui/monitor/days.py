"""The monitoring week's days, read from the runbook and the run record: when each day's checks
are due (its wait step: N days after the announcement) and which of them the watcher can run
unattended (waits, http requests, ssh steps that change nothing) and which need a person
(manual confirmations: the digest in the inbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..clock import parse_iso
from ..durations import parse_duration
from ..records import RunRecords, StepState
from ..runbook import Runbook

DAY_SUFFIX = ".d"


@dataclass(frozen=True)
class Day:
    phase_id: str
    number: int
    due_at: float | None  # None until the step it counts from (the announcement) is done
    steps: tuple[str, ...]  # every step of the day, in the runbook's order
    unattended: tuple[str, ...]  # what the watcher runs: waits and checks that change nothing
    checks: tuple[str, ...]  # the day's checks (the grid's columns): all but the wait


def day_number(step_id: str) -> int | None:
    head, sep, tail = step_id.rpartition(DAY_SUFFIX)
    return int(tail) if sep and head and tail.isdigit() else None


def base_id(step_id: str) -> str:
    """``7.1-health.d3`` → ``7.1-health``."""
    return step_id.rpartition(DAY_SUFFIX)[0] if day_number(step_id) is not None else step_id


def runs_unattended(step: Any) -> bool:
    if step.kind in ("wait", "http"):
        return step.kind == "wait" or step.method in ("GET", "HEAD")
    return step.kind == "ssh" and step.changes is False


def _due(step: Any, records: RunRecords) -> float | None:
    if step.kind != "wait" or not step.since_step or not step.after:
        return None
    since = records[step.since_step]
    if since.state is not StepState.DONE or not since.finished_at:
        return None
    return parse_iso(since.finished_at) + parse_duration(step.after)


def monitoring_days(book: Runbook, records: RunRecords) -> list[Day]:
    """Every day of every repeated phase (the monitoring week), in order."""
    days: list[Day] = []
    for phase in book.phases:
        if not phase.repeat:
            continue
        by_day: dict[int, list[Any]] = {}
        for step in phase.steps:
            number = day_number(step.id)
            if number is not None:
                by_day.setdefault(number, []).append(step)
        for number, steps in sorted(by_day.items()):
            waits = [s for s in steps if s.kind == "wait"]
            due = _due(waits[0], records) if waits else None
            days.append(Day(phase.id, number, due, tuple(s.id for s in steps),
                            tuple(s.id for s in steps if runs_unattended(s)),
                            tuple(s.id for s in steps if s.kind != "wait")))
    return days


def week_end(days: list[Day]) -> float | None:
    """When the last day's checks are due, None before the announcement."""
    dues = [d.due_at for d in days if d.due_at is not None]
    return max(dues) if dues and len(dues) == len(days) else None


def announced_at(book: Runbook, records: RunRecords) -> float | None:
    """When the monitoring week started: the finish of the step its first wait counts from
    (the announcement), None before it."""
    for phase in book.phases:
        if not phase.repeat:
            continue
        for step in phase.steps:
            if step.kind == "wait" and step.since_step:
                since = records[step.since_step]
                if since.state is StepState.DONE and since.finished_at:
                    return parse_iso(since.finished_at)
                return None
    return None
