"""Typed step records: what the run record (the checklist, ``checklist.py``) holds of one step,
as a frozen ``StepRecord`` whose state is a ``StepState``, with its evidence readable by name
where other steps read it (``evidence.py``); ``RunRecords``, the read-only view of every step's
record that steps and the engine read; and the one table of how each state looks
(``STATE_LOOK``), used by the headless runner, the phase list, the step table and the verdict
pane.

The file keeps its layout: ``StepRecord.from_dict(table).to_dict() == table`` for every step
table the checklist accepts. Fields this version does not know ride along in ``extra``, the
fields keep the order they were stored in, and a field the file did not have stays absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from .evidence import BackupEvidence, DestroyIntent, EnvEditEvidence, PowerEvidence


class StepState(StrEnum):
    """Where a step is. A ``str``: it equals, and is stored as, its word."""

    PENDING = "pending"  # not run yet (or not recorded at all)
    RUNNING = "running"  # claimed by a runner (host:pid) and not finished
    DONE = "done"  # ran and its checks held
    FAILED = "failed"  # ran and they did not (or it could not run)
    SKIPPED = "skipped"  # skipped with a recorded reason
    INTERRUPTED = "interrupted"  # stopped while running, or found running after its runner died

    @property
    def finished(self) -> bool:
        """Done or skipped: what lets a phase pass and the run go on."""
        return self in FINISHED


FINISHED: frozenset[StepState] = frozenset({StepState.DONE, StepState.SKIPPED})
STATES: tuple[str, ...] = tuple(state.value for state in StepState)


@dataclass(frozen=True)
class StateLook:
    """How a state is shown."""

    glyph: str  # one character: the step table, the phase list, the headless runner's lines
    style: str  # the glyph's Rich style
    word_style: str  # the state as a word (DONE, FAILED …) in the verdict pane: only failures red


# The one table of states and how they look. Pending never shows as a word (the pane shows the
# plan instead), so its word style is only for completeness.
STATE_LOOK: dict[StepState, StateLook] = {
    StepState.PENDING: StateLook("·", "dim", "dim"),
    StepState.RUNNING: StateLook("▶", "yellow", "bold yellow"),
    StepState.DONE: StateLook("✓", "green", "green"),
    StepState.FAILED: StateLook("✗", "bold red", "bold red"),
    StepState.SKIPPED: StateLook("↷", "cyan", "dim"),
    StepState.INTERRUPTED: StateLook("!", "magenta", "bold red"),
}
UNKNOWN_LOOK = StateLook("?", "red", "bold red")  # a word that is no state: never quietly green


def look(state: str) -> StateLook:
    """How ``state`` (a ``StepState`` or its word) looks; ``UNKNOWN_LOOK`` for another word."""
    try:
        return STATE_LOOK[StepState(state)]
    except ValueError:
        return UNKNOWN_LOOK


# ---------------------------------------------------------------------------- TOML types

# The TOML type of each field the tool reads: the checklist's shape check (``shape_problems``)
# refuses a file whose field has another type (a hand edit), with a sentence naming its line.
TEXT, NUMBER, FLAG, TABLE, TEXTS = ("a string", "a whole number", "true or false", "a table",
                                    "an array of strings")
STEP_FIELDS: dict[str, str] = {
    "state": TEXT, "phase": TEXT, "title": TEXT, "kind": TEXT, "operator": TEXT,
    "account": TEXT, "runner": TEXT, "started_at": TEXT, "finished_at": TEXT, "summary": TEXT,
    "command": TEXT, "output": TEXT, "exit_status": NUMBER, "notes": TEXTS, "plan": TEXTS,
    "evidence": TABLE, "removed_from_runbook": FLAG,
}


def is_of(value: Any, kind: str) -> bool:
    """Whether ``value`` has the TOML type ``kind`` (one of TEXT … TEXTS)."""
    if kind == TEXT:
        return isinstance(value, str)
    if kind == NUMBER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == FLAG:
        return isinstance(value, bool)
    if kind == TABLE:
        return isinstance(value, Mapping)
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


def toml_type(value: Any) -> str:
    """What ``value`` is, for a sentence: ``the string 'abc'``, ``an array`` …"""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return f"{value!r}"


def plain(value: Any) -> Any:
    """A copy ready for TOML, which has no null: None values dropped (recursively), read-only
    mappings and tuples as dicts and lists, states as their words."""
    if isinstance(value, StepState):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value if v is not None]
    return value


def _frozen(table: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(table))


_EMPTY: Mapping[str, Any] = MappingProxyType({})


# ---------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class StepRecord:
    """One step's record in the run record. Read it with ``Checklist.record`` (or a step's
    ``ctx.record``); change it through the checklist (``update_step``, ``claim``, ``add_note``,
    ``update_record``), which writes ``to_dict()`` back in one locked transaction."""

    state: StepState = StepState.PENDING
    phase: str = ""  # the phase it belongs to (copied from the runbook, as are title and kind)
    title: str = ""
    kind: str = ""
    operator: str = ""  # who ran, skipped or last claimed it
    account: str = ""  # the Unix account of that operator's process (a shared run: ``--group``)
    runner: str = ""  # host:pid of the process running it, while it runs
    started_at: str = ""  # ISO 8601 UTC, from the injected clock
    finished_at: str = ""
    summary: str = ""  # the verdict's sentence (masked, as everything below)
    command: str = ""
    exit_status: int | None = None
    output: str = ""  # the output's last lines
    evidence: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # the kind's own keys
    notes: tuple[str, ...] = ()  # "<time> <operator>: <text>", oldest first
    plan: tuple[str, ...] = ()  # "<where>: <action>", as shown before it ran
    removed_from_runbook: bool = False  # no longer in the runbook; kept as it was run
    # Fields this version does not know (a newer cutover's, a test's): kept as they are.
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    # The keys the stored table had, in order: to_dict writes them back as they were.
    stored: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> StepRecord:
        """The record of a step table as the checklist stores it. A known field of another type
        (the checklist's shape check refuses such a file first) is a ValueError naming it."""
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in table.items():
            if key in STEP_FIELDS:
                known[key] = _typed(key, value)
            else:
                extra[key] = value
        return cls(**known, extra=_frozen(extra), stored=tuple(table))

    def to_dict(self) -> dict[str, Any]:
        """The step table to store: the stored fields in their order, then the ones set since;
        a field never stored and still at its default is left out, as is a None."""
        out: dict[str, Any] = {}
        new = [name for name in (*_NAMES, *self.extra) if name not in self.stored]
        for name in (*self.stored, *new):
            if name in _DEFAULTS:
                value = getattr(self, name)
                if name not in self.stored and value == _DEFAULTS[name]:
                    continue
            elif name in self.extra:
                value = self.extra[name]
            else:
                continue
            if value is not None:
                out[name] = plain(value)
        return out

    def changed(self, **changes: Any) -> StepRecord:
        """This record with ``changes`` set: known fields typed (``state="done"`` becomes
        ``StepState.DONE``), others kept as extra fields; None removes a field; ``evidence`` is
        added to what the step recorded before (a key given again wins), as a run adds to it."""
        if changes.get("evidence") is not None:
            changes["evidence"] = {**self.evidence, **plain(changes["evidence"])}
        return self._set(changes)

    def with_note(self, note: str) -> StepRecord:
        return self._set({"notes": (*self.notes, note)})

    def without_evidence(self, keys: Iterable[str]) -> StepRecord:
        dropped = set(keys)
        return self._set({"evidence": {k: v for k, v in self.evidence.items()
                                       if k not in dropped}})

    def _set(self, changes: Mapping[str, Any]) -> StepRecord:
        known: dict[str, Any] = {}
        extra = dict(self.extra)
        stored = list(self.stored)
        for name, value in changes.items():
            if value is None:
                if name in _DEFAULTS:
                    known[name] = _DEFAULTS[name]
                extra.pop(name, None)
                if name in stored:
                    stored.remove(name)
                continue
            if name in _DEFAULTS:
                known[name] = _typed(name, value)
            else:
                extra[name] = value
            if name not in stored:
                stored.append(name)
        return replace(self, **known, extra=_frozen(extra), stored=tuple(stored))

    # What other steps read of this one's evidence, by kind.

    @property
    def backup(self) -> BackupEvidence:
        return BackupEvidence.of(self.evidence)

    @property
    def power(self) -> PowerEvidence:
        return PowerEvidence.of(self.evidence)

    @property
    def env_edit(self) -> EnvEditEvidence:
        return EnvEditEvidence.of(self.evidence)

    @property
    def destroy_intent(self) -> DestroyIntent:
        return DestroyIntent.of(self.evidence)


_DEFAULTS: dict[str, Any] = {f.name: getattr(StepRecord(), f.name) for f in fields(StepRecord)
                             if f.name in STEP_FIELDS}
_NAMES = tuple(_DEFAULTS)


def _typed(name: str, value: Any) -> Any:
    """A stored field's value as the record holds it; a ValueError when it cannot be one."""
    if not is_of(value, STEP_FIELDS[name]):
        raise ValueError(f"a step record's {name} is {toml_type(value)}, expected "
                         f"{STEP_FIELDS[name]}")
    if name == "state":
        if value not in STATES:
            raise ValueError(f"a step record's state is {value!r}, expected one of "
                             f"{', '.join(STATES)}")
        return StepState(value)
    if name in ("notes", "plan"):
        return tuple(value)
    if name == "evidence":
        return _frozen(value)
    return value


# ---------------------------------------------------------------------------- every record


class RunRecords:
    """The run record, read-only and typed, as one version of the checklist holds it: each step's
    ``StepRecord`` (a pending one for a step not recorded yet), parsed once on first use; the
    run's red flags and the phases' recorded overrides. Steps read other steps' records through
    it (``StepContext.records``); the checklist builds one per version it holds."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data  # the raw tables, for what scans them all (``recordtimes``); not to change
        self._parsed: dict[str, StepRecord] = {}

    def _tables(self) -> Mapping[str, Any]:
        steps = self.data.get("steps")
        return steps if isinstance(steps, Mapping) else _EMPTY

    def __getitem__(self, step_id: str) -> StepRecord:
        record = self._parsed.get(step_id)
        if record is None:
            table = self._tables().get(step_id)
            record = StepRecord.from_dict(table) if isinstance(table, Mapping) else StepRecord()
            self._parsed[step_id] = record
        return record

    def __iter__(self) -> Iterator[str]:
        """The ids of the steps recorded, in the file's order."""
        return iter(list(self._tables()))

    def __contains__(self, step_id: object) -> bool:
        return step_id in self._tables()

    def states(self) -> dict[str, StepState]:
        return {step_id: self[step_id].state for step_id in self}

    @property
    def red_flags(self) -> tuple[str, ...]:
        run = self.data.get("run")
        return tuple(run.get("red_flags", ())) if isinstance(run, Mapping) else ()

    def override_reason(self, phase_id: str) -> str:
        """Why the run went on past phase ``phase_id`` without it passing, "" when it did not."""
        phases = self.data.get("phases")
        phase = phases.get(phase_id) if isinstance(phases, Mapping) else None
        reason = phase.get("override_reason", "") if isinstance(phase, Mapping) else ""
        return reason if isinstance(reason, str) else ""
