"""``manual``: something a person does (announce the cutover, read an inbox); the operator
confirms it and may (or must) leave a note."""

from __future__ import annotations

from ..events import PlanItem, Verdict
from ..runbook import ManualStep, Runbook
from .base import StepContext


def plan(book: Runbook, step: ManualStep) -> list[PlanItem]:
    note = " and leaves a note" if step.require_note else ""
    return [PlanItem("operator", f"{step.instructions.strip()}  (confirms it is done{note})")]


async def run(ctx: StepContext, step: ManualStep) -> Verdict:
    ctx.say(step.instructions.strip())
    if not await ctx.operator.confirm(step.id, f"Done: {step.title}?", step.instructions):
        return Verdict(False, "the operator did not confirm this manual step",
                       command="manual")
    note = await ctx.operator.ask_text(step.id, f"Note for {step.id} ({step.title})",
                                       required=step.require_note)
    if step.require_note and not (note or "").strip():
        return Verdict(False, "this step needs a note and none was given", command="manual")
    evidence = {"confirmed_by": ctx.operator.name}
    if note:
        evidence["note"] = ctx.masker(note)
    return Verdict(True, f"confirmed by {ctx.operator.name}", command="manual",
                   evidence=evidence)
