"""The rollback phase's screen: a phase screen with one key more, ``a``, the re-attempt. The
rollback ends at its safe state; re-attempting the cutover is a separate, deliberate act, asked
here with its reason and made by the same core call as ``cutover reattempt``
(``cutover_tui/attempts.py``), which refuses with a sentence until the rollback is safe."""

from __future__ import annotations

from textual.binding import Binding

from cutover_tui.attemptrecords import attempt_number
from cutover_tui.attempts import reattempt, reattempt_refusal, reopened_phases
from cutover_tui.errors import CutoverError
from cutover_tui.runbook import Runbook

from .dialogs import ReasonDialog
from .phase import PhaseScreen


class RollbackScreen(PhaseScreen):
    BINDINGS = [Binding("a", "reattempt", "Re-attempt")]

    def action_reattempt(self) -> None:
        session = self.session
        if self.cutover.running_step:
            self.notify(f"Step {self.cutover.running_step} is still running; wait for it to "
                        "finish.", severity="warning")
            return
        data = session.checklist.read()  # another operator may have moved on
        refusal = reattempt_refusal(data)
        if refusal:
            self.notify(f"Not yet: {refusal}.", title="Re-attempt", severity="warning",
                        timeout=12)
            return
        number, phases = attempt_number(data) + 1, reopened_phases(data)

        def reattempt_with(reason: str | None) -> None:
            if not reason:
                return
            try:
                done = reattempt(session.checklist, reason, by=session.engine.operator.name,
                                 masker=session.engine.masker)
            except CutoverError as exc:
                self.notify(session.engine.masker(str(exc)), title="Re-attempt",
                            severity="error", timeout=12)
                return
            self.notify(done.sentence(), title=f"Attempt {done.number}", timeout=12)
            self.cutover.open_phase(done.phases[0])

        self.app.push_screen(ReasonDialog(
            f"Re-attempt the cutover as attempt {number}",
            f"Phases {', '.join(phases)} open again, and the rollback with them; attempt "
            f"{number - 1}'s records are kept and shown in the review (c).\n\nWhat was the "
            "root cause, and how was it fixed? The reason is recorded in the checklist.",
            placeholder="root cause and fix"), reattempt_with)


def screen_for_phase(book: Runbook, phase_id: str) -> PhaseScreen:
    """The screen of ``phase_id``: the rollback's has the re-attempt key."""
    rollback = book.rollback
    return RollbackScreen(phase_id) if rollback and rollback.id == phase_id \
        else PhaseScreen(phase_id)
