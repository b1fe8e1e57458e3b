"""``cutover review``: a read-only timeline of a saved checklist, as text or Markdown. Needs no
runbook: the checklist carries its titles and plans. After a re-attempt the current attempt
comes first, then each archived one ("Attempt 1 (rolled back: <reason>)") with its steps.
The same run as one HTML page is ``reviewhtml.py`` (``--html``); the run's journal, checked or
printed, is ``journalcheck.py`` (``--verify``, ``--journal``). On a terminal ``cutover review``
opens the wizard's read-only review screen instead (``review_on_screen``; its rows are
``reviewmodel.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .attemptrecords import archived_attempts, attempt_number
from .checklist import Checklist


def _ordered_steps(data: Mapping[str, Any],
                   steps: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    out = []
    for phase_id, phase in data.get("phases", {}).items():
        for step_id in phase.get("steps", []):
            if step_id in steps:
                out.append((phase_id, step_id, steps[step_id]))
    listed = {s for _, s, _ in out}
    out += [(v.get("phase", "?"), k, v) for k, v in steps.items() if k not in listed]
    return out


ordered_steps = _ordered_steps  # the HTML page (``reviewhtml.py``) walks the steps the same way


def _timeline(data: Mapping[str, Any], steps: Mapping[str, Any], h2: str, bullet: str,
              overrides: Mapping[str, Any]) -> list[str]:
    """The steps phase by phase: state, title, who and when, summary, evidence, notes."""
    lines: list[str] = []
    current = None
    for phase_id, step_id, record in _ordered_steps(data, steps):
        if phase_id != current:
            current = phase_id
            phase = data.get("phases", {}).get(phase_id, {})
            lines += ["", f"{h2}{'Rollback' if phase.get('rollback') else 'Phase ' + phase_id}: "
                          f"{phase.get('title', '')}"]
            override = overrides.get(phase_id, {})
            if override.get("override_reason"):
                lines.append(f"{bullet}went on without passing: {override['override_reason']} "
                             f"({override.get('override_by')})")
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
    return lines


def render_text(path: str | Path, markdown: bool = False) -> str:
    data = Checklist(path).read()
    run = data["run"]
    h1, h2, bullet = ("# ", "## ", "- ") if markdown else ("", "", "  ")
    lines = [
        f"{h1}{run.get('runbook_title', run.get('runbook_id'))}",
        f"runbook {run.get('runbook_id')} sha256 {str(run.get('runbook_sha256'))[:12]}; "
        f"started {run.get('started_at')}; operators {', '.join(run.get('operators', []))}",
    ]
    archived = archived_attempts(data)
    if archived:
        lines.append(f"attempt {attempt_number(data)}, since {archived[-1][1].get('ended_at')} "
                     f"({len(archived)} earlier attempt(s) rolled back, listed after it)")
    for flag in run.get("red_flags", []):
        lines.append(f"RED FLAG: {flag}")
    lines += _monitoring(data, h2, bullet)
    lines += _timeline(data, data.get("steps", {}), h2, bullet, data.get("phases", {}))
    for number, attempt in reversed(archived):
        lines += ["", f"{h2}Attempt {number} (rolled back: {attempt.get('reason', '')})",
                  f"{bullet}{attempt.get('started_at', '')} → {attempt.get('ended_at', '')}; "
                  f"re-attempted by {attempt.get('by', '')}"]
        for flag in attempt.get("raised_red_flags", []):
            lines.append(f"{bullet}RED FLAG: {flag}")
        for rule, table in attempt.get("red_flags", {}).items():
            state = table.get("state", "") if isinstance(table, Mapping) else ""
            lines.append(f"{bullet}red flag rule {rule}: {state}")
        lines += _timeline(data, attempt.get("steps", {}), "### " if markdown else "",
                           bullet, attempt.get("phase_overrides", {}))
    return "\n".join(lines)


def _monitoring(data: Mapping[str, Any], h2: str, bullet: str) -> list[str]:
    """The monitoring week's red-flag rules (each transition, notification) and silences."""
    rules = data.get("red_flags") or {}
    silences = data.get("silences") or []
    if not isinstance(rules, Mapping) or not isinstance(silences, list) or not (rules or silences):
        return []
    lines = ["", f"{h2}Monitoring: red-flag rules and silences"]
    for rule, table in rules.items():
        if not isinstance(table, Mapping):
            continue
        fired = (f", fired {table['fired_at']}" if table.get("fired_at") else "") + (
            f", resolved {table['resolved_at']}" if table.get("resolved_at") else "")
        lines.append(f"{bullet}{rule} [{table.get('state', '')}] {table.get('description', '')}"
                     f"{fired}")
        for value in table.get("values", []):
            lines.append(f"{bullet}    fired on: {value}")
        for line in table.get("transitions", []):
            lines.append(f"{bullet}    {line}")
        for line in table.get("notifications", []):
            lines.append(f"{bullet}    notified: {line}")
    for entry in silences:
        if isinstance(entry, Mapping):
            lines.append(f"{bullet}silenced {entry.get('rule')} {entry.get('from')} → "
                         f"{entry.get('until')} by {entry.get('by')}: {entry.get('reason')}")
    return lines


def review_output(path: str | Path, *, markdown: bool = False, html: str | None = None,
                  verify: bool = False, journal: bool = False) -> tuple[int, str]:
    """What ``cutover review`` prints, and its exit status: 1 only when ``verify`` finds the
    journal or the record not intact."""
    if verify:
        from .journalcheck import verify as verify_journal

        check = verify_journal(path)
        return (0 if check.ok else 1), check.sentence()
    if journal:
        from .journalcheck import render_journal

        return 0, render_journal(path)
    if html:
        from .reviewhtml import write_html

        return 0, f"wrote {write_html(path, html)}"
    return 0, render_text(path, markdown=markdown)


def review_on_screen(path: str | Path) -> int | None:
    """Show the record at ``path`` on the installed wizard's review screen (``ui.Wizard.review``)
    and return its exit status; None when it cannot: no record there (the text review then says
    so in its sentence) or no wizard installed (the text is printed instead)."""
    from .errors import NoWizard
    from .ui import find_wizard

    if not Path(path).is_file():
        return None
    try:
        wizard = find_wizard()
    except NoWizard:
        return None
    return wizard.review(Path(path))
