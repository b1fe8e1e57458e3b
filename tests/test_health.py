"""The health probe (cutover_tui/health.py) judging real HTTP servers on loopback: ok, degraded
and down; a hung endpoint delays only its own sample; the services' states over SSH; and the
destroy's "healthy" precondition reading the same samples."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from cutover_tui.clock import Clock
from cutover_tui.errors import SSHError
from cutover_tui.health import DEGRADED, DOWN, OK, HealthProbe, HealthSample, ServiceSample
from cutover_tui.remote.web import Web
from cutover_tui.runbook import load_runbook
from cutover_tui.steps.preconditions import healthy

ADDRESS = "127.0.0.1"


class Answer(BaseHTTPRequestHandler):
    """Answers by path: /ok 200 with the text, /bare 200 without it, /busy 503, /hang
    never (until the test ends)."""

    release = threading.Event()

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/hang":
            self.release.wait(30)
            return
        status, body = {"/ok": (200, b"status: healthy"), "/bare": (200, b"hello"),
                        "/busy": (503, b"starting")}.get(self.path, (404, b"no"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Answer.release = threading.Event()
    httpd = ThreadingHTTPServer((ADDRESS, 0), Answer)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd.server_address[1]
    finally:
        Answer.release.set()
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((ADDRESS, 0))
        return sock.getsockname()[1]


def book_with(tmp_path: Path, endpoints: list[tuple[str, int, str, str | None]],
              services: tuple[str, ...] = ()):
    """A runbook with one host, ``web``, and these ``(name, port, path, contains)`` endpoints."""
    lines = [f"services = {list(services)!r}".replace("'", '"'), "",
             '[runbook]\nid = "health"\ntitle = "health"\n',
             f'[hosts.web]\naddress = "{ADDRESS}"\nport = 9\n']
    for name, port, path, contains in endpoints:
        lines.append(f'[[health]]\nname = "{name}"\nport = "{port}"\npath = "{path}"')
        if contains:
            lines.append(f'contains = "{contains}"')
        lines.append("")
    lines.append('[[phases]]\nid = "1"\ntitle = "one"\n[[phases.steps]]\nid = "1.1"\n'
                 'kind = "manual"\ntitle = "look"\ninstructions = "look"\n')
    path = tmp_path / "health.toml"
    path.write_text("\n".join(lines))
    return load_runbook(path)


class FixedClock(Clock):
    def time(self) -> float:
        return 1766138400.0


async def probe_round(book, **kwargs) -> dict[str, HealthSample]:
    web = Web()
    try:
        samples = await HealthProbe(book, web, clock=FixedClock(), **kwargs).round()
    finally:
        await web.close()
    return {sample.endpoint: sample for sample in samples}


async def test_an_expected_answer_is_ok_with_its_status_and_latency(tmp_path, server):
    book = book_with(tmp_path, [("api", server, "/ok", "healthy")])
    sample = (await probe_round(book))["api"]
    assert sample.verdict == OK and sample.ok
    assert (sample.host, sample.status, sample.reason) == ("web", 200, "200")
    assert sample.latency_ms is not None and sample.latency_ms > 0
    assert sample.at == 1766138400.0


async def test_another_status_or_a_missing_text_is_degraded(tmp_path, server):
    book = book_with(tmp_path, [("busy", server, "/busy", None),
                                ("bare", server, "/bare", "healthy")])
    samples = await probe_round(book)
    assert samples["busy"].verdict == DEGRADED and samples["busy"].status == 503
    assert samples["busy"].reason == "HTTP 503"
    assert samples["bare"].verdict == DEGRADED and samples["bare"].status == 200
    assert samples["bare"].reason == "HTTP 200, no 'healthy'"


async def test_no_answer_is_down_and_says_why(tmp_path):
    book = book_with(tmp_path, [("api", closed_port(), "/ok", None)])
    sample = (await probe_round(book))["api"]
    assert sample.verdict == DOWN and not sample.ok
    assert sample.status is None and sample.latency_ms is None
    assert sample.reason == "connection refused (nothing is listening there)"


async def test_a_hung_endpoint_delays_nothing_but_itself(tmp_path, server):
    timeout = 1.5
    book = book_with(tmp_path, [("hung", server, "/hang", None), ("hung too", server, "/hang", None),
                                ("api", server, "/ok", None), ("busy", server, "/busy", None),
                                ("gone", closed_port(), "/", None)])
    web = Web()
    started = time.monotonic()
    arrived: list[tuple[str, float]] = []
    try:
        async for sample in HealthProbe(book, web, timeout=timeout).samples():
            arrived.append((sample.endpoint, time.monotonic() - started))
    finally:
        await web.close()
    order = [name for name, _ in arrived]
    assert set(order[:3]) == {"api", "busy", "gone"}, order
    assert set(order[3:]) == {"hung", "hung too"}
    at = dict(arrived)
    # The answers came as soon as they were judged, not after the hung requests' timeout …
    assert max(at["api"], at["busy"], at["gone"]) < timeout, arrived
    # … and the two hung ones waited their own timeout (httpx's read timeout, 0.9 of the total
    # deadline: web.py), side by side, not one after the other.
    assert 0.9 * timeout <= min(at["hung"], at["hung too"])
    assert max(at["hung"], at["hung too"]) < 2 * timeout, arrived


async def test_a_hung_endpoint_is_down_with_its_timeout(tmp_path, server):
    book = book_with(tmp_path, [("hung", server, "/hang", None)])
    sample = (await probe_round(book, timeout=0.5))["hung"]
    assert sample.verdict == DOWN
    assert sample.reason == "connected, but no answer within 0.5s"  # hung, not unreachable


async def test_leaving_a_round_early_cancels_the_requests_still_waiting(tmp_path, server):
    book = book_with(tmp_path, [("hung", server, "/hang", None), ("api", server, "/ok", None)])
    web = Web()
    started = time.monotonic()
    try:
        samples = HealthProbe(book, web, timeout=20).samples()
        first = await anext(samples)
        await samples.aclose()
    finally:
        await web.close()
    assert first.endpoint == "api"
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------------------- services


class FakeSSH:
    """An SSHRunner that answers `systemctl is-active` with given output, raises, or hangs."""

    def __init__(self, output: str = "", error: Exception | None = None, hang: bool = False):
        self.output, self.error, self.hang = output, error, hang
        self.commands: list[str] = []
        self.dropped: list[str] = []

    async def run(self, name, command, *, on_line=None, timeout=120, stdin=None,
                  follow_seconds=None):
        self.commands.append(command)
        if self.hang:
            await asyncio.sleep(60)
        if self.error is not None:
            raise self.error
        return SimpleNamespace(exit_status=3, output=self.output)

    async def drop(self, name):
        self.dropped.append(name)


async def services_of(tmp_path, ssh, ssh_timeout=3.0) -> ServiceSample:
    book = book_with(tmp_path, [], services=("app-api", "app-scheduler"))
    web = Web()
    try:
        samples = await HealthProbe(book, web, ssh, ssh_timeout=ssh_timeout).round()
    finally:
        await web.close()
    [sample] = samples
    assert isinstance(sample, ServiceSample)
    return sample


async def test_services_all_active_are_ok(tmp_path):
    ssh = FakeSSH("active\nactive\n")
    sample = await services_of(tmp_path, ssh)
    assert ssh.commands == ["systemctl is-active app-api app-scheduler"]
    assert sample.verdict == OK and sample.states == (("app-api", "active"),
                                                      ("app-scheduler", "active"))


async def test_a_service_not_active_is_degraded(tmp_path):
    sample = await services_of(tmp_path, FakeSSH("inactive\nactive\n"))
    assert sample.verdict == DEGRADED and sample.reason == "app-api inactive"
    assert sample.state("app-api") == "inactive" and sample.state("app-scheduler") == "active"


@pytest.mark.parametrize(("error", "hang", "reason"), [
    (SSHError("connecting to 127.0.0.1:9: Connection refused"), False, "SSH refused (host down?)"),
    (SSHError("host key of 127.0.0.1 is not in known_hosts"), False,
     "host key not trusted yet (a step will ask)"),
    (None, True, "no answer"),
])
async def test_an_unreachable_host_is_down_and_its_connection_dropped(tmp_path, error, hang,
                                                                     reason):
    ssh = FakeSSH(error=error, hang=hang)
    sample = await services_of(tmp_path, ssh, ssh_timeout=0.2)
    assert sample.verdict == DOWN and sample.reason == reason and sample.states == ()
    assert ssh.dropped == ["web"]


async def test_the_rehearsal_hosts_services_and_endpoints(world, m11_path):
    book = load_runbook(m11_path, world.overrides())
    probe = HealthProbe.with_own_transports(book, clock=world.clock, timeout=5)
    try:
        before = await probe.round()
        assert all(sample.ok for sample in before), [s for s in before if not s.ok]
        assert {s.host for s in before} == set(book.hosts)
        await asyncio.to_thread(world.hosts["new"].kill_services)
        after = {(s.host, s.key[1]): s for s in await probe.round()}
    finally:
        await probe.aclose()
    assert all(s.ok for (host, _), s in after.items() if host == "old")
    new_services = after[("new", "services")]
    assert new_services.verdict == DEGRADED, new_services
    assert all(s.verdict == DOWN for (host, name), s in after.items()
               if host == "new" and name != "services")


# ---------------------------------------------------------------------------- the destroy's


async def test_the_destroy_precondition_reads_the_same_samples(tmp_path, server):
    book = book_with(tmp_path, [("api", server, "/ok", "healthy"), ("busy", server, "/busy", None),
                                ("gone", closed_port(), "/", None)])
    web = Web()
    try:
        check = await healthy(SimpleNamespace(book=book, web=web, clock=Clock()), "web")
    finally:
        await web.close()
    assert check.name == "web healthy" and not check.ok
    assert check.detail == ("busy: HTTP 503; gone: connection refused (nothing is listening "
                            "there)")


async def test_the_destroy_precondition_is_met_when_every_endpoint_answers(tmp_path, server):
    book = book_with(tmp_path, [("api", server, "/ok", "healthy"), ("root", server, "/ok", None)])
    web = Web()
    try:
        check = await healthy(SimpleNamespace(book=book, web=web, clock=Clock()), "web")
    finally:
        await web.close()
    assert check.ok and check.detail == "2 endpoints answer"


# ---------------------------------------------------------------------------- the panel's worker


async def test_the_wizards_worker_posts_the_probes_samples_to_the_panel(tmp_path, server):
    from cutover_tui.operator import HeadlessOperator
    from cutover_tui.session import open_session
    from screens.app import CutoverApp

    book = book_with(tmp_path, [("api", server, "/ok", "healthy"), ("busy", server, "/busy", None),
                                ("hung", server, "/hang", None)], services=("app-api",))

    async def starter(app):
        return open_session(book, HeadlessOperator("pilot"), state=tmp_path / "run.toml",
                            workdir=tmp_path)

    app = CutoverApp(starter, "pilot", title="health", health_interval=0.2)
    async with app.run_test(size=(120, 36)) as pilot:
        board = app.health
        for _ in range(200):  # bounded: the hung endpoint's own timeout is 2 s
            await pilot.pause(0.05)
            if all(state.sample is not None for state in board.states.values()) and \
                    board.service_states.get("web") is not None:
                break
        verdicts = {endpoint: state.sample.verdict for (_, endpoint), state in board.states.items()}
        services = board.service_states["web"]
        await app.action_quit()
    assert verdicts == {"api": OK, "busy": DEGRADED, "hung": DOWN}
    assert services.verdict == DOWN and services.reason == "SSH refused (host down?)"
