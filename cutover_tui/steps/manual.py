"""``manual``: something a person does (announce the cutover, read an inbox); the operator
confirms it and may (or must) leave a note.

With ``show_evidence_of``, what another step recorded is shown with the instructions (in the
confirmation, the output and the verdict) and copied into this step's evidence: 5.3 "document
the old droplet's details" shows the id, name, IP, size, region and power-off time 5.2 recorded,
instead of saying they were recorded somewhere."""

from __future__ import annotations

from typing import Any

from ..events import Verdict
from ..operator import note_entry
from ..records import RunRecords, StepState
from ..runbook import ManualStep
from .base import StepContext
from .plans import plan_manual

plan = plan_manual  # what the kind will do (plans.py: planning imports no run-time module)


def shown(value: Any) -> str:
    """An evidence value on one line: a list as its items, a table as key=value pairs."""
    if isinstance(value, list | tuple):
        return ", ".join(shown(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={shown(item)}" for key, item in value.items())
    return str(value)


def recorded_lines(records: RunRecords, step_id: str) -> list[str]:
    """What step ``step_id`` recorded, one ``key: value`` line each (the record is masked
    already), after a line saying so when it is not done; one line when it recorded nothing."""
    record = records[step_id]
    if not record.evidence:
        return [f"step {step_id} has recorded nothing yet ({record.state}): note the details "
                "by hand"]
    lines = [f"{key}: {shown(value)}" for key, value in record.evidence.items()]
    if record.state is not StepState.DONE:
        lines.insert(0, f"step {step_id} is {record.state}, not done: check these")
    return lines


async def run(ctx: StepContext, step: ManualStep) -> Verdict:
    ctx.say(step.instructions.strip())
    detail = step.instructions
    source = step.show_evidence_of
    lines: list[str] = []
    if source:
        lines = recorded_lines(ctx.records, source)
        ctx.say(f"recorded by step {source}:")
        for line in lines:
            ctx.say(f"  {line}")
        detail = (f"{step.instructions.strip()}\n\nRecorded by step {source}:\n"
                  + "\n".join(f"  {line}" for line in lines))
    if not await ctx.operator.confirm(step.id, f"Done: {step.title}?", detail):
        return Verdict(False, "the operator did not confirm this manual step",
                       command="manual")
    note = await ctx.operator.ask_text(step.id, f"Note for {step.id} ({step.title})",
                                       required=step.require_note)
    if step.require_note and not (note or "").strip():
        return Verdict(False, "this step needs a note and none was given; headless, "
                       f"{note_entry(step.id)}", command="manual")
    evidence: dict[str, Any] = {"confirmed_by": ctx.operator.name}
    summary = f"confirmed by {ctx.operator.name}"
    if source:
        # A copy of what was shown, so this step's record says what the operator confirmed
        # (its own keys win over one of the same name).
        recorded = ctx.record(source).evidence
        evidence = {**recorded, **evidence, "shown_evidence_of": source}
        summary += (f"; {source} recorded " if recorded else "; ") + "; ".join(lines)
    if note:
        evidence["note"] = ctx.masker(note)
    return Verdict(True, summary, command="manual", evidence=evidence)
