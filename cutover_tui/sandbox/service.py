"""The rehearsal app's three services, run as real processes by the ``systemctl`` stand-in:

    python -m cutover_tui.sandbox.service UNIT HOST_DIR

``air-demand-api`` serves the health and data endpoints on the host's address and reads the
host's ``.env`` when it starts; ``air-demand-dashboard`` serves a page with "Paraform Roles";
``air-demand-scheduler`` runs a scrape at each scheduled hour and a digest each day, following
the world's movable clock. Each logs to the host's journal in the format of what the real app
runs on (uvicorn's access log, APScheduler's job log), not in any format a runbook looks for.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import parse_qs, urlsplit

from .hostenv import HostEnv

CONSTANTS = {
    "seniority_levels": ["junior", "mid", "senior", "staff", "principal"],
    "locations": ["Remote", "New York", "San Francisco", "London", "Berlin", "Austin"],
    "scrape_sources": ["paraform"],
}
DASHBOARD_PAGES = ["/", "/roles", "/companies", "/skills", "/briefings", "/digests",
                   "/health"] + [f"/roles/{i}" for i in range(1, 34)]


# A request's query (as ``parse_qs`` gives it) → status and body (HTML text, or JSON).
Query = dict[str, list[str]]
Route = Callable[[Query], tuple[int, str | dict[str, Any]]]


class Handler(BaseHTTPRequestHandler):
    server_version = "uvicorn"
    env: HostEnv
    unit: str
    routes: dict[str, Route]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        client = f"{self.client_address[0]}:{self.client_address[1]}"
        self.env.log(self.unit, f'INFO:     {client} - "{self.command} {self.path} HTTP/1.1" '
                                f"{status} {HTTPStatus(status).phrase}")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        route = self.routes.get(parts.path)
        if route is None:
            self._send(404, b'{"detail":"Not Found"}', "application/json")
            return
        status, body = route(parse_qs(parts.query))
        if isinstance(body, str):
            self._send(status, body.encode(), "text/html; charset=utf-8")
        else:
            self._send(status, json.dumps(body).encode(), "application/json")

    do_HEAD = do_GET


def _db(env: HostEnv) -> sqlite3.Connection:
    return sqlite3.connect(env.world_dir / "db" / "production.sqlite3", timeout=5)


def api_routes(env: HostEnv) -> dict[str, Route]:
    settings = env.read_env_file()
    app_name = settings.get("APP_NAME", "Air Demand")
    environment = settings.get("ENVIRONMENT", "development")
    started = env.now()

    def now_iso() -> str:
        return datetime.fromtimestamp(env.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def health(_q: Query) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "healthy", "app": app_name, "environment": environment,
                     "version": "1.4.2", "uptime_seconds": int(env.now() - started),
                     "timestamp": now_iso()}

    def health_db(_q: Query) -> tuple[int, dict[str, Any]]:
        began = time.monotonic()
        try:
            with _db(env) as db:
                roles = db.execute("SELECT COUNT(*) FROM roles").fetchone()[0]
        except sqlite3.Error as exc:
            return 503, {"status": "unhealthy", "database": f"error: {exc}"}
        return 200, {"status": "healthy", "database": "connected", "roles": roles,
                     "latency_ms": round((time.monotonic() - began) * 1000, 2)}

    def ready(_q: Query) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "ready", "checks": {"database": "ok", "config": "ok"}}

    def errors(_q: Query) -> tuple[int, dict[str, Any]]:
        # The seed reads `total_errors` (8.1); the rest is what such an endpoint plausibly adds.
        since = datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 200, {"total_errors": 0, "errors_by_type": {}, "recent_errors": [],
                     "since": since}

    def roles(q: Query) -> tuple[int, dict[str, Any]]:
        size = max(1, min(100, int((q.get("page_size") or ["20"])[0])))
        page = max(1, int((q.get("page") or ["1"])[0]))
        with _db(env) as db:
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


def serve(env: HostEnv, unit: str, port: int, routes: dict[str, Route]) -> None:
    handler = type("BoundHandler", (Handler,), {"env": env, "unit": unit, "routes": routes})
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((env.address, port), handler)
    server.daemon_threads = True
    env.log(unit, f"INFO:     Started server process [{os.getpid()}]")
    env.log(unit, "INFO:     Waiting for application startup.")
    env.log(unit, "INFO:     Application startup complete.")
    env.log(unit, f"INFO:     Uvicorn running on http://{env.address}:{port} "
                  "(Press CTRL+C to quit)")
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.1)
    env.log(unit, "INFO:     Shutting down")
    env.log(unit, "INFO:     Waiting for application shutdown.")
    env.log(unit, "INFO:     Application shutdown complete.")
    env.log(unit, f"INFO:     Finished server process [{os.getpid()}]")


def scheduled_between(start: float, end: float, hours: list[int]) -> list[float]:
    """Every HH:00 UTC in ``hours`` strictly after ``start`` and at or before ``end``."""
    out = []
    day = datetime.fromtimestamp(start, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.timestamp() <= end:
        for hour in sorted(hours):
            at = (day + timedelta(hours=hour)).timestamp()
            if start < at <= end:
                out.append(at)
        day += timedelta(days=1)
    return out


def _job(name: str, hours: list[int], at: float) -> str:
    """An APScheduler job as its log lines show it: name, cron trigger, next run time."""
    following = scheduled_between(at, at + 2 * 86400, hours)[0]
    return (f"{name} (trigger: cron[hour='{','.join(map(str, sorted(hours)))}', minute='0'], "
            f"next run at: {datetime.fromtimestamp(following, UTC):%Y-%m-%d %H:%M:%S UTC})")


class SchedulerState(TypedDict):
    """What the scheduler writes to ``scheduler.json`` (the app's check_health.py reads it)."""

    pid: int
    started_at: float
    scrapes: int
    last_scrape_at: float | None
    last_scrape_status: str | None
    last_new_roles: int | None


def scheduler(env: HostEnv, unit: str) -> None:
    settings = env.read_env_file()
    scrape_hours = [int(h) for h in settings.get("SCRAPE_HOURS", "3,15").split(",") if h.strip()]
    digest_hour = int(settings.get("DIGEST_HOUR", "4"))
    recipient = settings.get("DIGEST_RECIPIENT", "team@example.com")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    last = env.now()
    for job in ("scrape_paraform", "send_daily_digest"):
        env.log(unit, f'INFO:apscheduler.scheduler:Added job "{job}" to job store "default"')
    env.log(unit, "INFO:apscheduler.scheduler:Scheduler started")
    # What the app's scripts/check_health.py reads: the scheduler's pid and its last scrape.
    state: SchedulerState = {"pid": os.getpid(), "started_at": last, "scrapes": 0,
                             "last_scrape_at": None, "last_scrape_status": None,
                             "last_new_roles": None}
    env.scheduler_state.write_text(json.dumps(state))
    executor = "INFO:apscheduler.executors.default"
    while not stopping.wait(0.05):
        now = env.now()
        events = [(t, "scrape") for t in scheduled_between(last, now, scrape_hours)]
        events += [(t, "digest") for t in scheduled_between(last, now, [digest_hour])]
        for at, kind in sorted(events):
            scheduled = datetime.fromtimestamp(at, UTC).isoformat(sep=" ")
            if kind == "scrape":
                job = _job("scrape_paraform", scrape_hours, at)
                fetched, new_roles = 180 + int(at) % 61, int(at) % 17
                lines = [f'{executor}:Running job "{job}" (scheduled at {scheduled})',
                         f"INFO:app.scrapers.paraform:Fetched {fetched} roles from Paraform: "
                         f"{new_roles} new, {fetched - new_roles} updated",
                         f'{executor}:Job "{job}" executed successfully']
                state.update({"scrapes": state["scrapes"] + 1, "last_scrape_at": at,
                              "last_scrape_status": "success", "last_new_roles": new_roles})
            else:
                job = _job("send_daily_digest", [digest_hour], at)
                lines = [f'{executor}:Running job "{job}" (scheduled at {scheduled})',
                         f"INFO:app.services.digest:Daily digest emailed to {recipient} "
                         f"({int(at) % 23} roles)",
                         f'{executor}:Job "{job}" executed successfully']
            for line in lines:
                _append(env, unit, at, line)
        if events:
            tmp = env.scheduler_state.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, env.scheduler_state)
        last = now
    env.log(unit, "INFO:apscheduler.scheduler:Scheduler has been shut down")


def _append(env: HostEnv, unit: str, at: float, message: str) -> None:
    path = env.journal(unit)
    with path.open("a") as handle:
        handle.write(f"{at:.3f}\t{unit}\t{os.getpid()}\t{message}\n")


def main() -> None:
    unit, host_dir = sys.argv[1], Path(sys.argv[2])
    env = HostEnv.from_environ()
    assert env.host_dir == host_dir, "the host dir argument is there for pgrep and ps"
    if unit == "air-demand-api":
        serve(env, unit, env.api_port, api_routes(env))
    elif unit == "air-demand-dashboard":
        serve(env, unit, env.dashboard_port, dashboard_routes(env))
    elif unit == "air-demand-scheduler":
        scheduler(env, unit)
    else:
        sys.exit(f"unknown unit {unit}")


if __name__ == "__main__":
    main()
