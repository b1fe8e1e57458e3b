"""``droplet_power`` and ``droplet_destroy``: the DigitalOcean steps.

Power off stops the services first as the seed does (scheduler, pause, the rest), asks for a
graceful ``shutdown`` and falls back to ``power_off``, then checks the host stopped answering.
Destroy sits behind live preconditions, a re-identification of the droplet by id, name and IP
just before the call, and the droplet's name typed exactly. It is sent once, never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..aio import bounded
from ..clock import iso
from ..durations import format_duration, parse_duration
from ..errors import CutoverError, DropletAPIError, DropletNotFound, HTTPError, cause_of
from ..events import PlanItem, Verdict
from ..recordtimes import CLOCK_TOLERANCE, stamp, time_problems
from ..runbook import DropletDestroyStep, DropletPowerStep, Runbook
from .backup import backup_gate
from .base import StepContext, where


@dataclass(frozen=True)
class Precondition:
    name: str
    ok: bool
    detail: str


def plan(book: Runbook, step: DropletPowerStep | DropletDestroyStep) -> list[PlanItem]:
    host = book.hosts[step.host]
    api = "DigitalOcean API"
    if isinstance(step, DropletDestroyStep):
        items = [PlanItem("check", "preconditions, live: verified backup with its checksum; "
                                   f"{step.monitoring_days}-day monitoring over, its daily "
                                   "checks on distinct days, no red flag; droplet off ≥ "
                                   f"{step.min_powered_off} by its action history (GET "
                                   "/v2/droplets/<id>/actions); "
                                   f"{step.healthy_host} healthy now; the checklist's times "
                                   "sane")]
        items.append(PlanItem(api, f"re-identify droplet {host.droplet} ({host.address}) by id, "
                                   "name and IP"))
        items.append(PlanItem("operator", f"type the droplet name {host.droplet!r} exactly"))
        if step.snapshot_first:
            items.append(PlanItem(api, "POST /v2/droplets/<id>/actions type=snapshot"))
        items.append(PlanItem("check", "every precondition again, and the droplet re-identified "
                                       "(id, name, IP, status off): any change stops here"))
        items.append(PlanItem("checklist", "record 'destroy of droplet <id> sent at <time> by "
                                           "<operator>' (fsynced)"))
        items.append(PlanItem(api, "DELETE /v2/droplets/<id>  (sent once, never retried)"))
        return items
    items = []
    if step.action == "off":
        items.append(PlanItem("operator", f"confirm powering off {host.droplet} (asked before "
                                          "anything is stopped)"))
        for i, unit in enumerate(step.stop_services):
            items.append(PlanItem(where(book, step.host), f"systemctl stop {unit}"))
            if i == 0 and len(step.stop_services) > 1 and step.stop_pause_seconds:
                items.append(PlanItem(where(book, step.host), f"sleep {step.stop_pause_seconds:g}"))
        items.append(PlanItem(api, f"POST /v2/droplets/<id of {host.droplet}>/actions "
                                   f"type=shutdown; type=power_off if not off within "
                                   f"{step.shutdown_timeout:g}s"))
        items.append(PlanItem("check", f"{host.address}:{host.port} stops answering"))
    else:
        items.append(PlanItem(api, f"POST /v2/droplets/<id of {host.droplet}>/actions "
                                   "type=power_on"))
        items.append(PlanItem("check", f"{host.address}:{host.port} answers SSH again"))
    return items


async def api_call(ctx: StepContext, function: Any, *args: Any, **kwargs: Any) -> Any:
    """The pydo client blocks: run it in a thread so the event loop stays free."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def resolve(ctx: StepContext, host_name: str) -> Any:
    host = ctx.book.hosts[host_name]
    api = ctx.droplets()
    droplet = await api_call(ctx, api.find, host.droplet, None)
    if droplet.ip != host.address:
        raise DropletAPIError(
            f"droplet {host.droplet} has IP {droplet.ip}, but the runbook's host {host_name} is "
            f"{host.address}: refusing to act on a droplet that may not be this host"
        )
    ctx.say(droplet.describe())
    return droplet


async def port_answers(address: str, port: int, timeout: float = 2.0) -> bool:
    try:
        _, writer = await bounded(asyncio.open_connection(address, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True


async def wait_action(ctx: StepContext, action: dict[str, Any], timeout: float) -> str:
    api = ctx.droplets()
    ctx.say(f"action {action['id']} ({action['type']}) {action['status']}")
    deadline = ctx.clock.time() + timeout
    while True:
        status = (await api_call(ctx, api.action_status, action["id"]))["status"]
        if status in ("completed", "errored"):
            ctx.say(f"action {action['id']} ({action['type']}) {status}")
            return status
        if ctx.clock.time() >= deadline:
            return status
        ctx.progress(timeout - (deadline - ctx.clock.time()), timeout,
                     f"{action['type']}: {status}")
        await ctx.clock.sleep(1.0)


async def run(ctx: StepContext, step: DropletPowerStep | DropletDestroyStep) -> Verdict:
    if isinstance(step, DropletDestroyStep):
        return await _destroy(ctx, step)
    return await (_power_off(ctx, step) if step.action == "off" else _power_on(ctx, step))


def _identity(droplet: Any) -> dict[str, Any]:
    return {"droplet_id": droplet.id, "droplet_name": droplet.name, "droplet_ip": droplet.ip,
            "size": droplet.size, "region": droplet.region, "created_at": droplet.created_at}


async def _power_off(ctx: StepContext, step: DropletPowerStep) -> Verdict:
    host = ctx.book.hosts[step.host]
    droplet = await resolve(ctx, step.host)
    evidence = _identity(droplet)
    command = f"power off {droplet.name} (id {droplet.id})"
    if droplet.status == "off":
        evidence["powered_off_at"] = ctx.record(step.id).get("evidence", {}).get(
            "powered_off_at", iso(ctx.clock.time()))
        return Verdict(True, f"{droplet.name} is already off; nothing to do", command=command,
                       evidence=evidence)
    # Ask first: a "no" must change nothing on the host, so nothing is stopped before it.
    first = (f"first on {step.host}: systemctl stop {', '.join(step.stop_services)}; then "
             if step.stop_services else "")
    question, detail = f"Power off {droplet.describe()}?", f"{first}shutdown, power_off if it hangs"
    if not await ctx.operator.confirm(step.id, question, detail):  # guard: power-off-asks-first
        return Verdict(False, "power off was not confirmed: nothing was stopped, the droplet "
                              "is still on", command=command, evidence=evidence)
    stopped = []
    for i, unit in enumerate(step.stop_services):
        result = await ctx.ssh.run(step.host, f"systemctl stop {shlex.quote(unit)}",
                                   on_line=ctx.line_sink(step.host), timeout=90)
        if result.exit_status != 0:
            return Verdict(False, f"systemctl stop {unit} failed on {step.host} "
                                  f"(exit {result.exit_status}: {cause_of(result.output)}); the droplet "
                                  "was left on",
                           command=command, evidence=evidence)
        stopped.append(unit)
        if i == 0 and len(step.stop_services) > 1 and step.stop_pause_seconds:
            ctx.say(f"waiting {step.stop_pause_seconds:g}s for in-progress work of {unit}")
            await ctx.clock.sleep(step.stop_pause_seconds)
    evidence["services_stopped"] = stopped
    await ctx.ssh.drop(step.host)
    api = ctx.droplets()
    action = await api_call(ctx, api.post_action, droplet.id, "shutdown")
    evidence["shutdown_action"] = action["id"]
    status = await wait_action(ctx, action, step.shutdown_timeout)
    if status != "completed":
        ctx.say(f"graceful shutdown {status}; sending power_off")
        action = await api_call(ctx, api.post_action, droplet.id, "power_off")
        evidence["power_off_action"] = action["id"]
        status = await wait_action(ctx, action, step.shutdown_timeout)
        if status != "completed":
            return Verdict(False, f"power_off action {action['id']} is {status}",
                           command=command, evidence=evidence)
    final = await api_call(ctx, api.get, droplet.id)
    if final.status != "off":
        return Verdict(False, f"the API says {final.name} is {final.status} after the action",
                       command=command, evidence=evidence)
    if await port_answers(host.address, host.port):
        return Verdict(False, f"{host.address}:{host.port} still answers after power off",
                       command=command, evidence=evidence)
    evidence["powered_off_at"] = iso(ctx.clock.time())
    return Verdict(True, f"{droplet.name} is off and {host.address} no longer answers",
                   command=command, evidence=evidence)


async def _power_on(ctx: StepContext, step: DropletPowerStep) -> Verdict:
    host = ctx.book.hosts[step.host]
    droplet = await resolve(ctx, step.host)
    evidence = _identity(droplet)
    command = f"power on {droplet.name} (id {droplet.id})"
    if droplet.status != "active":
        if not await ctx.operator.confirm(step.id, f"Power on {droplet.describe()}?"):
            return Verdict(False, "power on was not confirmed", command=command)
        api = ctx.droplets()
        action = await api_call(ctx, api.post_action, droplet.id, "power_on")
        evidence["power_on_action"] = action["id"]
        status = await wait_action(ctx, action, step.shutdown_timeout)
        if status != "completed":
            return Verdict(False, f"power_on action {action['id']} is {status}",
                           command=command, evidence=evidence)
    else:
        ctx.say(f"{droplet.name} is already on")
    for _ in range(60):
        if await port_answers(host.address, host.port):
            evidence["powered_on_at"] = iso(ctx.clock.time())
            return Verdict(True, f"{droplet.name} is on and {host.address}:{host.port} answers",
                           command=command, evidence=evidence)
        await asyncio.sleep(0.5)
    return Verdict(False, f"{droplet.name} is on but {host.address}:{host.port} does not answer "
                          "after 30s", command=command, evidence=evidence)


# ---------------------------------------------------------------------------- destroy

# Action types that leave a droplet off, and the ones that turn it on again.
POWER_OFF_TYPES = ("power_off", "shutdown")
POWER_ON_TYPES = ("power_on", "power_cycle", "reboot")
# Daily checks on distinct days: each day's checks finish at least this long after the day
# before's (a day, less slack for an operator who checks a little earlier than yesterday).
DAY_GAP = 20 * 3600
# The destroy's intent, in the step's evidence: written (fsynced) before the DELETE is sent.
INTENT_KEYS = ("destroy_intent", "destroy_intent_droplet_id", "destroy_intent_at")


def _latest_power_record(ctx: StepContext, host_name: str) -> dict[str, Any] | None:
    records = ctx.checklist.read().get("steps", {})
    latest = None
    for _, other in ctx.book.steps():
        if other.kind == "droplet_power" and other.host == host_name:
            record = records.get(other.id, {})
            if record.get("state") == "done" and record.get("finished_at"):
                if latest is None or record["finished_at"] >= latest[1]["finished_at"]:
                    latest = (other, record)
    return None if latest is None else {"action": latest[0].action, **latest[1]}


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


def monitoring_period(data: dict[str, Any], book: Runbook, step: DropletDestroyStep,
                      now: float) -> Precondition:
    """The monitoring week: over, every check done, no red flag; and its daily checks really
    made on distinct days, by the times the tool recorded as each ran (at least ``DAY_GAP``
    apart, the last after the week's end), not only by the cutover's time in the file."""
    name = "monitoring period"
    steps = data.get("steps", {})
    cutover = steps.get(step.cutover_step, {})
    start = stamp(cutover.get("finished_at")) if cutover.get("state") == "done" else None
    if start is None:
        return Precondition(name, False, f"the cutover step {step.cutover_step} has not finished")
    ends = start + step.monitoring_days * 86400
    phase = next(p for p in book.all_phases if p.id == step.monitoring_phase)
    pending = [s.id for s in phase.steps if steps.get(s.id, {}).get("state") != "done"]
    flags = data.get("run", {}).get("red_flags", [])
    if now < ends:
        return Precondition(name, False, f"{format_duration(ends - now)} of the "
                                         f"{step.monitoring_days}-day period left (ends "
                                         f"{iso(ends)})")
    if pending:
        return Precondition(name, False, f"{len(pending)} monitoring check(s) not done: "
                                         f"{', '.join(pending[:4])}")
    if flags:
        return Precondition(name, False, f"red flag recorded: {flags[-1]}")
    finished = {s.id: stamp(steps[s.id].get("finished_at")) for s in phase.steps}
    missing = [step_id for step_id, when in finished.items() if when is None]
    if missing:
        return Precondition(name, False, f"no time recorded for check(s) {', '.join(missing[:4])}")
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
                                    "last after the end; no red flag")


def record_times(data: dict[str, Any], step: DropletDestroyStep, actions: list[dict[str, Any]],
                 now: float, server_now: float | None) -> Precondition:
    """The checklist's times are believable: none in the future, none out of order, this
    machine's clock agrees with DigitalOcean's, and the power-off step did not finish before
    DigitalOcean completed its action (a record moved back in time)."""
    problems = time_problems(data, now)
    if server_now is not None and abs(now - server_now) > CLOCK_TOLERANCE:
        problems.append(f"this machine's clock ({iso(now)}) differs from DigitalOcean's "
                        f"({iso(server_now)}) by {format_duration(abs(now - server_now))}")
    record = data.get("steps", {}).get(step.power_off_step, {})
    finished = stamp(record.get("finished_at"))
    by_id = {a.get("id"): a for a in actions}
    for key in ("shutdown_action", "power_off_action"):
        action = by_id.get(record.get("evidence", {}).get(key))
        completed = do_time((action or {}).get("completed_at"))
        if finished is not None and completed is not None and finished < completed - CLOCK_TOLERANCE:
            problems.append(f"step {step.power_off_step} finished {record['finished_at']} by the "
                            f"checklist, but DigitalOcean completed its {action['type']} (action "
                            f"{action['id']}) at {action['completed_at']}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return Precondition("checklist times", False, "; ".join(problems[:3]) + more)
    return Precondition("checklist times", True, "none in the future or out of order; this "
                                                 "machine's clock agrees with DigitalOcean's")


async def preconditions(ctx: StepContext, step: DropletDestroyStep,
                        droplet: Any | None) -> list[Precondition]:
    data = ctx.checklist.read()
    out: list[Precondition] = []
    now = ctx.clock.time()
    # 1. The verified backup, re-hashed now.
    reason = await asyncio.to_thread(backup_gate, data, ctx.book, True)
    out.append(Precondition("verified backup", reason is None,
                            reason or "the local backup file exists with its recorded sha256"))
    # 2. The monitoring period, its days measured by the times recorded as the checks ran.
    out.append(monitoring_period(data, ctx.book, step, now))
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
    problems = []
    for endpoint in ctx.book.health:
        url = ctx.book.health_url(step.healthy_host, endpoint)
        try:
            result = await ctx.web.request("GET", url, timeout=5)
        except HTTPError as exc:
            problems.append(str(exc))
            continue
        if result.status != endpoint.expect_status or (
                endpoint.contains and endpoint.contains not in result.text):
            problems.append(f"{endpoint.name}: HTTP {result.status}")
    out.append(Precondition(f"{step.healthy_host} healthy", not problems,
                            "; ".join(problems) or f"{len(ctx.book.health)} endpoints answer"))
    # 5. The record's times are believable (a hand edit or a wrong clock moves them).
    out.append(record_times(data, step, actions, now, server_now))  # guard: checklist-times-sane
    return out


def _retire_intent(ctx: StepContext, step_id: str, note: str) -> None:
    """The recorded intent did not take effect: keep it as a note, drop it from the evidence."""
    with ctx.checklist.transaction() as data:
        record = data.setdefault("steps", {}).setdefault(step_id, {})
        evidence = record.setdefault("evidence", {})
        for key in INTENT_KEYS:
            evidence.pop(key, None)
        record.setdefault("notes", []).append(
            f"{iso(ctx.clock.time())} {ctx.operator.name}: {ctx.masker(note)}")


async def _resume_intent(ctx: StepContext, step: DropletDestroyStep,
                         command: str) -> Verdict | None:
    """A destroy intent in the record (the run stopped after writing it): re-read the droplet.
    Gone: the destroy took effect, done. Still there: it was not sent (or not done); the intent
    is retired and the whole guard runs again. Never a second DELETE without the guard."""
    evidence = ctx.record(step.id).get("evidence", {})
    intent, droplet_id = evidence.get("destroy_intent"), evidence.get("destroy_intent_droplet_id")
    if not intent or not isinstance(droplet_id, int):
        return None
    ctx.say(f"the checklist records: {intent}; re-reading droplet {droplet_id}")
    try:
        still = await api_call(ctx, ctx.droplets().get, droplet_id)
    except DropletNotFound:
        still = None
    now = iso(ctx.clock.time())
    if still is not None:
        ctx.say(f"{still.describe()} still exists: that destroy did not take effect; asking "
                "again with every check")
        _retire_intent(ctx, step.id, f"{intent}; {still.name} (id {still.id}) still existed at "
                                     f"{now}: not sent or not done, asked again")
        return None
    gone = f"droplet {droplet_id} is gone: {intent}, and DigitalOcean no longer has it ({now})"
    return Verdict(True, f"{gone}; nothing sent again", command=command,  # guard: destroy-sent-once
                   evidence={"outcome": "destroyed (confirmed by re-reading it after the run "
                                        "stopped)", "destroy_intent": intent,
                             "confirmed_gone_at": now})


async def _destroy(ctx: StepContext, step: DropletDestroyStep) -> Verdict:
    host = ctx.book.hosts[step.host]
    api = ctx.droplets()
    command = f"DELETE /v2/droplets/<id of {host.droplet}>"
    resumed = await _resume_intent(ctx, step, command)
    if resumed is not None:
        return resumed
    try:
        droplet = await resolve(ctx, step.host)
    except DropletNotFound as exc:
        return Verdict(False, f"{exc}; nothing to destroy (already gone?)", command=command)
    recorded = _latest_power_record(ctx, step.host) or {}
    recorded_identity = recorded.get("evidence", {})
    evidence: dict[str, Any] = _identity(droplet)
    mismatch = [f"{key} is {evidence[key]!r}, recorded {recorded_identity[key]!r}"
                for key in ("droplet_id", "droplet_name", "droplet_ip")
                if key in recorded_identity and recorded_identity[key] != evidence[key]]
    if mismatch:
        return Verdict(False, "the droplet does not match the one recorded when it was powered "
                              f"off ({'; '.join(mismatch)}): refusing", command=command,
                       evidence=evidence)
    checks = await preconditions(ctx, step, droplet)
    evidence["preconditions"] = {c.name: f"{'ok' if c.ok else 'NOT MET'}: {c.detail}"
                                 for c in checks}
    for check in checks:
        ctx.say(f"{'✓' if check.ok else '✗'} {check.name}: {check.detail}")
    confirmed = await ctx.operator.confirm_typed(
        step.id, f"Type the droplet name to destroy {droplet.describe()}", droplet.name,
        detail=droplet.describe(), preconditions=checks)
    failing = [c for c in checks if not c.ok]
    if failing:
        return Verdict(False, "not destroyed: " + "; ".join(f"{c.name}: {c.detail}"
                                                            for c in failing),
                       command=command, evidence=evidence)
    if not confirmed:  # guard: destroy-typed-name
        return Verdict(False, "not destroyed: the droplet name was not typed exactly",
                       command=command, evidence=evidence)
    if step.snapshot_first:
        action = await api_call(ctx, api.post_action, droplet.id, "snapshot",
                                name=f"{droplet.name}-before-destroy-{int(ctx.clock.time())}")
        status = await wait_action(ctx, action, 3600)
        evidence["snapshot_action"] = action["id"]
        if status != "completed":
            return Verdict(False, f"the snapshot before destroy is {status}; not destroyed",
                           command=command, evidence=evidence)
    # Everything again now that the name is typed: the dialog may have stayed open for long.
    try:
        fresh = await resolve(ctx, step.host)
    except CutoverError as exc:
        return Verdict(False, "not destroyed: the droplet could not be identified again after "
                              f"the name was typed ({exc})", command=command, evidence=evidence)
    checks = await preconditions(ctx, step, fresh)
    evidence["preconditions_after_typing"] = {c.name: f"{'ok' if c.ok else 'NOT MET'}: "
                                                      f"{c.detail}" for c in checks}
    failing = [c for c in checks if not c.ok]
    if failing:  # guard: destroy-preconditions
        return Verdict(False, "not destroyed: changed while the name was typed: " + "; ".join(
            f"{c.name}: {c.detail}" for c in failing), command=command, evidence=evidence)
    # And the droplet itself, by id, name, IP and status, immediately before the call.
    try:
        again = await resolve(ctx, step.host)
    except CutoverError as exc:
        return Verdict(False, "not destroyed: the droplet could not be identified again just "
                              f"before the call ({exc})", command=command, evidence=evidence)
    changed = [f"{what} is {now!r}, was {then!r}" for what, now, then in (
        ("id", again.id, droplet.id), ("name", again.name, droplet.name),
        ("IP", again.ip, droplet.ip), ("status", again.status, "off")) if now != then]
    if changed:  # guard: destroy-identity
        return Verdict(False, "not destroyed: the droplet changed while the name was typed ("
                              f"{'; '.join(changed)})", command=command, evidence=evidence)
    # The intent, on disk (the checklist's write is fsynced) before the DELETE goes out.
    sent_at = iso(ctx.clock.time())
    intent = f"destroy of droplet {droplet.id} sent at {sent_at} by {ctx.operator.name}"
    record = {"destroy_intent": intent, "destroy_intent_droplet_id": droplet.id,
              "destroy_intent_at": sent_at}
    ctx.checklist.update_step(step.id, evidence=record)  # guard: destroy-intent-recorded
    ctx.say(f"recorded: {intent}")
    evidence.update(record, destroyed_by=ctx.operator.name, requested_at=sent_at)
    try:
        await api_call(ctx, api.destroy, droplet.id)
    except CutoverError as exc:
        ctx.say(f"the destroy call failed: {exc}; re-reading the droplet (it is not retried)")
        try:
            after = await api_call(ctx, api.get, droplet.id)
        except DropletNotFound:
            evidence["outcome"] = "destroyed (confirmed by re-reading after an error)"
            return Verdict(True, f"{droplet.name} is gone (the call reported an error, but "
                                 "re-reading shows it no longer exists)", command=command,
                           evidence=evidence)
        except CutoverError as again_exc:
            evidence["outcome"] = "unknown"
            return Verdict(False, f"the destroy call failed ({exc}) and the droplet could not "
                                  f"be re-read ({again_exc}): check the console; not retried",
                           command=command, evidence=evidence)
        evidence["outcome"] = f"still exists ({after.status})"
        return Verdict(False, f"the destroy call failed ({exc}); {after.describe()} still "
                              "exists; not retried", command=command, evidence=evidence)
    evidence["outcome"] = "destroyed"
    return Verdict(True, f"{droplet.name} (id {droplet.id}, {droplet.ip}) destroyed by "
                         f"{ctx.operator.name}", command=command, evidence=evidence)
