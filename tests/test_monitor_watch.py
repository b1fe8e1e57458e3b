"""``cutover watch`` against the rehearsal world (real HTTP and SSH on loopback, the movable
clock): the days' checks run and recorded by the watcher, a rule firing from an outage in the
world and resolving, its notifications delivered to a loopback sink, a restart in the middle of
a pending ``for``, and ``cutover check``'s exit statuses."""

from __future__ import annotations

import tomllib
from pathlib import Path

from cutover_tui.clock import parse_iso
from cutover_tui.monitor.check import check_once
from cutover_tui.monitor.days import announced_at
from cutover_tui.monitor.notify import Notifier
from cutover_tui.monitor.store import WatchStore, store_path
from cutover_tui.monitor.watch import Watcher
from cutover_tui.operator import Answers, HeadlessOperator
from cutover_tui.records import StepState
from cutover_tui.sandbox.sink import NotifySink

from .helpers import session_on

WATCHED = """
services = ["air-demand-api", "air-demand-scheduler", "air-demand-dashboard"]

[runbook]
id = "watched"
title = "Watched week"

[variables]
app_dir = "/nonexistent"
api_port = "1"
dashboard_port = "1"

[hosts.new]
address = "127.0.0.3"

[hosts.old]
address = "127.0.0.2"

[[health]]
name = "api /health"
port = "{api_port}"
path = "/health"

[[health]]
name = "dashboard"
port = "{dashboard_port}"
path = "/"
contains = "Paraform Roles"

[[red_flags]]
id = "health"
description = "Health checks fail for more than 1 hour"
health = "api /health"
host = "new"
interval = "1m"
for = "1h"

[[red_flags]]
id = "dashboard"
description = "Dashboard not loading"
health = "dashboard"
host = "new"
interval = "1m"
consecutive = 3

[[phases]]
id = "4"
title = "Cutover"

[[phases.steps]]
id = "4.1"
kind = "manual"
title = "announce"
instructions = "announce"

[[phases]]
id = "7"
title = "Monitoring"
repeat = 2

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
url = "http://{hosts.new.address}:{api_port}/health"

[[phases.steps]]
id = "7.1-digest"
kind = "manual"
title = "Day {day}: digest"
instructions = "look"
"""

HOUR = 3600.0


async def announced(world, tmp_path: Path):
    book = tmp_path / "watched.toml"
    book.write_text(WATCHED)
    state = tmp_path / "run.toml"
    answers = Answers(confirm={"default": True}, text={"4.1": "announced"})
    operator = HeadlessOperator("ops-a", answers=answers, say=lambda _t: None)
    session = session_on(world, book, state, operator=operator)
    verdict = await session.engine.run_step("4.1")
    assert verdict.ok, verdict.summary
    return session


def watcher_on(world, session, tmp_path, urls=(), lines=None):
    watch_session = session_on(world, Path(session.book.path), session.checklist.path,
                               operator=HeadlessOperator("watch", say=lambda _t: None))
    store = WatchStore(store_path(session.checklist.path))
    out = lines.append if lines is not None else (lambda _t: None)
    return Watcher(watch_session, store, Notifier(list(urls), backoff=(0, 0)), out=out,
                   workdir=tmp_path, min_interval=600)


def record(session) -> dict:
    return tomllib.loads(session.checklist.path.read_text())


async def test_a_quiet_week_runs_each_day_as_watch_and_fires_nothing(world, tmp_path):
    session = await announced(world, tmp_path)
    start = announced_at(session.book, session.checklist.records)
    watcher = watcher_on(world, session, tmp_path)
    await watcher.run(until=start + 2 * 86400 + HOUR)
    data = record(session)
    for day in (1, 2):
        for step in ("7.1-wait", "7.1-health"):
            table = data["steps"][f"{step}.d{day}"]
            assert table["state"] == "done", (step, day, table)
            assert table["operator"] == "watch"
        assert data["steps"].get(f"7.1-digest.d{day}", {}).get("state", "pending") == "pending"
    assert parse_iso(data["steps"]["7.1-health.d2"]["finished_at"]) >= start + 2 * 86400
    assert [t for t in watcher.transitions if t.to_state == "firing"] == []
    samples = watcher.store.samples("health")
    assert len(samples) > 200 and all(s.ok for s in samples)  # every 10 min for 2 days
    beat = watcher.store.heartbeat()
    assert beat is not None and beat.beat_at >= start + 2 * 86400
    await watcher.session.aclose()
    await session.aclose()


async def test_an_outage_fires_the_hour_rule_notifies_and_resolves(world, tmp_path):
    session = await announced(world, tmp_path)
    start = announced_at(session.book, session.checklist.records)
    outage = start + 5 * HOUR
    world.inject("new", "api-down", outage, 2 * HOUR)
    world.inject("new", "api-down", start + 20 * HOUR, 600)  # a 10-minute blip: fires nothing
    sink = NotifySink().start()
    lines: list[str] = []
    try:
        watcher = watcher_on(world, session, tmp_path, urls=[sink.url], lines=lines)
        await watcher.run(until=start + 26 * HOUR)
    finally:
        sink.stop()
    moves = [(t.rule, t.to_state) for t in watcher.transitions]
    assert moves[:3] == [("health", "pending"), ("health", "firing"), ("health", "resolved")], \
        (moves, lines)
    assert set(moves[3:]) <= {("health", "pending"), ("health", "ok")}, moves  # the blip
    firing = next(t for t in watcher.transitions if t.to_state == "firing")
    assert outage + HOUR <= firing.at <= outage + HOUR + 601
    table = record(session)["red_flags"]["health"]
    assert table["state"] == "ok"
    assert parse_iso(table["fired_at"]) == int(firing.at)
    assert table["resolved_at"] and table["values"]
    delivered = [line for line in table["notifications"] if "delivered" in line]
    assert len(delivered) == 2, table["notifications"]
    titles = [message.get("title", "") for message in sink.received]
    assert any("RED FLAG health firing" in t for t in titles), titles
    assert any("resolved" in t for t in titles), titles
    assert not any(t.rule == "dashboard" for t in watcher.transitions)
    await watcher.session.aclose()
    await session.aclose()


async def test_a_restart_in_a_pending_hour_fires_on_time(world, tmp_path):
    session = await announced(world, tmp_path)
    start = announced_at(session.book, session.checklist.records)
    outage = start + 5 * HOUR
    world.inject("new", "api-down", outage, 3 * HOUR)
    first = watcher_on(world, session, tmp_path)
    await first.run(until=outage + 30 * 60)
    assert [t.to_state for t in first.transitions] == ["pending"]
    first.store.close()
    await first.session.aclose()
    second = watcher_on(world, session, tmp_path)  # a new process: state from the store
    await second.run(until=outage + 2 * HOUR)
    firing = [t for t in second.transitions if t.to_state == "firing"]
    assert len(firing) == 1 and outage + HOUR <= firing[0].at <= outage + HOUR + 601
    assert record(session)["red_flags"]["health"]["first_seen"] <= \
        record(session)["red_flags"]["health"]["fired_at"]
    await second.session.aclose()
    await session.aclose()


async def test_check_exits_0_clean_1_firing_2_unanswered(world, tmp_path):
    session = await announced(world, tmp_path)
    start = announced_at(session.book, session.checklist.records)
    world.clock.advance(HOUR)
    report = await check_once(watcher_on(world, session, tmp_path))
    assert report.exit_code == 0 and report.recorded, report
    assert any(line.what == "red flag health" and line.state == "ok" for line in report.lines)
    world.inject("new", "dashboard-down", world.clock.time() - 1, 4 * HOUR)
    for _ in range(3):  # three checks in a row (cron every few minutes): the streak fires
        world.clock.advance(300)
        report = await check_once(watcher_on(world, session, tmp_path))
    assert report.exit_code == 1, report
    assert record(session)["red_flags"]["dashboard"]["state"] == "firing"
    world.inject("new", "api-down", world.clock.time() - 1, HOUR)
    report = await check_once(watcher_on(world, session, tmp_path))
    assert report.exit_code == 1  # firing wins over "could not check"
    assert any("no answer" in line.state for line in report.lines)
    assert start < world.clock.time()
    await session.aclose()


async def test_check_says_2_when_a_probe_gets_no_answer(world, tmp_path):
    session = await announced(world, tmp_path)
    world.inject("new", "api-down", world.clock.time() - 1, HOUR)
    report = await check_once(watcher_on(world, session, tmp_path))
    assert report.exit_code == 2, report
    await session.aclose()


async def test_the_watcher_does_nothing_while_a_rollback_is_under_way(world, tmp_path):
    book = tmp_path / "watched.toml"
    book.write_text(WATCHED + '\n[rollback]\nid = "R"\ntitle = "Rollback"\n'
                    '[[rollback.steps]]\nid = "R4"\nkind = "manual"\ntitle = "note"\n'
                    'instructions = "note"\n')
    state = tmp_path / "run.toml"
    answers = Answers(confirm={"default": True}, text={"4.1": "a", "R4": "cause"})
    operator = HeadlessOperator("ops-a", answers=answers, say=lambda _t: None)
    session = session_on(world, book, state, operator=operator)
    assert (await session.engine.run_step("4.1")).ok
    assert (await session.engine.run_step("R4")).ok
    world.inject("new", "api-down", world.clock.time(), 5 * HOUR)
    watcher = watcher_on(world, session, tmp_path)
    await watcher.run(until=world.clock.time() + 3 * 86400)
    assert watcher.transitions == []
    assert watcher.store.samples("health") == []
    assert session.checklist.record("7.1-wait.d1").state is StepState.PENDING
    await watcher.session.aclose()
    await session.aclose()
