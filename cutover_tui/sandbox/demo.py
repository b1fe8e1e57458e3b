"""``cutover demo``: the M11 runbook — the same file, pointed at the rehearsal world with
overrides — in the wizard, or headless with a built-in script of answers. Both modes open the
rehearsal (world + session) through ``open_rehearsal``; the wizard is handed that function and
calls it with its own Operator, so nothing here imports the UI.

The headless order is phases 1–6, then the rollback drill (R1–R5, which ends with the old
droplet paused again), then the monitoring week (moved through by the movable clock) and the
destroy. It exits 0 only if every step of the checklist ended done (or, with ``--skip``,
skipped with the reason given).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import MovableClock
from ..netguard import ENV_SWITCH
from ..operator import Answers, HeadlessOperator, Operator
from ..runbook import Runbook, load_runbook

if TYPE_CHECKING:
    from ..events import StepEvent
    from ..preflight import PreflightReport
    from ..session import Session
    from ..ui import Wizard
    from .world import World

# The M11 runbook: installed, the copy the wheel carries in cutover_tui/checklists/ (pyproject's
# force-include); in a checkout, the top-level checklists/ file.
_M11_PLACES = [Path(__file__).resolve().parents[n] / "checklists" / "m11-production-cutover.toml"
               for n in (1, 2)]
M11 = next((path for path in _M11_PLACES if path.exists()), _M11_PLACES[-1])

DEMO_ANSWERS = Answers(
    confirm={"default": True},
    typed={"8.3": "air-demand-prod"},
    text={
        "4.1": "Announced in #air-demand-ops: 161.35.135.71 is production (rehearsal)",
        "5.3": "Details recorded by 5.2; delete after one week",
        "4.3-scrape": "Rehearsal: the scheduler's log shows the scheduled scrape run",
        **{f"7.1-digest.d{day}": f"Rehearsal day {day}: no inbox here; the scheduler's log "
                                 "shows the digest job" for day in range(1, 8)},
        "7.2": "No red flag this week (rehearsal)",
        "7.3-scrapes": "Rehearsal: the week's scrapes are in the scheduler's log",
        "7.3-digests": "Rehearsal: no inbox here; the week's digest jobs are in the scheduler's log",
        "R4": "Rehearsal drill: no real fault; database reachable, logs clean",
        "8.4": "IMPLEMENTATION_PLAN.md: M11 marked complete (rehearsal)",
    },
    trust_unknown_host_keys=True,
)


REHEARSAL_TITLE = "M11: Production Cutover (rehearsal)"


def new_world(root: Path, server: str = "asyncssh") -> World:
    """The rehearsal world under ``root / "world"``, not started; its clock is kept in
    ``clock.json`` there, so the world's processes read the same time."""
    from .world import World

    return World(root / "world", MovableClock(state_file=root / "world" / "clock.json"),
                 server=server)


@dataclass
class Rehearsal:
    """The demo's world and the session on it: what both demo modes run."""

    world: World
    session: Session

    @property
    def book(self) -> Runbook:
        return self.session.book

    @property
    def started(self) -> bool:
        return self.world.started

    async def start(self) -> None:
        await self.world.start()

    async def stop(self) -> None:
        await self.world.stop()


async def open_rehearsal(root: Path, operator: Operator, *, server: str = "asyncssh",
                         emit: Callable[[StepEvent], None] | None = None,
                         start: bool = True) -> Rehearsal:
    """The one place the demo's world and session are built, for the headless demo and the
    wizard alike: the M11 runbook pointed at the world, the run record ``root/checklist.toml``,
    the world's movable clock and DigitalOcean stand-in. ``start``: bring the world up first
    (headless); otherwise it is only prepared (ports and keys picked, so the runbook's overrides
    are known) and the caller starts it — the wizard, once its first screen shows."""
    world = new_world(root, server)
    if start:
        await world.start()
    else:
        world.prepare()
    try:
        book = load_runbook(M11, world.overrides())
        from ..session import open_session

        session = open_session(book, operator, state=root / "checklist.toml", clock=world.clock,
                               emit=emit, droplets=world.droplet_api, workdir=root)
    except BaseException:
        with contextlib.suppress(Exception):
            await world.stop()
        raise
    return Rehearsal(world, session)


def run_demo(headless: bool, keep: Path | None, operator: str, verbose: bool = False,
             skips: dict[str, str] | None = None, server: str = "asyncssh",
             wizard: Wizard | None = None) -> int:
    """``cutover demo``: headless, or in ``wizard`` (found by the CLI through the ``cutover.ui``
    entry point, ``cutover_tui/ui.py``)."""
    if not headless and wizard is None:
        raise ValueError("the wizard mode needs a wizard (cutover_tui.ui.find_wizard)")
    # The rehearsal only ever talks to loopback; make the transports enforce it.
    os.environ[ENV_SWITCH] = "1"
    root = Path(keep).resolve() if keep else Path(tempfile.mkdtemp(prefix="cutover-demo-"))
    if keep:
        root.mkdir(parents=True, exist_ok=True)
    try:
        if headless:
            return asyncio.run(demo_headless(root, operator, verbose, skips=skips,
                                             server=server))
        assert wizard is not None  # checked above
        return wizard.rehearse(partial(open_rehearsal, root, server=server, start=False),
                               operator, REHEARSAL_TITLE)
    except KeyboardInterrupt:
        print("\ninterrupted: the rehearsal world was stopped")
        return 130
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept the world's files and the checklist in {root}")


def demo_order(book: Runbook) -> list[str]:
    by_phase = {p.id: [s.id for s in p.steps] for p in book.phases}
    before = [sid for pid in ("1", "2", "3", "4", "5", "6") for sid in by_phase[pid]]
    after = [sid for pid in ("7", "8") for sid in by_phase[pid]]
    rollback = [s.id for s in book.rollback.steps] if book.rollback else []
    return before + rollback + after


async def demo_headless(root: Path, operator_name: str, verbose: bool = False,
                        out: Callable[[str], None] = print, skips: dict[str, str] | None = None,
                        server: str = "asyncssh") -> int:
    """``skips`` (step id → reason): skipped with the reason recorded, as ``--skip`` does."""
    from ..runner import format_counts, printer, run_steps, summary

    started = time.monotonic()
    out(f"starting the rehearsal world in {root} ...")
    operator = HeadlessOperator(operator_name, answers=DEMO_ANSWERS,
                                say=out if verbose else (lambda _text: None))
    rehearsal = await open_rehearsal(root, operator, server=server, emit=printer(out, verbose))
    world, session, book = rehearsal.world, rehearsal.session, rehearsal.book
    try:
        for name, host in world.hosts.items():
            out(f"  host {name}: root@{host.address}:{host.port}, served by {server} "
                f"(services on :"
                f"{host.env.api_port} and :{host.env.dashboard_port})")
        assert world.api is not None  # started
        out(f"  DigitalOcean API stand-in: {world.api.url}")
        if verbose:  # questions and diffs, masked as everything else
            operator.say = lambda text: out(session.engine.masker(text))
        try:
            ok = await run_steps(session, demo_order(book), out, skips)
        finally:
            await session.aclose()
        counts, unfinished = summary(session)
        out("")
        out(f"summary: {format_counts(counts)} "
            f"of {len(book.steps())} steps in {time.monotonic() - started:.1f}s "
            f"(rehearsal clock moved {world.clock.offset / 86400:.1f} days)")
        out(f"checklist: {session.checklist.path}")
        if unfinished:
            out(f"not done: {', '.join(unfinished[:10])}")
        leftovers = await world.wait_no_leftovers()
        for name, lines in leftovers.items():
            out(f"left running on host {name} (not a service, not sshd):")
            for line in lines:
                out(f"  {line}")
        if not leftovers:
            out("left running on the hosts: nothing but the app's services"
                + (" and sshd" if server == "sshd" else ""))
        return 0 if ok and not unfinished and not leftovers else 1
    finally:
        with contextlib.suppress(Exception):
            await world.stop()


# ---------------------------------------------------------------------------- preflight


async def preflight_world(world: World, runbook: Path = M11, **kwargs: Any) -> PreflightReport:
    """``cutover preflight`` of ``runbook`` against a running rehearsal world, as it is now
    (before the cutover, when the world is fresh); returns the ``PreflightReport``."""
    from ..preflight import preflight

    operator = HeadlessOperator("preflight", answers=DEMO_ANSWERS, say=lambda _text: None)
    book = load_runbook(runbook, world.overrides())
    return await preflight(book, operator, clock=world.clock, workdir=world.root, **kwargs)


def run_demo_preflight(runbook: Path = M11, keep: Path | None = None, verbose: bool = False,
                       out: Callable[[str], None] = print, server: str = "asyncssh") -> int:
    """``cutover demo --preflight``: bring up a fresh rehearsal world, preflight ``runbook``
    against it, print the table; the exit status is the preflight's."""
    os.environ[ENV_SWITCH] = "1"
    root = Path(keep).resolve() if keep else Path(tempfile.mkdtemp(prefix="cutover-demo-"))
    root.mkdir(parents=True, exist_ok=True)

    async def main() -> int:
        from ..preflight import print_report

        world = new_world(root, server)
        out(f"starting the rehearsal world in {root} ...")
        try:
            await world.start()
            world.trust_host_keys()
            report = await preflight_world(world, runbook)
        finally:
            with contextlib.suppress(Exception):
                await world.stop()
        print_report(report, verbose)
        return report.exit_code

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        out("\ninterrupted: the rehearsal world was stopped")
        return 130
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
