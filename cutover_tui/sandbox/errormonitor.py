"""The rehearsal API's error monitoring, what its ``/monitoring/errors`` reports: the unhandled
exceptions since this process started, kept in memory, so a restart resets the count as the
real app's in-process counter does.

An error is either a request that really failed (``record``) or one an ``errors`` fault
scheduled (``catch_up``): that one happens at its time on the world's clock — logged then, as
uvicorn logs it, with a 500 access line first — once the process has lived to see it.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from .apperrors import Crash, asgi_lines, serialization_crash
from .faults import FaultReader
from .hostenv import HostEnv

RECENT = 10


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ErrorMonitor:
    def __init__(self, env: HostEnv, unit: str, faults: FaultReader, started: float):
        self.env = env
        self.unit = unit
        self.faults = faults
        self.started = started
        self._lock = threading.Lock()
        self._errors: list[tuple[float, dict[str, Any]]] = []
        self._happened: set[tuple[float, float, int]] = set()

    def record(self, at: float, path: str, crash: Crash) -> None:
        with self._lock:
            self._add(at, path, crash)

    def _add(self, at: float, path: str, crash: Crash) -> None:
        self._errors.append((at, {"timestamp": iso(at), "type": crash.kind,
                                  "message": crash.message, "path": path}))

    def catch_up(self, now: float) -> None:
        """Let every error a fault scheduled up to ``now`` happen (once), in this process's life:
        those before it started happened to a process that is gone."""
        with self._lock:
            for fault in self.faults.of("errors"):
                for n, at in enumerate(fault.event_times()):
                    key = (fault.start, fault.end, n)
                    if at > now or at < self.started or key in self._happened:
                        continue
                    self._happened.add(key)
                    if self.faults.active("api-down", at):
                        continue  # nothing reached an API that was not listening
                    self._happen(at, n)

    def _happen(self, at: float, n: int) -> None:
        crash = serialization_crash(self.env.app_dir)
        path = f"/demand/roles?page={n % 37 + 1}"
        client = f"203.0.113.{n * 7 % 250 + 2}:{40000 + int(at) % 20000}"
        self.env.log(self.unit, f'INFO:     {client} - "GET {path} HTTP/1.1" '
                                "500 Internal Server Error", at=at)
        for line in asgi_lines(self.env.app_dir, crash):
            self.env.log(self.unit, line, at=at)
        self._add(at, path.split("?")[0], crash)

    def report(self, now: float) -> dict[str, Any]:
        self.catch_up(now)
        with self._lock:
            errors = [entry for _, entry in sorted(self._errors, key=lambda e: e[0])]
        return {"total_errors": len(errors),
                "errors_by_type": dict(Counter(entry["type"] for entry in errors)),
                "recent_errors": errors[-RECENT:][::-1], "since": iso(self.started)}
