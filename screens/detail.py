"""What the phase screen's detail pane says: a step's plan before it runs, its verdict, evidence
and notes after (from the run record); the preflight row's explanation and last result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from cutover_tui.records import STATE_LOOK, StepRecord, StepState
from cutover_tui.steps.manual import recorded_lines

if TYPE_CHECKING:
    from cutover_tui.runbook import Runbook
    from cutover_tui.session import Session

    from .preflight import PreflightState


def step_text(session: Session, step_id: str, record: StepRecord) -> Text:
    """The step's title and description; once it ran, its state (in its word style from
    ``records.STATE_LOOK``: only failures red), who and when, summary and evidence; then its
    plan (masked) and notes. ``record``: the step's run record."""
    step = session.book.step(step_id)
    text = Text()
    text.append(f"{step.id}  {step.title}\n", style="bold")
    if step.description:
        text.append(step.description.strip() + "\n", style="italic")
    state = record.state
    if state is not StepState.PENDING:
        text.append(f"{state.upper()}", style=STATE_LOOK[state].word_style)
        if record.operator:
            # A running step has no finish yet: say since when it runs.
            when = (f" since {record.started_at or '…'}" if state is StepState.RUNNING
                    else f" at {record.finished_at or '…'}")
            text.append(f" by {record.operator}{when}")
        if record.summary:
            text.append(f"\n{record.summary}")
        if state is StepState.FAILED:
            host = getattr(step, "host", None)
            where = f" on {host}" if host else ""
            text.append(f"\n\nStep {step.id} failed{where}. You can retry (t), skip it with "
                        "a reason (s), or open the rollback procedure (b).", style="yellow")
        evidence = record.evidence
        if evidence:
            text.append("\nEvidence:\n", style="underline")
            for key, value in evidence.items():
                text.append(f"  {key}: {value}\n")

    source = getattr(step, "show_evidence_of", None)  # a manual step shows another's record
    if source and "shown_evidence_of" not in record.evidence:  # else its evidence has the copy
        text.append(f"\nRecorded by step {source}:\n", style="underline")
        for line in recorded_lines(session.checklist.records, source):
            text.append(f"  {line}\n")

    text.append("\nPlan:\n", style="underline")
    for item in session.engine.plan(step):
        text.append(f"• {item.where}\n", style="cyan")
        text.append(f"  {session.engine.masker(item.action)}\n")
    for note in record.notes:
        text.append(f"note: {note}\n", style="dim")
    return text


def preflight_text(book: Runbook, preflight: PreflightState) -> Text:
    """The preflight row: what it runs, and the last result."""
    from cutover_tui.preflight import select

    candidates, not_run = select(book)
    report = preflight.report
    text = Text()
    text.append("Preflight\n", style="bold")
    text.append("Runs every step that changes nothing — http requests, services status, and "
                "the ssh/local steps marked changes = false — from every phase and the "
                "rollback, against the hosts as they are now, and says of each: ok, differs "
                "now (a value the cutover is expected to change), or cannot pass (what the "
                "check looks for is not there at all: fix the runbook first). Nothing is "
                "recorded in the checklist.\n", style="italic")
    if preflight.running:
        text.append("\nRUNNING …\n", style="yellow")
    elif report is not None:
        style = {0: "green", 1: "bold red"}.get(report.exit_code, "magenta")
        text.append(f"\n{report.summary()}\n", style=style)
        text.append("Enter shows the table again; r runs it again.\n")
    else:
        text.append("\nr runs it; the table opens when it is done.\n")
    text.append("\nPlan:\n", style="underline")
    text.append(f"• {len(candidates)} step(s): "
                f"{', '.join(c.shown_id for c in candidates)}\n")
    text.append(f"• not run: {len(not_run)} step(s) that change something, ask a person or "
                "wait\n", style="dim")
    return text
