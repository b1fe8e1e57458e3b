"""The monitoring week as one frozen picture, for the wizard's monitoring screen (and anything
else that shows it): the day grid, each rule's state with its recent values, the time left,
the watcher's heartbeat. Read from the run record and the watcher's store, never written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clock import parse_iso
from ..records import RunRecords, StepState
from ..runbook import Runbook
from .days import announced_at, base_id, monitoring_days, week_end
from .record import active_silence, flag_tables
from .store import Heartbeat, WatchStore

# A day's check as the grid shows it.
DONE, MISSING, RED, NOT_YET = "done", "missing", "red", "not yet"


@dataclass(frozen=True)
class DayRow:
    number: int
    due_at: float | None
    cells: tuple[tuple[str, str], ...]  # (check's base id, DONE / MISSING / RED / NOT_YET)


@dataclass(frozen=True)
class RuleRow:
    rule: str
    description: str
    state: str  # ok, pending, firing, resolved
    since: str  # first_seen / fired_at / resolved_at as recorded, "" when ok
    values: tuple[float, ...]  # recent measured values, oldest first (for a sparkline)
    last: str  # the last observation's detail
    silenced_until: float | None


@dataclass(frozen=True)
class WeekView:
    started_at: float | None  # the announcement
    ends_at: float | None  # the last day's checks due
    columns: tuple[str, ...]  # the daily checks' base ids
    days: tuple[DayRow, ...]
    rules: tuple[RuleRow, ...]
    heartbeat: Heartbeat | None
    watcher_alive: bool

    @property
    def firing(self) -> tuple[RuleRow, ...]:
        return tuple(rule for rule in self.rules if rule.state == "firing")

    def left(self, now: float) -> float | None:
        return None if self.ends_at is None else max(0.0, self.ends_at - now)


def _cell(state: StepState, due: float | None, now: float) -> str:
    if state in (StepState.DONE, StepState.SKIPPED):
        return DONE
    if state in (StepState.FAILED, StepState.INTERRUPTED):
        return RED
    return MISSING if due is not None and due <= now else NOT_YET


def week_view(book: Runbook, records: RunRecords, store: WatchStore | None,
              now: float) -> WeekView:
    days = monitoring_days(book, records)
    columns: list[str] = []
    for day in days:
        for step_id in day.checks:
            if base_id(step_id) not in columns:
                columns.append(base_id(step_id))
    rows = tuple(DayRow(day.number, day.due_at, tuple(
        (base_id(step_id), _cell(records[step_id].state, day.due_at, now))
        for step_id in day.checks)) for day in days)
    tables: Mapping[str, Any] = flag_tables(records.data)
    rules = []
    for flag in book.red_flags:
        if not flag.watched:
            continue
        table = tables.get(flag.id)
        table = table if isinstance(table, Mapping) else {}
        state = str(table.get("state", "ok"))
        since = {"pending": "first_seen", "firing": "fired_at",
                 "resolved": "resolved_at"}.get(state, "")
        samples = store.samples(flag.id, limit=30) if store is not None else []
        values = _spark_values(samples)
        silence = active_silence(records.data, flag.id, now)
        rules.append(RuleRow(flag.id, flag.description, state, str(table.get(since, "")),
                             values, samples[-1].detail if samples else "",
                             silence.until if silence else None))
    heartbeat = store.heartbeat() if store is not None else None
    return WeekView(announced_at(book, records), week_end(days), tuple(columns), rows,
                    tuple(rules), heartbeat,
                    heartbeat is not None and heartbeat.alive(now))


def _spark_values(samples: list[Any]) -> tuple[float, ...]:
    """The numbers a sparkline draws: each sample's measured value; a failed probe (no answer,
    a wrong one) is drawn as a spike twice the highest good value, so an outage never looks like
    a run of fast answers."""
    good = [s.value for s in samples if s.ok and s.value is not None]
    spike = 2 * max(good) if good and max(good) > 0 else 1.0
    return tuple(s.value if s.ok and s.value is not None else
                 (spike if not s.ok else 0.0) for s in samples)


def since_text(value: str) -> float | None:
    try:
        return parse_iso(value)
    except ValueError:
        return None
