"""`cutover preflight`: which steps it runs, how it judges them (ok / differs now / cannot pass /
cannot check), the demo world before the cutover, a runbook copy with a wrong JSON field through
the CLI, and the wizard's preflight row."""

import asyncio
import os
import re
import socket
import sys
import tomllib
from pathlib import Path

import pytest

from cutover_tui.errors import RunbookError
from cutover_tui.events import Verdict
from cutover_tui.operator import HeadlessOperator
from cutover_tui.preflight import CANNOT_CHECK, CANNOT_PASS, DIFFERS_NOW, OK, classify, preflight, select
from cutover_tui.runbook import HttpStep, NumberCheck, load_runbook
from cutover_tui.sandbox.demo import preflight_world
from cutover_tui.steps.base import ABSENT, DIFFERS, MATCHED, exit_check, judge_output
from cutover_tui.steps.http import judge_response

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"


# ---------------------------------------------------------------------------- the runbook


def test_every_ssh_and_local_step_of_m11_states_whether_it_changes_anything():
    data = tomllib.loads(M11.read_text())
    phases = [*data["phases"], data["rollback"]]
    unmarked = [step["id"] for phase in phases for step in phase["steps"]
                if step["kind"] in ("ssh", "local") and "changes" not in step]
    assert unmarked == [], f"ssh/local steps without changes = true/false: {unmarked}"
    book = load_runbook(M11)
    # And the preflight runs something from every phase that has a read-only step.
    candidates, _ = select(book)
    assert {c.phase_id for c in candidates} >= {"1", "4", "6", "7", "8", "R"}


ALWAYS_CHANGING = """
[runbook]
id = "x"
title = "x"
[hosts.new]
address = "127.0.0.3"
[[phases]]
id = "1"
title = "one"
[[phases.steps]]
id = "1.1"
kind = "env_edit"
title = "edit"
host = "new"
path = "/x/.env"
set = { A = "1" }
changes = false
[[phases.steps]]
id = "1.2"
kind = "services"
title = "restart"
host = "new"
action = "restart"
units = ["a"]
changes = false
[[phases.steps]]
id = "1.3"
kind = "services"
title = "status"
host = "new"
action = "status"
units = ["a"]
changes = false
"""


def test_a_step_kind_that_always_changes_cannot_be_marked_changes_false(tmp_path):
    path = tmp_path / "book.toml"
    path.write_text(ALWAYS_CHANGING)
    with pytest.raises(RunbookError, match="always changes something") as caught:
        load_runbook(path)
    problems = caught.value.problems
    lines = ALWAYS_CHANGING.splitlines()
    changes_lines = [i + 1 for i, line in enumerate(lines) if line.startswith("changes")]
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{path}:{changes_lines[0]}: phases[0].steps[0].changes: "
                                  "a step of kind env_edit always changes something")
    assert problems[1].startswith(f"{path}:{changes_lines[1]}: phases[0].steps[1].changes: "
                                  "a step of kind services (action restart) always "
                                  "changes something")


# ---------------------------------------------------------------------------- judging


def test_regex_and_number_checks_say_matched_differs_or_absent():
    number = NumberCheck(regex=r"Roles count: (\d+)", min=700, max=800, label="roles")
    command = "pgrep -af 'uvicorn' || echo 'no app processes'"
    checks, _ = judge_output("1234 uvicorn app\nRoles count: 900\n",
                             [r"^no app processes$", "scrape completed", r'"status":\s*"ok"'],
                             ["uvicorn"], number, command=command)
    outcomes = {c.what: c.outcome for c in checks}
    # The command echoes it in its other branch: a state the step can be in.
    assert outcomes["/^no app processes$/"] == DIFFERS
    # Nothing shows the step could ever print it: the check is wrong.
    assert outcomes["/scrape completed/"] == ABSENT
    assert outcomes['/"status":\\s*"ok"/'] == ABSENT
    assert outcomes["not /uvicorn/"] == DIFFERS
    assert outcomes["roles"] == DIFFERS  # found, out of range
    json_field, _ = judge_output('{"status": "degraded"}', [r'"status":\s*"ok"'], [], None)
    assert json_field[0].outcome == DIFFERS  # the field is there with another value
    missing, _ = judge_output("Roles: 747", [], [], number)
    assert missing[0].outcome == ABSENT and "no roles found" in missing[0].problem
    assert exit_check(0, 0).outcome == MATCHED
    assert exit_check(2, 0).outcome == DIFFERS
    assert exit_check(127, 0).outcome == ABSENT


def test_http_checks_say_matched_differs_or_absent():
    step = HttpStep(id="x", title="x", url="http://127.0.0.1/health",
                    expect_json={"status": "healthy", "environment": "production",
                                 "errors": {"max": 10}})
    fine = {"status": "healthy", "environment": "production", "errors": 3}
    checks, _ = judge_response(step, 200, "", fine, 5)
    assert all(c.outcome == MATCHED for c in checks)
    staging = {"status": "healthy", "environment": "staging", "errors": 30}
    checks, _ = judge_response(step, 200, "", staging, 5)
    assert [c.outcome for c in checks if not c.ok] == [DIFFERS, DIFFERS]
    no_field = {"status": "healthy", "errors": 3}
    checks, _ = judge_response(step, 200, "", no_field, 5)
    assert [(c.outcome, c.problem) for c in checks if not c.ok] == [
        (ABSENT, "the JSON has no field 'environment'")]
    # A 503 is a real answer; its error body cannot show that a field check is wrong.
    checks, _ = judge_response(step, 503, "starting", None, 5)
    assert {c.outcome for c in checks if not c.ok} == {DIFFERS}
    # A 404: the URL is wrong.
    checks, _ = judge_response(step, 404, "not found", None, 5)
    assert checks[0].outcome == ABSENT


def test_classify_takes_the_worst_check():
    from cutover_tui.steps.base import UNANSWERED, Check

    def verdict(*outcomes):
        checks = [Check(str(i), o, f"problem {i}" if o != MATCHED else "")
                  for i, o in enumerate(outcomes)]
        return Verdict(all(o == MATCHED for o in outcomes), "summary", checks=checks)

    assert classify(verdict(MATCHED))[0] == OK
    assert classify(verdict(MATCHED, DIFFERS)) == (DIFFERS_NOW, "problem 1")
    assert classify(verdict(DIFFERS, ABSENT)) == (CANNOT_PASS, "problem 1; problem 0")
    assert classify(verdict(ABSENT, UNANSWERED))[0] == CANNOT_CHECK


def test_a_repeated_phase_is_preflighted_once_per_template_step():
    book = load_runbook(M11)
    candidates, not_run = select(book)
    shown = [c.shown_id for c in candidates]
    assert len(shown) == len(set(shown))
    health = next(c for c in candidates if c.shown_id == "7.1-health")
    assert health.copies == 7 and health.step.id == "7.1-health.d1"
    assert not any(re.search(r"\.d\d+$", s) for s in shown)
    reasons = {step_id: why for step_id, _, why in not_run}
    assert reasons["3.1"] == "changes something"  # env_edit
    assert reasons["8.3"] == "changes something"  # droplet_destroy
    assert reasons["7.1-wait"].startswith("waits")
    assert reasons["2.1-client"] == "marked changes = true"
    # Retries are dropped: a preflight answers once.
    assert all(getattr(c.step, "retries", 0) == 0 for c in candidates)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_unreachable_host_cannot_be_checked_and_exits_2(tmp_path):
    port = _free_port()  # nothing listens there
    path = tmp_path / "down.toml"
    path.write_text(f"""
[runbook]
id = "down"
title = "down"
[hosts.new]
address = "127.0.0.1"
port = {port}
known_hosts = "{tmp_path / 'known_hosts'}"
[[phases]]
id = "1"
title = "one"
[[phases.steps]]
id = "1.1"
kind = "ssh"
changes = false
title = "read"
host = "new"
command = "true"
[[phases.steps]]
id = "1.2"
kind = "http"
title = "get"
url = "http://127.0.0.1:{port}/health"
[[phases.steps]]
id = "1.3"
kind = "local"
changes = false
title = "a test suite against a real address"
command = "BASE_URL=http://203.0.113.7:3000 touch {tmp_path / 'ran'}"
""")
    report = await preflight(path, HeadlessOperator("t", say=lambda _t: None))
    assert [row.verdict for row in report.rows] == [CANNOT_CHECK] * 3
    assert "connection refused" in report.rows[0].reason
    assert "connection refused" in report.rows[1].reason
    # CUTOVER_LOOPBACK_ONLY holds for local commands too: this one never ran.
    assert "refusing to connect to 203.0.113.7" in report.rows[2].reason
    assert not (tmp_path / "ran").exists()
    assert report.exit_code == 2


# ---------------------------------------------------------------------------- the demo world


async def test_preflight_on_the_demo_world_before_the_cutover(world):
    report = await preflight_world(world)
    verdicts = {row.step_id: row.verdict for row in report.rows}
    assert report.by_verdict(CANNOT_PASS) == [], [
        (r.step_id, r.reason) for r in report.rows if r.verdict == CANNOT_PASS]
    assert report.by_verdict(CANNOT_CHECK) == []
    assert report.exit_code == 0
    # Every phase's read-only checks ran, the monitoring week's and the rollback's included.
    assert {row.phase_id for row in report.rows} >= {"1", "2", "4", "5", "6", "7", "8", "R"}
    for step_id in ("1.1-health", "1.1-services", "1.3", "4.2-health", "6.1-roles",
                    "7.1-health", "8.1-health", "R2-health"):
        assert verdicts[step_id] == OK, (step_id, verdicts[step_id])
    # Before the cutover the old host still runs the app (5.1 stops it) and there is no
    # backup yet (2.1 makes it): values the cutover changes.
    assert verdicts["5.1-processes"] == DIFFERS_NOW
    assert verdicts["2.2"] == DIFFERS_NOW
    differs = next(r for r in report.rows if r.step_id == "5.1-processes")
    assert "no app processes" in differs.reason and differs.output
    # Masked: the database password in the hosts' .env never shows.
    assert not any(world.db_password in row.output + row.reason for row in report.rows)


def _edit_step(text: str, step_id: str, key: str, line: str) -> str:
    """Replace the ``key = …`` line of one step in a runbook's text."""
    start = text.index(f'id = "{step_id}"')
    end = text.find("[[", start)
    block = text[start:end]
    new_block, count = re.subn(rf"(?m)^{key} = .*$", line, block)
    assert count == 1, f"step {step_id} has no single {key} line"
    return text[:start] + new_block + text[end:]


async def test_a_wrong_json_field_cannot_pass_and_exits_1_through_the_cli(world, tmp_path):
    text = M11.read_text()
    # A field the API never reports (a typo) ...
    text = _edit_step(text, "4.2-health", "expect_json", 'expect_json = { statsu = "healthy" }')
    # ... and one it reports with a value only the cutover produces.
    text = _edit_step(text, "6.1-health", "expect_json",
                      'expect_json = { status = "healthy", environment = "production" }')
    # The copy connects with the rehearsal's key and known_hosts (no --option for those).
    for name in ("new", "old"):
        text = text.replace(f"[hosts.{name}]\n", f'[hosts.{name}]\nssh_key = "{world.client_key}"\n'
                            f'known_hosts = "{world.known_hosts}"\n', 1)
    copy = tmp_path / "m11-copy.toml"
    copy.write_text(text)
    overrides = world.overrides()
    args = []
    for name, fields in overrides.hosts.items():
        args += ["--host", f"{name}=root@{fields['address']}:{fields['port']}"]
    for key, value in overrides.variables.items():
        args += ["--var", f"{key}={value}"]
    for name, extra in overrides.host_vars.items():
        for key, value in extra.items():
            args += ["--var", f"{name}.{key}={value}"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cutover_tui.cli", "preflight", str(copy), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        env={**os.environ, "CUTOVER_LOOPBACK_ONLY": "1", "COLUMNS": "200"})
    out, _ = await asyncio.wait_for(process.communicate(), 240)
    output = out.decode()
    assert process.returncode == 1, output
    rows = {line.split("│")[1].strip(): line for line in output.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    assert "cannot pass" in rows["4.2-health"] and "no field 'statsu'" in rows["4.2-health"]
    assert "differs now" in rows["6.1-health"]
    assert 'environment is "staging", expected "production"' in rows["6.1-health"]
    assert "cannot pass: 4.2-health" in output
    assert world.db_password not in output


# ---------------------------------------------------------------------------- the wizard


async def test_the_wizard_offers_the_preflight_first_and_shows_the_table(world, tmp_path):
    from textual.widgets import DataTable

    from cutover_tui.session import open_session
    from screens.app import CutoverApp
    from screens.operator_ui import UIOperator
    from screens.phase import PREFLIGHT_ROW, PhaseScreen
    from screens.preflight import PreflightScreen

    async def starter(app):
        book = load_runbook(M11, world.overrides())
        return open_session(book, UIOperator(app, "pilot"), state=tmp_path / "run.toml",
                            clock=world.clock, droplets=world.droplet_api, workdir=tmp_path)

    app = CutoverApp(starter, "pilot", title="test", health_interval=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PhaseScreen) and screen.phase_id == "1"
        assert screen.selected_row() == PREFLIGHT_ROW  # a fresh run starts there
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, PreflightScreen)
        table = app.screen.query_one("#preflight-table", DataTable)
        assert table.row_count == len(app.preflight.report.rows) > 20
        assert app.preflight.report.by_verdict(CANNOT_PASS) == []
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        assert app.preflight.state == "done"
        # Nothing was recorded: the preflight is not a step of the run.
        assert all(state == "pending" for state in app.session.checklist.states().values())
        await pilot.press("q")
        await app.workers.wait_for_complete()
