"""``wait``: until a duration passes, the next of some UTC times (the 05:00 / 17:00 scrape), or
a time after another step finished (day N of monitoring). Uses the injected clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ..clock import iso, parse_iso
from ..durations import format_duration, parse_duration
from ..events import Verdict
from ..records import StepState
from ..runbook import WaitStep
from .base import StepContext
from .plans import plan_wait

plan = plan_wait  # what the kind will do (plans.py: planning imports no run-time module)


def next_utc_time(now: float, times: Sequence[str]) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    candidates = []
    for text in times:
        hour, minute = (int(x) for x in text.split(":"))
        at = moment.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if at <= moment:
            at += timedelta(days=1)
        candidates.append(at.timestamp())
    return min(candidates)


def target_time(ctx: StepContext, step: WaitStep) -> float | str:
    now = ctx.clock.time()
    if step.since_step:
        record = ctx.record(step.since_step)
        if record.state is not StepState.DONE or not record.finished_at:
            return f"step {step.since_step} has not finished, so there is nothing to wait from"
        return parse_iso(record.finished_at) + parse_duration(step.after or "0s")
    if step.until_utc:
        return next_utc_time(now, step.until_utc)
    return now + parse_duration(step.duration or "0s")


async def run(ctx: StepContext, step: WaitStep) -> Verdict:
    target = target_time(ctx, step)
    if isinstance(target, str):
        return Verdict(False, target, command=plan(ctx.book, step)[0].action)
    start = ctx.clock.time()
    total = max(0.0, target - start)
    ctx.say(f"waiting {format_duration(total)} until {iso(target)}")
    while (remaining := target - ctx.clock.time()) > 0:
        # A movable clock jumps; a real one is slept in short chunks so progress shows.
        await ctx.clock.sleep(remaining if ctx.clock.fast else min(remaining, 1.0))
        ctx.progress(min(total, ctx.clock.time() - start), total,
                     f"{format_duration(max(0, target - ctx.clock.time()))} left")
    return Verdict(True, f"reached {iso(target)}", command=plan(ctx.book, step)[0].action,
                   evidence={"until": iso(target), "waited": format_duration(total)})
