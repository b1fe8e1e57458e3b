"""A red-flag probe against real HTTP servers on loopback: a server that takes the connection
and hangs (a database check that blocks) is bad evidence for its rule; a refused port is no
answer (the health rule's)."""

from __future__ import annotations

import socket
import threading

from cutover_tui.clock import Clock
from cutover_tui.monitor.probes import probe_health
from cutover_tui.remote.web import Web
from cutover_tui.runbook import load_runbook

BOOK = """
[runbook]
id = "p"
title = "p"
[hosts.new]
address = "127.0.0.1"
[[health]]
name = "api /health/db"
port = "{port}"
path = "/health/db"
[[phases]]
id = "7"
title = "w"
[[red_flags]]
id = "database"
description = "Database connectivity issues"
health = "api /health/db"
host = "new"
consecutive = 3
unanswered_is_bad = false
"""


def hanging_server() -> tuple[socket.socket, int, threading.Event]:
    """Accepts connections and reads, never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        server.settimeout(0.2)
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1], done


async def test_a_hung_endpoint_is_bad_evidence_a_refused_one_is_no_answer(tmp_path):
    server, port, done = hanging_server()
    path = tmp_path / "p.toml"
    path.write_text(BOOK.replace("{port}", str(port)))
    book = load_runbook(path)
    web = Web(default_timeout=0.5)
    try:
        hung = await probe_health(book, book.red_flags[0], web, Clock(), timeout=0.5)
        assert hung.answered and not hung.observation.ok, hung
        assert "connected, but no answer" in hung.observation.detail
    finally:
        done.set()
        server.close()
    refused = await probe_health(book, book.red_flags[0], web, Clock(), timeout=0.5)
    assert not refused.answered and not refused.observation.ok, refused
    await web.close()
