"""Pilot tests: the wizard driven by key presses against the rehearsal world. They wait on
workers and engine events, never on sleeps."""

import asyncio

from textual.widgets import DataTable, RichLog

from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from screens.dialogs import ReasonDialog
from screens.diff import DiffScreen
from screens.entry import make_wizard
from screens.phase import PhaseScreen

from .helpers import ENV_EDIT_BOOK


def wizard(world, tmp_path, runbook, hosts=None, **kwargs):
    """The App as ``cutover run`` builds it (``make_wizard``), on the rehearsal world."""
    def open_with(operator):
        book = load_runbook(runbook, world.overrides(hosts))
        return open_session(book, operator, state=tmp_path / "run.toml", clock=world.clock,
                            droplets=world.droplet_api, workdir=tmp_path)

    return make_wizard(open_with, "pilot", title="test", health_interval=None, **kwargs)


async def ready(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(pilot.app.screen, PhaseScreen)
    return pilot.app.screen


async def run_selected(pilot):
    await pilot.press("r")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_drive_phase_one_by_keys_then_skip_with_a_reason_and_quit(world, tmp_path,
                                                                        m11_path):
    app = wizard(world, tmp_path, m11_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        assert screen.phase_id == "1"
        table = screen.query_one("#steps", DataTable)
        # The preflight row comes first (tests/test_preflight.py runs it), then the 6 steps.
        assert table.row_count == 7
        assert screen.selected_row() == "preflight"
        await pilot.press("down")
        phase = app.book.phases[0]
        for step in phase.steps:
            assert screen.selected_step_id() == step.id
            await run_selected(pilot)
            assert app.engine.state(step.id) == "done", app.session.checklist.step(step.id)
        # Streamed output of the last step (1.3) reached the screen.
        log = screen.query_one("#output", RichLog)
        assert any("Roles count: 747" in line.text for line in log.lines)
        assert any("Roles count: 747" in line for line in app.outputs["1.3"])
        # Phase 1 passed: ] goes to phase 2 without asking.
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.screen.phase_id == "2"
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press(*"pg_dump is preinstalled here")
        await pilot.press("enter")
        await pilot.pause()
        record = app.session.checklist.step("2.1-client")
        assert record["state"] == "skipped"
        assert "pg_dump is preinstalled here" in record["summary"]
        assert "pilot: skipped: pg_dump is preinstalled here" in record["notes"][-1]
        await pilot.press("q")
        await app.workers.wait_for_complete()
    assert app.return_code == 0
    states = app.session.checklist.states()
    assert "running" not in states.values()


async def test_going_on_past_an_unpassed_phase_needs_a_recorded_reason(world, tmp_path,
                                                                       m11_path):
    app = wizard(world, tmp_path, m11_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("right_square_bracket")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ReasonDialog)
        assert "has not passed its success criteria" in dialog.title_text
        await pilot.press("enter")  # empty: refused, the dialog stays
        await pilot.pause()
        assert app.screen is dialog
        await pilot.press(*"validated yesterday", "enter")
        await pilot.pause()
        assert app.screen.phase_id == "2"
        phase = app.session.checklist.read()["phases"]["1"]
        assert phase["override_reason"] == "validated yesterday"
        assert phase["override_by"] == "pilot"


async def test_quit_while_a_step_runs_asks_then_records_it_interrupted(world, tmp_path):
    book = tmp_path / "slow.toml"
    book.write_text("""
[runbook]
id = "slow"
title = "Slow"
[hosts.new]
address = "127.0.0.3"
[[phases]]
id = "1"
title = "Slow"
[[phases.steps]]
id = "1.1"
kind = "ssh"
title = "slow"
host = "new"
command = "echo begun; sleep 60"
""")
    app = wizard(world, tmp_path, book, hosts=["new"])
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        begun = asyncio.Event()
        app.engine.listeners.append(lambda e: begun.set() if getattr(e, "text", "") == "begun"
                                    else None)
        await pilot.press("r")
        await asyncio.wait_for(begun.wait(), 15)
        await pilot.press("q")
        await pilot.pause()
        assert "is running. Stop it and quit?" in app.screen.question
        await pilot.press("y")
        # The shutdown cancels the step's worker (and stops its command on the host) first.
        await app.workers.wait_for_complete(
            [w for w in app.workers if w.group == "shutdown"])
    assert app.return_code == 0
    assert app.session.checklist.step("1.1")["state"] == "interrupted"
    # Quitting stopped the command on the host too: OpenSSH would have left `sleep 60` running.
    assert await world.wait_no_leftovers() == {}


async def test_env_diff_screen_masks_the_database_password_and_applies(world, tmp_path):
    book = tmp_path / "env.toml"
    book.write_text(ENV_EDIT_BOOK)

    env = world.app_dir("new") / ".env"
    password = world.db_password
    app = wizard(world, tmp_path, book, hosts=["new"])
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("r")
        while not isinstance(app.screen, DiffScreen):
            await pilot.pause()
        rendered = app.screen.query_one("#table").render()
        text = str(rendered.plain if hasattr(rendered, "plain") else rendered)
        diff = app.screen.diff
        shown = "\n".join(r.left + r.right for r in diff.rows)
        assert password not in shown and password not in text
        assert "DATABASE_URL=postgresql://doadmin:••••••@127.0.0.1:25060" in shown
        assert [r.tag for r in diff.rows].count("changed") == 2
        # Revealing needs an explicit key press, and is recorded.
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.screen.revealed
        assert any(password in r.left for r in diff.raw_rows)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not app.screen.revealed
        await pilot.press("a")
        await app.workers.wait_for_complete()
    assert "ENVIRONMENT=production" in env.read_text()
    assert password in env.read_text()  # the secret itself is untouched
    record = app.session.checklist.step("3.1")
    assert record["state"] == "done" and password not in str(record)
    assert any("revealed the unmasked secrets" in note for note in record["notes"])


async def test_a_second_operators_changes_show_up_live(world, tmp_path, m11_path):
    from cutover_tui.checklist import Checklist

    app = wizard(world, tmp_path, m11_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        table = screen.query_one("#steps", DataTable)
        assert str(table.get_cell("1.1-health", "glyph")) == "·"
        # Bob, in another SSH session, runs the step from his own process.
        Checklist(tmp_path / "run.toml").update_step("1.1-health", state="done",
                                                     operator="bob")
        app.tick()
        await pilot.pause()
        assert str(table.get_cell("1.1-health", "glyph")) == "✓"
        assert app.engine.state("1.1-health") == "done"
