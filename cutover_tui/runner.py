"""The headless runner: steps in order, one line each, stop at the first failure of a gating
step. ``--skip STEP_ID=REASON`` skips a step with its reason recorded, as ``s`` does in the
wizard (``Engine.skip``): the step is recorded ``skipped``, never ``done``.

A headless run succeeds (exit 0) when every step it went through ended done or skipped with a
reason; the summary counts the two apart ("94 done, 2 skipped")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

from .errors import ConfigError, CutoverError
from .events import OutputLine, StepEvent
from .records import FINISHED, StepState, look
from .runbook import Runbook
from .session import Session

STATE_ORDER = (StepState.DONE, StepState.SKIPPED, StepState.FAILED, StepState.INTERRUPTED,
               StepState.RUNNING, StepState.PENDING)


class Printer:
    """The engine's events as a headless run prints them (``-v``: each step's output too).
    Output lines are printed in batches: the lines a step printed in one turn of the event loop
    go out in one write, after it (``call_soon``), so a step printing 200,000 lines costs a few
    hundred writes and flushes, not 200,000. ``echo`` prints anything else in order: what is
    batched first. Without a running loop a line is printed at once."""

    def __init__(self, out: Callable[[str], None], verbose: bool) -> None:
        self.out = out
        self.verbose = verbose
        self._pending: list[str] = []

    def __call__(self, event: StepEvent) -> None:
        if not isinstance(event, OutputLine):
            self.flush()  # a step's result comes after its output
            return
        if not self.verbose:
            return
        self._pending.append(f"      {event.host + ': ' if event.host else ''}{event.text}")
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self.out("\n".join(lines))

    def echo(self, text: str) -> None:
        """``text`` printed after the output still batched (questions, a step's result)."""
        self.flush()
        self.out(text)


def printer(out: Callable[[str], None], verbose: bool) -> Printer:
    return Printer(out, verbose)


async def run_steps(session: Session, step_ids: Iterable[str],
                    out: Callable[[str], None] = print,
                    skips: Mapping[str, str] | None = None) -> bool:
    """Run the given steps in order, skipping those in ``skips`` (step id → reason) when they
    come up; True when every one ended done or skipped. A failed gating step stops the run."""
    engine = session.engine
    skips = skips or {}
    ok = True
    for step_id in step_ids:
        step = session.book.step(step_id)
        state = engine.state(step_id)
        if state in FINISHED:
            unused = " (already recorded; --skip not applied)" if step_id in skips else \
                " (already recorded)"
            out(f"  {look(state).glyph} {step_id:<14} {state:<8} {step.title}{unused}")
            continue
        if step_id in skips:
            engine.skip(step_id, skips[step_id])
            out(f"  {look(StepState.SKIPPED).glyph} {step_id:<14} {'skipped':<8} {step.title}: "
                f"{engine.checklist.record(step_id).summary}")
            continue
        try:
            verdict = await engine.run_step(step_id)
        except CutoverError as exc:
            blocked = look(StepState.FAILED).glyph
            out(f"  {blocked} {step_id:<14} {'blocked':<8} {step.title}: {engine.masker(str(exc))}")
            return False
        ended = verdict.final_state  # the verdict is the masked one the engine recorded
        out(f"  {look(ended).glyph} {step_id:<14} {ended:<8} {step.title}: {verdict.summary}")
        if ended not in FINISHED:
            ok = False
            if step.gate:
                return False
    return ok


def phase_step_ids(session: Session | Runbook, phase_ids: list[str] | None,
                   rollback: bool = False) -> list[str]:
    book = session if isinstance(session, Runbook) else session.book
    if rollback:
        return [s.id for s in book.rollback.steps] if book.rollback else []
    phases = [p for p in book.phases if not phase_ids or p.id in phase_ids]
    return [s.id for p in phases for s in p.steps]


def summary(session: Session,
            step_ids: Iterable[str] | None = None) -> tuple[dict[str, int], list[str]]:
    """Counts by state of the given steps (default: all) and those not done nor skipped."""
    counts: dict[str, int] = {}
    unfinished = []
    ids = list(step_ids) if step_ids is not None else [s.id for _, s in session.book.steps()]
    for step_id in ids:
        state = session.engine.state(step_id)
        counts[state] = counts.get(state, 0) + 1
        if state not in FINISHED:
            unfinished.append(f"{step_id} ({state})")
    return counts, unfinished


def format_counts(counts: Mapping[str, int]) -> str:
    """``94 done, 2 skipped, 1 failed``: done and skipped always, other states when present."""
    order = list(STATE_ORDER) + sorted(set(counts) - set(STATE_ORDER))
    return ", ".join(f"{counts.get(state, 0)} {state}" for state in order
                     if counts.get(state) or state in ("done", "skipped"))


def parse_skips(values: Iterable[str]) -> dict[str, str]:
    """``--skip STEP_ID=REASON`` values as {step id: reason}; a ConfigError names a bad one."""
    skips: dict[str, str] = {}
    for value in values:
        step_id, sep, reason = value.partition("=")
        step_id, reason = step_id.strip(), reason.strip()
        if not sep or not step_id:
            raise ConfigError(f"--skip {value!r}: write STEP_ID=REASON, e.g. "
                              "--skip 4.3-scrape='the scrape is not due before 17:00'")
        if not reason:
            raise ConfigError(f"--skip {step_id}: skipping a step needs a reason after '=' "
                              "(it is recorded in the checklist)")
        if step_id in skips:
            raise ConfigError(f"--skip {step_id} is given twice; give one reason per step")
        skips[step_id] = reason
    return skips


def check_skips(book: Runbook, skips: Mapping[str, str], step_ids: Iterable[str]) -> None:
    """Every step named by ``--skip`` exists and is one this run goes through."""
    known = {step.id for _, step in book.steps()}
    unknown = [step_id for step_id in skips if step_id not in known]
    if unknown:
        raise ConfigError(f"--skip: runbook {book.runbook.id!r} has no step "
                          f"{', '.join(unknown)} (`cutover validate` lists the step ids)")
    selected = set(step_ids)
    outside = [step_id for step_id in skips if step_id not in selected]
    if outside:
        raise ConfigError(f"--skip: step {', '.join(outside)} is not one this run goes "
                          "through (see --phase / --rollback)")
