"""Guards of the engine and the checklist that had no test of their own (issue 11): the
requires_backup gate, a step claimed by another live operator, the 7-day repeat, the rollback's
paths. No network: local steps and a fixed clock."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cutover_tui.checklist import Checklist
from cutover_tui.clock import MovableClock
from cutover_tui.errors import ChecklistError, GateClosed
from cutover_tui.operator import HeadlessOperator
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session

GATED = """
[runbook]
id = "gated"
title = "gated"
[hosts.new]
address = "127.0.0.3"
[[phases]]
id = "1"
title = "One"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "first"
command = "echo one"
[[phases]]
id = "2"
title = "Backup"
[[phases.steps]]
id = "2.1"
kind = "backup"
title = "backup"
host = "new"
env_file = "/root/.env"
remote_dir = "/root/backups"
[[phases]]
id = "3"
title = "Changes"
requires_backup = true
[[phases.steps]]
id = "3.1"
kind = "local"
title = "after the backup"
command = "echo three"
[rollback]
id = "R"
title = "Rollback"
[[rollback.steps]]
id = "R1"
kind = "local"
title = "roll back"
command = "echo back"
"""

WEEK = """
[runbook]
id = "week"
title = "week"
[hosts.new]
address = "127.0.0.3"
[[phases]]
id = "4"
title = "Cutover"
[[phases.steps]]
id = "4.1"
kind = "manual"
title = "announce"
instructions = "tell the team"
[[phases]]
id = "7"
title = "Week"
repeat = 7
[[phases.steps]]
id = "7.1-wait"
kind = "wait"
title = "Day {day}"
since_step = "4.1"
after = "{day}d"
[[phases.steps]]
id = "7.1-check"
kind = "local"
title = "Day {day} check"
command = "echo day {day}"
[[phases.steps]]
id = "7.3"
kind = "local"
title = "after the week"
once = true
command = "echo week over"
"""


def session_for(tmp_path, text, clock=None, name="ann"):
    path = tmp_path / "book.toml"
    path.write_text(text)
    book = load_runbook(path)
    return open_session(book, HeadlessOperator(name, yes=True), state=tmp_path / "run.toml",
                        clock=clock or MovableClock(), workdir=tmp_path)


async def test_requires_backup_shuts_the_phase_until_a_verified_backup_exists(tmp_path):
    session = session_for(tmp_path, GATED)
    try:
        assert (await session.engine.run_step("1.1")).ok
        # Phase 2 (the backup) is overridden with a reason: only the backup gate remains.
        session.engine.override_phase("2", "backup taken by hand")
        with pytest.raises(GateClosed, match="needs a verified backup first: backup step 2.1"):
            await session.engine.run_step("3.1")
        assert session.checklist.step("3.1").get("state", "pending") == "pending"
    finally:
        await session.aclose()


async def test_a_verified_backup_opens_the_requires_backup_gate(tmp_path):
    session = session_for(tmp_path, GATED)
    try:
        assert (await session.engine.run_step("1.1")).ok
        session.checklist.update_step("2.1", state="done",
                                      evidence={"verified": True, "sha256": "0" * 64})
        assert (await session.engine.run_step("3.1")).ok
    finally:
        await session.aclose()


async def test_the_rollback_stays_open_while_earlier_phases_failed(tmp_path):
    session = session_for(tmp_path, GATED.replace('command = "echo one"',
                                                  'command = "exit 3"'))
    try:
        assert not (await session.engine.run_step("1.1")).ok
        with pytest.raises(GateClosed, match="phase 1 .One. has not passed"):
            await session.engine.run_step("3.1")
        assert (await session.engine.run_step("R1")).ok  # rollback is never gated
    finally:
        await session.aclose()


def test_a_step_claimed_by_another_live_operator_is_refused(tmp_path):
    path = tmp_path / "run.toml"
    Checklist(path).update_run(runbook_id="t")
    # Another live process (this test's child) holds the step.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        Checklist(path).update_step("6.4", state="running", operator="bob",
                                    runner=f"{os.uname().nodename}:{other.pid}")
        with pytest.raises(ChecklistError, match=r"step 6\.4 is being run by bob"):
            Checklist(path).claim("6.4", "ann")
        assert Checklist(path).step("6.4")["operator"] == "bob"
    finally:
        other.kill()
        other.wait()
    # Once that process is gone, the claim goes through (the step was interrupted).
    Checklist(path).claim("6.4", "ann")
    assert Checklist(path).step("6.4")["operator"] == "ann"


async def test_the_week_waits_for_each_day_and_once_steps_come_after(tmp_path):
    clock = MovableClock()
    session = session_for(tmp_path, WEEK, clock=clock)
    engine = session.engine
    try:
        assert (await engine.run_step("4.1")).ok
        announced = clock.time()
        ids = [s.id for _, s in session.book.steps()]
        assert ids[1:4] == ["7.1-wait.d1", "7.1-check.d1", "7.1-wait.d2"]
        assert ids[-1] == "7.3", "a once step runs after the seven days"
        # Day 1's wait ends one day after the announcement (the movable clock moves there).
        assert (await engine.run_step("7.1-wait.d1")).ok
        assert clock.time() - announced == pytest.approx(86400, abs=5)
        assert (await engine.run_step("7.1-check.d1")).ok
        # Day 7's check belongs to a later day: on day 1 it is refused, and so is the step
        # that comes once after the week.
        with pytest.raises(GateClosed, match="day 2 of phase 7 has not been reached"):
            await engine.run_step("7.1-check.d7")
        with pytest.raises(GateClosed, match="day 2 of phase 7 has not been reached"):
            await engine.run_step("7.3")
        assert session.checklist.step("7.1-check.d7").get("state", "pending") == "pending"
        assert engine.next_step().id == "7.1-wait.d2"
        for day in range(2, 8):
            assert (await engine.run_step(f"7.1-wait.d{day}")).ok
        assert clock.time() - announced == pytest.approx(7 * 86400, abs=5)
        assert (await engine.run_step("7.1-check.d7")).ok
    finally:
        await session.aclose()
