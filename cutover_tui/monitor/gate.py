"""What the monitoring week's red flags say about the destroy: shut while a rule fires or is
pending, or a flag raised by hand stands. And the week must be clean: its full length watched
with no red flag and no silence. A rule that fired and resolved starts the clean time again
from its resolution (the seed's red flags trigger the rollback; a week with one is not the
week of stability the destroy rests on); a silence moves the end later by its length.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..clock import iso, parse_iso
from ..durations import format_duration, parse_duration
from ..errors import ChecklistError
from .record import flag_tables, silences, unresolved


def _overlap(start: float, end: float, lo: float, hi: float) -> float:
    return max(0.0, min(end, hi) - max(start, lo))


def red_flag_verdict(data: Mapping[str, Any], hand_raised: tuple[str, ...],
                     week_start: float | None, week_length: float,
                     now: float) -> tuple[bool, str]:
    """(met, why) for "no red flag": every rule ok or resolved, none raised by hand, and at
    least ``week_length`` of clean time: since ``week_start`` or the last resolution, less the
    silenced time."""
    problems = []
    resolved = [(parse_iso(str(table["resolved_at"])), rule) for rule, table in
                flag_tables(data).items() if isinstance(table, Mapping)
                and table.get("state") in ("resolved", "ok") and table.get("fired_at")
                and isinstance(table.get("resolved_at"), str) and table["resolved_at"]]
    last_resolved = max(resolved, default=None)
    if week_start is not None and last_resolved and last_resolved[0] > week_start:
        week_start = last_resolved[0]  # guard: fired-flag-restarts-clean-week
    for rule, table in unresolved(data):
        since = table.get("fired_at") or table.get("first_seen") or "?"
        values = table.get("values") or []
        state = f"{table.get('state')} since {since}" + (f" ({values[-1]})" if values else "")
        problems.append(f"red flag {rule} {state}")  # guard: red-flag-shuts-destroy
    if hand_raised:
        problems.append(f"red flag recorded: {hand_raised[-1]}")
    listed = []
    silenced = 0.0
    for entry in silences(data):
        if week_start is None or entry.until <= week_start:
            continue
        length = _overlap(entry.start, entry.until, week_start, now)
        silenced += length
        state = "until" if entry.until > now else "ended"
        listed.append(f"{entry.rule} silenced {format_duration(length)} ({state} "
                      f"{iso(entry.until)}, by {entry.by}: {entry.reason})")
    if week_start is not None and (silenced or last_resolved):
        clean = max(0.0, now - week_start - silenced)
        if clean < week_length:
            why = []
            if last_resolved and last_resolved[0] >= week_start:
                why.append(f"red flag {last_resolved[1]} fired and resolved "
                           f"{iso(last_resolved[0])}: the clean week counts from then")
            if listed:
                why.append(f"silenced time is not clean time ({'; '.join(listed)})")
            problems.append(f"{format_duration(clean)} of {format_duration(week_length)} clean "
                            f"since {iso(week_start)}; " + "; ".join(why))
    if problems:
        return False, "; ".join(problems)
    tail = f"; not counted as clean: {'; '.join(listed)}" if listed else ""
    return True, "no rule firing or pending, none raised by hand" + tail


def max_gap(flag: Any) -> float:
    """The longest time a rule may go without a probe and still count as watched: an hour (a
    restart, a slow turn) or three of its intervals; a scheduled job's rule, the spacing of its
    runs plus an hour."""
    if flag.after_utc:
        minutes = sorted(int(t[:2]) * 60 + int(t[3:]) for t in flag.after_utc)
        spacing = max(b - a for a, b in zip(minutes, [*minutes[1:], minutes[0] + 1440],
                                            strict=True)) * 60
        return spacing + 3600.0
    return max(3600.0, 3 * parse_duration(flag.interval))


def unwatched(book: Any, store_file: Path | None, start: float, end: float) -> list[str]:
    """Where the runbook's rules went unwatched between ``start`` and ``end``: no probe for
    longer than ``max_gap`` (at the start, in between, or at the end)."""
    from .store import WatchStore

    flags = [flag for flag in book.red_flags if flag.watched]
    if not flags or end <= start:
        return []
    if store_file is None or not store_file.exists():
        return ["nothing watched the week (no `cutover watch` store beside the record): run "
                "`cutover watch`, or `cutover check` from cron"]
    problems = []
    try:
        store = WatchStore(store_file)
    except ChecklistError as exc:
        return [f"the watcher's store cannot be read: {exc}"]
    with store:
        for flag in flags:
            times = [s.at for s in store.samples(flag.id, since=start) if s.at <= end]
            edges = [start, *times, end]
            worst = max(zip(edges, edges[1:], strict=False), key=lambda pair: pair[1] - pair[0])
            if worst[1] - worst[0] > max_gap(flag):
                problems.append(f"rule {flag.id} had no probe from {iso(worst[0])} to "
                                f"{iso(worst[1])} ({format_duration(worst[1] - worst[0])})")
    return problems
