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
from ..cosign import live_facts, require_approval
from ..errors import cause_of
from ..events import Verdict
from ..runbook import DropletPowerStep
from .base import StepContext
from .droplet_base import api_call, follow_action, identity, resolve
from .plans import plan_droplet_power

plan = plan_droplet_power  # what the kind will do (plans.py: planning imports no run-time module)


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
    if step.cosign:  # four eyes: another operator's approval of this droplet, as it is now
        refusal = await require_approval(ctx, step, await live_facts(ctx, step, droplet))
        if refusal is not None:  # guard: cosign-power-off
            return Verdict(False, f"not powered off: {refusal}; nothing was stopped, the "
                                  "droplet is still on", command=command, evidence=evidence)
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
        if step.cosign:
            refusal = await require_approval(ctx, step, await live_facts(ctx, step, droplet))
            if refusal is not None:
                return Verdict(False, f"not powered on: {refusal}", command=command)
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

