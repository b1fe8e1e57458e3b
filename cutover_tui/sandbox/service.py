"""The rehearsal app's three services, run as real processes by the ``systemctl`` stand-in:

    python -m cutover_tui.sandbox.service UNIT HOST_DIR

``air-demand-api`` serves the health and data endpoints on the host's address and reads the
host's ``.env`` when it starts; ``air-demand-dashboard`` serves a page with "Paraform Roles";
``air-demand-scheduler`` runs a scrape at each scheduled hour and a digest each day, following
the world's movable clock. Each logs to the host's journal in the format of what the real app
runs on (uvicorn's access log, APScheduler's job log), not in any format a runbook looks for.

Each reads its host's faults (``sandbox.faults``) on every request and every scheduled job, and
during one behaves as the real app would (``sandbox.apperrors``: what its tools print then).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import struct
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import apperrors
from .apperrors import Crash
from .errormonitor import ErrorMonitor, iso
from .faults import FaultReader
from .hostenv import HostEnv
from .scheduler import scheduler

CONSTANTS = {
    "seniority_levels": ["junior", "mid", "senior", "staff", "principal"],
    "locations": ["Remote", "New York", "San Francisco", "London", "Berlin", "Austin"],
    "scrape_sources": ["paraform"],
}
DASHBOARD_PAGES = ["/", "/roles", "/companies", "/skills", "/briefings", "/digests",
                   "/health"] + [f"/roles/{i}" for i in range(1, 34)]
API = "air-demand-api"
TICK = 0.05  # how often a service looks at the world's clock (seconds of real time)


# A request's query (as ``parse_qs`` gives it) → status and body (HTML text, JSON, or the
# exception the app did not handle: FastAPI answers that with a 500).
Query = dict[str, list[str]]
Route = Callable[[Query], tuple[int, str | dict[str, Any] | Crash]]


class Handler(BaseHTTPRequestHandler):
    server_version = "uvicorn"
    env: HostEnv
    unit: str
    routes: dict[str, Route]
    faults: FaultReader
    monitor: ErrorMonitor | None = None
    proxy_server: str | None = None  # set when the proxy in front answers instead of the unit

    def log_message(self, format: str, *args: object) -> None:
        pass

    def version_string(self) -> str:
        return self.proxy_server or super().version_string()

    def handle(self) -> None:
        if self.unit == API and self.faults.active("api-down", self.env.now()):
            # Down, but the listener not closed yet (it follows the clock a tick behind): no
            # HTTP answer either, the connection is reset as by a peer whose server is gone.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        super().handle()

    def _send(self, status: int, body: bytes, kind: str, server: str | None = None) -> None:
        self.proxy_server = server
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if server is not None:
            return  # answered by the proxy in front: the unit never saw the request
        client = f"{self.client_address[0]}:{self.client_address[1]}"
        self.env.log(self.unit, f'INFO:     {client} - "{self.command} {self.path} HTTP/1.1" '
                                f"{status} {HTTPStatus(status).phrase}")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if self.unit != API and self.faults.active("dashboard-down", self.env.now()):
            self._send(502, apperrors.NGINX_502.encode(), "text/html",
                       server=apperrors.NGINX_SERVER)
            return
        route = self.routes.get(parts.path)
        if route is None:
            self._send(404, b'{"detail":"Not Found"}', "application/json")
            return
        status, body = route(parse_qs(parts.query))
        if isinstance(body, Crash):
            self._send(500, b"Internal Server Error", "text/plain; charset=utf-8")
            at = self.env.now()
            for line in apperrors.asgi_lines(self.env.app_dir, body):
                self.env.log(self.unit, line, at=at)
            if self.monitor is not None:
                self.monitor.record(at, parts.path, body)
        elif isinstance(body, str):
            self._send(status, body.encode(), "text/html; charset=utf-8")
        else:
            self._send(status, json.dumps(body).encode(), "application/json")

    do_HEAD = do_GET


def api_routes(env: HostEnv, faults: FaultReader, monitor: ErrorMonitor) -> dict[str, Route]:
    settings = env.read_env_file()
    app_name = settings.get("APP_NAME", "Air Demand")
    environment = settings.get("ENVIRONMENT", "development")
    database_url = settings.get("DATABASE_URL", "")
    started = monitor.started

    def db_down() -> bool:
        return faults.active("db-down", env.now()) is not None

    def health(_q: Query) -> tuple[int, dict[str, Any]]:
        # The app's /health answers from the process alone: it does not touch the database.
        return 200, {"status": "healthy", "app": app_name, "environment": environment,
                     "version": "1.4.2", "uptime_seconds": int(env.now() - started),
                     "timestamp": iso(env.now())}

    def health_db(_q: Query) -> tuple[int, dict[str, Any]]:
        began = time.monotonic()
        try:
            if db_down():
                raise ConnectionRefusedError(apperrors.database_refused(database_url))
            with contextlib.closing(env.open_database()) as db:
                roles = db.execute("SELECT COUNT(*) FROM roles").fetchone()[0]
        except (sqlite3.Error, ConnectionRefusedError) as exc:
            return 503, {"status": "unhealthy", "database": f"error: {exc}"}
        return 200, {"status": "healthy", "database": "connected", "roles": roles,
                     "latency_ms": round((time.monotonic() - began) * 1000, 2)}

    def ready(_q: Query) -> tuple[int, dict[str, Any]]:
        if db_down():
            return 503, {"status": "not ready", "checks": {"database": "error", "config": "ok"}}
        return 200, {"status": "ready", "checks": {"database": "ok", "config": "ok"}}

    def errors(_q: Query) -> tuple[int, dict[str, Any]]:
        # The seed reads `total_errors` (8.1); the rest is what such an endpoint plausibly adds.
        return 200, monitor.report(env.now())

    def roles(q: Query) -> tuple[int, dict[str, Any] | Crash]:
        if db_down():
            return 500, apperrors.database_crash(env.app_dir, database_url,
                                                 apperrors.roles_endpoint_frames(env.app_dir))
        size = max(1, min(100, int((q.get("page_size") or ["20"])[0])))
        page = max(1, int((q.get("page") or ["1"])[0]))
        with contextlib.closing(env.open_database()) as db:
            total = db.execute("SELECT COUNT(*) FROM roles").fetchone()[0]
            rows = db.execute(
                "SELECT r.id, r.title, c.name, r.location, r.seniority, r.posted_at FROM roles r "
                "JOIN companies c ON c.id = r.company_id ORDER BY r.id LIMIT ? OFFSET ?",
                (size, (page - 1) * size)).fetchall()
        items = [dict(zip(("id", "title", "company", "location", "seniority", "posted_at"), row,
                          strict=True)) for row in rows]
        return 200, {"items": items, "page": page, "page_size": size, "total": total}

    def constants(_q: Query) -> tuple[int, dict[str, Any]]:
        return 200, CONSTANTS

    return {"/health": health, "/health/db": health_db, "/health/ready": ready,
            "/monitoring/errors": errors, "/demand/roles": roles, "/shared/constants": constants}


def dashboard_routes(env: HostEnv) -> dict[str, Route]:
    app_name = env.read_env_file().get("APP_NAME", "Air Demand")

    def page(_q: Query) -> tuple[int, str]:
        return 200, (f"<!doctype html><html><head><title>Paraform Roles — {app_name}</title>"
                     f"</head><body><h1>Paraform Roles</h1><p>{app_name} dashboard</p>"
                     "</body></html>")

    return {path: page for path in DASHBOARD_PAGES}


class Listener:
    """The unit's listening socket, served by a thread; closed while the API is down, so a
    client is refused as by a host where nothing listens, and opened again after."""

    def __init__(self, address: str, port: int, handler: type[Handler]):
        self.address, self.port, self.handler = address, port, handler
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def open(self) -> None:
        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer((self.address, self.port), self.handler)
        server.daemon_threads = True
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.server is None or self.thread is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.server = self.thread = None


def serve(env: HostEnv, unit: str, port: int, routes: dict[str, Route], faults: FaultReader,
          monitor: ErrorMonitor | None = None) -> None:
    handler = type("BoundHandler", (Handler,), {"env": env, "unit": unit, "routes": routes,
                                                "faults": faults, "monitor": monitor})
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    def down(now: float) -> bool:
        return unit == API and faults.active("api-down", now) is not None

    listener = Listener(env.address, port, handler)
    if not down(env.now()):
        listener.open()  # a port already taken ends the process here, as it ends uvicorn
    env.log(unit, f"INFO:     Started server process [{os.getpid()}]")
    env.log(unit, "INFO:     Waiting for application startup.")
    env.log(unit, "INFO:     Application startup complete.")
    env.log(unit, f"INFO:     Uvicorn running on http://{env.address}:{port} "
                  "(Press CTRL+C to quit)")
    while not stopping.wait(TICK):
        now = env.now()
        if down(now):
            listener.close()
        elif listener.server is None:
            with contextlib.suppress(OSError):  # taken meanwhile: the next tick tries again
                listener.open()
        if monitor is not None:
            monitor.catch_up(now)
    listener.close()
    env.log(unit, "INFO:     Shutting down")
    env.log(unit, "INFO:     Waiting for application shutdown.")
    env.log(unit, "INFO:     Application shutdown complete.")
    env.log(unit, f"INFO:     Finished server process [{os.getpid()}]")


def main() -> None:
    unit, host_dir = sys.argv[1], Path(sys.argv[2])
    env = HostEnv.from_environ()
    assert env.host_dir == host_dir, "the host dir argument is there for pgrep and ps"
    if unit == API:
        faults = FaultReader(env.faults_file)
        monitor = ErrorMonitor(env, unit, faults, started=env.now())
        serve(env, unit, env.api_port, api_routes(env, faults, monitor), faults, monitor)
    elif unit == "air-demand-dashboard":
        serve(env, unit, env.dashboard_port, dashboard_routes(env), FaultReader(env.faults_file))
    elif unit == "air-demand-scheduler":
        scheduler(env, unit)
    else:
        sys.exit(f"unknown unit {unit}")


if __name__ == "__main__":
    main()
