"""Issue 15, items 1–4 in the core, without a screen: who holds a step, a skip refused while
another session runs the step, the journal followed for what others did (and not for what this
process did), an observer's session that writes nothing, and files kept private."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from cutover_tui.errors import GateClosed
from cutover_tui.journal import journal_path
from cutover_tui.journalfollow import JournalFollower
from cutover_tui.observe import OBSERVING, open_observation
from cutover_tui.operator import HeadlessOperator
from cutover_tui.pairing import clock_time, holder_of
from cutover_tui.records import StepRecord, StepState
from cutover_tui.runbook import Overrides, load_runbook
from cutover_tui.session import open_session

BOOK = """
[runbook]
id = "core"
title = "Core"
[variables]
greeting = "hello from the runbook"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "One"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "greet"
command = "echo {greeting}; while [ ! -e {gate} ]; do sleep 0.02; done"
[[phases.steps]]
id = "1.2"
kind = "local"
title = "after"
command = "echo after"
"""


def book_file(tmp_path: Path) -> Path:
    path = tmp_path / "core.toml"
    path.write_text(BOOK.replace("{gate}", str(tmp_path / "gate")))
    return path


def session_of(tmp_path: Path, name: str, variables: dict[str, str] | None = None):
    book = load_runbook(book_file(tmp_path), Overrides(variables=variables or {}))
    return open_session(book, HeadlessOperator(name), state=tmp_path / "run.toml",
                        workdir=tmp_path)


def test_a_running_step_is_held_by_its_operator_unless_this_session_runs_it():
    record = StepRecord(state=StepState.RUNNING, operator="ops-a", account="alice",
                        runner=f"{os.uname().nodename}:{os.getpid()}",
                        started_at="2025-12-19T02:25:41Z")
    holder = holder_of("6.4", record, own_running=None)
    assert holder is not None
    assert holder.sentence() == "6.4 is being run by ops-a (since 02:25)"
    assert holder.banner() == "▶ 6.4 running by ops-a since 02:25"
    assert holder_of("6.4", record, own_running="6.4") is None  # this session runs it
    assert holder_of("6.4", StepRecord(state=StepState.FAILED, operator="ops-a"), None) is None
    gone = StepRecord(state=StepState.RUNNING, operator="ops-a",
                      runner=f"{os.uname().nodename}:{2 ** 22 + 12345}")
    assert holder_of("6.4", gone, None) is None  # its process died: the next claim takes it
    assert clock_time("not a time") == ""


async def test_a_step_another_session_runs_cannot_be_skipped_and_its_record_stays(tmp_path):
    ops_a, ops_b = session_of(tmp_path, "ops-a"), session_of(tmp_path, "ops-b")
    running = asyncio.create_task(ops_a.engine.run_step("1.1"))
    try:
        for _ in range(500):
            ops_b.checklist.read()
            if ops_b.checklist.record("1.1").state is StepState.RUNNING:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(GateClosed, match=r"1\.1 is being run by ops-a \(since "):
            ops_b.engine.skip("1.1", "it looks stuck")
        ops_a.checklist.read()
        assert ops_a.checklist.record("1.1").state is StepState.RUNNING
        assert ops_a.checklist.record("1.1").notes == ()
    finally:
        (tmp_path / "gate").touch()
        assert (await running).ok
    ops_b.engine.skip("1.2", "nobody runs it")  # a step nobody holds is skipped as before
    assert ops_b.checklist.record("1.2").state is StepState.SKIPPED
    await ops_a.aclose()
    await ops_b.aclose()


async def test_the_follower_sees_what_others_did_and_not_what_this_process_did(tmp_path):
    (tmp_path / "gate").touch()
    ops_a, ops_b = session_of(tmp_path, "ops-a"), session_of(tmp_path, "ops-b")
    follower = JournalFollower(journal_path(tmp_path / "run.toml"), "ops-b")
    ops_b.engine.listeners.append(
        lambda event: follower.own_started(event.step_id) if type(event).__name__ ==
        "StepStarted" else None)
    assert (await ops_a.engine.run_step("1.1")).ok
    assert (await ops_b.engine.run_step("1.2")).ok
    ops_a.engine.journal.flush()
    ops_b.engine.journal.flush()
    seen = [(item.kind, item.step, item.operator, item.text) for item in follower.poll()]
    assert seen == [("started", "1.1", "ops-a", "greet"),
                    ("output", "1.1", "ops-a", "local: hello from the runbook"),
                    ("finished", "1.1", "ops-a", "done: " + ops_a.checklist.record("1.1").summary)]
    assert follower.poll() == []  # nothing new
    await ops_a.aclose()
    await ops_b.aclose()


def test_the_follower_reads_only_whole_lines_and_starts_again_on_a_new_file(tmp_path):
    journal = tmp_path / "run.journal"
    follower = JournalFollower(journal, "ops-b", account="bob")
    assert follower.poll() == []  # no journal yet
    line = ('{"seq":1,"kind":"output","step":"1.1","operator":"ops-a","account":"alice",'
            '"text":"one\\ntwo","at":"2025-12-19T10:00:00Z"}\n')
    journal.write_text(line[:30])
    assert follower.poll() == []  # half a line: next time
    journal.write_text(line)
    [item] = follower.poll()
    assert item.lines == ["one", "two"] and item.account == "alice"
    replaced = tmp_path / "new"
    replaced.write_text(line.replace("one", "uno"))
    os.replace(replaced, journal)
    assert [item.lines for item in follower.poll()] == [["uno", "two"]]


async def test_an_observers_session_writes_nothing_and_shows_the_recorded_plan(tmp_path):
    ops_a = session_of(tmp_path, "ops-a", variables={"greeting": "hello from the run"})
    await ops_a.aclose()
    record = tmp_path / "run.toml"
    before = record.read_bytes()
    observer = open_observation(record, HeadlessOperator("ops-b"))
    engine = observer.engine
    step = observer.book.step("1.1")
    # The observer's runbook lacks the run's --var; the plan shown is the one the run recorded.
    assert [item.action for item in engine.plan(step)][0].startswith("echo 'hello from the run'")
    for write in (lambda: engine.skip("1.1", "why not"), lambda: engine.add_note("1.1", "hi"),
                  lambda: engine.raise_red_flag("fire"),
                  lambda: engine.override_phase("1", "because"),
                  lambda: observer.checklist.claim("1.1", "ops-b")):
        with pytest.raises(Exception, match=OBSERVING):
            write()
    with pytest.raises(Exception, match=OBSERVING):
        await engine.run_step("1.2")
    await observer.aclose()
    assert record.read_bytes() == before


async def test_a_record_made_world_readable_by_hand_is_private_again_on_the_next_write(
        tmp_path):
    ops_a = session_of(tmp_path, "ops-a")
    record = tmp_path / "run.toml"
    lock = tmp_path / "run.toml.lock"
    os.chmod(record, 0o644)
    os.chmod(lock, 0o666)
    ops_a.engine.add_note("1.1", "hello")
    assert stat.S_IMODE(record.stat().st_mode) == 0o640
    assert stat.S_IMODE(lock.stat().st_mode) == 0o640  # the record's, never the world's
    await ops_a.aclose()
