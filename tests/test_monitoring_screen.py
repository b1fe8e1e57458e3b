"""The wizard's monitoring screen (issue 13, item 7), driven by key presses: ``w`` shows the
day grid, each rule's state with its values and the watcher; a firing rule's banner opens the
rollback phase with ``b`` and runs nothing. The week is built by writing the run record and the
watcher's store directly (the core's ``record_transition``, ``WatchStore``), on a fixed clock."""

from __future__ import annotations

import asyncio
import io
import tomllib
from pathlib import Path

from rich.console import Console
from rich.text import Text
from textual.widgets import Static

from cutover_tui.checklist import Checklist
from cutover_tui.clock import Clock, iso
from cutover_tui.masking import Masker
from cutover_tui.monitor.record import add_silence, record_transition
from cutover_tui.monitor.rules import Observation, Transition
from cutover_tui.monitor.store import WatchStore, store_path
from cutover_tui.operator import HeadlessOperator
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from screens.app import CutoverApp
from screens.monitoring import MonitoringScreen
from screens.phase import PhaseScreen
from screens.rollback import RollbackScreen
from screens.widgets.redflags import RuleLine
from screens.widgets.week import DayGrid

SIZE = (120, 36)
NOW = 1766138400.0  # 2025-12-19T10:00:00Z
HOUR, DAY = 3600.0, 86400.0
ANNOUNCED = NOW - 3 * DAY - 12 * HOUR  # day 3's checks were due 12 h ago, day 4's are not
SECRET = "hunter2-pw"

BOOK = """
[runbook]
id = "week"
title = "M11 rehearsal"

[hosts.new]
address = "127.0.0.3"

[hosts.old]
address = "127.0.0.2"

[[health]]
name = "api /health"
port = "8000"
path = "/health"

[[health]]
name = "dashboard"
port = "8501"
path = "/"

[[health]]
name = "errors"
port = "8000"
path = "/monitoring/errors"

[[red_flags]]
id = "health"
description = "Health checks fail for more than 1 hour"
health = "api /health"
host = "new"
for = "1h"

[[red_flags]]
id = "dashboard"
description = "Dashboard not loading"
health = "dashboard"
host = "new"
consecutive = 3

[[red_flags]]
id = "error-rate"
description = "Error rate above 10 errors/hour"
health = "errors"
host = "new"
interval = "5m"
per_hour_above = 10
value = "total_errors"

[[phases]]
id = "4"
title = "Cutover"

[[phases.steps]]
id = "4.1"
kind = "manual"
title = "announce"
instructions = "announce the cutover"

[[phases]]
id = "7"
title = "Monitoring"
repeat = 7

[[phases.steps]]
id = "7.1-wait"
kind = "wait"
title = "Day {day}"
since_step = "4.1"
after = "{day}d"

[[phases.steps]]
id = "7.1-health"
kind = "http"
title = "Day {day}: /health"
url = "http://127.0.0.3:8000/health"

[[phases.steps]]
id = "7.2-digest"
kind = "manual"
title = "Day {day}: the digest arrived"
instructions = "look in the inbox"

[rollback]
id = "R"
title = "Rollback"

[[rollback.steps]]
id = "R1"
kind = "ssh"
title = "start the old services"
host = "old"
command = "echo started"

[[rollback.steps]]
id = "R2"
kind = "ssh"
title = "stop the new services"
host = "new"
command = "echo stopped"
"""


class FixedClock(Clock):
    def time(self) -> float:
        return NOW

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def done(checklist: Checklist, step_id: str, at: float, state: str = "done") -> None:
    checklist.update_step(step_id, state=state, operator="ops-a", started_at=iso(at - 60),
                          finished_at=iso(at), summary=f"{step_id} {state}")


def build_week(checklist: Checklist, announced: bool = True, firing: bool = True,
               watcher: bool = True) -> None:
    """Day 1 all done, day 2's digest missing, day 3's health check red, days 4-7 to come;
    health firing for an hour, error-rate resolved and silenced; a watcher beating 12 s ago."""
    if not announced:
        return
    done(checklist, "4.1", ANNOUNCED)
    for day in (1, 2, 3):
        due = ANNOUNCED + day * DAY
        done(checklist, f"7.1-wait.d{day}", due)
        done(checklist, f"7.1-health.d{day}", due + 60, "failed" if day == 3 else "done")
    done(checklist, "7.2-digest.d1", ANNOUNCED + DAY + 3600)
    masker = Masker()
    if firing:
        refused = ("connection refused",)
        for move in (Transition("health", "ok", "pending", NOW - 2 * HOUR, refused, "refused"),
                     Transition("health", "pending", "firing", NOW - HOUR, refused, "refused")):
            record_transition(checklist, move, "Health checks fail for more than 1 hour", masker)
    rate = "Error rate above 10 errors/hour"
    for move in (Transition("error-rate", "ok", "firing", NOW - 30 * HOUR, ("31",), "31/h"),
                 Transition("error-rate", "firing", "resolved", NOW - 26 * HOUR, (), "")):
        record_transition(checklist, move, rate, masker)
    add_silence(checklist, "error-rate", NOW - HOUR, NOW + 2 * HOUR, "log rotation", "ops-a")
    if not watcher:
        return
    with WatchStore(store_path(checklist.path)) as store:
        for n in range(30):
            at = NOW - (30 - n) * 240
            bad = firing and n >= 12
            store.add_sample("health", Observation(
                at, not bad, None if bad else 12.0 + n % 5,
                f"connection refused by postgresql://app:{SECRET}@127.0.0.3/air" if bad
                else "200"))
            store.add_sample("dashboard", Observation(at, True, 40.0 + (n * 7) % 30, "200"))
            store.add_sample("error-rate", Observation(at, True, 100.0 + n // 3,
                                                       f"200, total_errors {100 + n // 3}"))
        store.beat(4242, "jump-1", ANNOUNCED + 300, NOW - 12)


def make_app(tmp_path: Path, **week) -> CutoverApp:
    book_path = tmp_path / "week.toml"
    book_path.write_text(BOOK)

    async def starter(app):
        session = open_session(load_runbook(book_path), HeadlessOperator("ops-a"),
                               state=tmp_path / "run.toml", clock=FixedClock(),
                               workdir=tmp_path)
        build_week(session.checklist, **week)
        return session

    return CutoverApp(starter, "ops-a", title="week", health_interval=None)


async def open_week(pilot) -> MonitoringScreen:
    """Press ``w`` on the phase screen and wait for the first view of the week."""
    await pilot.app.workers.wait_for_complete()  # the session's start
    await pilot.pause()
    assert isinstance(pilot.app.screen, PhaseScreen)
    await pilot.press("w")
    screen = pilot.app.screen
    assert isinstance(screen, MonitoringScreen)
    await shown(pilot, screen, 1)
    return screen


async def shown(pilot, screen: MonitoringScreen, reads: int) -> None:
    """Wait until ``screen`` rendered ``reads`` views (the worker reads every 2 s)."""
    for _ in range(400):
        if screen.reads >= reads:
            await pilot.pause()
            return
        await pilot.pause(0.05)
    raise AssertionError(f"the monitoring screen rendered {screen.reads} views, not {reads}")


def text_of(widget: Static) -> str:
    content = widget.content
    if isinstance(content, Text):
        return content.plain
    console = Console(file=io.StringIO(), width=116, record=True, color_system=None)
    console.print(content)
    return console.export_text()


def grid_rows(screen: MonitoringScreen) -> dict[str, str]:
    """Day number → its row of the grid as shown."""
    lines = text_of(screen.query_one(DayGrid)).splitlines()
    return {line.split()[0]: line for line in lines if line.strip()[:1].isdigit()}


async def test_w_shows_the_day_grid_the_rules_and_the_watcher(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_week(pilot)
        header = text_of(screen.query_one(DayGrid)).splitlines()[0]
        assert "7.1-health" in header and "7.2-digest" in header
        rows = grid_rows(screen)
        assert sorted(rows) == [str(n) for n in range(1, 8)]
        assert rows["1"].count("✓ done") == 2  # a done day
        assert "✓ done" in rows["2"] and "! missing" in rows["2"]  # a missing check
        assert "✗ red" in rows["3"] and "! missing" in rows["3"]
        assert all(rows[str(n)].count("· not yet") == 2 for n in range(4, 8))
        status = text_of(screen.query_one("#week-status", Static))
        assert "3d12h left in the week" in status
        assert "watcher pid 4242 on jump-1 since 2025-12-15T22:05:00Z, last beat 12 s ago" \
            in status
        health = text_of(screen.query_one("#rule-health", RuleLine).query_one(".rule-state",
                                                                              Static))
        assert "✗ FIRING since 2025-12-19T09:00:00Z" in health
        rate = screen.query_one("#rule-error-rate", RuleLine)
        assert "✓ resolved since 2025-12-18T08:00:00Z" in text_of(
            rate.query_one(".rule-state", Static))
        assert "silenced until 2025-12-19T12:00:00Z" in text_of(
            rate.query_one(".rule-last", Static))
        assert len(rate.query_one("Sparkline").data) == 30
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PhaseScreen)


async def test_a_firing_rule_shows_a_banner_whose_key_opens_the_rollback_and_runs_nothing(
        tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_week(pilot)
        banner = screen.query_one("#banner", Static)
        assert banner.display and screen.has_class("firing")
        assert "RED FLAG health firing since 2025-12-19T09:00:00Z" in text_of(banner)
        assert "Press b to open the rollback procedure" in text_of(banner)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, RollbackScreen) and app.screen.phase_id == "R"
        await app.workers.wait_for_complete()
        assert app.engine.running is None
        record = tomllib.loads((tmp_path / "run.toml").read_text())
        rollback = [step.id for step in app.book.rollback.steps]
        assert rollback == ["R1", "R2"]
        for step_id in rollback:
            state = record.get("steps", {}).get(step_id, {}).get("state", "pending")
            assert state == "pending", (step_id, record["steps"][step_id])


async def test_the_screen_follows_the_record_no_banner_once_the_rule_resolved(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_week(pilot)
        assert screen.has_class("firing")
        # The watcher (another process) records the resolution; the next read shows it.
        record_transition(Checklist(tmp_path / "run.toml"),
                          Transition("health", "firing", "resolved", NOW - 60, (), "200"),
                          "Health checks fail for more than 1 hour", Masker())
        await shown(pilot, screen, screen.reads + 1)
        assert not screen.has_class("firing")
        assert not screen.query_one("#banner", Static).display
        assert "✓ resolved" in text_of(screen.query_one("#rule-health", RuleLine).query_one(
            ".rule-state", Static))


async def test_before_the_announcement_it_says_so_and_how_to_start_a_watcher(tmp_path):
    app = make_app(tmp_path, announced=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_week(pilot)
        status = text_of(screen.query_one("#week-status", Static))
        assert "The week has not started: announce first (4.1)." in status
        assert (f"no watcher running — start one: cutover watch {tmp_path / 'week.toml'} "
                f"--state {tmp_path / 'run.toml'}") in status
        assert not screen.has_class("firing")
        assert all(line.count("· not yet") == 2 for line in grid_rows(screen).values())
        # Reading is not writing: no watch store appears beside the record.
        assert not store_path(tmp_path / "run.toml").exists()


async def test_a_probe_detail_is_shown_masked(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_week(pilot)
        last = text_of(screen.query_one("#rule-health", RuleLine).query_one(".rule-last",
                                                                            Static))
        assert "connection refused by postgresql://app:••••••@127.0.0.3/air" in last
        assert SECRET not in last


def test_snapshot_of_the_week_with_one_rule_firing(snap_compare, tmp_path):
    async def before(pilot):
        await open_week(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=before)
