"""The review screen's model: a run record read once into typed, frozen rows that the screen only
renders (``screens/review.py``). It reads what ``cutover review`` prints (``review.py``) and the
HTML page shows (``reviewhtml.py``), in the same order:

* ``RedFlags``: the run's red flags in their own section — raised by hand (``run.red_flags``),
  the monitoring rules' tables (``[red_flags]``) and the silences;
* the current attempt (an ``AttemptRow`` heading only once there are archived ones), each phase
  as a ``PhaseRow`` followed by its steps as ``StepRow`` s (who, when, how long, and what the
  detail pane shows: plan, output tail, evidence, notes, skip reason, approvals);
* each archived attempt (``[attempts]``, newest first), its phases and steps the same way.

``Review.visible`` narrows the rows to an operator and a state, keeping the headings of the
steps left. Every text is masked again on the way in (``masking.Masker``, knowing what the run
learnt was secret): the record is written masked, but a hand edit or an older version may hold
what it should not, and a screen shows nothing a masker would hide. Reading is read-only: the
record and its journal are only opened for reading (``Checklist.read``, ``journalcheck.verify``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .attemptrecords import archived_attempts, attempt_number
from .checklist import Checklist
from .durations import format_duration
from .errors import CutoverError
from .journalcheck import verify
from .masking import MASK, Masker, is_secret_key
from .records import STATES
from .recordtimes import stamp
from .review import ordered_steps

OUTPUT_TAIL = 200  # lines of a step's output the detail pane shows (the record keeps a tail)
Fields = tuple[tuple[str, str], ...]  # (name, value) pairs, in the record's order


@dataclass(frozen=True)
class JournalVerdict:
    """The journal's check (``journalcheck.verify``) in one line for the header."""

    ok: bool
    text: str  # "journal intact: …" or "NOT INTACT: …"


@dataclass(frozen=True)
class StepRow:
    """One step of one attempt."""

    key: str  # unique in the review: "<attempt>/<step id>"
    attempt: int  # the attempt it belongs to
    current: bool  # of the current attempt (False: archived by a re-attempt)
    phase_id: str
    step_id: str
    state: str  # its word (records.StepState), as recorded
    title: str
    operator: str  # who ran, skipped or last touched it ("" if nobody)
    account: str  # the Unix account that wrote it, when the record names one
    started_at: str
    finished_at: str
    took: str  # finished - started, "" unless both are there and in order
    summary: str
    plan: tuple[str, ...]
    command: str
    exit_status: int | None
    output: str  # its last lines (at most OUTPUT_TAIL)
    evidence: Fields
    notes: tuple[str, ...]
    skip_reason: str  # "" unless skipped
    approvals: tuple[Fields, ...]  # each co-signature's fields (approvals.py), as recorded

    @property
    def who(self) -> str:
        """The operator, and the account beside it when it differs."""
        if self.account and self.account != self.operator:
            return f"{self.operator} ({self.account})" if self.operator else self.account
        return self.operator

    @property
    def when(self) -> str:
        """Started → finished, short: month-day and time, the finish's date only if another."""
        if not self.started_at:
            return ""
        start = _short(self.started_at)
        if not self.finished_at:
            return f"{start} → …"
        end = _short(self.finished_at)
        if end[:5] == start[:5] and len(end) == len(start) == 14:
            end = end[6:]
        return f"{start} → {end}"


@dataclass(frozen=True)
class PhaseRow:
    """A phase's heading within an attempt."""

    key: str  # "<attempt>/phase/<phase id>"
    attempt: int
    phase_id: str
    title: str
    rollback: bool
    planned: str  # the runbook's duration ("" when it gave none)
    success_criteria: tuple[str, ...]
    override: str  # "went on without passing: <reason> (<who>, <when>)", or ""

    @property
    def label(self) -> str:
        return f"{'Rollback' if self.rollback else 'Phase ' + self.phase_id}: {self.title}"


@dataclass(frozen=True)
class AttemptRow:
    """An attempt's heading: the current one (shown once there are archived ones) or one rolled
    back and archived by ``cutover reattempt``."""

    key: str  # "<attempt>/attempt"
    number: int
    current: bool
    reason: str  # why it was re-attempted (archived ones)
    started_at: str
    ended_at: str
    by: str  # who re-attempted it
    raised_red_flags: tuple[str, ...]
    rule_states: tuple[str, ...]  # "<rule>: <state>" of its monitoring rules, as they were

    @property
    def label(self) -> str:
        if self.current:
            return f"Attempt {self.number} (current)"
        return f"Attempt {self.number} (rolled back: {self.reason})"


@dataclass(frozen=True)
class RedFlagRule:
    """One monitoring rule's table (``[red_flags."<rule>"]``)."""

    rule: str
    state: str
    description: str
    fired_at: str
    resolved_at: str
    lines: tuple[str, ...]  # fired on, transitions, notifications, as ``review`` lists them


@dataclass(frozen=True)
class RedFlags:
    """The run's red flags, in their own section (a row of its own in the timeline)."""

    key = "red-flags"
    raised: tuple[str, ...]  # run.red_flags: raised by hand ("<when> <who>: <text>")
    rules: tuple[RedFlagRule, ...]
    silences: tuple[str, ...]  # "<rule> <from> → <until> by <who>: <reason>"

    @property
    def firing(self) -> bool:
        return bool(self.raised) or any(rule.state == "firing" for rule in self.rules)

    @property
    def label(self) -> str:
        fired = sum(1 for rule in self.rules if rule.fired_at)
        rules = f"{fired}/{len(self.rules)} rules fired" if self.rules else "no rules"
        return f"Red flags: {len(self.raised)} raised · {rules}"


Row = StepRow | PhaseRow | AttemptRow | RedFlags


@dataclass(frozen=True)
class Review:
    """A run record, read for the review screen."""

    record_name: str  # the file's name (not its path: the screen shows where it is elsewhere)
    title: str
    runbook_id: str
    runbook_sha256: str
    started_at: str
    operators: tuple[str, ...]  # as the run lists them
    attempt: int
    journal: JournalVerdict
    red_flags: RedFlags
    rows: tuple[Row, ...]  # the timeline: attempts, phases, steps, in order (not red_flags)

    @property
    def steps(self) -> list[StepRow]:
        return [row for row in self.rows if isinstance(row, StepRow)]

    def operators_seen(self) -> tuple[str, ...]:
        """Who the steps name, in the order they first appear: what the operator filter cycles."""
        return tuple(dict.fromkeys(row.operator for row in self.steps if row.operator))

    def states_seen(self) -> tuple[str, ...]:
        """The steps' states, known ones in ``records.STATES`` order: what the state filter
        cycles."""
        seen = {row.state for row in self.steps}
        return (*(state for state in STATES if state in seen),
                *sorted(seen.difference(STATES)))

    def visible(self, operator: str = "", state: str = "") -> list[Row]:
        """The rows to show: the red flags' row (when there is anything in it), then the steps
        of ``operator`` in ``state`` ("": any), each under its attempt's and phase's headings
        (a heading with no step left goes too)."""
        out: list[Row] = []
        if self.red_flags.raised or self.red_flags.rules or self.red_flags.silences:
            out.append(self.red_flags)
        headings: list[Row] = []
        for row in self.rows:
            if isinstance(row, AttemptRow):
                headings = [row]
            elif isinstance(row, PhaseRow):
                headings = [*(h for h in headings if isinstance(h, AttemptRow)), row]
            elif isinstance(row, StepRow) and (not operator or row.operator == operator) and (
                    not state or row.state == state):
                out += [*headings, row]
                headings = []
        return out


# ---------------------------------------------------------------------------- reading


def _short(at: str) -> str:
    """``2025-12-19T10:00:05Z`` as ``12-19 10:00:05``; anything else as written."""
    if stamp(at) is None:
        return at
    return f"{at[5:10]} {at[11:19]}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(_text(item) for item in value) if isinstance(value, list | tuple) else ()


def _took(started: str, finished: str) -> str:
    start, end = stamp(started), stamp(finished)
    if start is None or end is None or end < start:
        return ""
    return format_duration(end - start)


def _fields(table: Any) -> Fields:
    if not isinstance(table, Mapping):
        return ()
    return tuple((str(key), _text(value)) for key, value in table.items())


def _masker(run: Mapping[str, Any]) -> Masker:
    """A masker that knows what the run learnt was secret (by the salted fingerprints the
    record keeps, as a resumed session does), besides the secret-looking patterns."""
    recorded = run.get("masking")
    recorded = recorded if isinstance(recorded, Mapping) else {}
    try:
        salt = bytes.fromhex(str(recorded.get("salt", "")))
    except ValueError:
        salt = b""
    masker = Masker(salt if len(salt) >= 16 else None)
    learnt = recorded.get("learnt", [])
    masker.restore(masker.salt, [e for e in learnt if isinstance(e, str)]
                   if isinstance(learnt, list) else [])
    return masker


def _masked(value: Any, mask: Masker, key: str = "") -> Any:
    """``value`` with every text masked, and the whole value of a secret-looking key (an
    evidence field named ``DB_PASSWORD``) replaced."""
    if isinstance(value, str):
        return MASK if value and is_secret_key(key) else mask(value)
    if isinstance(value, Mapping):
        return {k: _masked(v, mask, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v, mask, key) for v in value]
    return value


def _step(attempt: int, current: bool, phase_id: str, step_id: str,
          record: Mapping[str, Any]) -> StepRow:
    state = _text(record.get("state", "pending"))
    summary = _text(record.get("summary", ""))
    started, finished = _text(record.get("started_at", "")), _text(record.get("finished_at", ""))
    status = record.get("exit_status")
    output = _text(record.get("output", "")).rstrip("\n").split("\n")
    approvals = record.get("approvals")
    return StepRow(
        key=f"{attempt}/{step_id}", attempt=attempt, current=current, phase_id=phase_id,
        step_id=step_id, state=state, title=_text(record.get("title", "")),
        operator=_text(record.get("operator", "")), account=_text(record.get("account", "")),
        started_at=started, finished_at=finished, took=_took(started, finished),
        summary=summary, plan=_texts(record.get("plan")), command=_text(record.get("command", "")),
        exit_status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        output="\n".join(output[-OUTPUT_TAIL:]), evidence=_fields(record.get("evidence")),
        notes=_texts(record.get("notes")),
        skip_reason=summary.removeprefix("skipped: ") if state == "skipped" else "",
        approvals=tuple(_fields(a) for a in approvals if isinstance(a, Mapping))
        if isinstance(approvals, list) else ())


def _timeline(data: Mapping[str, Any], steps: Mapping[str, Any], attempt: int, current: bool,
              overrides: Any) -> Iterable[Row]:
    """One attempt's phases and steps, in the runbook's order (``review.ordered_steps``)."""
    overrides = overrides if isinstance(overrides, Mapping) else {}
    phases = data.get("phases", {})
    shown = None
    for phase_id, step_id, record in ordered_steps(data, steps):
        if phase_id != shown:
            shown = phase_id
            phase = phases.get(phase_id, {}) if isinstance(phases, Mapping) else {}
            phase = phase if isinstance(phase, Mapping) else {}
            override = overrides.get(phase_id, {})
            went_on = ""
            if isinstance(override, Mapping) and override.get("override_reason"):
                went_on = (f"went on without passing: {_text(override['override_reason'])} "
                           f"({_text(override.get('override_by'))}, "
                           f"{_text(override.get('override_at'))})")
            planned = _text(phase.get("planned", ""))
            yield PhaseRow(f"{attempt}/phase/{phase_id}", attempt, str(phase_id),
                           _text(phase.get("title", "")), bool(phase.get("rollback")),
                           "" if planned == "0s" else planned,  # "0s": the runbook gave none
                           _texts(phase.get("success_criteria")), went_on)
        yield _step(attempt, current, str(phase_id), str(step_id),
                    record if isinstance(record, Mapping) else {})


def _rule(rule: str, table: Mapping[str, Any]) -> RedFlagRule:
    lines = [f"fired on: {value}" for value in _texts(table.get("values"))]
    lines += _texts(table.get("transitions"))
    lines += [f"notified: {line}" for line in _texts(table.get("notifications"))]
    return RedFlagRule(rule, _text(table.get("state", "")), _text(table.get("description")),
                       _text(table.get("fired_at", "")), _text(table.get("resolved_at", "")),
                       tuple(lines))


def _red_flags(data: Mapping[str, Any]) -> RedFlags:
    run = data.get("run", {})
    rules = data.get("red_flags") or {}
    silences = data.get("silences") or []
    return RedFlags(
        raised=_texts(run.get("red_flags")),
        rules=tuple(_rule(str(rule), table) for rule, table in rules.items()
                    if isinstance(table, Mapping)) if isinstance(rules, Mapping) else (),
        silences=tuple(f"{s.get('rule')} {s.get('from')} → {s.get('until')} by "
                       f"{s.get('by')}: {s.get('reason')}"
                       for s in silences if isinstance(s, Mapping))
        if isinstance(silences, list) else ())


def _journal(path: Path) -> JournalVerdict:
    try:
        check = verify(path)
    except CutoverError as exc:
        return JournalVerdict(False, f"NOT INTACT: cannot check the journal: {exc}")
    if check.ok:
        return JournalVerdict(True, f"journal {check.sentence()}")
    return JournalVerdict(False, f"NOT INTACT: {check.problem}")


def read_review(path: str | Path) -> Review:
    """The run record at ``path`` for the review screen; ``ChecklistError`` (a sentence) when
    it cannot be read."""
    path = Path(path)
    data: Mapping[str, Any] = Checklist(path).read()
    # The record is written masked; a hand edit or an older version may not be: mask it all.
    data = _masked(data, _masker(data["run"]))  # guard: review-masks
    run = data["run"]
    number = attempt_number(data)
    archived = archived_attempts(data)
    rows: list[Row] = []
    if archived:
        rows.append(AttemptRow(f"{number}/attempt", number, True, "",
                               _text(archived[-1][1].get("ended_at", run.get("started_at"))),
                               "", "", (), ()))
    rows += _timeline(data, data.get("steps", {}), number, True, data.get("phases", {}))
    for old, table in reversed(archived):
        rules = table.get("red_flags", {})
        rows.append(AttemptRow(
            f"{old}/attempt", old, False, _text(table.get("reason", "")),
            _text(table.get("started_at", "")), _text(table.get("ended_at", "")),
            _text(table.get("by", "")), _texts(table.get("raised_red_flags")),
            tuple(f"{rule}: {_text(t.get('state', ''))}" for rule, t in rules.items()
                  if isinstance(t, Mapping)) if isinstance(rules, Mapping) else ()))
        steps = table.get("steps", {})
        rows += _timeline(data, steps if isinstance(steps, Mapping) else {}, old, False,
                          table.get("phase_overrides", {}))
    return Review(
        record_name=path.name, title=_text(run.get("runbook_title", run.get("runbook_id"))),
        runbook_id=_text(run.get("runbook_id", "")),
        runbook_sha256=_text(run.get("runbook_sha256", "")),
        started_at=_text(run.get("started_at", "")), operators=_texts(run.get("operators")),
        attempt=number, journal=_journal(path), red_flags=_red_flags(data), rows=tuple(rows))
