"""``droplet_power`` and ``droplet_destroy``: the DigitalOcean steps.

Power off stops the services first as the seed does (scheduler, pause, the rest), asks for a
graceful ``shutdown`` and falls back to ``power_off``, then checks the host stopped answering.
Destroy sits behind live preconditions, a re-identification of the droplet by id, name and IP
just before the call, and the droplet's name typed exactly. It is sent once, never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from dataclasses import dataclass
from typing import Any

from ..clock import iso, parse_iso
from ..durations import format_duration, parse_duration
from ..errors import CutoverError, DropletAPIError, DropletNotFound, HTTPError, cause_of
from ..events import PlanItem, Verdict
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
                                   f"{step.monitoring_days}-day monitoring over, every check "
                                   f"done, no red flag; droplet off ≥ {step.min_powered_off}; "
                                   f"{step.healthy_host} healthy now")]
        items.append(PlanItem(api, f"re-identify droplet {host.droplet} ({host.address}) by id, "
                                   "name and IP"))
        if step.snapshot_first:
            items.append(PlanItem(api, "POST /v2/droplets/<id>/actions type=snapshot"))
        items.append(PlanItem("operator", f"type the droplet name {host.droplet!r} exactly"))
        items.append(PlanItem(api, "DELETE /v2/droplets/<id>  (sent once, never retried)"))
        return items
    items = []
    if step.action == "off":
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
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
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
    if not await ctx.operator.confirm(step.id, f"Power off {droplet.describe()}?"):
        return Verdict(False, "power off was not confirmed; the droplet is still on",
                       command=command, evidence=evidence)
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


async def preconditions(ctx: StepContext, step: DropletDestroyStep,
                        droplet: Any | None) -> list[Precondition]:
    data = ctx.checklist.read()
    out: list[Precondition] = []
    # 1. The verified backup, re-hashed now.
    reason = await asyncio.to_thread(backup_gate, data, ctx.book, True)
    out.append(Precondition("verified backup", reason is None,
                            reason or "the local backup file exists with its recorded sha256"))
    # 2. The monitoring period.
    cutover = data.get("steps", {}).get(step.cutover_step, {})
    now = ctx.clock.time()
    if cutover.get("state") != "done" or "finished_at" not in cutover:
        out.append(Precondition("monitoring period", False,
                                f"the cutover step {step.cutover_step} has not finished"))
    else:
        ends = parse_iso(cutover["finished_at"]) + step.monitoring_days * 86400
        phase = next(p for p in ctx.book.all_phases if p.id == step.monitoring_phase)
        pending = [s.id for s in phase.steps
                   if data.get("steps", {}).get(s.id, {}).get("state") != "done"]
        flags = data.get("run", {}).get("red_flags", [])
        if now < ends:
            out.append(Precondition("monitoring period", False,
                                    f"{format_duration(ends - now)} of the {step.monitoring_days}"
                                    f"-day period left (ends {iso(ends)})"))
        elif pending:
            out.append(Precondition("monitoring period", False,
                                    f"{len(pending)} monitoring check(s) not done: "
                                    f"{', '.join(pending[:4])}"))
        elif flags:
            out.append(Precondition("monitoring period", False,
                                    f"red flag recorded: {flags[-1]}"))
        else:
            out.append(Precondition("monitoring period", True,
                                    f"ended {iso(ends)}; {len(phase.steps)} checks done, "
                                    "no red flag"))
    # 3. Powered off long enough.
    power = _latest_power_record(ctx, step.host)
    minimum = parse_duration(step.min_powered_off)
    if droplet is None:
        out.append(Precondition("powered off", False, "the droplet could not be read"))
    elif droplet.status != "off":
        out.append(Precondition("powered off", False, f"the droplet is {droplet.status}, not off"))
    elif power is None or power["action"] != "off":
        out.append(Precondition("powered off", False, "no recorded power-off step for it"))
    else:
        since = parse_iso(power.get("evidence", {}).get("powered_off_at",
                                                        power["finished_at"]))
        if now - since < minimum:
            out.append(Precondition("powered off", False,
                                    f"off for {format_duration(now - since)}, the runbook asks "
                                    f"for {step.min_powered_off}"))
        else:
            out.append(Precondition("powered off", True,
                                    f"off since {iso(since)} ({format_duration(now - since)})"))
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
    return out


async def _destroy(ctx: StepContext, step: DropletDestroyStep) -> Verdict:
    host = ctx.book.hosts[step.host]
    api = ctx.droplets()
    command = f"DELETE /v2/droplets/<id of {host.droplet}>"
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
    if not confirmed:
        return Verdict(False, "not destroyed: the droplet name was not typed exactly",
                       command=command, evidence=evidence)
    # Re-identify once more right before the call: nothing may have changed while typing.
    again = await resolve(ctx, step.host)
    if (again.id, again.name, again.ip) != (droplet.id, droplet.name, droplet.ip):
        return Verdict(False, "the droplet changed while the name was being typed; refusing",
                       command=command, evidence=evidence)
    if step.snapshot_first:
        action = await api_call(ctx, api.post_action, droplet.id, "snapshot",
                                name=f"{droplet.name}-before-destroy-{int(ctx.clock.time())}")
        status = await wait_action(ctx, action, 3600)
        evidence["snapshot_action"] = action["id"]
        if status != "completed":
            return Verdict(False, f"the snapshot before destroy is {status}; not destroyed",
                           command=command, evidence=evidence)
    evidence.update(destroyed_by=ctx.operator.name, requested_at=iso(ctx.clock.time()))
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
