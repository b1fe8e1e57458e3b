"""``cutover demo --headless --incident RULE``: phases 1–6, the monitoring week with the watcher
and RULE's incident on day 4 (``incident.py``), the rest of the week's confirmations, the destroy
(which must refuse, naming the flag), then the rollback drill (which must bring the old
production back). Exit 0 only if every promise held."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..netguard import ENV_SWITCH
from ..operator import HeadlessOperator
from ..records import FINISHED, StepState
from .demo import DEMO_ANSWERS, open_rehearsal
from .incident import incident_verdict, watch_the_week

BEFORE_THE_WEEK = ("1", "2", "3", "4", "5", "6")


async def demo_incident(root: Path, operator_name: str, rule: str, verbose: bool = False,
                        out: Callable[[str], None] = print, server: str = "asyncssh") -> int:
    from ..runner import printer, run_steps

    started = time.monotonic()
    out(f"starting the rehearsal world in {root} ...")
    operator = HeadlessOperator(operator_name, answers=DEMO_ANSWERS,
                                say=out if verbose else (lambda _text: None))
    rehearsal = await open_rehearsal(root, operator, server=server, emit=printer(out, verbose))
    world, session, book = rehearsal.world, rehearsal.session, rehearsal.book
    engine = session.engine
    try:
        before = [s.id for p in book.phases if p.id in BEFORE_THE_WEEK for s in p.steps]
        if not await run_steps(session, before, out):
            out("the cutover before the week did not pass; no week to watch")
            return 1
        out("")
        out(f"the monitoring week, watched by `cutover watch` on the rehearsal clock "
            f"(incident: {rule})")
        week = await watch_the_week(rehearsal, out, incident=rule)
        for message in week.received:
            out(f"  sink received: {message.get('title')}")
        out(f"rules fired this week: {', '.join(sorted(week.fired)) or 'none'}")
        session.checklist.read()
        monitoring = next(p for p in book.phases if p.repeat)
        rest = [s.id for s in monitoring.steps if engine.state(s.id) not in FINISHED]
        for step_id in rest:
            if step_id == "7.2":
                engine.skip("7.2", f"red flag {rule} fired this week: not confirmed; the "
                                   "destroy's preconditions decide")
        await run_steps(session, [s for s in rest if s != "7.2"], out)
        if not engine.phase_passed(monitoring):
            engine.override_phase(monitoring.id, f"rehearsal of the {rule} incident: go on to "
                                                 "show that the destroy refuses by itself")
        destroy_phase = book.phases[-1]
        await run_steps(session, [s.id for s in destroy_phase.steps
                                  if s.kind != "manual"], out)
        destroy = next(s for s in destroy_phase.steps if s.kind == "droplet_destroy")
        record = session.checklist.record(destroy.id)
        destroy_ok = record.state is StepState.DONE
        out(f"destroy {destroy.id}: {record.state}: {record.summary}")
        out("")
        out("the rollback drill")
        assert book.rollback is not None  # M11 has one
        rollback_ok = await run_steps(session, [s.id for s in book.rollback.steps], out)
        problems = incident_verdict(rule, week, record.summary, destroy_ok, rollback_ok)
        await session.aclose()
        leftovers = await world.wait_no_leftovers()
        if leftovers:
            problems.append(f"left running on the hosts: {leftovers}")
        out("")
        out(f"checklist: {session.checklist.path}")
        out(f"done in {time.monotonic() - started:.1f}s (rehearsal clock moved "
            f"{world.clock.offset / 86400:.1f} days)")
        for problem in problems:
            out(f"NOT AS PROMISED: {problem}")
        if not problems:
            out(f"incident {rule}: the rule fired (no other did), the notification was "
                "delivered, the destroy refused naming it, the rollback brought the old "
                "production back")
        return 0 if not problems else 1
    finally:
        with contextlib.suppress(Exception):
            await session.aclose()
        with contextlib.suppress(Exception):
            await world.stop()


def run_demo_incident(rule: str, keep: Path | None, operator: str, verbose: bool = False,
                      server: str = "asyncssh") -> int:
    os.environ[ENV_SWITCH] = "1"
    root = Path(keep).resolve() if keep else Path(tempfile.mkdtemp(prefix="cutover-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(demo_incident(root, operator, rule, verbose, server=server))
    except KeyboardInterrupt:
        print("\ninterrupted: the rehearsal world was stopped")
        return 130
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
