"""Co-signing a step, live: the facts an approval names read from the world (``live_facts``,
the one function the approver's process and the step itself both call), approving
(``gather`` then ``approvals.record_approval``, or ``approve`` for both), and, inside a
``cosign = true`` step just before its irreversible call, ``require_approval``: a valid
approval by another operator for the facts as they are now, waited for (bounded by the step's
``cosign_wait``) while it polls the run record and says what it waits for.

``session_for_approval`` opens a run record for ``cutover approve``: its runbook (recorded in
the record) pointed at the hosts the run recorded, with the approver as the operator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .approvals import (
    Approval,
    Facts,
    approvals_of,
    evidence_line,
    judge,
    record_approval,
    refuse,
)
from .durations import format_duration, parse_duration
from .errors import GateClosed
from .events import StepEvent
from .operator import HeadlessOperator
from .steps import plan_step
from .steps.base import StepContext

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

POLL_SECONDS = 2.0  # how often a waiting step reads the run record again


def _ignore(_event: StepEvent) -> None:
    """The approver's reads say nothing on the step's output (it is not running here)."""


def approval_context(engine: Engine, step_id: str) -> StepContext:
    """A step context on ``engine``'s transports for reading the facts, outside a run."""
    return StepContext(engine.book, engine.checklist, engine.operator, engine.ssh, engine.web,
                       engine.clock, engine.masker, _ignore, engine.droplets, engine.workdir,
                       step_id)


async def live_facts(ctx: StepContext, step: Any, droplet: Any = None,
                     checks: Sequence[Any] | None = None) -> Facts:
    """What an approval of ``step`` names, read now: its plan, its droplet from DigitalOcean
    (``droplet`` when the caller just read it), a destroy's preconditions (``checks`` when the
    caller just checked them). Read-only: GETs and the backup's re-hash."""
    from .steps.droplet_base import resolve

    read_at = ctx.clock.time()
    plan = tuple(f"{item.where}: {ctx.masker(item.action)}" for item in plan_step(ctx.book, step))
    if droplet is None:
        droplet = await resolve(ctx, step.host)
    if checks is None and step.kind == "droplet_destroy":
        from .steps.preconditions import preconditions

        checks = await preconditions(ctx, step, droplet)
    evidence = tuple(ctx.masker(evidence_line(c.name, c.ok, c.detail)) for c in checks or ())
    return Facts(step.id, plan, (droplet.id, droplet.name, droplet.ip), evidence, read_at)


async def gather(engine: Engine, step_id: str, by: str | None = None) -> Facts:
    """The facts an approval of ``step_id`` (by ``by``) would name, read now; ``GateClosed``
    when the step asks for no approval (or ``by`` may not give it)."""
    step = engine.book.step(step_id)
    if not step.cosign:
        raise GateClosed(f"step {step_id} ({step.title}) asks for no approval: its runbook does "
                         "not mark it cosign = true")
    engine.checklist.read()
    if by is not None:
        refuse(engine.checklist.record(step_id), step_id, by)  # before reading, and asking
    return await live_facts(approval_context(engine, step_id), step)


async def approve(engine: Engine, step_id: str, by: str, *, for_operator: str = "",
                  account: str | None = None) -> Approval:
    """``by`` approves ``step_id`` as it is now (the facts read through ``engine``)."""
    facts = await gather(engine, step_id, by)
    return record_approval(engine.checklist, facts, by, for_operator=for_operator,
                           account=account, masker=engine.masker)


# ---------------------------------------------------------------------------- inside the step


async def require_approval(ctx: StepContext, step: Any, known: Facts) -> str | None:
    """None when an approval by another operator counts for the facts as they are now (``known``
    at first: the step just read them); else, after waiting up to the step's ``cosign_wait``,
    the sentence saying what is missing or what changed. While it waits it reads the run record
    every ``POLL_SECONDS`` and the facts again whenever the approvals change; an approval is
    accepted only against facts read after it was found."""
    wait = parse_duration(step.cosign_wait)
    runner = ctx.operator.name
    started = ctx.clock.time()
    facts, seen, fresh = known, None, True
    said = ""
    while True:
        records = ctx.fresh_records()
        approvals = approvals_of(records[step.id])
        if approvals != seen and not fresh:
            facts, fresh = await live_facts(ctx, step), True
        seen = approvals
        verdict = judge(approvals, facts, runner, ctx.clock.time(), records.data)
        if verdict.approval is not None and not fresh:
            facts, fresh = await live_facts(ctx, step), True  # accept it only against now
            continue
        if verdict.approval is not None:
            ctx.say(verdict.sentence)
            return None
        elapsed = ctx.clock.time() - started
        if elapsed >= wait:
            waited = f" (waited {format_duration(elapsed)})" if wait else ""
            return f"{verdict.sentence}{waited}"
        if verdict.sentence != said:
            said = verdict.sentence
            _tell(ctx, f"{step.id} waits for an approval by an operator other than {runner} "
                       f"(up to {format_duration(wait - elapsed)} more: `cutover approve "
                       f"{ctx.checklist.path} {step.id} --operator NAME`, or `a` on the step in "
                       f"their wizard): {said}")
        ctx.progress(elapsed, wait, "waiting for an approval")
        fresh = False
        await ctx.clock.sleep(min(POLL_SECONDS, wait - elapsed))


def _tell(ctx: StepContext, text: str) -> None:
    """On the step's output (the wizard, the run's log) and, headless, where questions go."""
    ctx.say(text)
    if isinstance(ctx.operator, HeadlessOperator):
        ctx.operator.say(f"    … {ctx.masker(text)}")


# ---------------------------------------------------------------------------- cutover approve


def session_for_approval(record: str | Path, operator_name: str, hosts: Sequence[str] = (),
                         variables: Sequence[str] = (), runbook: str | None = None,
                         say: Callable[[str], None] = print) -> Session:
    """The run record ``record`` opened as ``operator_name``: the runbook it records (or
    ``runbook``), its hosts pointed where the run recorded them unless ``hosts`` says
    otherwise."""
    from .checklist import Checklist
    from .reopen import reopen_runbook
    from .session import open_session

    run = Checklist(record).read()["run"]
    book = reopen_runbook(record, run, runbook=runbook, hosts=hosts, variables=variables)
    return open_session(book, HeadlessOperator(operator_name, say=say), state=record,
                        repoint=False)  # joins the run: its --host/--var stay the record's


async def approve_interactively(record: str | Path, step_id: str, name: str, *,
                                for_operator: str = "", yes: bool = False,
                                runbook: str | None = None, hosts: Sequence[str] = (),
                                variables: Sequence[str] = (),
                                confirm: Callable[[str], bool] = lambda _q: False,
                                out: Callable[[str], None] = print) -> Approval | None:
    """``cutover approve``: the facts read and printed, the approver asked (unless ``yes``),
    the approval recorded; None when they said no."""
    session = session_for_approval(record, name, hosts, variables, runbook, say=out)
    try:
        facts = await gather(session.engine, step_id, name)
        for line in facts.lines():
            out(line)
        if not yes and not confirm(f"Approve step {step_id} as {name}?"):
            return None
        return record_approval(session.checklist, facts, name, for_operator=for_operator,
                               masker=session.engine.masker)
    finally:
        await session.aclose()
