"""A DigitalOcean API v2 stand-in: the paths, status codes, JSON shapes and ``ratelimit-*``
headers pydo sees from the real API, for the calls cutover makes. Its droplets are the world's
hosts: a completed power_off stops a host, power_on restores it, destroy removes it.

Faults can be queued (``inject``) so tests drive every path: 429 with Retry-After, 5xx, slow
or hanging actions, a 500 on DELETE that did or did not destroy, an answer that comes late.

Its times (actions' ``started_at`` / ``completed_at``, the ``Date`` header) come from ``clock``:
the rehearsal's movable clock, so a droplet's action history (``GET
/v2/droplets/{id}/actions``) says how long it has really been off in the rehearsal's time.
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RATE_LIMIT = 5000
NOT_FOUND = {"id": "not_found", "message": "The resource you were accessing could not be found."}
ACTION_TYPES = {"power_off", "shutdown", "power_on", "snapshot", "reboot", "power_cycle"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    method: str
    path: str  # regex on the path
    status: int
    count: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    perform: bool = False  # do the real work anyway (a 500 after the destroy happened)
    delay: float = 0.0  # seconds before the answer goes out (the work, if any, is done first)


@dataclass
class DropletRecord:
    id: int
    name: str
    ip: str
    host: str  # the world's host name
    status: str = "active"
    size_slug: str = "s-1vcpu-1gb"
    region: str = "nyc3"
    created_at: str = "2025-06-02T14:12:09Z"
    locked: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "memory": 1024, "vcpus": 1, "disk": 25,
            "locked": self.locked, "status": self.status, "kernel": None,
            "created_at": self.created_at, "features": ["monitoring", "droplet_agent"],
            "backup_ids": [], "next_backup_window": None, "snapshot_ids": [],
            "image": {"id": 129211873, "name": "22.04 (LTS) x64", "distribution": "Ubuntu",
                      "slug": "ubuntu-22-04-x64", "public": True, "regions": [self.region],
                      "created_at": "2023-03-01T00:00:00Z", "type": "base",
                      "min_disk_size": 7, "size_gigabytes": 2.36, "description": "",
                      "tags": [], "status": "available"},
            "volume_ids": [],
            "size": {"slug": self.size_slug, "memory": 1024, "vcpus": 1, "disk": 25,
                     "transfer": 1.0, "price_monthly": 6.0, "price_hourly": 0.00893,
                     "regions": [self.region], "available": True,
                     "description": "Basic"},
            "size_slug": self.size_slug,
            "networks": {
                "v4": [
                    {"ip_address": self.ip, "netmask": "255.0.0.0", "gateway": "127.0.0.1",
                     "type": "public"},
                    {"ip_address": f"10.108.0.{self.id % 250 + 2}", "netmask": "255.255.240.0",
                     "gateway": "10.108.0.1", "type": "private"},
                ],
                "v6": [],
            },
            "region": {"name": "New York 3", "slug": self.region, "features": ["metadata"],
                       "available": True, "sizes": [self.size_slug]},
            "tags": ["air-demand"], "vpc_uuid": "5a4981aa-9653-4bd1-bef5-d6bff52042e4",
        }


class DOApiStandIn:
    def __init__(self, token: str, on_effect: Callable[[str, str], None],
                 action_seconds: float = 0.2, address: str = "127.0.0.1",
                 clock: Callable[[], float] = time.time):
        self.token = token
        self.clock = clock  # the times it reports: the world's (movable) clock
        self.on_effect = on_effect  # (host name, "power_off" | "power_on" | "destroy")
        self.action_seconds = action_seconds
        self.address = address
        self.droplets: dict[int, DropletRecord] = {}
        self.actions: dict[int, dict[str, Any]] = {}
        self.snapshots: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, json body) as received
        self.hanging_actions: set[str] = set()  # action types that never complete
        self._next_action = 1_800_000_000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._remaining = RATE_LIMIT

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{self.address}:{self._server.server_address[1]}"

    def add_droplet(self, record: DropletRecord) -> None:
        self.droplets[record.id] = record
        with self._lock:  # its history starts, as at DigitalOcean, with its "create" action
            self._next_action += 1
            self.actions[self._next_action] = {
                "id": self._next_action, "status": "completed", "type": "create",
                "started_at": record.created_at, "completed_at": record.created_at,
                "resource_id": record.id, "resource_type": "droplet",
                "region": record.to_json()["region"], "region_slug": record.region}

    def _now(self) -> str:
        return _iso(self.clock())

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                # The Date header, in the world's time (the real API's clock is the truth).
                return email.utils.formatdate(api.clock() if timestamp is None else timestamp,
                                              usegmt=True)

            def _handle(self) -> None:
                api._dispatch(self)

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer((self.address, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ HTTP

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: Any = None,
               headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        with self._lock:
            self._remaining = max(0, self._remaining - 1)
            remaining = self._remaining
        # A fault's headers (lower-case names) replace these, as one answer has one of each.
        sent = {"ratelimit-limit": str(RATE_LIMIT), "ratelimit-remaining": str(remaining),
                "ratelimit-reset": str(int(time.time()) + 60), **(headers or {})}
        for key, value in sent.items():
            handler.send_header(key, value)
        if payload:
            handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and re.fullmatch(fault.path, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path, query = parts.path, parse_qs(parts.query)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._reply(handler, 400, {"id": "bad_request", "message": "invalid JSON body"})
            return
        self.requests.append((handler.command, path, body))
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            self._reply(handler, 401, {"id": "unauthorized",
                                       "message": "Unable to authenticate you."})
            return
        fault = self._take_fault(handler.command, path)
        if fault is not None and fault.delay and not fault.perform:
            time.sleep(fault.delay)
        if fault is not None and not fault.perform:
            self._reply(handler, fault.status, {"id": "server_error" if fault.status >= 500
                                                else "too_many_requests",
                                                "message": f"injected HTTP {fault.status}"},
                        fault.headers)
            return
        status, reply = self._route(handler.command, path, query, body)
        if fault is not None:
            status, reply = fault.status, {"id": "server_error",
                                           "message": f"injected HTTP {fault.status}"}
            time.sleep(fault.delay)
        self._reply(handler, status, reply)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/v2/droplets":
            return self._list(query)
        m = re.fullmatch(r"/v2/droplets/(\d+)", path)
        if m:
            droplet = self.droplets.get(int(m.group(1)))
            if droplet is None:
                return 404, NOT_FOUND
            if method == "GET":
                return 200, {"droplet": droplet.to_json()}
            if method == "DELETE":
                self._destroy(droplet)
                return 204, None
        m = re.fullmatch(r"/v2/droplets/(\d+)/actions", path)
        if m and method in ("GET", "POST"):
            droplet = self.droplets.get(int(m.group(1)))
            if droplet is None:
                return 404, NOT_FOUND
            if method == "GET":
                return self._list_actions(droplet, query)
            return self._start_action(droplet, body or {})
        m = re.fullmatch(r"/v2/actions/(\d+)", path)
        if m and method == "GET":
            action = self.actions.get(int(m.group(1)))
            return (200, {"action": dict(action)}) if action else (404, NOT_FOUND)
        return 404, NOT_FOUND

    def _list(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        per_page = int((query.get("per_page") or ["20"])[0])
        page = int((query.get("page") or ["1"])[0])
        items = [d.to_json() for d in sorted(self.droplets.values(), key=lambda d: d.id)]
        if query.get("name"):
            items = [d for d in items if d["name"] == query["name"][0]]
        chunk = items[(page - 1) * per_page: page * per_page]
        links: dict[str, Any] = {}
        if page * per_page < len(items):
            links["pages"] = {"next": f"{self.url}/v2/droplets?page={page + 1}"
                                      f"&per_page={per_page}"}
        return 200, {"droplets": chunk, "links": links, "meta": {"total": len(items)}}

    def _list_actions(self, droplet: DropletRecord, query: dict[str, list[str]]) -> tuple[int, Any]:
        """The droplet's actions, newest first, paginated like every list of the API."""
        per_page = int((query.get("per_page") or ["20"])[0])
        page = int((query.get("page") or ["1"])[0])
        with self._lock:
            items = [dict(a) for a in sorted(self.actions.values(), key=lambda a: -a["id"])
                     if a["resource_id"] == droplet.id]
        chunk = items[(page - 1) * per_page: page * per_page]
        links: dict[str, Any] = {}
        if page * per_page < len(items):
            links["pages"] = {"next": f"{self.url}/v2/droplets/{droplet.id}/actions"
                                      f"?page={page + 1}&per_page={per_page}"}
        return 200, {"actions": chunk, "links": links, "meta": {"total": len(items)}}

    def _destroy(self, droplet: DropletRecord) -> None:
        del self.droplets[droplet.id]
        self.on_effect(droplet.host, "destroy")

    def _start_action(self, droplet: DropletRecord, body: dict[str, Any]) -> tuple[int, Any]:
        kind = body.get("type")
        if kind not in ACTION_TYPES:
            return 422, {"id": "unprocessable_entity",
                         "message": f"'{kind}' is not a valid droplet action type"}
        if droplet.locked:
            return 422, {"id": "unprocessable_entity",
                         "message": "Droplet already has a pending event."}
        with self._lock:
            self._next_action += 1
            action_id = self._next_action
        action = {"id": action_id, "status": "in-progress", "type": kind,
                  "started_at": self._now(), "completed_at": None, "resource_id": droplet.id,
                  "resource_type": "droplet", "region": droplet.to_json()["region"],
                  "region_slug": droplet.region}
        with self._lock:
            self.actions[action_id] = action
        if kind not in self.hanging_actions:
            droplet.locked = True
            timer = threading.Timer(self.action_seconds, self._finish_action,
                                    (droplet, action, body))
            timer.daemon = True
            timer.start()
        return 201, {"action": dict(action)}

    def _finish_action(self, droplet: DropletRecord, action: dict[str, Any],
                       body: dict[str, Any]) -> None:
        kind = action["type"]
        try:
            if kind in ("power_off", "shutdown"):
                self.on_effect(droplet.host, "power_off")
                droplet.status = "off"
            elif kind == "power_on":
                self.on_effect(droplet.host, "power_on")
                droplet.status = "active"
            elif kind == "snapshot":
                self.snapshots.append({"id": f"{action['id']}", "name": body.get("name"),
                                       "resource_id": droplet.id, "created_at": self._now()})
            status = "completed"
        except Exception:  # the effect failed: the action errors, as the real API would say
            status = "errored"
        with self._lock:  # a reader sees the final status and its time together
            action.update(status=status, completed_at=self._now())
        droplet.locked = False
