"""What the monitoring week leaves in the run record (the checklist): each rule's transitions
under ``[red_flags."<rule id>"]`` and the silences under ``[[silences]]``. Samples stay in the
watcher's SQLite store; the checklist keeps only what a reviewer and the destroy need, so it
stays small.

    [red_flags.health]
    state = "firing"                   # ok, pending, firing, resolved
    description = "Health checks fail for more than 1 hour"
    first_seen = "2026-12-04T08:00:00Z"
    fired_at = "2026-12-04T09:00:00Z"
    resolved_at = "2026-12-04T10:20:00Z"  # fired_at, resolved_at: the last episode that fired
    values = ["2026-12-04T08:00:00Z connection refused", …]   # the observations that fired it
    transitions = ["2026-12-04T08:00:00Z pending: connection refused", …]
    notifications = ["2026-12-04T09:00:00Z firing → json://127.0.0.1/… delivered (1 attempt)"]

    [[silences]]
    rule = "health"; from = "…"; until = "…"; reason = "…"; by = "ops-a"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..checklist import Checklist
from ..clock import iso, parse_iso
from ..masking import Masker
from .rules import Transition

MAX_LINES = 50  # transitions and notifications kept per rule: the store has the rest
UNRESOLVED = ("pending", "firing")


@dataclass(frozen=True)
class Silence:
    rule: str
    start: float
    until: float
    reason: str
    by: str

    def covers(self, rule: str, at: float) -> bool:
        return self.rule == rule and self.start <= at < self.until


def flag_tables(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The rules' tables (rule id → table) a checklist holds; {} when none."""
    tables = data.get("red_flags")
    return tables if isinstance(tables, Mapping) else {}


def silences(data: Mapping[str, Any]) -> list[Silence]:
    out = []
    for entry in data.get("silences") or []:
        try:
            out.append(Silence(entry["rule"], parse_iso(entry["from"]),
                               parse_iso(entry["until"]), entry.get("reason", ""),
                               entry.get("by", "")))
        except (KeyError, TypeError, ValueError):
            continue  # a hand-edited entry that cannot be read silences nothing
    return out


def active_silence(data: Mapping[str, Any], rule: str, at: float) -> Silence | None:
    return next((s for s in silences(data) if s.covers(rule, at)), None)


def _append(table: dict[str, Any], key: str, line: str) -> None:
    lines = [*table.get(key, []), line]
    table[key] = lines[-MAX_LINES:]


def record_transition(checklist: Checklist, transition: Transition, description: str,
                      masker: Masker) -> None:
    """One rule's move (pending, firing, resolved, ok) in the run record, in one transaction."""
    at = iso(transition.at)
    with checklist.transaction() as data:
        table = data.setdefault("red_flags", {}).setdefault(transition.rule, {})
        table["state"] = transition.to_state
        table["description"] = description
        # fired_at / resolved_at are the last episode that fired: an episode that only went
        # pending and back to ok leaves them, so a fired flag is never forgotten (the destroy
        # counts the clean week from its resolution).
        if transition.to_state == "pending" or (transition.to_state == "firing"
                                                and transition.from_state in ("ok", "resolved")):
            table["first_seen"] = at
        if transition.to_state == "firing":
            table["fired_at"] = at
            table.pop("resolved_at", None)
            table["values"] = [masker(v) for v in transition.values]
        if transition.to_state == "resolved":
            table["resolved_at"] = at
        detail = f": {masker(transition.detail)}" if transition.detail else ""
        _append(table, "transitions", f"{at} {transition.to_state}{detail}")


def record_notification(checklist: Checklist, rule: str, line: str) -> None:
    with checklist.transaction() as data:
        table = data.setdefault("red_flags", {}).setdefault(rule, {})
        _append(table, "notifications", line)


def add_silence(checklist: Checklist, rule: str, start: float, until: float, reason: str,
                by: str) -> None:
    with checklist.transaction() as data:
        data.setdefault("silences", []).append(
            {"rule": rule, "from": iso(start), "until": iso(until), "reason": reason, "by": by})


def unresolved(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Rules pending or firing in the record, in its order."""
    return [(rule, table) for rule, table in flag_tables(data).items()
            if isinstance(table, Mapping) and table.get("state") in UNRESOLVED]
