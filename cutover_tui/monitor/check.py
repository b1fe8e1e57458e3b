"""``cutover check``: one pass of every red-flag probe and the due daily checks, one line each,
for cron and CI. Exit 0 when clean, 1 when a red flag fires (a rule's, or one raised by hand),
2 when something could not be checked.

With no live watcher (no heartbeat in the last 90 s) the pass is recorded as a watcher's turn
would be: samples, rule states, transitions, notifications, the due days' checks — so cron
running ``check`` every few minutes is a watcher with coarser steps. With one running, ``check``
only reads (two evaluators would count every observation twice)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..clock import iso
from .days import announced_at
from .record import flag_tables
from .view import DONE, MISSING, NOT_YET, RED, week_view
from .watch import Watcher

CLEAN, FIRING, UNCHECKED = 0, 1, 2


@dataclass(frozen=True)
class CheckLine:
    what: str
    state: str  # ok, pending, firing, resolved, no answer; for days: done, failed, missing, due
    detail: str


@dataclass(frozen=True)
class CheckReport:
    lines: list[CheckLine]
    recorded: bool
    watcher: str  # "watcher pid N on H, beating at T" or "no watcher running"
    exit_code: int


async def check_once(watcher: Watcher) -> CheckReport:
    clock = watcher.clock
    now = clock.time()
    heartbeat = watcher.store.heartbeat()
    live = heartbeat is not None and heartbeat.alive(now)
    watcher.checklist.read()
    start = watcher.watching_from()
    record = start is not None and not live
    watcher.restore()
    lines: list[CheckLine] = []
    unchecked = False
    probed = await asyncio.gather(*(watcher.probe_flag(flag) for flag in watcher.flags))
    for flag, result in zip(watcher.flags, probed, strict=True):
        # A scheduled job's rule (the scrape) is judged only once per scheduled run, however
        # often cron runs `check`: one failed scrape is one bad result, not one per pass.
        due = start is not None and watcher.next_probe_at(flag, start, now) <= now
        if record and (due or not flag.after_utc):  # guard: check-judges-scheduled-once
            watcher.judge(flag, result)
        state = watcher.state.rules[flag.id].state
        obs = result.observation
        if not result.answered:
            unchecked = True
        word = state if result.answered else f"{state}, no answer"
        lines.append(CheckLine(f"red flag {flag.id}", word, obs.detail))
    if record:
        await watcher.run_due_days(now)
    records = watcher.checklist.records
    for row in week_view(watcher.book, records, None, now).days:  # the grid's own judgement
        cells = {cell for _, cell in row.cells}
        if row.due_at is None or cells <= {NOT_YET}:
            continue
        word = ("failed" if RED in cells else "done" if cells == {DONE} else
                "due" if MISSING in cells else "not yet")
        lines.append(CheckLine(f"day {row.number}", word, f"due {iso(row.due_at)}"))
    data = watcher.checklist.data
    firing = [rule for rule, table in flag_tables(data).items()
              if isinstance(table, dict) and table.get("state") == "firing"]
    by_hand = list(watcher.checklist.records.red_flags)
    for text in by_hand:
        lines.append(CheckLine("red flag by hand", "firing", text))
    await watcher.drain()
    if heartbeat is None:
        who = "no watcher has run"
    else:
        who = (f"watcher pid {heartbeat.pid} on {heartbeat.hostname}, since "
               f"{iso(heartbeat.started_at)}, last beat {iso(heartbeat.beat_at)}"
               + ("" if live else " (not running)"))
    if announced_at(watcher.book, records) is None:
        who += "; the monitoring week has not started"
    code = FIRING if firing or by_hand else UNCHECKED if unchecked else CLEAN
    return CheckReport(lines, record, who, code)
