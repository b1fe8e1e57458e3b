"""Issue 16, "Destroy and power" (items 1–4): each item's reproduction, over real HTTP and SSH
on loopback (the rehearsal world and its DigitalOcean stand-in).

1. every precondition re-checked and the droplet re-identified after the name is typed;
2. the intent recorded (fsynced) before the DELETE, and a resume that reads it;
3. power off asks before it stops anything;
4. the destroy rests on DigitalOcean's action history and on when the checks really ran, and a
   checklist whose times are not believable blocks it.
"""

from __future__ import annotations

import asyncio
import re
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import tomli_w

from cutover_tui.clock import iso, parse_iso
from cutover_tui.operator import Answers
from cutover_tui.runbook import load_runbook
from cutover_tui.sandbox.doapi import DropletRecord, Fault
from cutover_tui.sandbox.hostenv import UNITS
from cutover_tui.session import open_session

from . import do_spec
from .helpers import RecordingOperator
from .test_droplets import GUARDED, destroys, guarded_session, prepare_destroy

OLD_ID = 318829101
TYPED = "air-demand-prod"


class TypingOperator(RecordingOperator):
    """Types the droplet's name exactly; ``while_typing`` happens while the dialog is open."""

    def __init__(self, while_typing=None, typed: str | None = TYPED):
        super().__init__(answers=Answers(confirm={"default": True},
                                         typed={"8.3": typed} if typed else {}))
        self.while_typing = while_typing

    async def confirm_typed(self, step_id, prompt, expected, detail="", preconditions=()):
        answer = await super().confirm_typed(step_id, prompt, expected, detail, preconditions)
        if self.while_typing is not None:
            await self.while_typing()
        return answer


async def do_action(world, kind: str, droplet_id: int = OLD_ID) -> dict:
    """An action sent at the DigitalOcean console (here: the stand-in, over HTTP), completed."""
    headers = {"Authorization": f"Bearer {world.token}"}
    async with httpx.AsyncClient(base_url=world.api.url, headers=headers) as client:
        sent = await client.post(f"/v2/droplets/{droplet_id}/actions", json={"type": kind})
        assert sent.status_code == 201, sent.text
        for _ in range(200):
            action = (await client.get(f"/v2/actions/{sent.json()['action']['id']}")).json()
            if action["action"]["status"] != "in-progress":
                return action["action"]
            await asyncio.sleep(0.05)
    raise AssertionError(f"{kind} never completed")


def rewrite_checklist(session, change) -> None:
    """A hand edit of the checklist file (valid TOML, every other byte kept)."""
    path = session.checklist.path
    data = tomllib.loads(path.read_text())
    change(data)
    path.write_text(tomli_w.dumps(data))


# ---------------------------------------------------------------------------- item 1


async def destroy_while_typing(world, tmp_path, change):
    operator = TypingOperator()
    session = guarded_session(world, tmp_path, operator=operator)
    await prepare_destroy(session, world)
    operator.while_typing = lambda: change(session)
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    return verdict, operator


async def test_item1_destroy_aborts_when_droplet_powered_on_while_typing(world, tmp_path):
    async def power_on(session):
        await do_action(world, "power_on")

    verdict, operator = await destroy_while_typing(world, tmp_path, power_on)
    assert all(p.ok for p in operator.preconditions[0])  # all held when the dialog opened
    assert not verdict.ok
    assert "changed while the name was typed" in verdict.summary
    assert "powered off" in verdict.summary and "active" in verdict.summary
    assert destroys(world) == []
    assert not world.hosts["old"].destroyed


async def test_item1_destroy_aborts_when_new_host_answers_503_while_typing(world, tmp_path):
    class Unavailable(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    servers = []

    async def answer_503(session):
        new = world.hosts["new"]
        await asyncio.to_thread(new.kill_services)
        server = ThreadingHTTPServer((new.address, new.env.api_port), Unavailable)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)

    try:
        verdict, _ = await destroy_while_typing(world, tmp_path, answer_503)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert not verdict.ok
    assert "changed while the name was typed" in verdict.summary
    assert "new healthy: api /health: HTTP 503" in verdict.summary
    assert destroys(world) == []


async def test_item1_destroy_aborts_when_red_flag_raised_while_typing(world, tmp_path):
    async def red_flag(session):
        session.engine.raise_red_flag("scraper failed 3 runs in a row")

    verdict, _ = await destroy_while_typing(world, tmp_path, red_flag)
    assert not verdict.ok
    assert "no red flag: red flag recorded" in verdict.summary
    assert "scraper failed 3 runs in a row" in verdict.summary
    assert destroys(world) == []


async def test_item1_destroy_aborts_when_backup_deleted_while_typing(world, tmp_path):
    async def delete_backup(session):
        Path(session.checklist.step("2.1")["evidence"]["local_path"]).unlink()

    verdict, _ = await destroy_while_typing(world, tmp_path, delete_backup)
    assert not verdict.ok
    assert "changed while the name was typed" in verdict.summary
    assert "verified backup" in verdict.summary
    assert destroys(world) == []


async def test_item1_destroy_aborts_when_droplet_replaced_while_typing(world, tmp_path):
    """Same name, same IP, off, off long enough by its own history: every precondition holds
    for the replacement. Only the id tells it is not the droplet whose name was typed."""

    async def replace(session):
        api = world.api
        old = api.droplets.pop(OLD_ID)
        replacement = DropletRecord(OLD_ID + 1000, old.name, old.ip, old.host, status="off")
        api.add_droplet(replacement)
        long_ago = world.clock.time() - 10 * 86400
        api.actions[1_900_000_001] = {
            "id": 1_900_000_001, "status": "completed", "type": "shutdown",
            "started_at": iso(long_ago), "completed_at": iso(long_ago + 20),
            "resource_id": replacement.id, "resource_type": "droplet",
            "region": replacement.to_json()["region"], "region_slug": replacement.region}

    verdict, _ = await destroy_while_typing(world, tmp_path, replace)
    assert not verdict.ok
    assert verdict.evidence["preconditions_after_typing"]["powered off"].startswith("ok")
    assert f"id is {OLD_ID + 1000}, was {OLD_ID}" in verdict.summary
    assert destroys(world) == []


# ---------------------------------------------------------------------------- item 2


async def test_item2_intent_is_on_disk_before_the_delete_goes_out(world, tmp_path):
    session = guarded_session(world, tmp_path, typed=TYPED)
    await prepare_destroy(session, world)
    on_disk_at_delete = []
    effect = world.api.on_effect

    def watching(host, what):
        if what == "destroy":  # the stand-in is handling the DELETE: what does the disk say?
            record = tomllib.loads(session.checklist.path.read_text())["steps"]["8.3"]
            on_disk_at_delete.append(record.get("evidence", {}))
        effect(host, what)

    world.api.on_effect = watching
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert verdict.ok, verdict.summary
    assert len(on_disk_at_delete) == 1
    intent = on_disk_at_delete[0].get("destroy_intent", "")
    assert re.fullmatch(rf"destroy of droplet {OLD_ID} sent at \S+Z by tester", intent), intent
    assert on_disk_at_delete[0]["destroy_intent_droplet_id"] == OLD_ID
    assert session.checklist.step("8.3")["evidence"]["destroy_intent"] == intent


async def crash_during_delete(world, tmp_path, performed: bool):
    """The DELETE is in flight (the stand-in answers late) when the run dies."""
    session = guarded_session(world, tmp_path, typed=TYPED)
    await prepare_destroy(session, world)
    world.api.inject(Fault("DELETE", r"/v2/droplets/\d+", 500, perform=performed, delay=2))
    task = asyncio.create_task(session.engine.run_step("8.3"))
    for _ in range(400):
        if destroys(world):
            break
        await asyncio.sleep(0.01)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    await session.aclose()
    record = tomllib.loads(session.checklist.path.read_text())["steps"]["8.3"]
    assert record["state"] == "interrupted"
    assert record["evidence"]["destroy_intent"].startswith(f"destroy of droplet {OLD_ID} sent")
    assert len(destroys(world)) == 1


async def test_item2_resume_after_a_crash_finds_the_droplet_gone_and_is_done(world, tmp_path):
    await crash_during_delete(world, tmp_path, performed=True)
    # The tool starts again; nobody types the name: it is not needed, nothing is sent.
    session = guarded_session(world, tmp_path, operator=TypingOperator(typed=None))
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert verdict.ok, verdict.summary
    assert "is gone" in verdict.summary and "nothing sent again" in verdict.summary
    record = session.checklist.step("8.3")
    assert record["state"] == "done"
    assert record["evidence"]["outcome"].startswith("destroyed (confirmed by re-reading")
    assert record["evidence"]["confirmed_gone_at"]
    assert len(destroys(world)) == 1


async def test_item2_resume_after_a_crash_with_the_droplet_present_asks_again(world, tmp_path):
    await crash_during_delete(world, tmp_path, performed=False)
    assert OLD_ID in world.api.droplets
    # Resumed without the typed name: the full guard runs again, and nothing is sent.
    session = guarded_session(world, tmp_path, operator=TypingOperator(typed=None))
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert not verdict.ok and "not typed exactly" in verdict.summary
    assert len(destroys(world)) == 1
    record = session.checklist.step("8.3")
    assert "destroy_intent" not in record["evidence"]
    assert any("still existed" in note and "asked again" in note for note in record["notes"])
    # With the name typed again, through every check: sent, once more, and done.
    session = guarded_session(world, tmp_path, operator=TypingOperator())
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert verdict.ok, verdict.summary
    assert len(destroys(world)) == 2
    assert world.hosts["old"].destroyed


# ---------------------------------------------------------------------------- item 3


async def test_item3_power_off_answered_no_changes_nothing_on_the_host(world, tmp_path):
    operator = RecordingOperator(answers=Answers(confirm={"default": True, "5.2": False}))
    session = guarded_session(world, tmp_path, operator=operator)
    for phase_id in ("2", "4"):
        session.engine.override_phase(phase_id, "testing the power step alone")
    old = world.hosts["old"]
    verdict = await session.engine.run_step("5.2")
    await session.aclose()
    assert not verdict.ok and "nothing was stopped" in verdict.summary
    assert [q for kind, q in operator.asked if q.startswith("    ? Power off")]
    assert all(old.env.pidfile(unit).exists() for unit in UNITS)  # every service still runs
    assert [r for r in world.api.requests if r[0] == "POST"] == []
    assert old.powered and world.api.droplets[OLD_ID].status == "active"


# ---------------------------------------------------------------------------- item 4

# The guarded runbook with a real monitoring week: each day waits for its day, then checks.
WEEK = GUARDED.replace('''[[phases.steps]]
id = "7.1"
kind = "manual"
title = "daily check"
instructions = "check"
''', '''repeat = 7

[[phases.steps]]
id = "7.1-wait"
kind = "wait"
title = "Day {day}: wait"
since_step = "4.1"
after = "{day}d"

[[phases.steps]]
id = "7.1"
kind = "manual"
title = "Day {day}: daily check"
instructions = "check"
''')
assert WEEK != GUARDED


def week_session(world, tmp_path, operator=None):
    path = tmp_path / "week.toml"
    path.write_text(WEEK)
    book = load_runbook(path, world.overrides())
    return open_session(book, operator or TypingOperator(), state=tmp_path / "run.toml",
                        clock=world.clock, droplets=world.droplet_api, workdir=tmp_path)


async def run_steps(session, step_ids):
    for step_id in step_ids:
        verdict = await session.engine.run_step(step_id)
        assert verdict.ok, (step_id, verdict.summary)


def week_steps(session) -> list[str]:
    return [s.id for s in next(p for p in session.book.phases if p.id == "7").steps]


async def test_a_week_checked_day_by_day_still_allows_the_destroy(world, tmp_path):
    session = week_session(world, tmp_path)
    await run_steps(session, ["2.1", "4.1", "5.2", *week_steps(session)])  # the waits move time
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert verdict.ok, verdict.summary
    assert "7 day(s)" in verdict.evidence["preconditions"]["monitoring period"]
    assert "action history" in verdict.evidence["preconditions"]["powered off"]


async def test_item4_daily_checks_all_at_once_do_not_make_a_week(world, tmp_path):
    session = week_session(world, tmp_path)
    await run_steps(session, ["2.1", "4.1", "5.2"])
    world.clock.advance(8 * 86400)  # the week passed, unwatched; now all seven days at once
    await run_steps(session, week_steps(session))
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert not verdict.ok
    assert "monitoring period: day 2's checks finished" in verdict.summary
    assert "at least 20h apart" in verdict.summary
    failing = [k for k, v in verdict.evidence["preconditions"].items() if v.startswith("NOT")]
    assert failing == ["monitoring period"]
    assert destroys(world) == []


async def test_item4_the_last_check_before_the_weeks_end_does_not_close_it(world, tmp_path):
    session = guarded_session(world, tmp_path, typed=TYPED)
    await run_steps(session, ["2.1", "4.1", "5.2", "7.1"])  # the week's check, made at once
    world.clock.advance(8 * 86400)
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert not verdict.ok
    assert "before the period's end" in verdict.summary
    assert destroys(world) == []


async def test_item4_powered_off_comes_from_the_action_history_not_the_checklist(world,
                                                                              tmp_path):
    session = guarded_session(world, tmp_path, typed=TYPED)
    await prepare_destroy(session, world)  # 5.2 says: off for 8 days
    await do_action(world, "power_on")  # ... but someone used it at the console
    await do_action(world, "shutdown")  # and powered it off again, two minutes ago
    world.clock.advance(120)
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert not verdict.ok
    assert re.search(r"powered off: off for 2m\d*s?: shutdown \(action \d+\) completed \S+ by "
                     r"DigitalOcean's action history; the runbook asks for 72h", verdict.summary)
    failing = [k for k, v in verdict.evidence["preconditions"].items() if v.startswith("NOT")]
    assert failing == ["powered off"]
    assert destroys(world) == []


def shift_times(value, seconds: float):
    """Every time in the checklist moved by ``seconds`` (a hand edit, or a wrong clock)."""
    if isinstance(value, dict):
        return {k: shift_times(v, seconds) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_times(v, seconds) for v in value]
    if isinstance(value, str):
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                      lambda m: iso(parse_iso(m.group(0)) + seconds), value)
    return value


async def test_item4_times_moved_back_eight_days_do_not_open_the_destroy(world, tmp_path):
    """The issue's run: after phases 1–6 every time in the checklist moved back by 8 days; the
    week then ran in a second, on a droplet powered off two minutes before."""
    session = week_session(world, tmp_path)
    await run_steps(session, ["2.1", "4.1", "5.2"])

    def back_eight_days(data):
        data.update(shift_times(data, -8 * 86400))

    rewrite_checklist(session, back_eight_days)
    world.clock.advance(60)
    await run_steps(session, week_steps(session))
    world.clock.advance(60)
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert not verdict.ok
    failing = [k for k, v in verdict.evidence["preconditions"].items() if v.startswith("NOT")]
    assert failing == ["monitoring period", "powered off", "checklist times"]
    assert "but DigitalOcean completed its shutdown" in verdict.summary
    assert destroys(world) == []


async def test_item4_a_checklist_time_in_the_future_blocks_the_destroy(world, tmp_path):
    session = guarded_session(world, tmp_path, typed=TYPED)
    await prepare_destroy(session, world)
    future = iso(world.clock.time() + 2 * 86400)

    def to_the_future(data):
        data["steps"]["2.1"]["finished_at"] = future

    rewrite_checklist(session, to_the_future)
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert not verdict.ok
    assert f"checklist times: step 2.1's finished_at is {future}, in the future" in verdict.summary
    failing = [k for k, v in verdict.evidence["preconditions"].items() if v.startswith("NOT")]
    assert failing == ["checklist times"]
    assert destroys(world) == []


async def test_item4_checklist_times_out_of_order_block_the_destroy(world, tmp_path):
    session = guarded_session(world, tmp_path, typed=TYPED)
    await prepare_destroy(session, world)

    def out_of_order(data):
        record = data["steps"]["4.1"]
        record["started_at"] = iso(parse_iso(record["finished_at"]) + 3600)

    rewrite_checklist(session, out_of_order)
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert not verdict.ok
    assert "checklist times: step 4.1 finished" in verdict.summary
    assert "before it started" in verdict.summary
    assert destroys(world) == []


async def test_item4_a_clock_that_disagrees_with_digitalocean_blocks_the_destroy(world,
                                                                               tmp_path):
    session = guarded_session(world, tmp_path, typed=TYPED)
    await prepare_destroy(session, world)
    world.api.clock = lambda: world.clock.time() - 3 * 3600  # this machine runs 3h ahead
    verdict = await session.engine.run_step("8.3")
    await session.aclose()
    assert not verdict.ok
    assert "differs from DigitalOcean's" in verdict.summary
    assert destroys(world) == []


async def test_standin_serves_the_action_history_in_the_worlds_time(world):
    """GET /v2/droplets/{id}/actions: the official shapes, newest first, the movable clock's
    times (and the Date header in that time too)."""
    world.clock.advance(10 * 86400)
    sent = await do_action(world, "shutdown")
    headers = {"Authorization": f"Bearer {world.token}"}
    async with httpx.AsyncClient(base_url=world.api.url, headers=headers) as client:
        listed = await client.get(f"/v2/droplets/{OLD_ID}/actions", params={"per_page": 1})
        missing = await client.get("/v2/droplets/1/actions")
    assert listed.status_code == 200
    do_spec.validate(listed.json(), do_spec.response_schema(
        "/v2/droplets/{droplet_id}/actions", "get", "200"))
    body = listed.json()
    assert body["meta"]["total"] == 2  # its "create", then the shutdown
    assert [a["id"] for a in body["actions"]] == [sent["id"]]
    assert "page=2" in body["links"]["pages"]["next"]
    completed = parse_iso(body["actions"][0]["completed_at"])
    assert abs(completed - world.clock.time()) < 60
    from email.utils import parsedate_to_datetime

    assert abs(parsedate_to_datetime(listed.headers["Date"]).timestamp()
               - world.clock.time()) < 60
    assert missing.status_code == 404
    # Our client reads every page, and DigitalOcean's time with it.
    api = world.droplet_api()
    actions, server_time = await asyncio.to_thread(api.actions, OLD_ID)
    assert [a["type"] for a in actions] == ["shutdown", "create"]
    assert server_time is not None and abs(server_time - world.clock.time()) < 60
