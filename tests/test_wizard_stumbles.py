"""Issue 15 item 9, what operators stumbled on, in the wizard (Pilot, 120x36) and headless: the
power-off question wrapped inside its dialog; a host the run powered off shown as such in the
health panel, not as "connection refused"; 5.3 showing the droplet details 5.2 recorded; no
"of 0s" for a phase without a duration. (repo_edit's retry: tests/test_repo_edit.py.)"""

from __future__ import annotations

import re

from textual.containers import Vertical
from textual.widgets import Label, Static

from cutover_tui.health import HealthProbe
from cutover_tui.operator import Answers
from cutover_tui.runbook import load_runbook
from cutover_tui.runner import run_steps
from cutover_tui.session import open_session
from screens.app import CutoverApp
from screens.dialogs import ConfirmDialog, ReasonDialog
from screens.entry import make_wizard
from screens.phase import PhaseScreen
from screens.widgets.health import HealthPanel
from screens.widgets.phases import PhaseList

from .helpers import RecordingOperator

# Phase 5 gives no duration (as a runbook may); phase 6 does.
BOOK = """
services = ["air-demand-api", "air-demand-scheduler", "air-demand-dashboard"]
[runbook]
id = "stumbles"
title = "Stumbles"
[variables]
app_dir = "/nonexistent"
api_port = "1"
[hosts.new]
address = "127.0.0.3"
droplet = "air-demand-staging"
[hosts.old]
address = "127.0.0.2"
droplet = "air-demand-prod"
[[health]]
name = "api /health"
port = "{api_port}"
path = "/health"
[[phases]]
id = "5"
title = "Pause Old Production"
[[phases.steps]]
id = "5.2"
kind = "droplet_power"
title = "power off old"
host = "old"
action = "off"
stop_services = ["air-demand-scheduler", "air-demand-api", "air-demand-dashboard"]
stop_pause_seconds = 1
shutdown_timeout = 30
[[phases.steps]]
id = "5.3"
kind = "manual"
title = "Document old droplet details"
instructions = "Keep the old droplet's details for the week."
show_evidence_of = "5.2"
[[phases]]
id = "6"
title = "Validation"
duration = "1h"
[[phases.steps]]
id = "6.1"
kind = "manual"
title = "look"
instructions = "look"
"""


def book_path(tmp_path):
    path = tmp_path / "stumbles.toml"
    path.write_text(BOOK)
    return path


def wizard(world, tmp_path):
    def open_with(operator):
        book = load_runbook(book_path(tmp_path), world.overrides())
        return open_session(book, operator, state=tmp_path / "run.toml", clock=world.clock,
                            droplets=world.droplet_api, workdir=tmp_path)

    return make_wizard(open_with, "pilot", title="test", health_interval=None)


def headless(world, tmp_path, operator=None):
    book = load_runbook(book_path(tmp_path), world.overrides())
    return open_session(book, operator or RecordingOperator(answers=Answers(
        confirm={"default": True})), state=tmp_path / "run.toml", clock=world.clock,
        droplets=world.droplet_api, workdir=tmp_path)


def shown_text(widget) -> str:
    """What the widget paints at its size, line by line."""
    return "\n".join(strip.text for strip in widget.render_lines(widget.size.region))


async def ready(pilot) -> PhaseScreen:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(pilot.app.screen, PhaseScreen)
    return pilot.app.screen


async def until(pilot, condition, what: str):
    """Pilot pauses until ``condition()`` holds (bounded by a count of pauses, not a time)."""
    for _ in range(400):
        if condition():
            await pilot.pause()  # laid out and painted
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never: {what}")


async def test_the_power_off_question_wraps_inside_its_dialog(world, tmp_path):
    app = wizard(world, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        app.start_step("5.2")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        dialog = app.screen
        question = dialog.query_one(".title", Label)
        # The whole question as droplet_power.py asks it: the droplet described in full.
        assert re.fullmatch(r"Power off droplet air-demand-prod \(id \d+, 127\.0\.0\.2, active, "
                            r".+, created .+\)\?", dialog.question), dialog.question
        assert len(dialog.question) > 90  # longer than the dialog is wide
        box = dialog.query_one(Vertical).content_region
        assert box.contains_region(question.region), (box, question.region)
        assert question.region.height >= 2  # wrapped, not cut
        painted = " ".join(line.strip() for line in shown_text(question).splitlines())
        assert painted.strip() == dialog.question
        await pilot.press("escape")  # "no": nothing is stopped
        await app.workers.wait_for_complete()
        assert app.engine.state("5.2") == "failed"
        assert "nothing was stopped" in app.session.checklist.record("5.2").summary
        await pilot.press("q")
        await app.workers.wait_for_complete()


async def test_the_health_panel_says_who_powered_the_host_off_and_when(world, tmp_path):
    session = headless(world, tmp_path)
    verdict = await session.engine.run_step("5.2")
    assert verdict.ok, verdict.summary
    off_at = session.checklist.record("5.2").power.powered_off_at
    await session.aclose()

    app = wizard(world, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        # One real round of the probe against the world: old no longer answers at all.
        probe = HealthProbe.with_own_transports(app.book, clock=world.clock)
        try:
            samples = await probe.round()
        finally:
            await probe.aclose()
        old = [s for s in samples if s.host == "old"]
        assert old and all(s.verdict == "down" for s in old)
        assert any("refused" in s.reason for s in old)  # what the panel used to say
        for sample in samples:
            app.health.record(sample)
        app.tick()
        await pilot.pause()
        panel = screen.query_one(HealthPanel)
        text = shown_text(panel)
        # (With the day too if the probe ran on the day after: the clock is the world's.)
        assert re.search(rf"○ powered off by 5\.2 at (\w{{3}} \d\d )?{off_at[11:16]} UTC",
                         text), text
        assert "refused" not in text, text
        await pilot.press("q")
        await app.workers.wait_for_complete()


async def test_5_3_shows_the_droplet_details_5_2_recorded_in_the_wizard(world, tmp_path):
    session = headless(world, tmp_path)
    assert (await session.engine.run_step("5.2")).ok
    power = dict(session.checklist.record("5.2").evidence)
    await session.aclose()
    details = [str(power["droplet_id"]), "air-demand-prod", "127.0.0.2", str(power["size"]),
               str(power["region"]), power["powered_off_at"]]

    app = wizard(world, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        assert screen.selected_step_id() == "5.3"  # the first step not done yet
        pane = str(screen.query_one("#detail", Static).render())
        assert "Recorded by step 5.2:" in pane
        assert all(value in pane for value in details), pane
        app.start_step("5.3")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        assert all(value in app.screen.detail for value in details), app.screen.detail
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReasonDialog), "the note")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        record = app.session.checklist.record("5.3")
        assert record.state == "done", record.summary
        assert all(value in record.summary for value in details), record.summary
        assert record.evidence["droplet_id"] == power["droplet_id"]
        assert record.evidence["powered_off_at"] == power["powered_off_at"]
        pane = str(screen.query_one("#detail", Static).render())
        assert all(value in pane for value in details), pane
        await pilot.press("q")
        await app.workers.wait_for_complete()


async def test_5_3_shows_the_droplet_details_headless(world, tmp_path):
    lines: list[str] = []
    session = headless(world, tmp_path)
    assert await run_steps(session, ["5.2", "5.3"], out=lines.append)
    power = session.checklist.record("5.2").evidence
    await session.aclose()
    [line] = [line for line in lines if " 5.3 " in line]
    for value in (power["droplet_id"], "air-demand-prod", "127.0.0.2", power["size"],
                  power["region"], power["powered_off_at"]):
        assert str(value) in line, line


async def test_5_3_before_5_2_says_nothing_was_recorded_yet(world, tmp_path):
    operator = RecordingOperator(answers=Answers(confirm={"default": True}))
    session = headless(world, tmp_path, operator)
    verdict = await session.engine.run_step("5.3")
    await session.aclose()
    assert verdict.ok
    assert "step 5.2 has recorded nothing yet (pending): note the details by hand" in \
        verdict.summary
    assert "droplet_id" not in session.checklist.record("5.3").evidence


async def test_a_phase_without_a_duration_shows_no_planned_time(tmp_path):
    book = load_runbook(book_path(tmp_path))
    assert book.phases[0].duration == "0s"  # what the model reads for "none given"

    async def starter(app):
        return open_session(book, RecordingOperator(), state=tmp_path / "run.toml",
                            workdir=tmp_path)

    app = CutoverApp(starter, "pilot", title="test", health_interval=None)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        text = shown_text(screen.query_one(PhaseList))
        assert "0s" not in text, text
        assert "– of 1h" in text, text  # a phase with a duration still shows it
        await pilot.press("q")
        await app.workers.wait_for_complete()
