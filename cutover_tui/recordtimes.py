"""Are the checklist's times believable? The checklist is a record, not the authority: a hand
edit or a wrong clock can move its times, and the destroy must not rest on them then.

``time_problems`` reports every time in the record that lies in the future, lies before the
run started, or is out of order (a step finished before it started), and every time that is
not a time at all. Each problem is a sentence naming where the time is.
"""

from __future__ import annotations

import re
from typing import Any

from .clock import iso, parse_iso

# Two operators' machines (or a machine and DigitalOcean) may disagree by a little.
CLOCK_TOLERANCE = 300.0
_LEADING_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ")


def stamp(text: Any) -> float | None:
    """A checklist time (``2025-12-19T10:05:00Z``) as seconds, or None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None


def _table(value: Any) -> dict[str, Any]:
    """The value if it is a table of the record, else an empty one."""
    return value if isinstance(value, dict) else {}


def time_problems(data: dict[str, Any], now: float,
                  tolerance: float = CLOCK_TOLERANCE) -> list[str]:
    problems: list[str] = []
    run = _table(data.get("run"))
    started = stamp(run.get("started_at"))

    def check(where: str, text: Any) -> float | None:
        if text is None:
            return None
        value = stamp(text)
        if value is None:
            problems.append(f"{where} is {text!r}, not a time")
        elif value > now + tolerance:
            problems.append(f"{where} is {text}, in the future (now {iso(now)})")
        elif started is not None and value < started - tolerance:
            problems.append(f"{where} is {text}, before the run started "
                            f"({run.get('started_at')})")
        return value

    check("the run's started_at", run.get("started_at"))
    check("the run's updated_at", run.get("updated_at"))
    for flag in run.get("red_flags") or []:
        if isinstance(flag, str) and (match := _LEADING_TIME.match(flag)):
            check("a red flag's time", match.group(1))
    phases = _table(data.get("phases"))
    for phase_id, phase in phases.items():
        if isinstance(phase, dict):
            check(f"phase {phase_id}'s override_at", phase.get("override_at"))
    steps = _table(data.get("steps"))
    for step_id, record in steps.items():
        if not isinstance(record, dict):
            continue
        began = check(f"step {step_id}'s started_at", record.get("started_at"))
        ended = check(f"step {step_id}'s finished_at", record.get("finished_at"))
        if began is not None and ended is not None and ended < began:
            problems.append(f"step {step_id} finished ({record['finished_at']}) before it "
                            f"started ({record['started_at']})")
        for note in record.get("notes") or []:
            if isinstance(note, str) and (match := _LEADING_TIME.match(note)):
                check(f"a note of step {step_id}", match.group(1))
    return problems
