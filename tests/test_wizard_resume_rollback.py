"""The wizard after a crash, and its way to the rollback (issue 11), driven by key presses
against the rehearsal world: a step a dead runner left ``running`` opens as interrupted with
the resume report and runs again; ``b`` opens the rollback while an earlier phase failed."""

from __future__ import annotations

import os
import subprocess
import sys

from textual.widgets import DataTable, Static

from cutover_tui.checklist import Checklist

from .test_wizard import ready, run_selected, wizard

BOOK = """
[runbook]
id = "paths"
title = "paths"
[hosts.new]
address = "127.0.0.3"
[[phases]]
id = "1"
title = "Checks"
[[phases.steps]]
id = "1.1"
kind = "ssh"
title = "first"
host = "new"
command = "echo first"
[[phases.steps]]
id = "1.2"
kind = "ssh"
title = "second"
host = "new"
command = "echo second run"
[[phases]]
id = "2"
title = "Cutover"
[[phases.steps]]
id = "2.1"
kind = "ssh"
title = "switch over"
host = "new"
command = "echo 'switch refused: port 8000 in use' >&2; exit 3"
[[phases]]
id = "3"
title = "After"
[[phases.steps]]
id = "3.1"
kind = "ssh"
title = "after the switch"
host = "new"
command = "echo after"
[rollback]
id = "R"
title = "Rollback"
[[rollback.steps]]
id = "R1"
kind = "ssh"
title = "switch back"
host = "new"
command = "echo switched back"
"""


def runbook(tmp_path, text=BOOK):
    """(Its steps may change things: no preflight row comes first.)"""
    path = tmp_path / "book.toml"
    path.write_text(text)
    return path


def dead_runner() -> str:
    """The runner id of a process that has ended (SIGKILL, a power cut)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{os.uname().nodename}:{process.pid}"


def detail_text(screen) -> str:
    return str(screen.query_one("#detail", Static).render())


async def test_the_wizard_resumes_a_crashed_run_with_the_step_interrupted_and_reruns_it(
        world, tmp_path):
    state = tmp_path / "run.toml"
    app = wizard(world, tmp_path, runbook(tmp_path), hosts=["new"])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        assert screen.selected_step_id() == "1.1"
        await run_selected(pilot)
        assert app.engine.state("1.1") == "done"
        await pilot.press("q")
        await app.workers.wait_for_complete()
    # A runner that died inside step 1.2 left it "running".
    Checklist(state).update_step("1.2", state="running", operator="ann", runner=dead_runner())

    app = wizard(world, tmp_path, runbook(tmp_path), hosts=["new"])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        report = "Step 1.2 was running when the last session stopped; it is marked " \
                 "interrupted and will run again."
        assert report in app.outputs["_session"]
        [resumed] = [n for n in app._notifications if n.title == "Resumed"]
        assert report in resumed.message
        assert f"Resumed {state}." in resumed.message
        assert screen.phase_id == "1" and screen.selected_step_id() == "1.2"
        table = screen.query_one("#steps", DataTable)
        assert str(table.get_cell("1.2", "glyph")) == "!"
        assert "INTERRUPTED" in detail_text(screen)
        assert app.engine.state("1.2") == "interrupted"
        await pilot.press("t")  # retry: allowed for an interrupted step
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.engine.state("1.2") == "done"
        assert str(table.get_cell("1.2", "glyph")) == "✓"
        assert "new: second run" in app.outputs["1.2"]
        await pilot.press("q")
        await app.workers.wait_for_complete()
    record = Checklist(state).step("1.2")
    assert record["state"] == "done" and record["operator"] == "pilot"
    assert any("found running after a crash" in note for note in record["notes"])


async def test_b_opens_the_rollback_while_an_earlier_phase_failed_and_its_step_runs(world,
                                                                                   tmp_path):
    app = wizard(world, tmp_path, runbook(tmp_path), hosts=["new"])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        for step_id in ("1.1", "1.2"):
            assert screen.selected_step_id() == step_id
            await run_selected(pilot)
        await pilot.press("right_square_bracket")  # phase 1 passed: on to 2 without asking
        await pilot.pause()
        screen = app.screen
        assert screen.phase_id == "2" and screen.selected_step_id() == "2.1"
        await run_selected(pilot)
        assert app.engine.state("2.1") == "failed"
        assert "open the rollback procedure (b)" in detail_text(screen)
        await pilot.press("b")
        await pilot.pause()
        rollback = app.screen
        assert rollback.phase_id == "R"
        assert "Rollback: Rollback" in str(rollback.query_one("#phase-title", Static).render())
        assert rollback.selected_step_id() == "R1"
        await run_selected(pilot)
        assert app.engine.state("R1") == "done"
        assert app.engine.state("2.1") == "failed"
        await pilot.press("q")
        await app.workers.wait_for_complete()
    assert app.session.checklist.step("R1")["state"] == "done"


async def test_b_opens_the_rollback_whatever_the_runbook_calls_it(world, tmp_path):
    path = runbook(tmp_path, BOOK.replace('[rollback]\nid = "R"', '[rollback]\nid = "RB"')
                   .replace('id = "R1"', 'id = "RB1"'))
    app = wizard(world, tmp_path, path, hosts=["new"])
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert app.screen.phase_id == "RB"
        assert app.screen.selected_step_id() == "RB1"
        await pilot.press("q")
        await app.workers.wait_for_complete()
    assert app.return_code == 0


async def test_b_without_a_rollback_in_the_runbook_says_so(world, tmp_path):
    path = runbook(tmp_path, BOOK[:BOOK.index("[rollback]")])
    app = wizard(world, tmp_path, path, hosts=["new"])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert app.screen is screen and screen.phase_id == "1"
        assert [n.message for n in app._notifications if n.severity == "warning"] == [
            "This runbook has no rollback procedure."]
        await pilot.press("q")
        await app.workers.wait_for_complete()
    assert app.return_code == 0
