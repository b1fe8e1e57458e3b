"""DigitalOcean: the stand-in against the official description, our client's retries and
errors, and the power and destroy steps with their guard, over real HTTP on loopback."""

import asyncio
from pathlib import Path

import httpx
import pytest

from cutover_tui.errors import DropletAPIError, DropletNotFound, GateClosed
from cutover_tui.operator import Answers
from cutover_tui.remote.droplets import wait_action
from cutover_tui.runbook import load_runbook
from cutover_tui.sandbox.doapi import Fault
from cutover_tui.session import open_session

from . import do_spec
from .helpers import RecordingOperator

GUARDED = """
services = ["air-demand-api", "air-demand-scheduler", "air-demand-dashboard"]

[runbook]
id = "guarded"
title = "Guarded destroy"

[variables]
app_dir = "/nonexistent"
remote_backup_dir = "/nonexistent"
local_backup_dir = "/nonexistent"
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
id = "2"
title = "Backup"

[[phases.steps]]
id = "2.1"
kind = "backup"
title = "backup"
host = "new"
env_file = "{app_dir}/.env"
format = "sql.gz"
remote_dir = "{remote_backup_dir}"
local_dir = "{local_backup_dir}"
expect_tables = 9
row_counts = { roles = { min = 700, max = 800 } }
restore_check = "off"

[[phases]]
id = "4"
title = "Cutover"

[[phases.steps]]
id = "4.1"
kind = "manual"
title = "announce"
instructions = "announce"

[[phases]]
id = "5"
title = "Pause"

[[phases.steps]]
id = "5.2"
kind = "droplet_power"
title = "power off old"
host = "old"
action = "off"
stop_services = ["air-demand-scheduler", "air-demand-api", "air-demand-dashboard"]
stop_pause_seconds = 10
# In the rehearsal's time, each second of the wait is 1/20 s of real time: leave a loaded
# machine's power-off room to finish before the fallback to power_off.
shutdown_timeout = 30

[[phases]]
id = "7"
title = "Monitoring"

[[phases.steps]]
id = "7.1"
kind = "manual"
title = "daily check"
instructions = "check"

[[phases]]
id = "8"
title = "Destroy"

[[phases.steps]]
id = "8.3"
kind = "droplet_destroy"
title = "destroy old"
host = "old"
backup_step = "2.1"
cutover_step = "4.1"
monitoring_phase = "7"
monitoring_days = 7
power_off_step = "5.2"
min_powered_off = "72h"
healthy_host = "new"
snapshot_first = false

[rollback]
id = "R"
title = "Rollback"

[[rollback.steps]]
id = "R1"
kind = "droplet_power"
title = "power on old"
host = "old"
action = "on"
shutdown_timeout = 5
"""


def guarded_session(world, tmp_path, typed=None, operator=None):
    path = tmp_path / "guarded.toml"
    path.write_text(GUARDED)
    overrides = world.overrides()
    book = load_runbook(path, overrides)
    operator = operator or RecordingOperator(answers=Answers(
        confirm={"default": True}, typed={"8.3": typed} if typed else {}))
    return open_session(book, operator, state=tmp_path / "run.toml", clock=world.clock,
                        droplets=world.droplet_api, workdir=tmp_path)


async def prepare_destroy(session, world, days=8):
    """Backup, cutover, power off; the week passes; its check is made after the week's end (the
    destroy measures the monitoring by when the checks really ran, issue 16 item 4)."""
    for step_id in ("2.1", "4.1", "5.2"):
        verdict = await session.engine.run_step(step_id)
        assert verdict.ok, (step_id, verdict.summary)
    world.clock.advance(days * 86400)
    verdict = await session.engine.run_step("7.1")
    assert verdict.ok, ("7.1", verdict.summary)


def destroys(world):
    return [r for r in world.api.requests if r[0] == "DELETE"]


# ---------------------------------------------------------------------------- the stand-in


async def test_standin_answers_with_the_official_shapes(world):
    base = world.api.url
    headers = {"Authorization": f"Bearer {world.token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        listed = await client.get("/v2/droplets", params={"per_page": 200})
        assert listed.status_code == 200
        do_spec.validate(listed.json(), do_spec.response_schema("/v2/droplets", "get", "200"))
        for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            assert listed.headers[name].isdigit()
        droplet_id = listed.json()["droplets"][0]["id"]
        one = await client.get(f"/v2/droplets/{droplet_id}")
        do_spec.validate(one.json(), do_spec.response_schema("/v2/droplets/{droplet_id}", "get",
                                                             "200"))
        action = await client.post(f"/v2/droplets/{droplet_id}/actions",
                                   json={"type": "shutdown"})
        assert action.status_code == 201
        do_spec.validate(action.json(), do_spec.response_schema(
            "/v2/droplets/{droplet_id}/actions", "post", "201"))
        got = await client.get(f"/v2/actions/{action.json()['action']['id']}")
        do_spec.validate(got.json(), do_spec.response_schema("/v2/actions/{action_id}", "get",
                                                             "200"))
        missing = await client.get("/v2/droplets/1")
        assert missing.status_code == 404
        do_spec.validate(missing.json(), do_spec.response_schema("/v2/droplets/{droplet_id}",
                                                                 "get", "404"))
        unauthorized = await client.get("/v2/droplets", headers={"Authorization": "Bearer x"})
        assert unauthorized.status_code == 401
        do_spec.validate(unauthorized.json(), do_spec.response_schema("/v2/droplets", "get",
                                                                      "401"))


async def test_our_request_bodies_validate_against_the_spec(world, tmp_path):
    api = world.droplet_api(sleep=lambda s: None)
    droplet = await asyncio.to_thread(api.find, "air-demand-prod")
    for kind, extra in (("shutdown", {}), ("power_on", {}), ("snapshot", {"name": "before"})):
        action = await asyncio.to_thread(api.post_action, droplet.id, kind, **extra)
        await wait_action(api, action["id"], 10, interval=0.05)
    bodies = [body for method, path, body in world.api.requests if method == "POST"]
    assert [b["type"] for b in bodies] == ["shutdown", "power_on", "snapshot"]
    schema = do_spec.request_schema("/v2/droplets/{droplet_id}/actions", "post")
    for body in bodies:
        do_spec.validate(body, schema)


# ---------------------------------------------------------------------------- the client


async def test_reads_retry_on_429_honouring_retry_after_then_succeed(world):
    slept = []
    api = world.droplet_api(sleep=slept.append)
    world.api.inject(Fault("GET", "/v2/droplets", 429, count=2, headers={"Retry-After": "0"}))
    droplets = await asyncio.to_thread(api.list)
    assert {d.name for d in droplets} == {"air-demand-prod", "air-demand-staging"}
    assert slept == [0.0, 0.0]
    assert len([r for r in world.api.requests if r[:2] == ("GET", "/v2/droplets")]) == 3


async def test_reads_retry_on_5xx_with_bounded_backoff(world):
    slept = []
    api = world.droplet_api(sleep=slept.append)
    world.api.inject(Fault("GET", "/v2/droplets", 503, count=2))
    await asyncio.to_thread(api.list)
    assert slept == [0.5, 1.0]


async def test_actions_are_sent_once_even_on_5xx(world):
    api = world.droplet_api(sleep=lambda s: None)
    droplet = await asyncio.to_thread(api.find, "air-demand-prod")
    world.api.inject(Fault("POST", r"/v2/droplets/\d+/actions", 500))
    with pytest.raises(DropletAPIError, match="HTTP 500"):
        await asyncio.to_thread(api.post_action, droplet.id, "power_off")
    assert len([r for r in world.api.requests if r[0] == "POST"]) == 1


async def test_a_bad_token_is_a_sentence(world):
    from cutover_tui.remote.droplets import DropletAPI

    api = DropletAPI("wrong", world.api.url)
    with pytest.raises(DropletAPIError, match="token is missing, invalid or lacks write scope"):
        await asyncio.to_thread(api.list)


async def test_a_missing_droplet_is_not_found(world):
    api = world.droplet_api()
    with pytest.raises(DropletNotFound):
        await asyncio.to_thread(api.get, 12345)
    with pytest.raises(DropletNotFound, match="no droplet with name nope"):
        await asyncio.to_thread(api.find, "nope")


# ---------------------------------------------------------------------------- power steps


def open_gates(session):
    for phase_id in ("2", "4"):
        session.engine.override_phase(phase_id, "testing the power step alone")


async def test_power_off_stops_services_first_polls_and_power_on_restores(world, tmp_path):
    session = guarded_session(world, tmp_path)
    open_gates(session)
    old = world.hosts["old"]
    verdict = await session.engine.run_step("5.2")
    assert verdict.ok, verdict.summary
    assert verdict.evidence["services_stopped"] == ["air-demand-scheduler", "air-demand-api",
                                                    "air-demand-dashboard"]
    assert verdict.evidence["droplet_name"] == "air-demand-prod"
    posts = [b["type"] for m, p, b in world.api.requests if m == "POST"]
    assert posts == ["shutdown"]
    assert not old.powered
    again = await session.engine.run_step("5.2")
    assert again.ok and "already off" in again.summary
    on = await session.engine.run_step("R1")
    assert on.ok, on.summary
    assert old.powered
    await session.aclose()


async def test_power_off_falls_back_to_power_off_when_shutdown_hangs(world, tmp_path):
    world.api.hanging_actions.add("shutdown")
    session = guarded_session(world, tmp_path)
    open_gates(session)
    verdict = await session.engine.run_step("5.2")
    assert verdict.ok, verdict.summary
    posts = [b["type"] for m, p, b in world.api.requests if m == "POST"]
    assert posts == ["shutdown", "power_off"]
    await session.aclose()


# ---------------------------------------------------------------------------- destroy


async def test_destroy_with_the_exact_name_destroys_once_and_records_everything(world, tmp_path):
    session = guarded_session(world, tmp_path, typed="air-demand-prod")
    await prepare_destroy(session, world)
    verdict = await session.engine.run_step("8.3")
    assert verdict.ok, verdict.summary
    assert len(destroys(world)) == 1
    record = session.checklist.step("8.3")
    evidence = record["evidence"]
    assert evidence["outcome"] == "destroyed" and evidence["destroyed_by"] == "tester"
    assert evidence["droplet_ip"] == "127.0.0.2" and evidence["droplet_id"] == 318829101
    assert set(evidence["preconditions"]) == {"verified backup", "monitoring period", "no red flag",
                                              "powered off", "new healthy", "checklist times"}
    assert world.hosts["old"].destroyed
    await session.aclose()


async def test_a_name_wrong_by_one_character_sends_nothing(world, tmp_path):
    session = guarded_session(world, tmp_path, typed="air-demand-pro")
    await prepare_destroy(session, world)
    verdict = await session.engine.run_step("8.3")
    assert not verdict.ok and "not typed exactly" in verdict.summary
    assert destroys(world) == []
    await session.aclose()


async def test_yes_alone_never_destroys(world, tmp_path):
    session = guarded_session(world, tmp_path, typed=None)
    await prepare_destroy(session, world)
    verdict = await session.engine.run_step("8.3")
    assert not verdict.ok and destroys(world) == []
    await session.aclose()


@pytest.mark.parametrize(("change", "expected"), [
    ("renamed", "no droplet with name air-demand-prod"),
    ("readdressed", "refusing to act on a droplet that may not be this host"),
])
async def test_a_renamed_or_readdressed_droplet_is_refused(world, tmp_path, change, expected):
    session = guarded_session(world, tmp_path, typed="air-demand-prod")
    await prepare_destroy(session, world)
    record = world.api.droplets[318829101]
    if change == "renamed":
        record.name = "air-demand-prod-2"
    else:
        record.ip = "127.0.0.9"
    verdict = await session.engine.run_step("8.3")
    assert not verdict.ok
    assert expected in verdict.summary
    assert destroys(world) == []
    await session.aclose()


@pytest.mark.parametrize("performed", [False, True])
async def test_a_500_on_destroy_is_not_retried_and_the_droplet_is_re_read(world, tmp_path,
                                                                          performed):
    session = guarded_session(world, tmp_path, typed="air-demand-prod")
    await prepare_destroy(session, world)
    world.api.inject(Fault("DELETE", r"/v2/droplets/\d+", 500, perform=performed))
    verdict = await session.engine.run_step("8.3")
    assert len(destroys(world)) == 1
    if performed:
        assert verdict.ok and "re-reading shows it no longer exists" in verdict.summary
    else:
        assert not verdict.ok
        assert "still exists; not retried" in verdict.summary
    await session.aclose()


# ---------------------------------------------------------------------------- the guard, live


def break_backup(session, world):
    path = session.checklist.step("2.1")["evidence"]["local_path"]
    with open(path, "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))


def red_flag(session, world):
    # (Moving the clock back, as this test once did, now also puts the week's checks in the
    # future: "checklist times" fails with it. A red flag shuts the monitoring period alone.)
    session.engine.raise_red_flag("health checks failed for over an hour")


def powered_on(session, world):
    world.api.droplets[318829101].status = "active"


def new_unhealthy(session, world):
    world.hosts["new"].kill_services()


BREAKERS = {"verified backup": break_backup, "no red flag": red_flag,
            "powered off": powered_on, "new healthy": new_unhealthy}


@pytest.mark.parametrize("failing", list(BREAKERS))
async def test_each_precondition_alone_keeps_destroy_disabled_in_the_wizard(world, tmp_path,
                                                                            failing):
    from textual.widgets import Button, Static

    from screens.app import CutoverApp
    from screens.dialogs import TypedConfirmDialog
    from screens.operator_ui import UIOperator

    path = tmp_path / "guarded.toml"
    path.write_text(GUARDED)
    headless = guarded_session(world, tmp_path)
    await prepare_destroy(headless, world)
    await headless.aclose()
    BREAKERS[failing](headless, world)

    async def starter(app):
        book = load_runbook(path, world.overrides())
        return open_session(book, UIOperator(app, "pilot"), state=tmp_path / "run.toml",
                            clock=world.clock, droplets=world.droplet_api, workdir=tmp_path)

    app = CutoverApp(starter, "pilot", health_interval=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.selected_step_id() == "8.3"
        await pilot.press("r")
        while not isinstance(app.screen, TypedConfirmDialog):
            await pilot.pause()
        guard = app.screen
        failing_names = [p.name for p in guard.preconditions if not p.ok]
        assert failing_names == [failing]
        await pilot.press(*"air-demand-prod")
        await pilot.pause()
        assert guard.query_one("#confirm", Button).disabled
        why = str(guard.query_one("#why", Static).render())
        assert f"not met: {failing}" in why
        await pilot.click("#confirm")
        await pilot.pause()
        assert app.screen is guard  # a disabled button does nothing
        await pilot.press("escape")
        await app.workers.wait_for_complete()
    assert destroys(world) == []
    assert app.session.checklist.step("8.3")["state"] == "failed"


async def test_the_backup_gate_stays_shut_when_one_byte_changes(world, tmp_path):
    from cutover_tui.steps.backup import backup_gate
    from cutover_tui.steps.backup_verify import inspect_dump

    session = guarded_session(world, tmp_path)
    assert (await session.engine.run_step("2.1")).ok
    book = session.book
    assert backup_gate(session.checklist.read(), book, recheck_file=True) is None
    break_backup(session, world)
    reason = backup_gate(session.checklist.read(), book, recheck_file=True)
    assert "no longer has its recorded sha256" in reason
    path = session.checklist.step("2.1")["evidence"]["local_path"]
    # Byte 100 lies in the deflate stream: decompression fails before any SQL is read.
    with pytest.raises(GateClosed, match="gzip -t fails: the dump is damaged"):
        inspect_dump(Path(path), "sql.gz")
    await session.aclose()
