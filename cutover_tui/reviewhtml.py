"""``cutover review RECORD --html FILE``: the run as one self-contained page for the post-mortem.

Everything a reviewer needs on one page that opens anywhere, offline: the journal's verdict
(``journalcheck.verify``), red flags raised by hand, the monitoring rules and silences, then
phase by phase each step with who ran it, when and how long, its state and summary, plan,
command and exit status, output tail, evidence, notes, skip reason and approvals; then each
archived attempt. The CSS is inline, nothing is fetched (no script, no image, no link out), and
every value from the record is HTML-escaped: the record holds what commands printed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

from .attemptrecords import archived_attempts, attempt_number
from .checklist import Checklist
from .durations import format_duration
from .errors import ChecklistError, CutoverError
from .journal import mode_like
from .journalcheck import verify
from .recordtimes import stamp
from .review import ordered_steps

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;margin-top:2em}h3{margin:.2em 0}
.meta,.when{color:#555}.ok{color:#176f2c}.bad{color:#b00020;font-weight:bold}
article{border:1px solid #ddd;border-left:6px solid #999;border-radius:4px;margin:.8em 0;
padding:.5em 1em}
article.done{border-left-color:#2e9d4a}article.failed,article.interrupted{border-left-color:#c62828}
article.skipped{border-left-color:#1e88a8}article.running{border-left-color:#e0a800}
.state{display:inline-block;min-width:6em;font-weight:bold;text-transform:uppercase;font-size:.8em}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left;
vertical-align:top}.flag{color:#b00020}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _took(record: Mapping[str, Any]) -> str:
    started, finished = stamp(record.get("started_at")), stamp(record.get("finished_at"))
    if started is None or finished is None or finished < started:
        return ""
    return format_duration(finished - started)


def _list(items: Iterable[Any], css: str = "") -> str:
    rows = "".join(f"<li>{_e(item)}</li>" for item in items)
    return f'<ul class="{css}">{rows}</ul>' if rows else ""


def _value(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        return f"<pre>{_e(json.dumps(value, indent=2, ensure_ascii=False, default=str))}</pre>"
    return _e(value)


def _table(rows: Mapping[str, Any]) -> str:
    body = "".join(f"<tr><th>{_e(key)}</th><td>{_value(value)}</td></tr>"
                   for key, value in rows.items())
    return f"<table>{body}</table>" if body else ""


def _step(step_id: str, record: Mapping[str, Any]) -> str:
    state = str(record.get("state", "pending"))
    who = record.get("operator", "")
    when = " → ".join(_e(record[key]) for key in ("started_at", "finished_at") if record.get(key))
    took = _took(record)
    parts = [f'<article class="{_e(state)}" id="step-{_e(step_id)}">',
             f'<h3><span class="state">{_e(state)}</span> {_e(step_id)} '
             f'{_e(record.get("title", ""))}</h3>',
             f'<p class="when">{"by " + _e(who) if who else "not run"}'
             f'{" · " + when if when else ""}{" · took " + _e(took) if took else ""}</p>']
    if record.get("summary"):
        parts.append(f'<p class="summary">{_e(record["summary"])}</p>')
    if record.get("plan"):
        items = "".join(f"<li><code>{_e(item)}</code></li>" for item in record["plan"])
        parts.append(f"<details><summary>Plan</summary><ol>{items}</ol></details>")
    if record.get("command"):
        status = record.get("exit_status")
        parts.append(f"<p>Command <code>{_e(record['command'])}</code>"
                     f"{'' if status is None else f', exit status {_e(status)}'}</p>")
    if record.get("output"):
        parts.append(f'<details open><summary>Output (its last lines)</summary>'
                     f'<pre class="output">{_e(record["output"])}</pre></details>')
    evidence = record.get("evidence")
    if isinstance(evidence, Mapping) and evidence:
        parts.append(f"<h4>Evidence</h4>{_table(evidence)}")
    if record.get("notes"):
        parts.append(f"<h4>Notes</h4>{_list(record['notes'])}")
    approvals = record.get("approvals")
    if isinstance(approvals, list) and approvals:
        parts.append("<h4>Approvals</h4>" + "".join(
            _table(a) if isinstance(a, Mapping) else f"<p>{_e(a)}</p>" for a in approvals))
    parts.append("</article>")
    return "".join(parts)


def _phases(data: Mapping[str, Any], steps: Mapping[str, Any], level: str,
            overrides: Mapping[str, Any]) -> str:
    """The steps phase by phase, each phase with its plan and whether it went on unpassed."""
    out: list[str] = []
    current = None
    for phase_id, step_id, record in ordered_steps(data, steps):
        if phase_id != current:
            if current is not None:
                out.append("</section>")
            current = phase_id
            phase = data.get("phases", {}).get(phase_id, {})
            name = "Rollback" if phase.get("rollback") else f"Phase {phase_id}"
            out.append(f'<section class="phase"><{level}>{_e(name)}: '
                       f'{_e(phase.get("title", ""))}</{level}>')
            if phase.get("planned") not in (None, "", "0s"):  # "0s": the runbook gave none
                out.append(f'<p class="meta">planned {_e(phase["planned"])}</p>')
            if phase.get("success_criteria"):
                out.append(f"<p>Success criteria:</p>{_list(phase['success_criteria'])}")
            override = overrides.get(phase_id, {})
            if isinstance(override, Mapping) and override.get("override_reason"):
                out.append(f'<p class="flag">Went on without passing: '
                           f'{_e(override["override_reason"])} ({_e(override.get("override_by"))}, '
                           f'{_e(override.get("override_at", ""))})</p>')
        out.append(_step(step_id, record if isinstance(record, Mapping) else {}))
    if current is not None:
        out.append("</section>")
    return "".join(out)


def _monitoring(data: Mapping[str, Any]) -> str:
    """The red-flag rules (transitions, notifications) and silences, as ``review`` lists them."""
    rules = data.get("red_flags") or {}
    silences = data.get("silences") or []
    if not isinstance(rules, Mapping) or not isinstance(silences, list) or not (rules or silences):
        return ""
    out = ["<h2>Monitoring: red-flag rules and silences</h2>"]
    for rule, table in rules.items():
        if not isinstance(table, Mapping):
            continue
        css = ' class="flag"' if table.get("state") == "firing" or table.get("fired_at") else ""
        times = "".join(f", {word} {_e(table[key])}" for word, key in
                        (("fired", "fired_at"), ("resolved", "resolved_at")) if table.get(key))
        out.append(f"<h3{css}>{_e(rule)} [{_e(table.get('state', ''))}] "
                   f"{_e(table.get('description', ''))}{times}</h3>")
        lines = [f"fired on: {value}" for value in table.get("values", [])]
        lines += list(table.get("transitions", []))
        lines += [f"notified: {line}" for line in table.get("notifications", [])]
        out.append(_list(lines))
    rows = [f"{entry.get('rule')} {entry.get('from')} → {entry.get('until')} by "
            f"{entry.get('by')}: {entry.get('reason')}" for entry in silences
            if isinstance(entry, Mapping)]
    if rows:
        out.append(f"<h3>Silences</h3>{_list(rows)}")
    return "".join(out)


def _skips(steps: Mapping[str, Any]) -> str:
    rows = [f"{step_id}: {record.get('summary', '')} ({record.get('operator', '')})"
            for step_id, record in steps.items()
            if isinstance(record, Mapping) and record.get("state") == "skipped"]
    return f"<h2>Skipped steps</h2>{_list(rows)}" if rows else ""


def render_html(path: str | Path) -> str:
    """The page for the run record at ``path``."""
    data = Checklist(path).read()
    run = data["run"]
    title = str(run.get("runbook_title", run.get("runbook_id", "cutover run")))
    try:
        check = verify(path)
        journal = f'<p class="{"ok" if check.ok else "bad"}">Journal: {_e(check.sentence())}</p>'
    except CutoverError as exc:
        journal = f'<p class="bad">Journal: {_e(exc)}</p>'
    archived = archived_attempts(data)
    head = [f"<h1>{_e(title)}</h1>",
            f'<p class="meta">runbook {_e(run.get("runbook_id"))} sha256 '
            f'{_e(str(run.get("runbook_sha256", ""))[:12])} · started {_e(run.get("started_at"))}'
            f' · updated {_e(run.get("updated_at"))} · operators '
            f'{_e(", ".join(run.get("operators", [])))}</p>', journal]
    if archived:
        head.append(f"<p>Attempt {attempt_number(data)} ({len(archived)} earlier attempt(s) "
                    "rolled back, after it)</p>")
    if run.get("red_flags"):
        head.append(f"<h2>Red flags raised</h2>{_list(run['red_flags'], 'flag')}")
    body = [*head, _monitoring(data), _skips(data.get("steps", {})),
            _phases(data, data.get("steps", {}), "h2", data.get("phases", {}))]
    for number, attempt in reversed(archived):
        body.append(f"<h2>Attempt {number} (rolled back: {_e(attempt.get('reason', ''))})</h2>"
                    f'<p class="meta">{_e(attempt.get("started_at", ""))} → '
                    f'{_e(attempt.get("ended_at", ""))}; re-attempted by '
                    f'{_e(attempt.get("by", ""))}</p>')
        body.append(_list(attempt.get("raised_red_flags", []), "flag"))
        rules = attempt.get("red_flags", {})
        body.append(_list(f"red flag rule {rule}: {table.get('state', '')}"
                          for rule, table in rules.items() if isinstance(table, Mapping)))
        body.append(_phases(data, attempt.get("steps", {}), "h3",
                            attempt.get("phase_overrides", {})))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{_e(title)} — cutover review</title><style>{CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


def write_html(record: str | Path, target: str | Path) -> Path:
    """Write the page to ``target``, as private as the record (it holds what the record does)."""
    page = render_html(record).encode("utf-8")
    target = Path(target)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode_like(Path(record)))
        with os.fdopen(fd, "wb") as handle:
            handle.write(page)
    except OSError as exc:
        raise ChecklistError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
