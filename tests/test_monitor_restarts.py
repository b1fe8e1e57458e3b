"""The watcher across what interrupts it: a record that cannot be written when a rule fires (the
next watcher fires it again), a re-attempt (every rule starts again), ``cutover check`` from cron
on a scheduled job's rule (one bad result per scheduled run, however often cron runs it)."""

from __future__ import annotations

import pytest

from cutover_tui.errors import ChecklistError
from cutover_tui.monitor import watch as watch_module
from cutover_tui.monitor.check import check_once
from cutover_tui.monitor.days import announced_at
from cutover_tui.operator import Answers, HeadlessOperator

from .helpers import session_on
from .test_monitor_watch import HOUR, WATCHED, announced, record, watcher_on

SCHEDULED = WATCHED.replace('''[[phases]]
id = "7"''', '''[[phases.steps]]
id = "4.2-health"
kind = "http"
title = "health"
url = "http://{hosts.new.address}:{api_port}/health"

[[phases]]
id = "7"''').replace('''[[red_flags]]
id = "dashboard"''', '''[[red_flags]]
id = "scheduled"
description = "a scheduled job's check"
step = "4.2-health"
after_utc = ["05:00", "17:00"]
grace = "30m"
consecutive = 2

[[red_flags]]
id = "dashboard"''')


async def test_a_firing_the_record_could_not_take_is_fired_again_by_the_next_watcher(
        world, tmp_path, monkeypatch):
    session = await announced(world, tmp_path)
    start = announced_at(session.book, session.checklist.records)
    world.inject("new", "dashboard-down", start + HOUR, 5 * HOUR)
    real = watch_module.record_transition

    def full_disk(checklist, transition, description, masker):
        if transition.to_state == "firing":
            raise ChecklistError("cannot write the record: no space left on device")
        real(checklist, transition, description, masker)

    monkeypatch.setattr(watch_module, "record_transition", full_disk)
    first = watcher_on(world, session, tmp_path)
    with pytest.raises(ChecklistError):
        await first.run(until=start + 3 * HOUR)
    assert first.store.load_states()["dashboard"].state != "firing"
    first.store.close()
    await first.session.aclose()
    monkeypatch.setattr(watch_module, "record_transition", real)
    second = watcher_on(world, session, tmp_path)
    await second.run(until=start + 4 * HOUR)
    assert record(session)["red_flags"]["dashboard"]["state"] == "firing"
    await second.session.aclose()
    await session.aclose()


async def test_a_reattempt_starts_every_rule_again(world, tmp_path):
    session = await announced(world, tmp_path)
    start = announced_at(session.book, session.checklist.records)
    world.inject("new", "dashboard-down", start + HOUR, 30 * HOUR)
    watcher = watcher_on(world, session, tmp_path)
    await watcher.run(until=start + 3 * HOUR)
    assert watcher.state.rules["dashboard"].state == "firing"
    with session.checklist.transaction() as data:  # what `cutover reattempt` does to the record
        data["attempts"] = {"1": {"red_flags": data.pop("red_flags")}}
        data["run"]["attempt"] = 2
    await watcher.turn()
    assert watcher.state.rules["dashboard"].state != "firing"
    assert watcher.store.load_states()["dashboard"].state != "firing"
    await watcher.session.aclose()
    await session.aclose()


async def test_check_from_cron_judges_a_scheduled_rule_once_per_run(world, tmp_path):
    book = tmp_path / "scheduled.toml"
    book.write_text(SCHEDULED)
    session = session_on(world, book, tmp_path / "run.toml", operator=HeadlessOperator(
        "ops-a", answers=Answers(confirm={"default": True}, text={"4.1": "a"}),
        say=lambda _t: None))
    assert (await session.engine.run_step("4.1")).ok
    world.inject("new", "api-down", world.clock.time(), 3 * 86400)
    world.clock.advance(86400)  # past a scheduled run and its grace
    for _ in range(4):  # cron every 5 minutes within the same scheduled run
        await check_once(watcher_on(world, session, tmp_path))
        world.clock.advance(300)
    table = record(session).get("red_flags", {}).get("scheduled", {})
    assert table.get("state") == "pending", table
    await session.aclose()
