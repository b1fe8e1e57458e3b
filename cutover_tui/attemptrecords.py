"""What the run record (the checklist) keeps of a re-attempted cutover: the layout of an
archived attempt, its shape check, and the rollback fields the checklist copies from the runbook
so that ``cutover reattempt`` needs only the checklist. The act itself is ``attempts.py``.

::

    [run]
    attempt = 2                      # the attempt the steps' tables belong to now (1 if absent)

    [phases.R]                       # the rollback phase, as copied from the runbook
    reattempt_from = "3"             # the phase a re-attempt opens again, with those after it
    notes_required = ["R4"]          # its steps that need a person's note before a re-attempt

    [attempts."1"]                   # attempt 1, archived when attempt 2 began
    started_at = "…"                 # when it began (the run's start, or the previous re-attempt)
    ended_at = "…"                   # when the re-attempt archived it
    reason = "…"                     # why it was re-attempted: the root cause and its fix
    by = "…"                         # who re-attempted it
    phases = ["3", …, "8", "R"]      # the phases whose step records were archived
    raised_red_flags = ["…"]         # run.red_flags of that attempt (raised by hand, ``f``)
    [attempts."1".red_flags]         # the monitoring rules' table of that attempt, as it was
    [attempts."1".phase_overrides."4"]   # a phase gone on past without passing, as it was
    [attempts."1".steps."3.1"]       # each step's table that attempt touched (ran, skipped,
                                     # noted), whole, as it left it
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .records import NUMBER, STATES, STEP_FIELDS, TABLE, TEXT, TEXTS, is_of, toml_type

Loc = tuple[str, ...]

ATTEMPT_FIELDS = {
    "started_at": TEXT, "ended_at": TEXT, "reason": TEXT, "by": TEXT, "phases": TEXTS,
    "raised_red_flags": TEXTS, "red_flags": TABLE, "phase_overrides": TABLE, "steps": TABLE,
}
ROLLBACK_FIELDS = {"reattempt_from": TEXT, "notes_required": TEXTS}


def rollback_fields(phase: Any) -> dict[str, Any]:
    """What the checklist's table of ``phase`` holds for a re-attempt: nothing unless the
    runbook says where a re-attempt starts (only ``[rollback]`` may)."""
    if not getattr(phase, "reattempt_from", None):
        return {}
    return {"reattempt_from": phase.reattempt_from,
            "notes_required": [s.id for s in phase.steps if getattr(s, "require_note", False)]}


def attempt_number(data: Mapping[str, Any]) -> int:
    """The attempt the checklist's step tables belong to now (1 before any re-attempt)."""
    run = data.get("run")
    number = run.get("attempt", 1) if isinstance(run, Mapping) else 1
    return number if is_of(number, NUMBER) and number >= 1 else 1


def archived_attempts(data: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    """The archived attempts, oldest first, as (number, table)."""
    attempts = data.get("attempts")
    if not isinstance(attempts, Mapping):
        return []
    return sorted((int(key), table) for key, table in attempts.items()
                  if str(key).isdigit() and isinstance(table, Mapping))


def attempt_shape_problems(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Where the re-attempt fields of a checklist are not of the type the tool reads (a hand
    edit): (path, expected …), as ``checklist.shape_problems`` reports the rest."""
    problems: list[tuple[Loc, str]] = []

    def fields(loc: Loc, record: Mapping[str, Any], expected: Mapping[str, str]) -> None:
        for key, kind in expected.items():
            if key in record and not is_of(record[key], kind):
                problems.append(((*loc, key), f"expected {kind}, got {toml_type(record[key])}"))

    run = data.get("run")
    if isinstance(run, Mapping) and "attempt" in run:
        attempt = run["attempt"]
        if not is_of(attempt, NUMBER) or attempt < 1:
            problems.append((("run", "attempt"), "expected a whole number from 1, got "
                             f"{toml_type(attempt)}"))
    phases = data.get("phases")
    for phase_id, phase in phases.items() if isinstance(phases, Mapping) else ():
        if isinstance(phase, Mapping):
            fields(("phases", phase_id), phase, ROLLBACK_FIELDS)
    attempts = data.get("attempts", {})
    if not isinstance(attempts, Mapping):
        return [*problems, (("attempts",), f"expected a table, got {toml_type(attempts)}")]
    for number, attempt in attempts.items():
        loc: Loc = ("attempts", number)
        if not str(number).isdigit():
            problems.append((loc, 'expected an attempt number, as in [attempts."1"]'))
        if not isinstance(attempt, Mapping):
            problems.append((loc, f"expected a table, got {toml_type(attempt)}"))
            continue
        fields(loc, attempt, ATTEMPT_FIELDS)
        steps = attempt.get("steps", {})
        for step_id, record in steps.items() if isinstance(steps, Mapping) else ():
            where = (*loc, "steps", step_id)
            if not isinstance(record, Mapping):
                problems.append((where, f"expected a table, got {toml_type(record)}"))
                continue
            fields(where, record, STEP_FIELDS)
            state = record.get("state", "pending")
            if isinstance(state, str) and state not in STATES:
                problems.append(((*where, "state"), f"expected one of {', '.join(STATES)}, "
                                 f"got {state!r}"))
    return problems
