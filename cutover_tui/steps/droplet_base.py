"""What the droplet steps share: the DigitalOcean API called off the event loop, the runbook's
host resolved to its droplet (refused when the IP differs), the identity a step records, an
action waited for with its progress shown, and the plan's line for an approval (``cosign``)."""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import DropletAPIError
from ..remote.droplets import wait_action
from .base import StepContext

FINAL = ("completed", "errored")


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


def identity(droplet: Any) -> dict[str, Any]:
    """What a droplet step records of the droplet, to recognise it again."""
    return {"droplet_id": droplet.id, "droplet_name": droplet.name, "droplet_ip": droplet.ip,
            "size": droplet.size, "region": droplet.region, "created_at": droplet.created_at}


async def follow_action(ctx: StepContext, action: dict[str, Any], timeout: float) -> str:
    """``remote.droplets.wait_action`` on the step's clock, saying the action's status and
    showing its progress."""
    label = f"action {action['id']} ({action['type']})"
    ctx.say(f"{label} {action['status']}")

    def report(status: str, elapsed: float) -> None:
        if status in FINAL:
            ctx.say(f"{label} {status}")
        elif elapsed < timeout:
            ctx.progress(elapsed, timeout, f"{action['type']}: {status}")

    return await wait_action(ctx.droplets(), action["id"], timeout, clock=ctx.clock,
                             interval=1.0, on_status=report)
