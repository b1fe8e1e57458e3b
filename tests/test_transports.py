"""Transports as Protocols, injected through ``open_session``: steps judged from answers given by
``httpx.MockTransport`` (as httpx's own tests do) and by a fake SSH runner — no server, no
host. And the real transports answer the Protocols the core is typed with."""

from __future__ import annotations

import inspect
import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from cutover_tui.errors import NetworkPolicyError
from cutover_tui.remote.commands import RunResult
from cutover_tui.remote.droplets import DropletAPI
from cutover_tui.remote.protocols import DropletsAPI, SSHRunner, WebClient
from cutover_tui.remote.ssh import SSHPool
from cutover_tui.remote.web import Web
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session

from .helpers import RecordingOperator

BOOK = """
[runbook]
id = "transports"
title = "Injected transports"

[hosts.new]
address = "127.0.0.3"

[[phases]]
id = "1"
title = "Checks"

[[phases.steps]]
id = "http-ok"
kind = "http"
title = "health"
url = "http://127.0.0.3:8000/health"
expect_json = { status = "healthy", environment = "production" }
expect_contains = ["uptime_seconds"]

[[phases.steps]]
id = "http-wrong"
kind = "http"
title = "health, wrong environment"
url = "http://127.0.0.3:8000/health"
expect_json = { environment = "staging" }

[[phases.steps]]
id = "http-down"
kind = "http"
title = "dashboard"
url = "http://127.0.0.3:8050/"

[[phases.steps]]
id = "ssh-roles"
kind = "ssh"
title = "roles"
host = "new"
command = "psql -c 'select count(*) from roles'"
number = { regex = 'count: (\\d+)', min = 700, label = "roles" }
"""


def health(request: httpx.Request) -> httpx.Response:
    """What the app would answer; port 8050 (the dashboard) refuses connections."""
    if request.url.port == 8050:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
    assert (request.method, request.url.path) == ("GET", "/health")
    return httpx.Response(200, json={"status": "healthy", "environment": "production",
                                     "uptime_seconds": 12})


class FakeSSH:
    """An ``SSHRunner`` with canned output per command, keeping what it was asked to run."""

    def __init__(self, outputs: dict[str, str]):
        self.outputs = outputs
        self.ran: list[tuple[str, str]] = []

    async def run(self, name: str, command: str, *, on_line: Any = None, timeout: float = 120,
                  stdin: str | None = None, follow_seconds: float | None = None) -> RunResult:
        self.ran.append((name, command))
        output = self.outputs[command]
        for line in output.splitlines():
            if on_line is not None:
                on_line(line)
        return RunResult(0, output, 0.01)

    def sftp(self, name: str) -> AbstractAsyncContextManager[Any]:
        raise AssertionError("no step here uses SFTP")

    async def connection(self, name: str) -> object:
        return self

    async def drop(self, name: str) -> None:
        pass

    async def close(self) -> None:
        pass


@pytest.fixture
async def session(tmp_path):
    (tmp_path / "book.toml").write_text(BOOK)
    ssh = FakeSSH({"psql -c 'select count(*) from roles'": "count: 747"})
    s = open_session(load_runbook(tmp_path / "book.toml"), RecordingOperator(),
                     state=tmp_path / "run.toml", workdir=tmp_path, ssh=ssh,
                     web=Web(transport=httpx.MockTransport(health)))
    yield s
    await s.aclose()


async def test_web_takes_an_httpx_transport():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, text="starting", headers={"Retry-After": "5"})

    web = Web(transport=httpx.MockTransport(handler))
    try:
        result = await web.request("GET", "http://127.0.0.1:8000/ready", timeout=2)
    finally:
        await web.close()
    assert (result.status, result.text, result.headers["retry-after"]) == (503, "starting", "5")
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:8000/ready"]


async def test_the_loopback_guard_is_checked_before_the_transport():
    seen: list[httpx.Request] = []
    web = Web(transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200)))
    with pytest.raises(NetworkPolicyError):
        await web.request("GET", "http://203.0.113.7/health")
    await web.close()
    assert seen == []


async def test_an_http_step_is_judged_from_a_mock_transport_answer(session):
    verdict = await session.engine.run_step("http-ok")
    assert verdict.ok, verdict.summary
    assert verdict.evidence["status"] == 200
    assert verdict.evidence["fields"] == {"status": "healthy", "environment": "production"}
    assert json.loads(verdict.output)["uptime_seconds"] == 12

    wrong = await session.engine.run_step("http-wrong")
    assert not wrong.ok
    assert 'environment is "production", expected "staging"' in wrong.summary


async def test_a_refused_connection_from_the_transport_is_a_sentence(session):
    verdict = await session.engine.run_step("http-down")
    assert not verdict.ok
    assert verdict.summary == "GET http://127.0.0.3:8050/: connection refused (nothing is " \
                              "listening there)"
    assert [check.outcome for check in verdict.checks] == ["unanswered"]


async def test_an_ssh_step_runs_through_the_injected_runner(session):
    verdict = await session.engine.run_step("ssh-roles")
    assert verdict.ok, verdict.summary
    assert verdict.evidence == {"roles": 747}
    assert session.engine.ssh.ran == [("new", "psql -c 'select count(*) from roles'")]


@pytest.mark.parametrize("protocol, implementation", [
    (SSHRunner, SSHPool), (WebClient, Web), (DropletsAPI, DropletAPI)])
def test_the_real_transports_answer_their_protocols(protocol, implementation):
    """Every call of the Protocol exists on the class the session builds, with the same
    parameters (names, kinds, defaults) and the same sync/async-ness."""
    members = [name for name in vars(protocol) if not name.startswith("_")
               and callable(getattr(protocol, name))]
    assert members
    for name in members:
        wanted, real = getattr(protocol, name), getattr(implementation, name)
        assert inspect.iscoroutinefunction(wanted) == inspect.iscoroutinefunction(real), name
        want = [(p.name, p.kind, p.default) for p in inspect.signature(wanted).parameters.values()]
        have = [(p.name, p.kind, p.default) for p in inspect.signature(real).parameters.values()]
        assert want == have, name
