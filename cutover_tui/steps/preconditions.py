"""The destroy's preconditions, each a ``Precondition`` (name, met, why), checked live before the
name is typed and again after: the verified backup re-hashed; the monitoring week over with its
daily checks made on distinct days by the recorded times and no red flag; the droplet off long
enough by DigitalOcean's own action history; the new production host healthy now (by the
health probe, ``cutover_tui.health``); the checklist's times believable."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..clock import iso
from ..durations import format_duration, parse_duration
from ..errors import CutoverError
from ..health import HealthProbe
from ..monitor.store import store_path
from ..records import RunRecords, StepState
from ..recordtimes import CLOCK_TOLERANCE, stamp, time_problems
from ..runbook import DropletDestroyStep, Runbook
from .backup import backup_gate
from .base import StepContext
from .droplet_base import api_call

HEALTH_TIMEOUT = 5.0  # per endpoint request


@dataclass(frozen=True)
class Precondition:
    name: str
    ok: bool
    detail: str


# Action types that leave a droplet off, and the ones that turn it on again.
POWER_OFF_TYPES = ("power_off", "shutdown")
POWER_ON_TYPES = ("power_on", "power_cycle", "reboot")
# Daily checks on distinct days: each day's checks finish at least this long after the day
# before's (a day, less slack for an operator who checks a little earlier than yesterday).
DAY_GAP = 20 * 3600


def do_time(text: Any) -> float | None:
    """A DigitalOcean time (ISO 8601, ``2025-12-19T10:05:00Z``) as seconds, or None."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def powered_off_from_history(droplet: Any, actions: list[dict[str, Any]], now: float,
                             min_powered_off: str) -> Precondition:
    """How long the droplet has been off, by DigitalOcean's own record of its actions: the last
    completed power_off/shutdown, no power-on since. Not the checklist: that is ours to edit."""
    name = "powered off"
    if droplet.status != "off":
        return Precondition(name, False, f"the droplet is {droplet.status}, not off")
    offs = [(when, a) for a in actions if a.get("type") in POWER_OFF_TYPES
            and a.get("status") == "completed" and (when := do_time(a.get("completed_at")))]
    if not offs:
        return Precondition(name, False, "DigitalOcean's action history of the droplet has no "
                                         "completed power_off or shutdown")
    since, last = max(offs, key=lambda pair: pair[0])

    def order(action: dict[str, Any]) -> tuple[float, int]:  # times are to the second: then ids
        return do_time(action.get("started_at")) or since, int(action.get("id") or 0)

    ons = [a for a in actions if a.get("type") in POWER_ON_TYPES and a.get("status") != "errored"
           and order(a) > order(last)]
    if ons:
        on = max(ons, key=order)
        return Precondition(name, False, f"powered on again since its {last['type']} of "
                                         f"{last['completed_at']}: {on['type']} (action "
                                         f"{on.get('id')}, {on.get('status')}) at "
                                         f"{on.get('started_at')}")
    off_for = now - since
    told = (f"{last['type']} (action {last.get('id')}) completed {last['completed_at']} by "
            "DigitalOcean's action history")
    if off_for < parse_duration(min_powered_off):  # guard: powered-off-from-do-history
        return Precondition(name, False, f"off for {format_duration(max(0.0, off_for))}: "
                                         f"{told}; the runbook asks for {min_powered_off}")
    return Precondition(name, True, f"off for {format_duration(off_for)}: {told}")


def _day_of(step_id: str) -> int | None:
    match = re.search(r"\.d(\d+)$", step_id)
    return int(match.group(1)) if match else None


def monitoring_period(records: RunRecords, book: Runbook, step: DropletDestroyStep,
                      now: float) -> Precondition:
    """The monitoring week: over, every check done, no red flag; and its daily checks really
    made on distinct days, by the times the tool recorded as each ran (at least ``DAY_GAP``
    apart, the last after the week's end), not only by the cutover's time in the file."""
    name = "monitoring period"
    cutover = records[step.cutover_step]
    start = stamp(cutover.finished_at) if cutover.state is StepState.DONE else None
    if start is None:
        return Precondition(name, False, f"the cutover step {step.cutover_step} has not finished")
    ends = start + step.monitoring_days * 86400
    phase = next(p for p in book.all_phases if p.id == step.monitoring_phase)
    pending = [s.id for s in phase.steps if records[s.id].state is not StepState.DONE]
    if now < ends:
        return Precondition(name, False, f"{format_duration(ends - now)} of the "
                                         f"{step.monitoring_days}-day period left (ends "
                                         f"{iso(ends)})")
    if pending:
        return Precondition(name, False, f"{len(pending)} monitoring check(s) not done: "
                                         f"{', '.join(pending[:4])}")
    stamps = {s.id: stamp(records[s.id].finished_at) for s in phase.steps}
    missing = [step_id for step_id, when in stamps.items() if when is None]
    if missing:
        return Precondition(name, False, f"no time recorded for check(s) {', '.join(missing[:4])}")
    finished = {step_id: when for step_id, when in stamps.items() if when is not None}
    # Each day's checks end when its last one finished (a phase without repeats: one "day").
    days: dict[int, float] = {}
    for s in phase.steps:
        day = _day_of(s.id) if phase.repeat else 1
        if day is not None:
            days[day] = max(days.get(day, 0.0), finished[s.id])
    problems = []
    ordered = sorted(days.items())
    if ordered and ordered[0][1] <= start:
        problems.append(f"day {ordered[0][0]}'s checks finished {iso(ordered[0][1])}, not after "
                        f"the cutover ({iso(start)})")
    for (day, at), (next_day, next_at) in zip(ordered, ordered[1:], strict=False):
        if next_at - at < DAY_GAP:  # guard: monitoring-days-by-clock
            problems.append(f"day {next_day}'s checks finished {format_duration(max(0.0, next_at - at))} "
                            f"after day {day}'s ({iso(at)} → {iso(next_at)}); daily checks are "
                            f"at least {DAY_GAP // 3600}h apart")
    last = max(finished.values(), default=start)
    if last < ends:
        problems.append(f"the last check finished {iso(last)}, before the period's end "
                        f"({iso(ends)})")
    if problems:
        return Precondition(name, False, "; ".join(problems[:3]))
    return Precondition(name, True, f"ended {iso(ends)}; {len(phase.steps)} checks done on "
                                    f"{len(days)} day(s), each ≥ {DAY_GAP // 3600}h apart, the "
                                    "last after the end")


def red_flags(records: RunRecords, book: Runbook, step: DropletDestroyStep, now: float,
              store_file: Path | None = None) -> Precondition:
    """No red flag: the watcher's rules (``[red_flags]``), the ones raised by hand, silences;
    and every rule of the runbook was watched all week (the watcher's store beside the record
    has its probes, no gap longer than the rule allows): no flag is not the same as no look."""
    from ..monitor.gate import red_flag_verdict, unwatched

    cutover = records[step.cutover_step]
    start = stamp(cutover.finished_at) if cutover.state is StepState.DONE else None
    length = step.monitoring_days * 86400
    met, why = red_flag_verdict(records.data, records.red_flags, start, length, now)
    if met and start is not None:
        # Watched from when the monitoring phase began (the phase before it ended: seed 7 follows
        # 6's post-cutover validation) to the week's end.
        watched_from = max([start, *_phase_finished(records, book, step.monitoring_phase, -1)])
        gaps = unwatched(book, store_file, watched_from, min(now, start + length))
        if gaps:  # guard: week-watched
            return Precondition("no red flag", False, "not watched: " + "; ".join(gaps[:3]))
    return Precondition("no red flag", met, why)


def _phase_finished(records: RunRecords, book: Runbook, phase_id: str,
                    offset: int) -> list[float]:
    """When the steps of the phase ``offset`` away from ``phase_id`` finished (recorded ones)."""
    ids = [p.id for p in book.phases]
    if phase_id not in ids or not 0 <= ids.index(phase_id) + offset < len(ids):
        return []
    phase = book.phases[ids.index(phase_id) + offset]
    times = [stamp(records[s.id].finished_at) for s in phase.steps]
    return [t for t in times if t is not None]


def record_times(records: RunRecords, step: DropletDestroyStep, actions: list[dict[str, Any]],
                 now: float, server_now: float | None) -> Precondition:
    """The checklist's times are believable: none in the future, none out of order, this
    machine's clock agrees with DigitalOcean's, and the power-off step did not finish before
    DigitalOcean completed its action (a record moved back in time)."""
    problems = time_problems(records.data, now)
    if server_now is not None and abs(now - server_now) > CLOCK_TOLERANCE:
        problems.append(f"this machine's clock ({iso(now)}) differs from DigitalOcean's "
                        f"({iso(server_now)}) by {format_duration(abs(now - server_now))}")
    record = records[step.power_off_step]
    finished = stamp(record.finished_at)
    by_id = {a.get("id"): a for a in actions}
    for action_id in record.power.actions:
        action = by_id.get(action_id)
        completed = do_time((action or {}).get("completed_at"))
        if action is None or finished is None or completed is None:
            continue
        if finished < completed - CLOCK_TOLERANCE:
            problems.append(f"step {step.power_off_step} finished {record.finished_at} by the "
                            f"checklist, but DigitalOcean completed its {action['type']} (action "
                            f"{action['id']}) at {action['completed_at']}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return Precondition("checklist times", False, "; ".join(problems[:3]) + more)
    return Precondition("checklist times", True, "none in the future or out of order; this "
                                                 "machine's clock agrees with DigitalOcean's")


async def healthy(ctx: StepContext, host_name: str) -> Precondition:
    """Every health endpoint of ``host_name`` answers as expected, now."""
    probe = HealthProbe(ctx.book, ctx.web, timeout=HEALTH_TIMEOUT, clock=ctx.clock)
    samples = await probe.endpoints(host_name)
    problems = [f"{sample.endpoint}: {sample.reason}" for sample in samples if not sample.ok]
    return Precondition(f"{host_name} healthy", not problems,
                        "; ".join(problems) or f"{len(samples)} endpoints answer")


async def preconditions(ctx: StepContext, step: DropletDestroyStep,
                        droplet: Any | None) -> list[Precondition]:
    records = ctx.fresh_records()  # live: what another operator recorded meanwhile counts
    out: list[Precondition] = []
    now = ctx.clock.time()
    # 1. The verified backup, re-hashed now.
    reason = await asyncio.to_thread(backup_gate, records, ctx.book, True)
    out.append(Precondition("verified backup", reason is None,
                            reason or "the local backup file exists with its recorded sha256"))
    # 2. The monitoring period, its days measured by the times recorded as the checks ran.
    out.append(monitoring_period(records, ctx.book, step, now))
    out.append(red_flags(records, ctx.book, step, now, store_path(ctx.checklist.path)))
    # 3. Powered off long enough, by DigitalOcean's history of the droplet's actions.
    actions: list[dict[str, Any]] = []
    server_now: float | None = None
    if droplet is None:
        out.append(Precondition("powered off", False, "the droplet could not be read"))
    else:
        try:
            actions, server_now = await api_call(ctx, ctx.droplets().actions, droplet.id)
        except CutoverError as exc:
            out.append(Precondition("powered off", False,
                                    f"its action history could not be read: {exc}"))
        else:
            out.append(powered_off_from_history(droplet, actions, server_now or now,
                                                step.min_powered_off))
    # 4. The new production host is healthy right now.
    out.append(await healthy(ctx, step.healthy_host))
    # 5. The record's times are believable (a hand edit or a wrong clock moves them).
    out.append(record_times(records, step, actions, now, server_now))  # guard: checklist-times-sane
    return out

