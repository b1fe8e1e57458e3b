"""Which hosts the run itself took down, by which step and when, read from the run record: a
done ``droplet_power`` step with ``action = "off"`` (the time from its evidence,
``PowerEvidence.powered_off_at``) or a done ``droplet_destroy``; a later done power-on of the
same host brings it back.

A health probe hears nothing from such a host, which is what the run meant to happen: the health
panel says "powered off by 5.2 at 02:31 UTC" there instead of "connection refused". The probe
(``health.py``) knows nothing of the record; this module joins the two for whoever shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .clock import parse_iso
from .records import RunRecords, StepState


@dataclass(frozen=True)
class HostOff:
    """A host the run took down on purpose."""

    host: str
    step_id: str  # the step that did it (5.2)
    what: str  # "powered off" or "destroyed"
    at: str  # ISO 8601 UTC, "" when the record has no time

    def sentence(self, now: float | None = None) -> str:
        """``powered off by 5.2 at 02:31 UTC``; the date too when ``now`` is another day."""
        when = f" at {short_time(self.at, now)}" if self.at else ""
        return f"{self.what} by {self.step_id}{when}"


def short_time(at: str, now: float | None = None) -> str:
    """An ISO time as ``HH:MM UTC``, with the day (``Dec 14 13:10 UTC``) unless it is the day
    of ``now``: a host stays off for the whole monitoring week."""
    try:
        moment = datetime.fromtimestamp(parse_iso(at), UTC)
    except ValueError:
        return at  # a hand-edited time: shown as it is written
    if now is not None and datetime.fromtimestamp(now, UTC).date() == moment.date():
        return moment.strftime("%H:%M UTC")
    return moment.strftime("%b %d %H:%M UTC")


def _moment(at: str) -> float:
    try:
        return parse_iso(at)
    except ValueError:
        return 0.0


def hosts_off(book: Any, records: RunRecords) -> dict[str, HostOff]:
    """Each host the run's done power and destroy steps left down, by host name. Steps are
    taken in the order they happened (their recorded times), so a rollback's power-on after the
    power-off brings the host back, and a power-off after it takes it down again."""
    events: list[tuple[float, str, HostOff | None]] = []
    for _, step in book.steps():
        if step.kind not in ("droplet_power", "droplet_destroy"):
            continue
        record = records[step.id]
        if record.state is not StepState.DONE:
            continue
        if step.kind == "droplet_destroy":
            at = record.finished_at
            events.append((_moment(at), step.host, HostOff(step.host, step.id, "destroyed", at)))
        elif step.action == "off":
            at = record.power.powered_off_at or record.finished_at
            events.append((_moment(at), step.host,
                           HostOff(step.host, step.id, "powered off", at)))
        else:
            on_at = record.evidence.get("powered_on_at")
            at = on_at if isinstance(on_at, str) and on_at else record.finished_at
            events.append((_moment(at), step.host, None))
    down: dict[str, HostOff] = {}
    for _, host, event in sorted(events, key=lambda item: item[0]):
        if event is None:
            down.pop(host, None)
        else:
            down[host] = event
    return down
