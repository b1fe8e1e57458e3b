"""Issue 15, item 6: co-sign (four eyes) on destructive steps, against the rehearsal world and
its DigitalOcean stand-in. A ``cosign = true`` step runs only on a valid approval by another
operator, checked inside the step just before its irreversible call against the droplet (and a
destroy's preconditions) read again there: self-approval is refused; an approval is void once
the droplet changed, a red flag fired or 15 minutes passed; the destroy waits for one, headless
and in the wizard; ``a`` in a second operator's wizard and ``cutover approve`` record one."""

from __future__ import annotations

import asyncio
import os
import sys
import tomllib

import pytest

from cutover_tui.approvals import Approval, Facts, approvals_of, judge
from cutover_tui.clock import iso
from cutover_tui.cosign import approve
from cutover_tui.errors import GateClosed, RunbookError
from cutover_tui.operator import Answers
from cutover_tui.runbook import Overrides, load_runbook
from cutover_tui.sandbox.doapi import DropletRecord
from cutover_tui.session import open_session

from .helpers import RecordingOperator
from .test_droplets import GUARDED, destroys, open_gates

OLD_ID = 318829101
SERVICES = ("air-demand-scheduler", "air-demand-api", "air-demand-dashboard")


def cosigned(wait: str = "0s") -> str:
    """The guarded runbook with 5.2 (power off) and 8.3 (destroy) marked ``cosign = true``."""
    mark = f'cosign = true\ncosign_wait = "{wait}"\n'
    text = GUARDED.replace("shutdown_timeout = 30\n", "shutdown_timeout = 30\n" + mark, 1)
    return text.replace("snapshot_first = false\n", "snapshot_first = false\n" + mark, 1)


def operator(name: str) -> RecordingOperator:
    return RecordingOperator(name, answers=Answers(confirm={"default": True},
                                                   typed={"8.3": "air-demand-prod"}))


def open_as(world, tmp_path, name: str, wait: str = "0s", overrides: Overrides | None = None):
    """A session of ``name`` on the one run record of the test (each operator their own)."""
    path = tmp_path / "cosigned.toml"
    path.write_text(cosigned(wait))
    book = load_runbook(path, overrides or world.overrides())
    return open_session(book, operator(name), state=tmp_path / "run.toml", clock=world.clock,
                        droplets=world.droplet_api, workdir=tmp_path)


def recorded(session, step_id: str) -> list[Approval]:
    """The step's approvals as the run record holds them now."""
    session.checklist.read()
    return approvals_of(session.checklist.record(step_id))


def untouched(world) -> bool:
    """The old host is on, its services running, and no action was sent to DigitalOcean."""
    old = world.hosts["old"]
    return (old.powered and all(old.env.pidfile(unit).exists() for unit in SERVICES)
            and [r for r in world.api.requests if r[0] in ("POST", "DELETE")] == [])


async def test_another_operators_approval_lets_the_power_off_run_and_is_recorded(world,
                                                                                tmp_path):
    a, b = open_as(world, tmp_path, "ops-a"), open_as(world, tmp_path, "ops-b")
    open_gates(a)
    approval = await approve(b.engine, "5.2", "ops-b")
    assert approval.droplet == (OLD_ID, "air-demand-prod", "127.0.0.2")
    verdict = await a.engine.run_step("5.2")
    assert verdict.ok, verdict.summary
    assert not world.hosts["old"].powered
    [recorded] = tomllib.loads(a.checklist.path.read_text())["steps"]["5.2"]["approvals"]
    assert recorded["by"] == "ops-b" and recorded["account"] and recorded["at"]
    assert recorded["hash"] == approval.hash and len(recorded["hash"]) == 64
    assert recorded["droplet_id"] == OLD_ID and recorded["droplet_ip"] == "127.0.0.2"
    assert "droplet air-demand-prod (id 318829101, 127.0.0.2)" in recorded["covers"]
    assert "for" not in recorded  # approved while pending: any operator but ops-b may run it
    said = [text for _, text in a.engine.operator.asked]
    assert not any("waits for an approval" in text for text in said)
    await a.aclose()
    await b.aclose()


async def test_power_off_without_an_approval_stops_nothing_and_says_what_is_missing(world,
                                                                                  tmp_path):
    a = open_as(world, tmp_path, "ops-a")
    open_gates(a)
    verdict = await a.engine.run_step("5.2")
    assert not verdict.ok
    assert "not powered off: no approval yet: step 5.2 needs one by an operator other than " \
           "ops-a" in verdict.summary
    assert "nothing was stopped" in verdict.summary
    assert untouched(world)
    await a.aclose()


# ---------------------------------------------------------------------------- self-approval


async def test_an_approval_by_the_operator_who_runs_it_never_counts(world, tmp_path):
    a = open_as(world, tmp_path, "ops-a")
    open_gates(a)
    await approve(a.engine, "5.2", "ops-a")  # pending: recorded, for anyone but ops-a
    verdict = await a.engine.run_step("5.2")
    assert not verdict.ok
    assert "ops-a cannot approve their own step" in verdict.summary
    assert untouched(world)
    await a.aclose()


async def test_an_operator_cannot_approve_the_step_they_are_running(world, tmp_path):
    a = open_as(world, tmp_path, "ops-a")
    a.checklist.claim("5.2", "ops-a")
    with pytest.raises(GateClosed, match="ops-a cannot approve their own step: 5.2 is running "
                                         "by ops-a"):
        await approve(a.engine, "5.2", "ops-a")
    with pytest.raises(GateClosed, match="ops-b cannot approve their own step"):
        await approve(a.engine, "5.2", "ops-b", for_operator="ops-b")
    assert recorded(a, "5.2") == []
    await a.aclose()


async def test_an_approval_for_another_operator_does_not_count_for_the_runner(world, tmp_path):
    a, b = open_as(world, tmp_path, "ops-a"), open_as(world, tmp_path, "ops-b")
    open_gates(a)
    await approve(b.engine, "5.2", "ops-b", for_operator="ops-c")
    verdict = await a.engine.run_step("5.2")
    assert not verdict.ok
    assert "the approval by ops-b is for ops-c, not ops-a" in verdict.summary
    assert untouched(world)
    await a.aclose()
    await b.aclose()


# ---------------------------------------------------------------------------- void


async def test_a_replaced_droplet_voids_the_approval(world, tmp_path):
    """Same name, same IP at DigitalOcean, another droplet: the id names the change."""
    a, b = open_as(world, tmp_path, "ops-a"), open_as(world, tmp_path, "ops-b")
    open_gates(a)
    await approve(b.engine, "5.2", "ops-b")
    old = world.api.droplets.pop(OLD_ID)
    world.api.add_droplet(DropletRecord(OLD_ID + 1000, old.name, old.ip, old.host))
    verdict = await a.engine.run_step("5.2")
    assert not verdict.ok
    assert f"approval by ops-b void: the droplet's id changed ({OLD_ID} → {OLD_ID + 1000})" \
           in verdict.summary
    assert untouched(world)
    await a.aclose()
    await b.aclose()


async def test_a_droplet_whose_ip_changed_voids_the_approval(world, tmp_path):
    """The droplet's IP changed at DigitalOcean and the runbook was pointed at it: the step
    finds the droplet where the runbook says, but it is not what ops-b approved."""
    b = open_as(world, tmp_path, "ops-b")
    await approve(b.engine, "5.2", "ops-b")
    world.api.droplets[OLD_ID].ip = "127.0.0.9"
    moved = world.overrides()
    hosts = {**moved.hosts, "old": {**moved.hosts["old"], "address": "127.0.0.9"}}
    a_session = open_as(world, tmp_path, "ops-a", overrides=Overrides(
        hosts=hosts, variables=moved.variables, host_vars=moved.host_vars))
    open_gates(a_session)
    verdict = await a_session.engine.run_step("5.2")
    assert not verdict.ok
    assert "approval by ops-b void: the droplet's IP changed (127.0.0.2 → 127.0.0.9)" in \
           verdict.summary
    assert world.hosts["old"].powered
    await a_session.aclose()
    await b.aclose()


@pytest.mark.parametrize("how", ["raised by hand", "a rule fired"])
async def test_a_red_flag_after_the_approval_voids_it(world, tmp_path, how):
    a, b = open_as(world, tmp_path, "ops-a"), open_as(world, tmp_path, "ops-b")
    open_gates(a)
    await approve(b.engine, "5.2", "ops-b")
    if how == "raised by hand":
        a.engine.raise_red_flag("error rate above 10/hour")
        expected = "a red flag was raised:"
    else:
        with a.checklist.transaction() as data:
            data.setdefault("red_flags", {})["health"] = {
                "state": "firing", "fired_at": iso(world.clock.time()),
                "description": "Health checks fail for more than 1 hour"}
        expected = "red flag health fired at"
    verdict = await a.engine.run_step("5.2")
    assert not verdict.ok
    assert "approval by ops-b void: a red flag fired after it (" in verdict.summary
    assert expected in verdict.summary
    assert untouched(world)
    await a.aclose()
    await b.aclose()


@pytest.mark.parametrize(("minutes", "counts"), [(14, True), (16, False)])
async def test_an_approval_expires_after_15_minutes(world, tmp_path, minutes, counts):
    a, b = open_as(world, tmp_path, "ops-a"), open_as(world, tmp_path, "ops-b")
    open_gates(a)
    await approve(b.engine, "5.2", "ops-b")
    world.clock.advance(minutes * 60)
    verdict = await a.engine.run_step("5.2")
    if counts:
        assert verdict.ok, verdict.summary
    else:
        assert not verdict.ok
        assert "approval by ops-b void: expired 1 min ago" in verdict.summary
        assert untouched(world)
    await a.aclose()
    await b.aclose()


# ---------------------------------------------------------------------------- the destroy


async def ready_to_destroy(world, tmp_path, wait: str):
    """Backup, cutover, power off (approved by ops-b), the week passed and checked: the run of
    ops-a, with ops-b's session on the same record."""
    a, b = open_as(world, tmp_path, "ops-a", wait), open_as(world, tmp_path, "ops-b", wait)
    for step_id in ("2.1", "4.1"):
        assert (await a.engine.run_step(step_id)).ok, step_id
    await approve(b.engine, "5.2", "ops-b")
    assert (await a.engine.run_step("5.2")).ok
    world.clock.advance(8 * 86400)
    assert (await a.engine.run_step("7.1")).ok
    return a, b


async def test_the_destroy_without_an_approval_sends_nothing(world, tmp_path):
    a, b = await ready_to_destroy(world, tmp_path, "0s")
    verdict = await a.engine.run_step("8.3")
    assert not verdict.ok
    assert "not destroyed: no approval yet: step 8.3 needs one by an operator other than ops-a" \
           in verdict.summary
    assert destroys(world) == [] and not world.hosts["old"].destroyed
    await a.aclose()
    await b.aclose()


async def test_the_destroy_waits_headless_until_a_second_operator_approves(world, tmp_path):
    a, b = await ready_to_destroy(world, tmp_path, "30m")
    said = a.engine.operator.asked
    shown: list[str] = []  # the step's output, as the wizard and the run's log get it
    a.engine.listeners.append(lambda event: shown.append(getattr(event, "text", "")))
    run = asyncio.create_task(a.engine.run_step("8.3"))
    for _ in range(4000):  # bounded: the step prints what it waits for, then waits
        if any("8.3 waits for an approval by an operator other than ops-a" in text
               for _, text in said) or run.done():
            break
        await asyncio.sleep(0.01)
    assert not run.done(), run.result().summary
    assert destroys(world) == []
    waiting = next(text for _, text in said if "waits for an approval" in text)
    assert f"cutover approve {a.checklist.path} 8.3 --operator NAME" in waiting
    assert "no approval yet" in waiting
    approval = await approve(b.engine, "8.3", "ops-b")  # the second task, while it waits
    assert approval.for_operator == "ops-a"  # it is running by ops-a: named for them
    assert "no red flag: ok" in " ".join(approval.preconditions)
    verdict = await run
    assert verdict.ok, verdict.summary
    assert len(destroys(world)) == 1 and world.hosts["old"].destroyed
    assert any(text.startswith("approved by ops-b (") for text in shown)
    assert any("8.3 waits for an approval" in text for text in shown)
    await a.aclose()
    await b.aclose()


async def test_the_destroy_waits_in_the_wizard_until_a_second_operator_approves(world,
                                                                               tmp_path):
    from textual.widgets import RichLog

    from screens.app import CutoverApp
    from screens.dialogs import TypedConfirmDialog
    from screens.operator_ui import UIOperator

    a, b = await ready_to_destroy(world, tmp_path, "30m")
    await a.aclose()
    book = a.book

    async def starter(app):
        return open_session(book, UIOperator(app, "ops-a"), state=tmp_path / "run.toml",
                            clock=world.clock, droplets=world.droplet_api, workdir=tmp_path)

    app = CutoverApp(starter, "ops-a", health_interval=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.selected_step_id() == "8.3"
        await pilot.press("r")
        while not isinstance(app.screen, TypedConfirmDialog):
            await pilot.pause()
        await pilot.press(*"air-demand-prod", "enter")
        log = None
        for _ in range(400):  # bounded: until the step shows that it waits
            await pilot.pause(0.02)
            log = app.screen.query_one("#output", RichLog)
            if any("waits for an approval" in line.text
                   for line in log.lines):
                break
        shown = "\n".join(line.text for line in log.lines)
        assert "8.3 waits for an approval by an operator other than ops-a" in shown
        assert app.running_step == "8.3" and destroys(world) == []
        await approve(b.engine, "8.3", "ops-b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.engine.state("8.3") == "done"
        await pilot.press("q")
        await app.workers.wait_for_complete()
    assert len(destroys(world)) == 1
    await b.aclose()


# ---------------------------------------------------------------------------- approving


async def test_a_in_a_second_operators_wizard_approves_the_selected_step(world, tmp_path):
    from screens.app import CutoverApp
    from screens.dialogs import ConfirmDialog
    from screens.operator_ui import UIOperator

    a = open_as(world, tmp_path, "ops-a")
    open_gates(a)
    book = a.book

    async def starter(app):
        return open_session(book, UIOperator(app, "ops-b"), state=tmp_path / "run.toml",
                            clock=world.clock, droplets=world.droplet_api, workdir=tmp_path)

    app = CutoverApp(starter, "ops-b", health_interval=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("right_square_bracket", "right_square_bracket")  # phase 2 → 4 → 5
        await pilot.pause()
        assert app.screen.phase_id == "5" and app.screen.selected_step_id() == "5.2"
        await pilot.press("a")
        while not isinstance(app.screen, ConfirmDialog):
            await pilot.pause()
        dialog = app.screen
        assert dialog.question == "Approve step 5.2 as ops-b?"
        assert "The droplet: air-demand-prod (id 318829101, IP 127.0.0.2)" in dialog.detail
        assert "POST /v2/droplets/<id of air-demand-prod>/actions type=shutdown" in dialog.detail
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.press("q")
        await app.workers.wait_for_complete()
    [approval] = recorded(a, "5.2")
    assert approval.by == "ops-b"
    verdict = await a.engine.run_step("5.2")
    assert verdict.ok, verdict.summary
    await a.aclose()


async def test_cutover_approve_prints_what_it_approves_and_records_it(world, tmp_path):
    a = open_as(world, tmp_path, "ops-a")
    open_gates(a)
    env = {**os.environ, "CUTOVER_LOOPBACK_ONLY": "1", "COLUMNS": "200",
           "DIGITALOCEAN_API_URL": world.api.url, "DIGITALOCEAN_TOKEN": world.token}
    env.pop("DIGITALOCEAN_ACCESS_TOKEN", None)

    async def cutover_approve(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cutover_tui.cli", "approve", str(a.checklist.path), "5.2",
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env=env)
        out, _ = await process.communicate(b"n\n")
        return process.returncode or 0, out.decode()

    code, out = await cutover_approve("--operator", "ops-b")  # answered no
    assert code == 1 and "not approved: nothing recorded" in out
    assert "The droplet: air-demand-prod (id 318829101, IP 127.0.0.2)" in out
    assert recorded(a, "5.2") == []
    code, out = await cutover_approve("--operator", "ops-b", "--for", "ops-b", "--yes")
    assert code == 1 and "ops-b cannot approve their own step" in out
    code, out = await cutover_approve("--operator", "ops-b", "--yes")
    assert code == 0, out
    assert "approved 5.2 as ops-b" in out and "for any operator but ops-b" in out
    verdict = await a.engine.run_step("5.2")
    assert verdict.ok, verdict.summary
    await a.aclose()


def test_cosign_is_refused_on_a_kind_that_does_not_check_it(tmp_path):
    path = tmp_path / "book.toml"
    path.write_text(GUARDED.replace('instructions = "announce"\n',
                                    'instructions = "announce"\ncosign = true\n', 1))
    with pytest.raises(RunbookError, match="only droplet_power and droplet_destroy steps check "
                                           "an approval"):
        load_runbook(path)


# ---------------------------------------------------------------------------- the judgement


FACTS = Facts("8.3", ("old: DELETE",), (1, "air-demand-prod", "10.0.0.2"),
              ("powered off: ok: off for …: shutdown (action 7)",), 1_000_000.0)


def approved(facts: Facts = FACTS, by: str = "ops-b", **changes) -> Approval:
    fields = dict(by=by, account="bob", at=iso(facts.read_at), hash=facts.hash, covers="",
                  plan_sha256=facts.plan_sha256, droplet=facts.droplet,
                  preconditions=facts.preconditions)
    return Approval(**{**fields, **changes})


def test_a_judgement_names_what_changed_and_what_is_missing():
    data = {"run": {}}
    now = FACTS.read_at + 60
    assert judge([], FACTS, "ops-a", now, data).sentence == \
        "no approval yet: step 8.3 needs one by an operator other than ops-a"
    assert judge([approved()], FACTS, "ops-a", now, data).approval is not None
    moved = Facts(FACTS.step_id, FACTS.plan, (1, "air-demand-prod", "10.0.0.9"),
                  ("powered off: NOT MET: the droplet is active, not off",), now)
    sentence = judge([approved()], moved, "ops-a", now, data).sentence
    assert sentence == ("approval by ops-b void: the droplet's IP changed (10.0.0.2 → "
                        "10.0.0.9); precondition powered off changed (now: NOT MET: the "
                        "droplet is active, not off)")
    edited = approved(hash="0" * 64)
    assert "its hash does not match what it names" in \
        judge([edited], FACTS, "ops-a", now, data).sentence
    # Newest first: a fresh approval counts though an older one expired.
    old = approved(at=iso(FACTS.read_at - 3600))
    assert judge([old, approved()], FACTS, "ops-a", now, data).approval == approved()
    assert "expired 46 min ago" in judge([old], FACTS, "ops-a", now, data).sentence


def test_time_passing_alone_changes_no_evidence():
    from cutover_tui.approvals import evidence_line

    assert evidence_line("powered off", True, "off for 3d2h: shutdown (action 7) completed "
                         "2025-12-19T10:05:00Z") == evidence_line(
        "powered off", True, "off for 3d3h: shutdown (action 7) completed 2025-12-19T10:05:00Z")
    assert evidence_line("powered off", True, "off for 3d2h: shutdown (action 7)") != \
        evidence_line("powered off", True, "off for 3d2h: shutdown (action 8)")


def test_an_approval_from_the_runners_own_account_never_counts_on_real_hosts(monkeypatch):
    """Two names, one login: alice running 8.3 as ops-a cannot approve it as ops-b from her own
    account. Only the rehearsal (everything on loopback) lets one account play both."""
    from cutover_tui.approvals import problem_with

    now = FACTS.read_at + 60
    mine = approved(account="alice")
    monkeypatch.delenv("CUTOVER_LOOPBACK_ONLY", raising=False)
    why = problem_with(mine, FACTS, "ops-a", now, {"run": {}}, runner_account="alice")
    assert why is not None and "the runner's own" in why
    assert problem_with(mine, FACTS, "ops-a", now, {"run": {}}, runner_account="bob") is None
    monkeypatch.setenv("CUTOVER_LOOPBACK_ONLY", "1")
    assert problem_with(mine, FACTS, "ops-a", now, {"run": {}}, runner_account="alice") is None


def test_the_recorded_account_is_the_login_not_what_user_says(monkeypatch):
    import os
    import pwd

    from cutover_tui.journal import unix_account

    monkeypatch.setenv("USER", "someone-else")
    monkeypatch.setenv("LOGNAME", "someone-else")
    assert unix_account() == pwd.getpwuid(os.geteuid()).pw_name != "someone-else"


async def test_an_approval_is_in_the_journal_with_who_and_what(world, tmp_path):
    import json

    from cutover_tui.journal import journal_path

    a, b = open_as(world, tmp_path, "ops-a"), open_as(world, tmp_path, "ops-b")
    open_gates(a)
    try:
        await approve(b.engine, "5.2", "ops-b")
        entries = [json.loads(line) for line in
                   journal_path(a.checklist.path).read_text().splitlines()]
        approvals = [e for e in entries if e["kind"] == "approval"]
        assert len(approvals) == 1 and approvals[0]["step"] == "5.2"
        assert approvals[0]["operator"] == "ops-b" and "sha256" in approvals[0]["text"]
    finally:
        await a.aclose()
        await b.aclose()
