"""``cutover demo``: the M11 runbook — the same file, pointed at the rehearsal world with
overrides — in the wizard, or headless with a built-in script of answers.

The headless order is phases 1–6, then the rollback drill (R1–R5, which ends with the old
droplet paused again), then the monitoring week (moved through by the movable clock) and the
destroy. It exits 0 only if every step of the checklist ended done.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..clock import MovableClock
from ..netguard import ENV_SWITCH
from ..operator import Answers, HeadlessOperator
from ..runbook import load_runbook

M11 = Path(__file__).resolve().parents[2] / "checklists" / "m11-production-cutover.toml"

DEMO_ANSWERS = Answers(
    confirm={"default": True},
    typed={"8.3": "air-demand-prod"},
    text={
        "4.1": "Announced in #air-demand-ops: 161.35.135.71 is production (rehearsal)",
        "5.3": "Details recorded by 5.2; delete after one week",
        "7.2": "No red flag this week (rehearsal)",
        "R4": "Rehearsal drill: no real fault; database reachable, logs clean",
        "8.4": "IMPLEMENTATION_PLAN.md: M11 marked complete (rehearsal)",
    },
    trust_unknown_host_keys=True,
)


def run_demo(headless: bool, keep: Path | None, operator: str, verbose: bool = False) -> int:
    # The rehearsal only ever talks to loopback; make the transports enforce it.
    os.environ[ENV_SWITCH] = "1"
    root = Path(keep).resolve() if keep else Path(tempfile.mkdtemp(prefix="cutover-demo-"))
    if keep:
        root.mkdir(parents=True, exist_ok=True)
    try:
        if headless:
            return asyncio.run(demo_headless(root, operator, verbose))
        from screens.app import run_demo_wizard

        return run_demo_wizard(root, operator)
    except KeyboardInterrupt:
        print("\ninterrupted: the rehearsal world was stopped")
        return 130
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept the world's files and the checklist in {root}")


def demo_order(book) -> list[str]:
    by_phase = {p.id: [s.id for s in p.steps] for p in book.phases}
    before = [sid for pid in ("1", "2", "3", "4", "5", "6") for sid in by_phase[pid]]
    after = [sid for pid in ("7", "8") for sid in by_phase[pid]]
    rollback = [s.id for s in book.rollback.steps] if book.rollback else []
    return before + rollback + after


async def demo_headless(root: Path, operator_name: str, verbose: bool = False,
                        out=print) -> int:
    from ..runner import printer, run_steps, summary
    from ..session import open_session
    from .world import World

    started = time.monotonic()
    world = World(root / "world", MovableClock(state_file=root / "world" / "clock.json"))
    out(f"starting the rehearsal world in {root} ...")
    try:
        await world.start()
        for name, host in world.hosts.items():
            out(f"  host {name}: root@{host.address}:{host.port} (services on :"
                f"{host.env.api_port} and :{host.env.dashboard_port})")
        out(f"  DigitalOcean API stand-in: {world.api.url}")
        book = load_runbook(M11, world.overrides())
        operator = HeadlessOperator(operator_name, answers=DEMO_ANSWERS,
                                    say=out if verbose else (lambda _text: None))
        session = open_session(book, operator, state=root / "checklist.toml", clock=world.clock,
                               emit=printer(out, verbose), droplets=world.droplet_api,
                               workdir=root)
        try:
            ok = await run_steps(session, demo_order(book), out)
        finally:
            await session.aclose()
        counts, unfinished = summary(session)
        out("")
        out(f"summary: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))} "
            f"of {len(book.steps())} steps in {time.monotonic() - started:.1f}s "
            f"(rehearsal clock moved {world.clock.offset / 86400:.1f} days)")
        out(f"checklist: {session.checklist.path}")
        if unfinished:
            out(f"not done: {', '.join(unfinished[:10])}")
        return 0 if ok and not unfinished else 1
    finally:
        with contextlib.suppress(Exception):
            await world.stop()
