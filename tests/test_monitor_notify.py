"""Notifications for real (cutover_tui/monitor/notify.py): Apprise's ``json://`` posts to an
HTTP server on loopback; retries with the backoff recorded instead of slept; the loopback
switch refusing an outside URL before a socket is opened."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cutover_tui.monitor.notify import ENV_NOTIFY, Notifier, notify_urls


class Sink:
    """An HTTP server on 127.0.0.1 that keeps every JSON body posted to it and answers with
    the next of ``codes`` (then 200); with ``hold``, each request waits for ``release``."""

    def __init__(self, codes: tuple[int, ...] = (), hold: bool = False):
        self.codes = list(codes)
        self.posts: list[dict] = []
        self.arrived = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                sink.posts.append(json.loads(self.rfile.read(length)))
                sink.arrived.set()
                sink.release.wait(30)
                self.send_response(sink.codes.pop(0) if sink.codes else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"


@contextmanager
def serving(*sinks: Sink) -> Iterator[None]:
    threads = [threading.Thread(target=s.server.serve_forever, daemon=True) for s in sinks]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for sink in sinks:
            sink.release.set()
            sink.server.shutdown()
            sink.server.server_close()


class Sleeps:
    """The backoff, recorded instead of waited."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_notification_arrives_with_its_title_and_body():
    sink = Sink()
    url = f"json://watcher:s3cret-pass@127.0.0.1:{sink.port}/hook?+X-Token=t0ken-value"
    with serving(sink):
        delivery = await Notifier([url], sleep=Sleeps()).send(
            "red flag health FIRING", "API /health failing since 14:13 UTC")
    assert delivery.ok and delivery.attempts == 1 and delivery.error is None
    assert [(p["title"], p["message"]) for p in sink.posts] == [
        ("red flag health FIRING", "API /health failing since 14:13 UTC")]
    shown = " ".join(delivery.targets)
    assert f"127.0.0.1:{sink.port}/hook" in shown
    assert "s3cret-pass" not in shown and "t0ken-value" not in shown


async def test_a_failed_delivery_is_retried_after_the_backoff():
    sink, sleeps = Sink(codes=(500,)), Sleeps()
    with serving(sink):
        delivery = await Notifier([sink.url], sleep=sleeps).send("t", "b")
    assert delivery.ok and delivery.attempts == 2
    assert sleeps.delays == [5] and len(sink.posts) == 2


async def test_a_retry_goes_only_to_the_targets_that_failed():
    failing, fine, sleeps = Sink(codes=(503,)), Sink(), Sleeps()
    with serving(failing, fine):
        delivery = await Notifier([failing.url, fine.url], sleep=sleeps).send("t", "b")
    assert delivery.ok and delivery.attempts == 2
    assert len(failing.posts) == 2 and len(fine.posts) == 1  # nobody gets it twice


async def test_a_closed_port_fails_after_every_attempt_with_a_sentence():
    sleeps = Sleeps()
    port = closed_port()
    delivery = await Notifier([f"json://127.0.0.1:{port}/"], sleep=sleeps).send("t", "b")
    assert not delivery.ok and delivery.attempts == 3 and sleeps.delays == [5, 30]
    assert delivery.error is not None
    assert delivery.error.startswith(f"not delivered after 3 attempts: json://127.0.0.1:{port}")
    assert "connection error" in delivery.error.lower()


async def test_a_server_that_never_answers_is_given_up_at_the_timeout():
    sink = Sink(hold=True)
    with serving(sink):
        delivery = await Notifier([sink.url], sleep=Sleeps(), attempts=1, timeout=0.5).send(
            "t", "b")
    assert not delivery.ok and delivery.attempts == 1 and delivery.error
    assert len(sink.posts) == 1


async def test_the_loop_goes_on_while_a_delivery_is_in_flight():
    sink = Sink(hold=True)
    with serving(sink):
        task = asyncio.ensure_future(Notifier([sink.url], sleep=Sleeps()).send("t", "b"))
        while not sink.arrived.is_set():  # the loop runs this while Apprise waits in a thread
            await asyncio.sleep(0.01)
        assert not task.done()
        sink.release.set()
        delivery = await task
    assert delivery.ok


async def test_an_outside_url_is_refused_under_the_loopback_switch_before_any_socket(
        monkeypatch):
    connects: list[object] = []

    def refuse(sock: socket.socket, address: object) -> None:
        connects.append(address)
        raise ConnectionRefusedError(f"test: no connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    sleeps = Sleeps()
    delivery = await Notifier(["json://203.0.113.5/hook"], sleep=sleeps).send("t", "b")
    assert connects == [] and sleeps.delays == []
    assert not delivery.ok and delivery.attempts == 0
    assert delivery.error is not None and "CUTOVER_LOOPBACK_ONLY" in delivery.error
    assert "203.0.113.5" in delivery.error


async def test_one_outside_url_stops_the_whole_notification():
    sink = Sink()
    with serving(sink):
        delivery = await Notifier(
            [sink.url, "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/"],
            sleep=Sleeps()).send("t", "b")
    assert not delivery.ok and sink.posts == []
    assert delivery.error is not None and "slack:// notification goes to its service" in \
        delivery.error
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in delivery.error + " ".join(delivery.targets)


async def test_an_invalid_url_is_named_masked():
    delivery = await Notifier(["nosuch://alert:hunter2-pass@example.org/path/x"],
                              sleep=Sleeps()).send("t", "b")
    assert not delivery.ok and delivery.attempts == 0
    assert delivery.error == "not an Apprise URL: nosuch://alert:••••••@example.org/…"


async def test_no_url_at_all_is_a_sentence():
    delivery = await Notifier([], sleep=Sleeps()).send("t", "b")
    assert not delivery.ok and delivery.error is not None and ENV_NOTIFY in delivery.error


def test_cutover_notify_comes_before_the_runbooks_list(monkeypatch):
    monkeypatch.delenv(ENV_NOTIFY, raising=False)
    assert notify_urls(["ntfy://127.0.0.1/ops"]) == ["ntfy://127.0.0.1/ops"]
    monkeypatch.setenv(ENV_NOTIFY, " json://127.0.0.1:9/a,json://127.0.0.1:9/b\n ntfy://x/y ")
    assert notify_urls(["ntfy://127.0.0.1/ops"]) == [
        "json://127.0.0.1:9/a", "json://127.0.0.1:9/b", "ntfy://x/y"]
    monkeypatch.setenv(ENV_NOTIFY, "  ")
    assert notify_urls(["ntfy://127.0.0.1/ops"]) == ["ntfy://127.0.0.1/ops"]


@pytest.mark.parametrize("url", ["json://[::1]:9/", "ntfy://localhost/ops"])
def test_loopback_hosts_in_other_spellings_are_allowed(url):
    from cutover_tui.monitor.notify import loopback_refusal

    assert loopback_refusal(url, "shown") is None


@pytest.mark.parametrize("url", ["ntfy://127.0.0.1:8080", "ntfy://localhost",
                                 "ntfy://127.0.0.1/x?mode=cloud"])
def test_an_ntfy_url_that_would_post_to_the_public_ntfy_sh_is_refused(url, monkeypatch):
    """Apprise sends ntfy without a topic (or mode=cloud) to ntfy.sh whatever host it names."""
    from cutover_tui.monitor.notify import loopback_refusal

    monkeypatch.setenv("CUTOVER_LOOPBACK_ONLY", "1")
    why = loopback_refusal(url, "ntfy")
    assert why is not None and "ntfy.sh" in why
    assert loopback_refusal("ntfy://127.0.0.1:8080/topic", "ntfy") is None
