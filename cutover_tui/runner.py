"""The headless runner: steps in order, one line each, stop at the first failure."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .checklist import FINISHED
from .errors import CutoverError
from .events import OutputLine, StepEvent
from .session import Session

GLYPH = {"done": "✓", "failed": "✗", "skipped": "↷", "interrupted": "!", "running": "…",
         "pending": "·"}


def printer(out: Callable[[str], None], verbose: bool) -> Callable[[StepEvent], None]:
    def show(event: StepEvent) -> None:
        if verbose and isinstance(event, OutputLine):
            out(f"      {event.host + ': ' if event.host else ''}{event.text}")

    return show


async def run_steps(session: Session, step_ids: Iterable[str],
                    out: Callable[[str], None] = print) -> bool:
    """Run the given steps in order; True when every one ended done or was already finished."""
    engine = session.engine
    for step_id in step_ids:
        step = session.book.step(step_id)
        state = engine.state(step_id)
        if state in FINISHED:
            out(f"  {GLYPH[state]} {step_id:<14} {state:<8} {step.title} (already recorded)")
            continue
        try:
            verdict = await engine.run_step(step_id)
        except CutoverError as exc:
            out(f"  ✗ {step_id:<14} {'blocked':<8} {step.title}: {exc}")
            return False
        state = verdict.final_state
        out(f"  {GLYPH.get(state, '?')} {step_id:<14} {state:<8} {step.title}: {verdict.summary}")
        if state != "done" and step.gate:
            return False
    return True


def phase_step_ids(session: Session, phase_ids: list[str] | None,
                   rollback: bool = False) -> list[str]:
    book = session.book
    if rollback:
        return [s.id for s in book.rollback.steps] if book.rollback else []
    phases = [p for p in book.phases if not phase_ids or p.id in phase_ids]
    return [s.id for p in phases for s in p.steps]


def summary(session: Session) -> tuple[dict[str, int], list[str]]:
    counts: dict[str, int] = {}
    unfinished = []
    for _, step in session.book.steps():
        state = session.engine.state(step.id)
        counts[state] = counts.get(state, 0) + 1
        if state != "done":
            unfinished.append(f"{step.id} ({state})")
    return counts, unfinished
