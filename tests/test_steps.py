"""Step kinds against real servers on loopback: the rehearsal world's SSH hosts (in-process
asyncssh servers), its services (real HTTP servers) and local processes."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cutover_tui.clock import MovableClock
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session

from .helpers import RecordingOperator

BOOK = """
[runbook]
id = "steps"
title = "Step kinds"

[variables]
app_dir = "/nonexistent"
api_port = "1"

[hosts.new]
address = "127.0.0.3"
droplet = "air-demand-staging"

[[phases]]
id = "1"
title = "All kinds"

[[phases.steps]]
id = "ssh-ok"
kind = "ssh"
title = "ssh"
host = "new"
command = "cd {app_dir} && uv run python -c 'print(6 * 7)' && echo done-here"
expect_regex = ["^done-here$"]
number = { regex = '^(\\d+)$', min = 40, max = 45, label = "answer" }

[[phases.steps]]
id = "ssh-exit"
kind = "ssh"
title = "ssh exit"
host = "new"
command = "echo out; echo err >&2; exit 3"
expect_exit = 0

[[phases.steps]]
id = "ssh-number-high"
kind = "ssh"
title = "ssh number"
host = "new"
command = "echo 'Roles count: 900'"
number = { regex = 'Roles count: (\\d+)', max = 800, label = "roles" }

[[phases.steps]]
id = "http-ok"
kind = "http"
title = "http"
url = "http://{hosts.new.address}:{api_port}/health"
expect_json = { status = "healthy", environment = "staging" }
expect_contains = ["uptime_seconds"]
max_latency_ms = 2000

[[phases.steps]]
id = "http-wrong"
kind = "http"
title = "http wrong value"
url = "http://{hosts.new.address}:{api_port}/health"
expect_json = { environment = "production" }

[[phases.steps]]
id = "services-status"
kind = "services"
title = "status"
host = "new"
action = "status"
units = ["air-demand-api", "air-demand-scheduler"]

[[phases.steps]]
id = "services-stop"
kind = "services"
title = "stop api"
host = "new"
action = "stop"
units = ["air-demand-api"]

[[phases.steps]]
id = "local-threshold"
kind = "local"
title = "suite"
command = "printf 'a\\n 3 passed\\n 41 passed (2s)\\n 7 failed\\n'; exit 1"
threshold = { regex = '(\\d+) passed', min_passed = 40, of = 48 }

[[phases.steps]]
id = "local-slow"
kind = "local"
title = "slow"
command = "echo started; sleep 30"

[[phases.steps]]
id = "local-below"
kind = "local"
title = "suite below"
command = "echo '39 passed'"
threshold = { regex = '(\\d+) passed', min_passed = 40 }

[[phases.steps]]
id = "wait-scrape"
kind = "wait"
title = "until 05:00 or 17:00"
until_utc = ["05:00", "17:00"]

[[phases.steps]]
id = "wait-since"
kind = "wait"
title = "a day after ssh-ok"
since_step = "ssh-ok"
after = "1d"
"""


@pytest.fixture
async def session(world, tmp_path):
    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    book = load_runbook(path, world.overrides(["new"]))
    s = open_session(book, RecordingOperator(), state=tmp_path / "run.toml", clock=world.clock,
                     droplets=world.droplet_api, workdir=tmp_path)
    yield s
    await s.aclose()


async def test_ssh_step_checks_regex_and_number_and_streams(session):
    lines = []
    session.engine.listeners.append(lambda e: lines.append(getattr(e, "text", None)))
    verdict = await session.engine.run_step("ssh-ok")
    assert verdict.ok, verdict.summary
    assert verdict.evidence["answer"] == 42
    assert "done-here" in lines
    record = session.checklist.step("ssh-ok")
    assert record["state"] == "done" and record["exit_status"] == 0
    assert record["operator"] == "tester" and record["finished_at"]


async def test_ssh_step_fails_on_exit_status_and_keeps_stderr(session):
    verdict = await session.engine.run_step("ssh-exit")
    assert not verdict.ok
    assert verdict.exit_status == 3
    assert "exit status 3, expected 0" in verdict.summary
    assert "err" in verdict.output and "out" in verdict.output


async def test_ssh_number_out_of_range_fails(session):
    verdict = await session.engine.run_step("ssh-number-high")
    assert not verdict.ok and "roles is 900, above the maximum 800" in verdict.summary


async def test_http_step_checks_fields_and_latency(session):
    assert (await session.engine.run_step("http-ok")).ok
    wrong = await session.engine.run_step("http-wrong")
    assert not wrong.ok
    assert 'environment is "staging", expected "production"' in wrong.summary


async def test_services_status_and_stop_turn_health_red(session, world):
    status = await session.engine.run_step("services-status")
    assert status.ok and status.evidence["states"]["air-demand-api"] == "active (running)"
    stopped = await session.engine.run_step("services-stop")
    assert stopped.ok, stopped.summary
    assert stopped.evidence["states"]["air-demand-api"].startswith("inactive (dead)")
    after = await session.engine.run_step("http-ok")
    assert not after.ok and "connection refused" in after.summary
    status_again = await session.engine.run_step("services-status")
    assert not status_again.ok
    assert "air-demand-api on new is inactive (dead)" in status_again.summary
    assert "expected active (running)" in status_again.summary


async def test_local_step_threshold_uses_the_last_summary(session):
    verdict = await session.engine.run_step("local-threshold")
    assert verdict.ok, verdict.summary
    assert verdict.evidence["passed"] == 41
    below = await session.engine.run_step("local-below")
    assert not below.ok and "39 passed, below the threshold of 40" in below.summary


async def test_wait_steps_move_the_injected_clock(session, world):
    before = world.clock.time()
    verdict = await session.engine.run_step("wait-scrape")
    assert verdict.ok
    hour_minute = verdict.evidence["until"][11:16]
    assert hour_minute in ("05:00", "17:00")
    assert 0 < world.clock.time() - before <= 12 * 3600 + 5
    missing = await session.engine.run_step("wait-since")
    assert not missing.ok and "has not finished" in missing.summary
    assert (await session.engine.run_step("ssh-ok")).ok
    waited = await session.engine.run_step("wait-since")
    assert waited.ok and waited.evidence["waited"].startswith(("23h", "1d"))


async def test_a_worker_cancelled_mid_step_records_interrupted(session):
    started = asyncio.Event()
    session.engine.listeners.append(
        lambda e: started.set() if getattr(e, "text", "") == "started" else None)
    task = asyncio.create_task(session.engine.run_step("local-slow"))
    await asyncio.wait_for(started.wait(), 10)
    assert session.checklist.step("local-slow")["state"] == "running"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = session.checklist.step("local-slow")
    assert record["state"] == "interrupted"
    assert "stopped by the operator" in record["summary"]


class _Slow(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        threading.Event().wait(2)
        body = json.dumps({"status": "healthy"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


async def test_http_timeout_is_a_sentence(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.handle_error = lambda *args: None  # the client hangs up on purpose
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    path = tmp_path / "book.toml"
    path.write_text(f"""
[runbook]
id = "slow"
title = "slow"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "p"
[[phases.steps]]
id = "1.1"
kind = "http"
title = "slow"
url = "http://127.0.0.1:{server.server_address[1]}/health"
timeout = 0.3
""")
    session = open_session(load_runbook(path), RecordingOperator(), state=tmp_path / "r.toml",
                           clock=MovableClock())
    try:
        verdict = await session.engine.run_step("1.1")
    finally:
        await session.aclose()
        server.shutdown()
    assert not verdict.ok and "no answer within 0.3s" in verdict.summary
