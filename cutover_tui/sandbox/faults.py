"""Incidents a rehearsal host can be given (``World.inject``), each a kind, a window on the
world's clock and its parameters, kept in the host's ``state/faults.json``.

The host's services read the file on each request and each scheduled job (``FaultReader``
parses it again only when it changed) and behave as the real app would during the window:

- ``api-down``: the API gives no HTTP answer (it stops listening; a client is refused);
- ``scrape-fail``: each scheduled scrape raises (the Paraform fetch cannot connect);
- ``db-down``: the database does not accept connections from the host;
- ``dashboard-down``: the proxy in front of the dashboard answers 502 Bad Gateway;
- ``errors``: ``count`` unhandled exceptions in the API, spread evenly over the window.

After its window a fault is over by itself. Kept free of heavy imports: every service loads it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# Each kind's parameters and their types; ``REQUIRED`` names those without a default.
KINDS: dict[str, dict[str, type]] = {
    "api-down": {},
    "scrape-fail": {"error": str},
    "db-down": {},
    "dashboard-down": {},
    "errors": {"count": int},
}
REQUIRED: dict[str, set[str]] = {"errors": {"count"}}
SCRAPE_ERROR = "[Errno 111] Connection refused"


@dataclass(frozen=True)
class Fault:
    kind: str
    start: float
    end: float
    params: dict[str, Any] = field(default_factory=dict)

    def covers(self, at: float) -> bool:
        return self.start <= at < self.end

    def event_times(self) -> list[float]:
        """When an ``errors`` fault's errors happen: ``count`` of them, evenly spread, each in
        the middle of its share of the window."""
        count = int(self.params.get("count", 0))
        share = (self.end - self.start) / count if count else 0.0
        return [self.start + (i + 0.5) * share for i in range(count)]

    def as_json(self) -> dict[str, Any]:
        return {"fault": self.kind, "start": self.start, "end": self.end, "params": self.params}


def make_fault(kind: str, start: float, duration: float, params: dict[str, Any]) -> Fault:
    """A fault checked against ``KINDS``; a wrong one is refused with a sentence."""
    if kind not in KINDS:
        raise ConfigError(f"unknown fault {kind!r}: the world knows {', '.join(KINDS)}")
    if duration <= 0:
        raise ConfigError(f"a {kind} fault needs a duration above zero, not {duration}")
    allowed = KINDS[kind]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"a {kind} fault takes {', '.join(allowed) or 'no parameters'}, "
                          f"not {', '.join(unknown)}")
    missing = sorted(REQUIRED.get(kind, set()) - set(params))
    if missing:
        raise ConfigError(f"a {kind} fault needs {', '.join(missing)}")
    for name, value in params.items():
        wanted = allowed[name]
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise ConfigError(f"a {kind} fault's {name} is a {wanted.__name__}, not {value!r}")
    if kind == "errors" and params["count"] < 1:
        raise ConfigError(f"an errors fault needs a count of at least 1, not {params['count']}")
    return Fault(kind, float(start), float(start) + float(duration), dict(params))


def read_faults(path: Path) -> list[Fault]:
    """The faults in ``path``; none when it is missing or unreadable (a service keeps serving)."""
    try:
        raw = json.loads(path.read_text())
        return [Fault(item["fault"], float(item["start"]), float(item["end"]),
                      dict(item.get("params", {}))) for item in raw["faults"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def add_fault(path: Path, fault: Fault) -> None:
    """Append ``fault`` to the host's file, replaced whole so a reader never sees half of it."""
    faults = [*read_faults(path), fault]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"faults": [f.as_json() for f in faults]}, indent=1))
    os.replace(tmp, path)


class FaultReader:
    """A service's view of its host's faults: the file is parsed again only when it changed
    (a new file after each ``add_fault``: its inode, mtime and size tell)."""

    def __init__(self, path: Path):
        self.path = path
        # One attribute for both, replaced whole: the API's request threads share the reader.
        self._cache: tuple[tuple[int, int, int] | None, list[Fault]] = (None, [])

    def faults(self) -> list[Fault]:
        try:
            info = os.stat(self.path)
        except OSError:
            return []
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        cached_stamp, faults = self._cache
        if stamp != cached_stamp:
            faults = read_faults(self.path)
            self._cache = (stamp, faults)
        return faults

    def of(self, kind: str) -> list[Fault]:
        return [fault for fault in self.faults() if fault.kind == kind]

    def active(self, kind: str, at: float) -> Fault | None:
        """The ``kind`` fault whose window holds ``at``, if any."""
        return next((fault for fault in self.of(kind) if fault.covers(at)), None)
