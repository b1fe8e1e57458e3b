"""The checklist: the run record, written only by the tool.

One TOML file per run. Every change is a transaction: take an exclusive ``flock`` on a sidecar
lock file, re-read the file, apply the change, write a temporary file, fsync it, rename it over
the old one, fsync the directory. So a crash leaves the old or the new file, never half of one,
and two operators writing the same checklist never lose each other's updates.

The record is self-contained: titles, plans and success criteria are copied in, so
``cutover review`` needs no runbook.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import os
import socket
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from .clock import Clock, iso
from .errors import ChecklistError

FINISHED = ("done", "skipped")
OUTPUT_TAIL_LINES = 40
STATES = ("pending", "running", "done", "failed", "skipped", "interrupted")

# The version of the checklist's layout, written as ``format`` at the top of every checklist.
# A checklist of a newer format is refused with a sentence: this version cannot know what its
# new fields mean, and rewriting it would drop them. Raise it when the layout changes.
CHECKLIST_FORMAT = 1

# What the tool reads from a checklist, and the TOML type each must have. Fields not listed
# are kept as they are; a listed field of another type (a hand edit) makes the checklist
# unreadable with a sentence naming its line, never a crash deep inside a reader.
_TEXT, _NUMBER, _FLAG, _TABLE, _TEXTS = "a string", "a whole number", "true or false", \
    "a table", "an array of strings"
RUN_FIELDS = {
    "runbook_id": _TEXT, "runbook_title": _TEXT, "runbook_path": _TEXT, "runbook_sha256": _TEXT,
    "started_at": _TEXT, "updated_at": _TEXT, "operators": _TEXTS, "hosts": _TABLE,
    "red_flags": _TEXTS, "runbook_history": _TEXTS,
}
PHASE_FIELDS = {
    "title": _TEXT, "planned": _TEXT, "success_criteria": _TEXTS, "rollback": _FLAG,
    "steps": _TEXTS, "override_reason": _TEXT, "override_by": _TEXT, "override_at": _TEXT,
}
STEP_FIELDS = {
    "state": _TEXT, "phase": _TEXT, "title": _TEXT, "kind": _TEXT, "operator": _TEXT,
    "runner": _TEXT, "started_at": _TEXT, "finished_at": _TEXT, "summary": _TEXT,
    "command": _TEXT, "output": _TEXT, "exit_status": _NUMBER, "notes": _TEXTS, "plan": _TEXTS,
    "evidence": _TABLE, "removed_from_runbook": _FLAG,
}


def _is(value: Any, kind: str) -> bool:
    if kind == _TEXT:
        return isinstance(value, str)
    if kind == _NUMBER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _FLAG:
        return isinstance(value, bool)
    if kind == _TABLE:
        return isinstance(value, dict)
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def shape_problems(data: dict[str, Any]) -> list[tuple[tuple, str]]:
    """Where a checklist's content is not of the type the tool reads: (path, expected …)."""
    problems: list[tuple[tuple, str]] = []

    def fields(loc: tuple, record: Any, expected: dict[str, str]) -> None:
        if not isinstance(record, dict):
            problems.append((loc, f"expected a table, got {_toml_type(record)}"))
            return
        for key, kind in expected.items():
            if key in record and not _is(record[key], kind):
                problems.append(((*loc, key), f"expected {kind}, got {_toml_type(record[key])}"))

    fmt = data.get("format", CHECKLIST_FORMAT)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        problems.append((("format",), f"expected a whole number from 1, got {_toml_type(fmt)}"))
    fields(("run",), data.get("run"), RUN_FIELDS)
    for name, kind in (("steps", STEP_FIELDS), ("phases", PHASE_FIELDS)):
        table = data.get(name, {})
        if not isinstance(table, dict):
            problems.append(((name,), f"expected a table, got {_toml_type(table)}"))
            continue
        for key, record in table.items():
            fields((name, key), record, kind)
            state = record.get("state", "pending") if name == "steps" and isinstance(
                record, dict) else "pending"
            if state not in STATES and isinstance(state, str):
                problems.append(((name, key, "state"), f"expected one of {', '.join(STATES)}, "
                                 f"got {state!r}"))
    return problems


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"{value!r}"


def _clean(value: Any) -> Any:
    """TOML has no null: drop None values, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value if v is not None]
    return value


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
    def __init__(self, path: str | Path, clock: Clock | None = None):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.clock = clock or Clock()
        self._cache: dict[str, Any] | None = None

    # ------------------------------------------------------------------ file primitives

    def read(self) -> dict[str, Any]:
        """The current record from disk (no lock: a rename is atomic, so this is consistent)."""
        try:
            with self.path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ChecklistError(f"no checklist at {self.path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ChecklistError(f"the checklist {self.path} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise ChecklistError(f"cannot read the checklist {self.path}: {exc.strerror}") from None
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
        self._cache = data
        return data

    def _damaged(self, problems: list[tuple[tuple, str]]) -> str:
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

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = tomli_w.dumps(_clean(data)).encode()
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                   dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)  # guard: checklist-atomic-rename
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._cache = data

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Lock, re-read, let the caller change the dict, write it back atomically. The caller
        changes a copy: if the change or the write fails, what this object holds in memory is
        still what the file holds."""
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock = self.lock_path.open("a+")
        except OSError as exc:
            raise ChecklistError(f"cannot lock the checklist {self.path}: {exc.strerror}") from None
        with lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # guard: checklist-lock
            try:
                data = self.read() if self.path.exists() else {"run": {}, "steps": {}}
                data = copy.deepcopy(data)  # guard: checklist-memory-equals-file
                yield data
                data["format"] = CHECKLIST_FORMAT
                data["run"]["updated_at"] = iso(self.clock.time())
                try:
                    self._write(data)
                except OSError as exc:
                    raise ChecklistError(
                        f"cannot write the checklist {self.path}: {exc.strerror}; "
                        "the previous version is intact"
                    ) from None
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    # ------------------------------------------------------------------ creating and resuming

    def open_for(self, book: Any, operator: str, plans: dict[str, list[str]],
                 hosts: dict[str, str]) -> ResumeReport:
        """Create the record for ``book`` or resume the existing one."""
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
            run["hosts"] = hosts
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
                    "rollback": phase is book.rollback,
                    "steps": [s.id for s in phase.steps],
                }
                for phase in book.all_phases
            }
            for phase, step in book.steps():
                record = steps.setdefault(step.id, {"state": "pending", "notes": []})
                record.update(phase=phase.id, title=step.title, kind=step.kind)
                if record.get("state") not in FINISHED:
                    record["plan"] = plans.get(step.id, [])
                if record.get("state") == "running" and not _runner_alive(record.get("runner", "")):
                    record["state"] = "interrupted"
                    record.setdefault("notes", []).append(
                        f"{iso(self.clock.time())} found running after a crash of "
                        f"{record.get('runner', '?')}; marked interrupted"
                    )
                    report.interrupted.append(step.id)
        return report

    @staticmethod
    def _merge_runbook_change(data: dict, book: Any, plans: dict[str, list[str]]) -> list[str]:
        run, steps = data["run"], data["steps"]
        changes = [f"the runbook changed since this run started (sha256 "
                   f"{str(run.get('runbook_sha256'))[:12]} → {book.sha256[:12]})"]
        new_ids = {step.id for _, step in book.steps()}
        for step_id, record in steps.items():
            if step_id not in new_ids and not record.get("removed_from_runbook"):
                changes.append(f"step {step_id} ({record.get('title')}) is no longer in the runbook")
                record["removed_from_runbook"] = True
        for _, step in book.steps():
            old = steps.get(step.id)
            if old is None:
                changes.append(f"step {step.id} ({step.title}) is new")
            elif old.get("plan") != plans.get(step.id, []):
                finished = " (already finished: its record is kept as run)" if old.get(
                    "state") in FINISHED else ""
                changes.append(f"step {step.id} ({step.title}) now does something else{finished}")
        run.setdefault("runbook_history", []).append(str(run.get("runbook_sha256")))
        run["runbook_sha256"] = book.sha256
        return changes

    # ------------------------------------------------------------------ step records

    def step(self, step_id: str) -> dict[str, Any]:
        return self.data.get("steps", {}).get(step_id, {})

    def update_step(self, step_id: str, **fields: Any) -> dict[str, Any]:
        with self.transaction() as data:
            record = data.setdefault("steps", {}).setdefault(step_id, {"notes": []})
            if "evidence" in fields and fields["evidence"] is not None:
                record["evidence"] = {**record.get("evidence", {}), **_clean(fields.pop("evidence"))}
            record.update(fields)
            return record

    def claim(self, step_id: str, operator: str) -> None:
        """Mark a step running by ``operator``; refuse if another live runner holds it."""
        with self.transaction() as data:
            record = data.setdefault("steps", {}).setdefault(step_id, {"notes": []})
            runner = record.get("runner", "")
            held = record.get("state") == "running" and runner != _runner_id()
            if held and _runner_alive(runner):  # guard: step-claim-other-operator
                raise ChecklistError(
                    f"step {step_id} is being run by {record.get('operator')} ({runner})"
                )
            record.update(state="running", operator=operator, runner=_runner_id(),
                          started_at=iso(self.clock.time()))
            for key in ("finished_at", "exit_status", "output"):
                record.pop(key, None)

    def add_note(self, step_id: str, operator: str, text: str) -> None:
        with self.transaction() as data:
            record = data.setdefault("steps", {}).setdefault(step_id, {})
            record.setdefault("notes", []).append(f"{iso(self.clock.time())} {operator}: {text}")

    def update_run(self, **fields: Any) -> None:
        with self.transaction() as data:
            data["run"].update(_clean(fields))

    def update_phase(self, phase_id: str, **fields: Any) -> None:
        with self.transaction() as data:
            data.setdefault("phases", {}).setdefault(phase_id, {}).update(_clean(fields))

    def release_running(self, note: str) -> list[str]:
        """On a clean quit: steps this process left running become interrupted."""
        released = []
        with self.transaction() as data:
            for step_id, record in data.get("steps", {}).items():
                if record.get("state") == "running" and record.get("runner") == _runner_id():
                    record["state"] = "interrupted"
                    record.setdefault("notes", []).append(f"{iso(self.clock.time())} {note}")
                    released.append(step_id)
        return released

    def states(self) -> dict[str, str]:
        return {k: v.get("state", "pending") for k, v in self.data.get("steps", {}).items()}
