"""Re-attempting the cutover after a rollback (issue 13, item 8): a separate, deliberate act —
``cutover reattempt``, or ``a`` on the wizard's rollback screen — never the end of the rollback,
which stops at its safe state (old production back, new paused, the root cause noted by a
person).

``reattempt`` works in one checklist transaction, from the checklist alone (the rollback's
``reattempt_from`` and the steps that need a note are copied into it from the runbook). It
refuses, with a sentence, unless every rollback step is done or skipped and each one that needs
a person's note (R4: the root cause) has it. Then it archives attempt N under
``[attempts."N"]`` (``attemptrecords.py`` draws the layout): the step tables of the reopened
phases and of the rollback, whole; the red flags raised by hand (``run.red_flags``); the
monitoring rules' ``[red_flags]`` table, moved as it is; the overrides of the reopened phases.
It resets those steps to pending and sets ``run.attempt = N + 1``.

Nothing else needs telling that a new attempt began: the monitoring week's waits count from the
cutover step's record (4.1's ``finished_at``) and the destroy's preconditions read the records
of 4.1, 5.2 and phase 7, all reset here and written anew by the next attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .attemptrecords import attempt_number
from .checklist import Checklist
from .clock import iso
from .errors import GateClosed
from .masking import Masker
from .records import StepRecord, StepState


@dataclass(frozen=True)
class Reattempt:
    """What a re-attempt did."""

    number: int  # the attempt that begins now
    archived: int  # the attempt kept under [attempts."<archived>"]
    phases: tuple[str, ...]  # the phases open again, in the runbook's order
    steps: tuple[str, ...]  # the steps reset to pending (the rollback's included)

    def sentence(self) -> str:
        return (f"attempt {self.number} begins: phase {', '.join(self.phases)} open again "
                f"({len(self.steps)} steps pending, the rollback's included); attempt "
                f"{self.archived}'s records are kept (cutover review shows them)")


def _phases(data: Mapping[str, Any]) -> Mapping[str, Any]:
    phases = data.get("phases")
    return phases if isinstance(phases, Mapping) else {}


def _rollback(data: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    for phase_id, phase in _phases(data).items():
        if isinstance(phase, Mapping) and phase.get("rollback") is True:
            return phase_id, phase
    return None


def reopened_phases(data: Mapping[str, Any]) -> list[str]:
    """The phases a re-attempt opens again: the rollback's ``reattempt_from`` and every phase
    after it (the rollback not counted); [] when the runbook names none."""
    found = _rollback(data)
    start = found[1].get("reattempt_from") if found else None
    ids = [pid for pid, phase in _phases(data).items()
           if isinstance(phase, Mapping) and phase.get("rollback") is not True]
    return ids[ids.index(start):] if start in ids else []


def reattempt_refusal(data: Mapping[str, Any]) -> str | None:
    """Why the cutover may not be re-attempted now, or None."""
    found = _rollback(data)
    if found is None:
        return "this run's runbook has no rollback procedure, so there is nothing to re-attempt"
    rollback_id, rollback = found
    if not reopened_phases(data):
        return ("the runbook's [rollback] names no phase to re-attempt from (reattempt_from); "
                "add it, then open the run once (cutover run) so its run record has it")
    steps = data.get("steps", {})
    running = [sid for sid, table in steps.items()
               if isinstance(table, Mapping) and table.get("state") == StepState.RUNNING]
    if running:
        return f"step {', '.join(running)} is running; wait for it to finish"
    for step_id in rollback.get("steps", []):
        record = StepRecord.from_dict(steps.get(step_id, {}))
        if not record.state.finished:  # guard: reattempt-after-safe-state
            return (f"the rollback has not reached its safe state: step {step_id} "
                    f"({record.title or 'not run'}) is {record.state}; finish the rollback "
                    f"(phase {rollback_id}) first")
    for step_id in rollback.get("notes_required", []):
        record = StepRecord.from_dict(steps.get(step_id, {}))
        note = record.evidence.get("note")
        if not (isinstance(note, str) and note.strip()):  # guard: reattempt-needs-root-cause-note
            return (f"step {step_id} ({record.title}) has no note from a person: the root "
                    "cause and its fix are noted there before the cutover is re-attempted")
    return None


def reattempt(checklist: Checklist, reason: str, by: str,
              masker: Masker | None = None) -> Reattempt:
    """Archive the current attempt and open the phases from ``reattempt_from`` again, in one
    transaction; a ``GateClosed`` with the sentence of ``reattempt_refusal`` when it may not."""
    masker = masker or Masker()
    if not reason.strip():
        raise GateClosed("a re-attempt needs a reason: the root cause and how it was fixed "
                         "(--reason)")
    with checklist.transaction() as data:
        refusal = reattempt_refusal(data)
        if refusal:
            raise GateClosed(f"cannot re-attempt the cutover: {refusal}")
        return _archive_and_reset(data, masker(reason.strip()), by, iso(checklist.clock.time()))


def _touched(table: Mapping[str, Any]) -> bool:
    """Whether the attempt left anything in a step's record (a step never run, with no note,
    is only its plan: nothing to keep)."""
    record = StepRecord.from_dict(table)
    return record.state is not StepState.PENDING or bool(record.notes or record.started_at)


def _archive_and_reset(data: dict[str, Any], reason: str, by: str, now: str) -> Reattempt:
    run, phases, steps = data["run"], data["phases"], data.setdefault("steps", {})
    number = attempt_number(data)
    attempts = data.setdefault("attempts", {})
    previous = attempts.get(str(number - 1), {})
    rollback_id, _ = _rollback(data) or ("", {})
    opened = reopened_phases(data)
    archived_phases = [*opened, rollback_id]
    listed = {sid: pid for pid in archived_phases for sid in phases[pid].get("steps", [])}
    # Steps of those phases, and records of them no longer in the runbook (moved, not reset).
    ids = [sid for sid, table in steps.items()
           if sid in listed or (isinstance(table, Mapping) and table.get("phase") in archived_phases)]
    archive: dict[str, Any] = {
        "started_at": previous.get("ended_at", run.get("started_at", now)),
        "ended_at": now, "reason": reason, "by": by, "phases": archived_phases,
        "steps": {sid: steps[sid] for sid in ids if _touched(steps[sid])},
    }
    if run.get("red_flags"):
        archive["raised_red_flags"] = run.pop("red_flags")
    if "red_flags" in data:
        archive["red_flags"] = data.pop("red_flags")
    overrides = {pid: {key: phases[pid].pop(key) for key in list(phases[pid])
                       if key.startswith("override_")} for pid in opened}
    if any(overrides.values()):
        archive["phase_overrides"] = {pid: table for pid, table in overrides.items() if table}
    attempts[str(number)] = archive
    reset = []
    for sid in ids:  # a new table in the same place: the archive keeps the old one
        old = StepRecord.from_dict(steps[sid])
        if sid not in listed:
            del steps[sid]
            continue
        steps[sid] = {"state": "pending", "phase": old.phase or listed[sid], "title": old.title,
                      "kind": old.kind, "notes": [], "plan": list(old.plan)}
        reset.append(sid)
    run["attempt"] = number + 1
    return Reattempt(number + 1, number, tuple(opened), tuple(reset))
