"""The wizard's ``a`` on a phase screen: co-sign the selected step (four eyes). The facts are
read in a worker by the core (``cosign.gather``: its plan, the droplet from DigitalOcean, a
destroy's preconditions), shown in a confirmation that lists what is approved, and recorded
as this wizard's operator (``approvals.record_approval``). The core refuses, with a sentence,
a step that asks for no approval, a step of your own, a precondition not met."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cutover_tui.approvals import record_approval
from cutover_tui.cosign import gather
from cutover_tui.errors import CutoverError

from .dialogs import ConfirmDialog

if TYPE_CHECKING:
    from .phase import PhaseScreen


def approve_selected(screen: PhaseScreen) -> None:
    """Start co-signing the step selected on ``screen`` (a worker: the reads take a moment)."""
    step_id = screen.selected_step_id()
    if step_id is None:
        return
    step = screen.session.book.step(step_id)
    if not step.cosign:
        screen.notify(f"Step {step_id} asks for no approval (its runbook does not mark it "
                      "cosign = true).", title="Approve", severity="information")
        return
    screen.run_worker(_approve(screen, step_id), group="approve", exclusive=True,
                      exit_on_error=False)


async def _approve(screen: PhaseScreen, step_id: str) -> None:
    app = screen.app
    session = screen.session
    name = screen.cutover.operator_name
    app.notify(f"Reading what step {step_id} would act on …", title="Approve", timeout=3)
    try:
        facts = await gather(session.engine, step_id, name)
    except CutoverError as exc:
        app.notify(f"Cannot approve {step_id}: {session.engine.masker(str(exc))}",
                   title="Approve", severity="warning", timeout=10)
        return
    yes = await app.push_screen_wait(ConfirmDialog(
        f"Approve step {step_id} as {name}?", "\n".join(facts.lines()), yes="Approve"))
    if not yes:
        return
    try:
        approval = record_approval(session.checklist, facts, name, masker=session.engine.masker)
    except CutoverError as exc:
        app.notify(f"Cannot approve {step_id}: {session.engine.masker(str(exc))}",
                   title="Approve", severity="warning", timeout=10)
        return
    who = approval.for_operator or f"any operator but {name}"
    app.notify(f"Approved step {step_id} for {who}, valid 15 minutes: {approval.covers}",
               title="Approve", timeout=8)
    screen.refresh_all()
