"""``cutover observe RECORD`` (and each browser of ``cutover serve``): a run opened to be
watched, never changed. ``open_observation`` builds the session the wizard shows — the runbook
the record names, pointed at the hosts the run recorded — on a ``ReadOnlyChecklist``, whose
every write is refused with ``OBSERVING``, and an ``ObserverEngine`` that shows each step's
plan as the record holds it (as the operator's session wrote it, masked), since the
observer's runbook may lack the run's ``--var`` values.

The wizard refuses every key that would change something before it gets here; the refusal
here is what holds if one is missed. Observers add no notes: a note is the record of an
operator's act, and a browser session of ``cutover serve`` runs as the server's account, so
its notes could not say who wrote them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .checklist import Checklist, ResumeReport
from .clock import Clock
from .engine import Engine
from .errors import ChecklistError
from .events import PlanItem
from .operator import Operator
from .reopen import reopen_runbook
from .session import Session, open_transports

OBSERVING = "observing: read-only"


class ReadOnlyChecklist(Checklist):
    """A run record opened only to be read: every transaction is refused."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        raise ChecklistError(OBSERVING)  # guard: observer-writes-nothing
        yield {}  # never reached: a generator, as the method it stands in for

    def release_running(self, note: str) -> list[str]:
        return []  # an observer runs nothing, so it leaves nothing running


class ObserverEngine(Engine):
    """An engine that runs nothing (its checklist refuses the claim) and shows the plans the
    run recorded."""

    def plan(self, step: Any) -> list[PlanItem]:
        recorded = self.checklist.record(step.id).plan
        if not recorded:
            return super().plan(step)
        items = []
        for line in recorded:
            where, sep, action = line.partition(": ")
            items.append(PlanItem(where, action) if sep else PlanItem("", line))
        return items


def open_observation(record: str | Path, operator: Operator, *, runbook: str | None = None,
                     hosts: Sequence[str] = (), variables: Sequence[str] = ()) -> Session:
    """The session an observer's wizard shows: the record read-only, its
    runbook (``--runbook`` else the recorded one) pointed at the recorded hosts unless
    ``hosts`` says otherwise."""
    record = Path(record)
    checklist = ReadOnlyChecklist(record, Clock())
    run = checklist.read()["run"]
    book = reopen_runbook(record, run, runbook=runbook, hosts=hosts, variables=variables)
    transports = open_transports(book, operator)
    engine = ObserverEngine(book, checklist, operator, ssh=transports.ssh, web=transports.web,
                            clock=checklist.clock, masker=transports.masker)
    return Session(book, checklist, engine, ResumeReport())
