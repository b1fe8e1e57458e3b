"""The monitoring week's commands as a user types them: ``cutover silence`` (recorded, shown in
review, bad input a sentence), ``cutover check`` against hosts that do not answer (exit 2, one
line per probe), ``cutover watch`` on a record that does not exist (a sentence)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from cutover_tui.operator import HeadlessOperator
from cutover_tui.session import open_session

from .conftest import ROOT
from .test_monitor_watch import WATCHED


def cutover(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


async def make_record(tmp_path):
    book = tmp_path / "watched.toml"
    # Nothing listens on 127.0.0.3:9 — every probe gets no answer.
    book.write_text(WATCHED.replace('api_port = "1"', 'api_port = "9"')
                    .replace('dashboard_port = "1"', 'dashboard_port = "9"'))
    state = tmp_path / "run.toml"
    session = open_session(book, HeadlessOperator("ops-a", say=lambda _t: None), state=state)
    await session.aclose()
    return book, state


async def test_silence_is_recorded_and_shown_in_review(tmp_path):
    _, state = await make_record(tmp_path)
    done = cutover("silence", "health", "--for", "30m", "--reason", "planned DB maintenance",
                   "--state", str(state), "--operator", "ops-b")
    assert done.returncode == 0, done.stderr
    assert "health silenced until" in done.stdout
    entry = tomllib.loads(state.read_text())["silences"][0]
    assert (entry["rule"], entry["reason"], entry["by"]) == ("health", "planned DB maintenance",
                                                              "ops-b")
    review = cutover("review", str(state))
    assert "silenced health" in review.stdout and "planned DB maintenance" in review.stdout


async def test_silence_refuses_an_unknown_rule_and_a_bad_duration_with_a_sentence(tmp_path):
    _, state = await make_record(tmp_path)
    unknown = cutover("silence", "nope", "--for", "30m", "--reason", "x", "--state", str(state))
    assert unknown.returncode == 2 and "no red-flag rule 'nope'" in unknown.stderr
    assert "dashboard" in unknown.stderr and "health" in unknown.stderr
    bad = cutover("silence", "health", "--for", "soon", "--reason", "x", "--state", str(state))
    assert bad.returncode == 2 and "--for" in bad.stderr
    for result in (unknown, bad):
        assert "Traceback" not in result.stdout + result.stderr
    assert "silences" not in tomllib.loads(state.read_text())


async def test_check_exits_2_with_a_line_per_probe_when_nothing_answers(tmp_path):
    book, state = await make_record(tmp_path)
    result = cutover("check", str(book), "--state", str(state))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("red flag ")]
    assert len(lines) == 2 and all("no answer" in line for line in lines), result.stdout
    assert "the monitoring week has not started" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_watch_on_a_missing_record_is_a_sentence(tmp_path):
    book = tmp_path / "watched.toml"
    book.write_text(WATCHED)
    result = cutover("watch", str(book), "--state", str(tmp_path / "none.toml"))
    assert result.returncode == 2 and "no run record at" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_record_reopens_pointed_where_its_run_was_not_at_the_runbooks_addresses(tmp_path):
    """The record keeps the run's --host/--var: watch, check, approve and observe reopen the
    runbook pointed there. A rehearsal's record is never watched at production addresses."""
    from cutover_tui.reopen import reopen_runbook
    from cutover_tui.runbook import Overrides, load_runbook

    book_path = tmp_path / "watched.toml"
    book_path.write_text(WATCHED.replace('address = "127.0.0.3"', 'address = "203.0.113.7"'))
    pointed = load_runbook(book_path, Overrides.from_cli(["new=root@127.0.0.3:2222"],
                                                         ["api_port=4567", "DB_PASSWORD=x"]))
    state = tmp_path / "run.toml"
    session = open_session(pointed, HeadlessOperator("ops-a", say=lambda _t: None), state=state)
    await session.aclose()
    run = tomllib.loads(state.read_text())["run"]
    assert run["overrides"]["hosts"]["new"]["address"] == "127.0.0.3"
    assert "DB_PASSWORD" not in run["overrides"].get("variables", {})  # secrets not kept
    again = reopen_runbook(state, run)
    assert (again.hosts["new"].address, again.hosts["new"].port) == ("127.0.0.3", 2222)
    assert again.health_url("new", again.health[0]) == "http://127.0.0.3:4567/health"
    moved = reopen_runbook(state, run, hosts=["new=127.0.0.4"])  # the command line wins
    assert moved.hosts["new"].address == "127.0.0.4" and moved.hosts["new"].port == 2222


async def test_a_command_that_joins_the_run_keeps_where_the_run_pointed(tmp_path):
    """`cutover check … --host new=…` through a tunnel must not repoint the record for every
    later watch: joining commands keep the run's own --host/--var."""
    book, state = await make_record(tmp_path)
    before = tomllib.loads(state.read_text())["run"]["hosts"]
    result = cutover("check", str(book), "--state", str(state), "--host", "new=127.0.0.9:2200")
    assert result.returncode == 2, result.stdout + result.stderr
    assert tomllib.loads(state.read_text())["run"]["hosts"] == before
