"""Issue 16, item 15: every wait is bounded. Each test reproduces a hang against a real server on
loopback (an SSH host of the rehearsal world behind a TCP proxy that stops forwarding, an HTTP
server that drips its answer, a silent API, real subprocesses) and asserts a generous bound: the
old code did not finish at all, or only when the other side gave up.

Timings are never asserted tightly (CI is loaded): a 2 s timeout must end well under 30 s."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from cutover_tui.clock import MovableClock
from cutover_tui.errors import HTTPError, SSHError
from cutover_tui.remote.ssh import MAX_CHANNELS, SSHPool, SSHTarget
from cutover_tui.sandbox.world import World

# A test that would hang on the old code fails after this long instead.
HANG = 45


class StallingProxy:
    """A loopback TCP proxy in front of a server. ``stall()`` stops forwarding in both
    directions while keeping every connection open: to the client the host has gone silent, as
    when a link or a droplet dies without a FIN or a RST."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    def stall(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        self.writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def close(self) -> None:
        self.flowing.set()
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def one_host(tmp_path):
    w = World(tmp_path / "world", MovableClock(state_file=tmp_path / "world" / "clock.json"),
              hosts=("old",), action_seconds=0.05)
    await w.start()
    w.trust_host_keys()
    try:
        yield w
    finally:
        await w.stop()


async def trust(_label: str, _fingerprint: str) -> bool:
    return True  # the proxy's address is not in known_hosts; the key is the world's own


@contextlib.asynccontextmanager
async def proxied_pool(world: World, **options):
    host = world.hosts["old"]
    proxy = StallingProxy(host.address, host.port)
    port = await proxy.start()
    pool = SSHPool({"old": SSHTarget("old", "127.0.0.1", port, "root", str(world.client_key),
                                     str(world.known_hosts))}, trust_host_key=trust, **options)
    try:
        yield pool, proxy
    finally:
        proxy.resume()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pool.close(), 5)
        await proxy.close()


async def test_item15_ssh_channel_open_through_a_stalled_link_times_out(one_host):
    # The case: run(timeout=2) through a stalled link was still hanging after 20 s.
    # Keepalives off, so the bound here is the channel-open timeout alone.
    async with proxied_pool(one_host, keepalive_interval=0, channel_timeout=2) as (pool, proxy):
        assert (await pool.run("old", "echo up", timeout=5)).output == "up"
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(SSHError, match="no answer"):
            await asyncio.wait_for(pool.run("old", "echo hello", timeout=2), HANG)
        assert time.monotonic() - started < 30


async def test_item15_ssh_keepalive_notices_a_silently_dead_host(one_host):
    # A command is running when the link dies: without keepalives nothing ever arrives again,
    # and the command's own limit (60 s) is all that would end the wait.
    async with proxied_pool(one_host, keepalive_interval=0.5, keepalive_count_max=2,
                            channel_timeout=120) as (pool, proxy):
        task = asyncio.create_task(pool.run("old", "echo started; sleep 600", timeout=HANG * 2))
        await asyncio.sleep(1.5)
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(SSHError, match="keepalive|connection"):
            await asyncio.wait_for(task, HANG)
        assert time.monotonic() - started < 30


async def test_item15_ssh_waiting_for_a_channel_slot_is_bounded(one_host):
    # MAX_CHANNELS commands hold every channel of the connection: the next one waits for a
    # slot at most slot_timeout, and is never an eleventh channel.
    async with proxied_pool(one_host, slot_timeout=1) as (pool, _proxy):
        busy = [asyncio.create_task(pool.run("old", "sleep 8", timeout=30))
                for _ in range(MAX_CHANNELS)]
        await asyncio.sleep(2)
        started = time.monotonic()
        with pytest.raises(SSHError, match="channels"):
            await asyncio.wait_for(pool.run("old", "echo one more", timeout=5), HANG)
        assert time.monotonic() - started < 6  # not after the 8 s sleeps ended
        results = await asyncio.gather(*busy)
        assert all(r.exit_status == 0 for r in results)


async def test_item15_sftp_operations_through_a_stalled_link_time_out(one_host, tmp_path):
    env = one_host.app_dir("old") / ".env"
    async with proxied_pool(one_host, keepalive_interval=0, sftp_timeout=2) as (pool, proxy):
        # A request on an open SFTP session.
        with pytest.raises(SSHError, match="SFTP"):
            async with pool.sftp("old") as sftp:
                assert (await sftp.stat(str(env))).size > 0
                proxy.stall()
                started = time.monotonic()
                await asyncio.wait_for(sftp.stat(str(env)), HANG)
        assert time.monotonic() - started < 30
        # A download that stops moving.
        proxy.resume()
        with pytest.raises(SSHError, match="SFTP"):
            async with pool.sftp("old") as sftp:
                proxy.stall()
                started = time.monotonic()
                await asyncio.wait_for(sftp.get(str(env), str(tmp_path / "env.copy")), HANG)
        assert time.monotonic() - started < 30


# ---------------------------------------------------------------------------- HTTP


@contextlib.contextmanager
def tcp_server(handle):
    """A loopback TCP server running ``handle(conn, done)`` per connection in a thread; yields
    its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        with listener:
            while not done.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=handle, args=(conn, done), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join()


def drip(conn: socket.socket, done: threading.Event) -> None:
    """An HTTP answer: the headers at once, then the body one byte a second."""
    with conn:
        conn.recv(65536)
        body = b"x" * 60
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        for byte in body:
            if done.wait(1):
                return
            with contextlib.suppress(OSError):
                conn.sendall(bytes([byte]))


def hold(conn: socket.socket, done: threading.Event) -> None:
    """Accept, read the request, never answer."""
    with conn:
        conn.recv(65536)
        done.wait(60)


async def test_item15_http_deadline_against_a_dripping_server():
    from cutover_tui.remote.web import Web

    web = Web()
    with tcp_server(drip) as port:
        try:
            started = time.monotonic()
            with pytest.raises(HTTPError, match="within 2s"):
                await asyncio.wait_for(web.request("GET", f"http://127.0.0.1:{port}/health",
                                                   timeout=2), HANG)
            assert time.monotonic() - started < 10  # the drip takes 60 s
        finally:
            await web.close()


# ---------------------------------------------------------------------------- DigitalOcean


def test_item15_digitalocean_client_has_a_read_timeout():
    # An API that accepts the connection and never answers: pydo's transport waited 300 s.
    from cutover_tui.errors import DropletAPIError
    from cutover_tui.remote.droplets import DropletAPI

    with tcp_server(hold) as port:
        api = DropletAPI("token", f"http://127.0.0.1:{port}", timeout=2)
        started = time.monotonic()
        with pytest.raises(DropletAPIError, match="no answer"):
            api.get(1)
        assert time.monotonic() - started < 15


# ---------------------------------------------------------------------------- local commands


async def test_item15_local_command_ignoring_sigterm_is_killed_after_the_grace(tmp_path):
    from cutover_tui.steps.local import run_local

    class Ctx:
        def line_sink(self, _where):
            return lambda _line: None

    marker = tmp_path / "still-running"
    # The shell and its child both ignore SIGTERM; the child would outlive a killed shell.
    command = f"trap '' TERM; (sleep 60.25; touch {marker}) & sleep 60.5"
    started = time.monotonic()
    status, _output, _seconds = await asyncio.wait_for(
        run_local(Ctx(), command, tmp_path, {}, timeout=1), 120)
    assert status is None
    assert time.monotonic() - started < 20  # 1 s + the grace, where it took the full 60 s
    group = subprocess.run(["pgrep", "-f", "sleep 60.(25|5)"], capture_output=True, text=True)
    assert group.stdout.strip() == "", "a process of the command's group survived"


# ---------------------------------------------------------------------------- git push, psql


async def test_item15_git_push_has_a_timeout(tmp_path, monkeypatch):
    from cutover_tui.runbook import Overrides, load_runbook
    from cutover_tui.session import open_session
    from cutover_tui.steps import repo_edit

    from .helpers import RecordingOperator
    from .test_item13_14_files_kept import REPO_BOOK, make_repo

    repo = make_repo(tmp_path)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(origin)], cwd=repo, check=True)
    subprocess.run(["git", "push", "-q", "-u", "origin", "main"], cwd=repo, check=True)
    hook = origin / "hooks" / "pre-receive"  # from now on the remote never answers
    hook.write_text("#!/bin/sh\nsleep 60.75\n")
    hook.chmod(0o755)
    book_path = tmp_path / "push.toml"
    book_path.write_text(REPO_BOOK.replace('"FIND"', '"10.9.9.1"')
                         .replace('"REPLACE"', '"10.9.9.2"') + "push = true\n")
    book = load_runbook(book_path, Overrides(variables={"repo": str(repo)}))
    session = open_session(book, RecordingOperator(), state=tmp_path / "run.toml",
                           workdir=tmp_path)
    monkeypatch.setattr(repo_edit, "GIT_PUSH_TIMEOUT", 2)
    started = time.monotonic()
    verdict = await asyncio.wait_for(session.engine.run_step("3.3"), HANG)
    assert not verdict.ok
    assert verdict.summary == "git push failed: fatal: git push did not finish within 2s; stopped"
    assert time.monotonic() - started < 20
    left = subprocess.run(["pgrep", "-f", "sleep 60.75"], capture_output=True, text=True)
    assert left.stdout.strip() == "", "git's children were left running"
    await session.aclose()


async def test_item15_psql_and_pg_restore_have_timeouts(tmp_path, monkeypatch):
    # A scratch database that never answers: psql (and pg_restore) waited forever.
    from cutover_tui.errors import GateClosed
    from cutover_tui.runbook import load_runbook
    from cutover_tui.steps import backup_verify as backup

    from .helpers import backup_book

    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    for name in ("psql", "pg_restore"):
        (stand_ins / name).write_text("#!/bin/sh\nexec sleep 30\n")
        (stand_ins / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{stand_ins}:{Path('/usr/bin')}:{Path('/bin')}")
    monkeypatch.setattr(backup, "PG_TIMEOUT", 2)
    monkeypatch.setattr(backup, "PG_QUERY_TIMEOUT", 2)
    book_path = tmp_path / "b.toml"
    book_path.write_text(backup_book(fmt="custom"))
    step = load_runbook(book_path).step("2.1")
    dump = tmp_path / "x.dump"
    dump.write_bytes(b"PGDMP")
    for call in (lambda: backup.scratch_restore(dump, step, "postgresql://u:p@127.0.0.1:9/x"),
                 lambda: backup.inspect_dump(dump, "custom")):
        started = time.monotonic()
        with pytest.raises(GateClosed, match="within 2s"):
            await asyncio.wait_for(asyncio.to_thread(call), HANG)
        assert time.monotonic() - started < 20
