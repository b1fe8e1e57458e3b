"""``droplet_power``: a droplet off or on through the DigitalOcean API.

Off stops the services first as the seed does (scheduler, pause, the rest) — after the operator
said yes, so a "no" changes nothing — asks for a graceful ``shutdown`` and falls back to
``power_off``, then checks the host stopped answering. On waits until the host answers SSH.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex

from ..aio import bounded
from ..clock import iso
from ..errors import cause_of
from ..events import PlanItem, Verdict
from ..runbook import DropletPowerStep, Runbook
from .base import StepContext, where
from .droplet_base import api_call, follow_action, identity, resolve


def plan(book: Runbook, step: DropletPowerStep) -> list[PlanItem]:
    host = book.hosts[step.host]
    api = "DigitalOcean API"
    items: list[PlanItem] = []
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


async def port_answers(address: str, port: int, timeout: float = 2.0) -> bool:
    try:
        _, writer = await bounded(asyncio.open_connection(address, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True


async def run(ctx: StepContext, step: DropletPowerStep) -> Verdict:
    return await (_power_off(ctx, step) if step.action == "off" else _power_on(ctx, step))


async def _power_off(ctx: StepContext, step: DropletPowerStep) -> Verdict:
    host = ctx.book.hosts[step.host]
    droplet = await resolve(ctx, step.host)
    evidence = identity(droplet)
    command = f"power off {droplet.name} (id {droplet.id})"
    if droplet.status == "off":
        evidence["powered_off_at"] = (ctx.record(step.id).power.powered_off_at
                                      or iso(ctx.clock.time()))
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
    status = await follow_action(ctx, action, step.shutdown_timeout)
    if status != "completed":
        ctx.say(f"graceful shutdown {status}; sending power_off")
        action = await api_call(ctx, api.post_action, droplet.id, "power_off")
        evidence["power_off_action"] = action["id"]
        status = await follow_action(ctx, action, step.shutdown_timeout)
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
    evidence = identity(droplet)
    command = f"power on {droplet.name} (id {droplet.id})"
    if droplet.status != "active":
        if not await ctx.operator.confirm(step.id, f"Power on {droplet.describe()}?"):
            return Verdict(False, "power on was not confirmed", command=command)
        api = ctx.droplets()
        action = await api_call(ctx, api.post_action, droplet.id, "power_on")
        evidence["power_on_action"] = action["id"]
        status = await follow_action(ctx, action, step.shutdown_timeout)
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

