"""``cutover review``: a read-only timeline of a saved checklist, as text or Markdown. Needs no
runbook: the checklist carries its titles and plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checklist import Checklist


def _ordered_steps(data: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    steps = data.get("steps", {})
    out = []
    for phase_id, phase in data.get("phases", {}).items():
        for step_id in phase.get("steps", []):
            if step_id in steps:
                out.append((phase_id, step_id, steps[step_id]))
    listed = {s for _, s, _ in out}
    out += [("?", k, v) for k, v in steps.items() if k not in listed]
    return out


def render_text(path: str | Path, markdown: bool = False) -> str:
    data = Checklist(path).read()
    run = data["run"]
    h1, h2, bullet = ("# ", "## ", "- ") if markdown else ("", "", "  ")
    lines = [
        f"{h1}{run.get('runbook_title', run.get('runbook_id'))}",
        f"runbook {run.get('runbook_id')} sha256 {str(run.get('runbook_sha256'))[:12]}; "
        f"started {run.get('started_at')}; operators {', '.join(run.get('operators', []))}",
    ]
    for flag in run.get("red_flags", []):
        lines.append(f"RED FLAG: {flag}")
    current = None
    for phase_id, step_id, record in _ordered_steps(data):
        if phase_id != current:
            current = phase_id
            phase = data.get("phases", {}).get(phase_id, {})
            lines += ["", f"{h2}{'Rollback' if phase.get('rollback') else 'Phase ' + phase_id}: "
                          f"{phase.get('title', '')}"]
            if phase.get("override_reason"):
                lines.append(f"{bullet}went on without passing: {phase['override_reason']} "
                             f"({phase.get('override_by')})")
        lines.append(f"{bullet}{step_id} [{record.get('state', 'pending')}] "
                     f"{record.get('title', '')} — {record.get('operator', '')} "
                     f"{record.get('started_at', '')} → {record.get('finished_at', '')}")
        if record.get("summary"):
            lines.append(f"{bullet}    {record['summary']}")
        for key, value in record.get("evidence", {}).items():
            if isinstance(value, dict | list):
                continue
            lines.append(f"{bullet}    {key}: {value}")
        for note in record.get("notes", []):
            lines.append(f"{bullet}    note: {note}")
    return "\n".join(lines)
