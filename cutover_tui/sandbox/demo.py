"""``cutover demo``: the M11 runbook — the same file, pointed at the rehearsal world with
overrides — in the wizard, or headless with a built-in script of answers. Both modes open the
rehearsal (world + session) through ``open_rehearsal``; the wizard is handed that function and
calls it with its own Operator, so nothing here imports the UI.

The headless order is phases 1–6; the rollback drill, which stops at its safe state (old
production back, new paused, R4's root cause noted from the demo's answers); the re-attempt,
attempt 2 (the core call ``cutover reattempt`` makes, reason "rehearsal drill"), which opens
phases 3–8 again; phases 3–6 once more; then the monitoring week (moved through by the movable
clock, counted from the new announcement) and the destroy. It exits 0 only if every step of
the checklist ended done (or, with ``--skip``, skipped with the reason given).

In both modes a second operator, ``demo-teammate`` (``Teammate``), co-signs the steps the
runbook marks ``cosign = true`` (5.2, 8.3) as each starts: four eyes, rehearsed.
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
TEAMMATE = "demo-teammate"  # the second operator who co-signs 5.2 and 8.3


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
                         start: bool = True,
                         say: Callable[[str], None] | None = None) -> Rehearsal:
    """The one place the demo's world and session are built, for the headless demo and the
    wizard alike: the M11 runbook pointed at the world, the run record ``root/checklist.toml``,
    the world's movable clock and DigitalOcean stand-in, and the second operator who approves
    the cosign steps (``Teammate``; ``say`` prints what it approves). ``start``: bring the
    world up first (headless); otherwise it is only prepared (ports and keys picked, so the
    runbook's overrides are known) and the caller starts it — the wizard, once its first screen
    shows."""
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
        Teammate(session, say).join()
    except BaseException:
        with contextlib.suppress(Exception):
            await world.stop()
        raise
    return Rehearsal(world, session)


class Teammate:
    """The rehearsal's second operator, ``demo-teammate``: when a ``cosign = true`` step starts
    (5.2, 8.3), it reads the droplet and preconditions for itself and approves them through the
    core (``cosign.approve``), as a teammate watching the run would; the step, waiting for the
    approval just before it acts, goes on. Should the step still say it waits (the approval did
    not count), it approves again, at most ``TRIES`` times in all. What it approved, or why it
    could not, goes to the step's output (and to ``say``)."""

    TRIES = 3

    def __init__(self, session: Session, say: Callable[[str], None] | None = None,
                 name: str = TEAMMATE) -> None:
        self.session, self.say, self.name = session, say, name
        self.tries: dict[str, int] = {}  # step id → approvals given in its current run
        self.tasks: dict[str, asyncio.Task[None]] = {}  # held until done, one per step

    def join(self) -> None:
        self.session.engine.listeners.append(self.on_event)

    def on_event(self, event: StepEvent) -> None:
        from ..events import OutputLine, StepStarted

        step_id = event.step_id
        if isinstance(event, StepStarted) and self.session.book.step(step_id).cosign:
            self.tries[step_id] = 0
        elif not (isinstance(event, OutputLine) and step_id in self.tries
                  and event.text.startswith(f"{step_id} waits for an approval ")):
            return
        if self.tries[step_id] < self.TRIES and step_id not in self.tasks:
            self.tries[step_id] += 1
            task = asyncio.get_running_loop().create_task(self.approve(step_id))
            self.tasks[step_id] = task
            task.add_done_callback(lambda _done: self.tasks.pop(step_id, None))

    async def approve(self, step_id: str) -> None:
        from ..cosign import approve
        from ..errors import CutoverError
        from ..events import OutputLine

        engine = self.session.engine
        try:
            approval = await approve(engine, step_id, self.name)
            text = f"{self.name} approved {step_id}: {approval.covers}"
        except CutoverError as exc:
            text = f"{self.name} could not approve {step_id}: {exc}"
        except Exception as exc:  # the run goes on; the step says what it misses
            text = f"{self.name} could not approve {step_id} ({type(exc).__name__}: {exc})"
        text = engine.masker(text)
        engine.emit(OutputLine(step_id, text, "info"))
        if self.say is not None:
            self.say(f"    ✍ {text}")


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


REATTEMPT_REASON = "rehearsal drill"


def demo_rounds(book: Runbook) -> tuple[list[str], list[str]]:
    """The steps before the re-attempt (phases 1–6, the rollback) and after it (the reopened
    phases up to 6 again, then 7 and 8)."""
    by_phase = {p.id: [s.id for s in p.steps] for p in book.phases}
    ids = list(by_phase)
    rollback = book.rollback
    start = rollback.reattempt_from if rollback and rollback.reattempt_from else ids[0]
    again = ids[ids.index(start):ids.index("7")]
    before = [sid for pid in ids[:ids.index("7")] for sid in by_phase[pid]]
    after = [sid for pid in [*again, "7", "8"] for sid in by_phase[pid]]
    return before + ([s.id for s in rollback.steps] if rollback else []), after


async def _after_the_reattempt(rehearsal: Rehearsal, after: list[str],
                               out: Callable[[str], None], skips: dict[str, str] | None) -> bool:
    """The reopened phases, then the monitoring week watched by ``cutover watch``'s watcher
    (its daily checks recorded by watch; two API blips that must fire nothing), then the rest of
    the week (a person's confirmations) and the destroy."""
    from ..runner import run_steps
    from .incident import watch_the_week

    book = rehearsal.book
    week_phases = {p.id for p in book.phases if p.repeat}
    first_week = next(i for i, s in enumerate(after) if book.phase_of(s).id in week_phases)
    if not await run_steps(rehearsal.session, after[:first_week], out, skips):
        return False
    out("  the monitoring week, watched by `cutover watch` on the rehearsal clock:")
    week = await watch_the_week(rehearsal, lambda text: out(f"    {text}"))
    if week.fired:
        out(f"  red flags fired in a quiet week: {', '.join(sorted(week.fired))}")
        return False
    out("  no red flag fired this week")
    return await run_steps(rehearsal.session, after[first_week:], out, skips)


def demo_order(book: Runbook) -> list[str]:
    """Every step the headless demo goes through, in order (the reopened phases twice)."""
    before, after = demo_rounds(book)
    return before + after


async def demo_headless(root: Path, operator_name: str, verbose: bool = False,
                        out: Callable[[str], None] = print, skips: dict[str, str] | None = None,
                        server: str = "asyncssh") -> int:
    """``skips`` (step id → reason): skipped with the reason recorded, as ``--skip`` does."""
    from ..runner import format_counts, printer, run_steps, summary

    started = time.monotonic()
    out(f"starting the rehearsal world in {root} ...")
    operator = HeadlessOperator(operator_name, answers=DEMO_ANSWERS,
                                say=out if verbose else (lambda _text: None))
    rehearsal = await open_rehearsal(root, operator, server=server, emit=printer(out, verbose),
                                     say=out)
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
        before, after = demo_rounds(book)
        try:
            ok = await run_steps(session, before, out, skips)
            first = summary(session, before)  # attempt 1, before the re-attempt archives it
            if ok:
                from ..attempts import reattempt

                done = reattempt(session.checklist, REATTEMPT_REASON, by=operator_name,
                                 masker=session.engine.masker)
                out(f"  ↻ re-attempt: {done.sentence()}")
                ok = await _after_the_reattempt(rehearsal, after, out, skips)
        finally:
            await session.aclose()
        second = summary(session, after)
        counts = {state: first[0].get(state, 0) + second[0].get(state, 0)
                  for state in {*first[0], *second[0]}}
        unfinished = first[1] + second[1]
        out("")
        out(f"summary: {format_counts(counts)} of {len(before) + len(after)} steps run "
            f"({len(before)} in attempt 1, rolled back; {len(after)} in attempt 2) "
            f"in {time.monotonic() - started:.1f}s "
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
