"""The checklist: the run record, written only by the tool (``checklists/runs/*.toml`` by
default) — not the runbooks beside it in ``checklists/``, which people write and ``runbook/``
reads. The CLI and the README call it the run record.

One TOML file per run. Every change is a transaction: take an exclusive ``flock`` on a sidecar
lock file, bring the record up to date (parsed again only if someone else wrote it since), apply
the change, write a temporary file, fsync it, rename it over the old one, fsync the directory.
So a crash leaves the old or the new file, never half of one, and two operators writing the
same checklist never lose each other's updates. How the file is read and written, re-serialising
only the tables that changed, is ``recordfile.py``.

The record is self-contained: titles, plans and success criteria are copied in, so
``cutover review`` needs no runbook. Each step's table is read as a typed ``StepRecord``
(``records.py``: ``record(step_id)``, or ``records`` for all of them, parsed once per version
the checklist holds) and written back through it, so the file keeps its layout and the fields
it does not know.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .attemptrecords import attempt_shape_problems, rollback_fields
from .clock import Clock, iso
from .errors import ChecklistError
from .journal import record_written, unix_account
from .monitor.shape import monitor_shape_problems
from .recordfile import RecordFile
from .records import (
    FLAG,
    STATES,
    STEP_FIELDS,
    TABLE,
    TEXT,
    TEXTS,
    RunRecords,
    StepRecord,
    StepState,
    is_of,
    plain,
    toml_type,
)

OUTPUT_TAIL_LINES = 40

# The version of the checklist's layout, written as ``format`` at the top of every checklist.
# A checklist of a newer format is refused with a sentence: this version cannot know what its
# new fields mean, and rewriting it would drop them. Raise it when the layout changes.
CHECKLIST_FORMAT = 1

# What the tool reads from a checklist, and the TOML type each must have. Fields not listed
# are kept as they are; a listed field of another type (a hand edit) makes the checklist
# unreadable with a sentence naming its line, never a crash deep inside a reader.
# (A step's fields are ``records.STEP_FIELDS``, beside the ``StepRecord`` that reads them.)
RUN_FIELDS = {
    "runbook_id": TEXT, "runbook_title": TEXT, "runbook_path": TEXT, "runbook_sha256": TEXT,
    "started_at": TEXT, "updated_at": TEXT, "operators": TEXTS, "hosts": TABLE,
    "red_flags": TEXTS, "runbook_history": TEXTS,
}
PHASE_FIELDS = {
    "title": TEXT, "planned": TEXT, "success_criteria": TEXTS, "rollback": FLAG,
    "steps": TEXTS, "override_reason": TEXT, "override_by": TEXT, "override_at": TEXT,
}
Loc = tuple[str, ...]


def shape_problems(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """Where a checklist's content is not of the type the tool reads: (path, expected …)."""
    problems: list[tuple[Loc, str]] = []

    def fields(loc: Loc, record: Any, expected: dict[str, str]) -> None:
        if not isinstance(record, dict):
            problems.append((loc, f"expected a table, got {toml_type(record)}"))
            return
        for key, kind in expected.items():
            if key in record and not is_of(record[key], kind):
                problems.append(((*loc, key), f"expected {kind}, got {toml_type(record[key])}"))

    fmt = data.get("format", CHECKLIST_FORMAT)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        problems.append((("format",), f"expected a whole number from 1, got {toml_type(fmt)}"))
    fields(("run",), data.get("run"), RUN_FIELDS)
    for name, kind in (("steps", STEP_FIELDS), ("phases", PHASE_FIELDS)):
        table = data.get(name, {})
        if not isinstance(table, dict):
            problems.append(((name,), f"expected a table, got {toml_type(table)}"))
            continue
        for key, record in table.items():
            fields((name, key), record, kind)
            state = record.get("state", "pending") if name == "steps" and isinstance(
                record, dict) else "pending"
            if state not in STATES and isinstance(state, str):
                problems.append(((name, key, "state"), f"expected one of {', '.join(STATES)}, "
                                 f"got {state!r}"))
    # run.attempt, [attempts], reattempt_from; [red_flags."<rule>"], [[silences]]
    return problems + attempt_shape_problems(data) + monitor_shape_problems(data)


def tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _runner_alive(runner: str) -> bool:
    host, _, pid = runner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's process: we cannot tell, so assume it lives
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class ResumeReport:
    """What opening an existing checklist found."""

    resumed: bool = False
    interrupted: list[str] = field(default_factory=list)
    runbook_changes: list[str] = field(default_factory=list)


class Checklist:
    def __init__(self, path: str | Path, clock: Clock | None = None,
                 on_write: Callable[[bytes], None] | None = None):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.clock = clock or Clock()
        # Told the bytes of every write, under the lock: a session records their hash in the
        # run's journal (``journal.py``). Without one, a run's journal beside the file is.
        self.on_write = on_write
        self._file = RecordFile(self.path, self.lock_path)
        self._cache: dict[str, Any] | None = None
        self._records: RunRecords | None = None

    # ------------------------------------------------------------------ file primitives

    def read(self) -> dict[str, Any]:
        """The current record from disk (no lock: a rename is atomic, so this is consistent),
        parsed again only if the file changed since this object last read or wrote it. Shared
        by this object's readers until the file changes: read it; change it in a transaction."""
        data = self._file.read(self._parse)
        self._cache = data
        return data

    def _parse(self, raw: bytes) -> dict[str, Any]:
        """The record in the file's bytes, checked: a sentence for what is wrong with it."""
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ChecklistError(f"the checklist {self.path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ChecklistError(f"the checklist {self.path} is not UTF-8 text") from None
        if not isinstance(data.get("run"), dict):
            raise ChecklistError(f"{self.path} is not a cutover checklist (no [run] table)")
        fmt = data.get("format", CHECKLIST_FORMAT)
        if isinstance(fmt, int) and fmt > CHECKLIST_FORMAT:  # guard: checklist-format-version
            raise ChecklistError(
                f"the checklist {self.path} was written by a newer cutover (checklist format "
                f"{fmt}; this one reads format {CHECKLIST_FORMAT} and older): upgrade cutover "
                "to read or resume it"
            )
        problems = shape_problems(data)
        if problems:  # guard: checklist-shape
            raise ChecklistError(self._damaged(problems))
        return data

    def _damaged(self, problems: list[tuple[Loc, str]]) -> str:
        from .runbook import LineLocator  # late: needed only for this message

        try:
            locator = LineLocator(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            locator = None
        lines = []
        for loc, message in problems[:10]:
            line = f":{locator.line_of(loc)}" if locator else ""
            dotted = ".".join(f'"{p}"' if "." in str(p) else str(p) for p in loc)
            lines.append(f"  {self.path}{line}: {dotted}: {message}")
        more = [f"  … and {len(problems) - 10} more"] if len(problems) > 10 else []
        return "\n".join([f"the checklist {self.path} is damaged (edited by hand?) and cannot "
                          "be used; fix these lines or restore it from a copy:", *lines, *more])

    @property
    def data(self) -> dict[str, Any]:
        return self._cache if self._cache is not None else self.read()

    @property
    def records(self) -> RunRecords:
        """Every step's record, typed and read-only, as this checklist holds it now (the file as
        last read or written here): no file read, and each record parsed once per version."""
        data = self.data
        if self._records is None or self._records.data is not data:
            self._records = RunRecords(data)
        return self._records

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Lock, bring the record up to date, let the caller change the dict, write it back
        atomically. The caller changes a copy: if the change or the write fails, what this
        object holds in memory is still what the file holds."""
        with self._file.locked():
            data = self._file.working_copy(self._parse, lambda: {"run": {}, "steps": {}})
            yield data
            data["format"] = CHECKLIST_FORMAT
            data["run"]["updated_at"] = iso(self.clock.time())
            try:
                self._cache = self._file.write(data)
            except OSError as exc:
                raise ChecklistError(
                    f"cannot write the checklist {self.path}: {exc.strerror}; "
                    "the previous version is intact"
                ) from None
            record_written(self.path, self.on_write)  # guard: journal-records-checklist-writes

    # ------------------------------------------------------------------ creating and resuming

    def open_for(self, book: Any, operator: str, plans: dict[str, list[str]],
                 hosts: dict[str, str], repoint: bool = True) -> ResumeReport:
        """Create the record for ``book`` or resume the existing one. ``repoint=False`` (a
        command that joins a run: watch, check, approve) keeps where the run pointed its hosts."""
        report = ResumeReport()
        with self.transaction() as data:
            run = data["run"]
            steps = data.setdefault("steps", {})
            if run:
                report.resumed = True
                if run.get("runbook_id") != book.runbook.id:
                    raise ChecklistError(
                        f"{self.path} records a run of runbook {run.get('runbook_id')!r}, not "
                        f"{book.runbook.id!r}; pick another --state file"
                    )
            else:
                run.update(
                    runbook_id=book.runbook.id,
                    runbook_title=book.runbook.title,
                    runbook_path=book.path,
                    runbook_sha256=book.sha256,
                    started_at=iso(self.clock.time()),
                    operators=[],
                )
            if not repoint and run.get("hosts"):
                pass  # joining: the run's own --host/--var stay the record's
            elif book.overrides:  # where this session pointed the runbook (reopen.py reads it)
                run["hosts"] = hosts
                run["overrides"] = book.overrides
            else:
                run["hosts"] = hosts
                run.pop("overrides", None)
            if operator not in run.setdefault("operators", []):
                run["operators"].append(operator)
            if report.resumed and run.get("runbook_sha256") != book.sha256:
                report.runbook_changes = self._merge_runbook_change(data, book, plans)
            data["phases"] = {
                phase.id: {
                    **data.get("phases", {}).get(phase.id, {}),
                    "title": phase.title,
                    "planned": phase.duration,
                    "success_criteria": list(phase.success_criteria),
                    "rollback": phase is book.rollback, **rollback_fields(phase),
                    "steps": [s.id for s in phase.steps],
                }
                for phase in book.all_phases
            }
            for phase, step in book.steps():
                record = StepRecord.from_dict(steps.get(step.id, {"state": "pending",
                                                                  "notes": []}))
                record = record.changed(phase=phase.id, title=step.title, kind=step.kind)
                if not record.state.finished:
                    record = record.changed(plan=plans.get(step.id, []))
                if record.state is StepState.RUNNING and not _runner_alive(record.runner):
                    record = record.changed(state=StepState.INTERRUPTED).with_note(
                        f"{iso(self.clock.time())} found running after a crash of "
                        f"{record.runner if 'runner' in record.stored else '?'}; marked "
                        "interrupted")
                    report.interrupted.append(step.id)
                steps[step.id] = record.to_dict()
        return report

    @staticmethod
    def _merge_runbook_change(data: dict[str, Any], book: Any,
                              plans: dict[str, list[str]]) -> list[str]:
        run, steps = data["run"], data["steps"]
        changes = [f"the runbook changed since this run started (sha256 "
                   f"{str(run.get('runbook_sha256'))[:12]} → {book.sha256[:12]})"]
        new_ids = {step.id for _, step in book.steps()}
        for step_id, table in steps.items():
            record = StepRecord.from_dict(table)
            if step_id not in new_ids and not record.removed_from_runbook:
                changes.append(f"step {step_id} ({record.title or None}) is no longer in the "
                               "runbook")
                steps[step_id] = record.changed(removed_from_runbook=True).to_dict()
        for _, step in book.steps():
            if step.id not in steps:
                changes.append(f"step {step.id} ({step.title}) is new")
                continue
            old = StepRecord.from_dict(steps[step.id])
            if "plan" not in old.stored or list(old.plan) != plans.get(step.id, []):
                finished = (" (already finished: its record is kept as run)"
                            if old.state.finished else "")
                changes.append(f"step {step.id} ({step.title}) now does something else{finished}")
        run.setdefault("runbook_history", []).append(str(run.get("runbook_sha256")))
        run["runbook_sha256"] = book.sha256
        return changes

    # ------------------------------------------------------------------ step records

    def step(self, step_id: str) -> dict[str, Any]:
        """The step's table as stored, untyped (``review``, tests); ``record`` is the typed one."""
        table: dict[str, Any] = self.data.get("steps", {}).get(step_id, {})
        return table

    def record(self, step_id: str) -> StepRecord:
        """The step's record as this checklist holds it (a pending one if it has none)."""
        return self.records[step_id]

    def update_record(self, step_id: str,
                      change: Callable[[StepRecord], StepRecord]) -> StepRecord:
        """In one transaction: the step's record from the file, ``change`` applied, written
        back. ``change`` may raise (a ``ChecklistError``) to leave the file as it is."""
        with self.transaction() as data:
            steps = data.setdefault("steps", {})
            record = change(StepRecord.from_dict(steps.get(step_id, {"notes": []})))
            steps[step_id] = record.to_dict()
            return record

    def update_step(self, step_id: str, **fields: Any) -> StepRecord:
        """Set fields of the step's record (``StepRecord.changed``: None removes one, evidence
        is added to)."""
        return self.update_record(step_id, lambda record: record.changed(**fields))

    def claim(self, step_id: str, operator: str) -> None:
        """Mark a step running by ``operator``; refuse if another live runner holds it."""

        def take(record: StepRecord) -> StepRecord:
            held = record.state is StepState.RUNNING and record.runner != _runner_id()
            if held and _runner_alive(record.runner):  # guard: step-claim-other-operator
                raise ChecklistError(f"step {step_id} is being run by {record.operator or None} "
                                     f"({record.runner})")
            return record.changed(state=StepState.RUNNING, operator=operator,
                                  account=unix_account(), runner=_runner_id(),
                                  started_at=iso(self.clock.time()),
                                  finished_at=None, exit_status=None, output=None)

        self.update_record(step_id, take)

    def add_note(self, step_id: str, operator: str, text: str) -> None:
        note = f"{iso(self.clock.time())} {operator}: {text}"
        self.update_record(step_id, lambda record: record.with_note(note))

    def update_run(self, **fields: Any) -> None:
        with self.transaction() as data:
            data["run"].update(plain(fields))

    def update_phase(self, phase_id: str, **fields: Any) -> None:
        with self.transaction() as data:
            data.setdefault("phases", {}).setdefault(phase_id, {}).update(plain(fields))

    def release_running(self, note: str) -> list[str]:
        """On a clean quit: steps this process left running become interrupted."""
        released = []
        with self.transaction() as data:
            steps = data.get("steps", {})
            for step_id, table in steps.items():
                record = StepRecord.from_dict(table)
                if record.state is StepState.RUNNING and record.runner == _runner_id():
                    steps[step_id] = record.changed(state=StepState.INTERRUPTED).with_note(
                        f"{iso(self.clock.time())} {note}").to_dict()
                    released.append(step_id)
        return released

    def states(self) -> dict[str, StepState]:
        return self.records.states()
