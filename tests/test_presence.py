"""Issue 15, item 2: presence. Every open wizard or observer writes
``<record>.presence/<account>-<pid>.json`` (operator, account, role, what it looks at, a
heartbeat), reads the others', and removes its own on exit; someone quiet for 30 s is away;
a process gone from this host is not shown. The other sessions here are real processes."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import Static

from cutover_tui.journal import unix_account
from cutover_tui.operator import HeadlessOperator
from cutover_tui.presence import (
    AWAY_SECONDS,
    FORGET_SECONDS,
    Announcer,
    Presence,
    others_present,
    presence_dir,
)
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from screens.app import CutoverApp

pytestmark = pytest.mark.world  # the other sessions are real processes

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT_BOOK = ROOT / "tests" / "data" / "snapshot.toml"

# Another session: announces itself as ops-a, then waits for its stdin to close.
OTHER = """
import sys
from cutover_tui.presence import Announcer
me = Announcer(sys.argv[1], "ops-a", "operator")
me.beat("6", "6.4")
print(me.path, flush=True)
sys.stdin.read()
if sys.argv[2] == "leave":
    me.leave()
"""


def other_session(record: Path, ending: str = "leave") -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", OTHER, str(record), ending], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.readline()  # its file is written
    return process


def end(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=30)


def test_a_beat_is_a_small_file_named_by_account_and_pid_and_leaving_removes_it(tmp_path):
    record = tmp_path / "run.toml"
    me = Announcer(record, "ops-b", "observer")
    me.beat("3", "3.1", now=1000.0)
    path = presence_dir(record) / f"{unix_account()}-{os.getpid()}.json"
    assert me.path == path
    assert json.loads(path.read_text()) == {
        "operator": "ops-b", "account": unix_account(), "role": "observer", "phase": "3",
        "step": "3.1", "heartbeat": 1000.0, "host": socket.gethostname(), "pid": os.getpid()}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a folder nobody shares: private
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    me.leave()
    assert not path.exists()


def test_another_process_is_seen_with_what_it_looks_at_and_goes_when_it_leaves(tmp_path):
    record = tmp_path / "run.toml"
    me = Announcer(record, "ops-b", "operator")
    me.beat("1", "1.1")
    other = other_session(record)
    try:
        [seen] = me.others()
        assert (seen.operator, seen.role, seen.phase, seen.step) == ("ops-a", "operator", "6",
                                                                     "6.4")
        assert seen.label(time.time()) == "ops-a · operator · phase 6"
    finally:
        end(other)
    assert me.others() == []
    assert [p.name for p in presence_dir(record).iterdir()] == [me.path.name]


def test_a_process_killed_without_leaving_is_not_shown(tmp_path):
    record = tmp_path / "run.toml"
    other = other_session(record, ending="stay")  # its file stays behind
    end(other)
    assert len(list(presence_dir(record).glob("*.json"))) == 1
    assert others_present(presence_dir(record)) == []


def test_quiet_for_thirty_seconds_is_away_and_after_ten_minutes_is_gone(tmp_path):
    record = tmp_path / "run.toml"
    other = other_session(record)
    try:
        [seen] = others_present(presence_dir(record))
        beat = seen.heartbeat
        assert not seen.away(beat + AWAY_SECONDS)
        assert seen.away(beat + AWAY_SECONDS + 1)
        assert seen.label(beat + AWAY_SECONDS + 1) == "ops-a · operator · away"
        assert others_present(presence_dir(record), now=beat + FORGET_SECONDS - 1) == [seen]
        assert others_present(presence_dir(record), now=beat + FORGET_SECONDS + 1) == []
    finally:
        end(other)


def test_an_observer_is_labelled_as_one_and_damaged_files_are_ignored(tmp_path):
    folder = tmp_path / "run.toml.presence"
    folder.mkdir()
    observer = Presence("ops-c", "carol", "observer", heartbeat=time.time(), pid=os.getpid(),
                        host=socket.gethostname())
    (folder / "carol-1.json").write_text(json.dumps(observer.__dict__))
    (folder / "half-2.json").write_text('{"operator": "ops-d", "role": "oper')
    (folder / "odd-3.json").write_text(json.dumps({**observer.__dict__, "role": "root"}))
    assert others_present(folder) == [observer]
    assert observer.label(time.time()) == "ops-c · observer"


async def test_the_header_shows_who_else_is_here_and_the_file_goes_on_quit(tmp_path):
    record = tmp_path / "run.toml"

    async def starter(app):
        return open_session(load_runbook(SNAPSHOT_BOOK), HeadlessOperator("ops-b"),
                            state=record, workdir=tmp_path)

    other = other_session(record)
    app = CutoverApp(starter, "ops-b", title="presence", health_interval=None)
    try:
        async with app.run_test(size=(140, 36)) as pilot:
            for _ in range(100):
                await pilot.pause(0.05)
                top = app.screen.query("#topbar")
                if top and "ops-a · operator · phase 6" in str(top.first(Static).content):
                    break
            assert "here too: ops-a · operator · phase 6" in str(
                app.screen.query_one("#topbar", Static).content)
            mine = presence_dir(record) / f"{unix_account()}-{os.getpid()}.json"
            for _ in range(100):  # the next beat says the phase once its screen shows
                if json.loads(mine.read_text())["phase"] == "1":
                    break
                await pilot.pause(0.05)
            assert json.loads(mine.read_text())["phase"] == "1"
            end(other)
            for _ in range(100):
                await pilot.pause(0.05)
                if "ops-a" not in str(app.screen.query_one("#topbar", Static).content):
                    break
            assert "here too" not in str(app.screen.query_one("#topbar", Static).content)
            await pilot.press("q")
            await app.workers.wait_for_complete()
        assert not mine.exists()
    finally:
        if other.poll() is None:
            end(other)
