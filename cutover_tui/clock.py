"""Clocks. The engine and the rehearsal world take a clock instead of calling ``time`` so the
seven-day monitoring period can be rehearsed in seconds: ``MovableClock.sleep`` moves time
forward instead of waiting, and writes the offset to a file the world's processes read
(``sandbox.hostenv.HostEnv.now``)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path


class Clock:
    """Real time."""

    fast = False

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class MovableClock(Clock):
    """Real time plus an offset that ``advance`` and ``sleep`` move forward.

    ``real_fraction`` of each sleep is really waited (capped at ``real_cap`` seconds) so other
    tasks still get to run; the rest is skipped by moving the offset."""

    def __init__(self, offset: float = 0.0, state_file: Path | None = None,
                 real_cap: float = 0.05):
        self.fast = True
        self.offset = offset
        self.state_file = state_file
        self.real_cap = real_cap
        self._publish()

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)
        self._publish()

    async def sleep(self, seconds: float) -> None:
        real = min(self.real_cap, max(0.0, seconds))
        await asyncio.sleep(real)
        self.advance(max(0.0, seconds - real))

    def _publish(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offset": self.offset}))
        os.replace(tmp, self.state_file)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
