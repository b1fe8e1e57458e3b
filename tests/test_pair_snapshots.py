"""SVG snapshots of pair-operating (issue 15): the header with two other operators here, and a
step running by the other operator. Set up as tests/test_snapshots.py (fixed size and clock,
no network); the others are a presence file each and a second session writing as ops-a."""

import asyncio
import json
import os
import socket
import time
from pathlib import Path

import pytest

from cutover_tui.clock import Clock
from cutover_tui.events import OutputLine, StepStarted
from cutover_tui.operator import HeadlessOperator
from cutover_tui.presence import Presence, presence_dir
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from screens.app import CutoverApp

RUNBOOK = Path(__file__).parent / "data" / "snapshot.toml"
SIZE = (120, 36)


class FixedClock(Clock):
    def time(self) -> float:
        return 1766138400.0  # 2025-12-19T10:00:00Z

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def announce(record: Path, name: str, account: str, role: str, phase: str = "",
             quiet: float = 0.0) -> None:
    """``name``'s presence file, as their own wizard writes it (a live process of this host)."""
    folder = presence_dir(record)
    folder.mkdir(exist_ok=True)
    presence = Presence(name, account, role, phase, heartbeat=time.time() - quiet,
                        host=socket.gethostname(), pid=os.getpid())
    (folder / f"{account}-{len(list(folder.iterdir()))}.json").write_text(
        json.dumps(presence.__dict__))


@pytest.fixture
def make_app(tmp_path):
    def make() -> CutoverApp:
        async def starter(app):
            return open_session(load_runbook(RUNBOOK), HeadlessOperator("snap"),
                                state=tmp_path / "run.toml", clock=FixedClock(),
                                workdir=tmp_path)

        return CutoverApp(starter, "snap", title="snapshot", health_interval=None)

    return make


async def settle(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot, condition) -> None:
    for _ in range(100):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition()


def test_header_with_two_other_operators(snap_compare, make_app, tmp_path):
    record = tmp_path / "run.toml"
    announce(record, "ops-a", "alice", "operator", phase="2")
    announce(record, "ops-b", "bob", "observer", phase="1")
    announce(record, "ops-c", "carol", "operator", phase="1", quiet=45)

    async def before(pilot):
        await settle(pilot)
        await until(pilot, lambda: len(pilot.app.others_present) == 3)
        pilot.app.tick()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_a_step_running_by_the_other_operator(snap_compare, make_app, tmp_path):
    record = tmp_path / "run.toml"
    announce(record, "ops-a", "alice", "operator", phase="1")

    async def before(pilot):
        await settle(pilot)
        app = pilot.app
        # ops-a's own session starts 1.3 and it prints, as their engine does while it runs.
        ops_a = open_session(load_runbook(RUNBOOK), HeadlessOperator("ops-a"), state=record,
                             clock=FixedClock(), workdir=tmp_path)
        ops_a.checklist.claim("1.3", "ops-a")
        ops_a.engine.emit(StepStarted("1.3", "Watch the logs", (), "ops-a"))
        ops_a.engine.emit(OutputLine("1.3", "watching", host="local"))
        ops_a.engine.journal.flush()
        await pilot.press("down", "down")
        await until(pilot, lambda: "local: watching" in app.outputs.get("1.3", []))
        await until(pilot, lambda: app.screen.query_one("#output").lines)
        app.tick()
        app.clear_notifications()
        await pilot.pause()
        ops_a.engine.journal.close()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)
