"""The rehearsal app's repository: what the M11 runbook expects to find in the operator's clone
and in ``app_dir`` on each host (scripts it runs, files 3.3 edits, the dashboard test suite)."""

from __future__ import annotations

OLD_IP = "104.236.56.33"

FILES: dict[str, str] = {
    ".gitignore": ".env\n.env.bak-*\n__pycache__/\n",
    "README.md": "# air-demand (rehearsal copy made by `cutover demo`)\n",
    "app/__init__.py": "",
    "app/core/__init__.py": "",
    "app/core/config.py": f'''"""Application settings."""

allowed_origins = [
    "http://{OLD_IP}:3000",
    "http://localhost:3000",
]
''',
    "app/core/database.py": '''"""The rehearsal app's database engine: the world's production data (SQLite), reached with the
credentials in .env the way the real app reaches PostgreSQL with them."""

import json
import os
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

_WORLD = Path(os.environ["SANDBOX_WORLD_DIR"])


def _database_url() -> str:
    for line in Path(".env").read_text().splitlines():
        if line.strip().startswith("DATABASE_URL="):
            return line.split("=", 1)[1].strip().strip("\\"'")
    raise RuntimeError("DATABASE_URL is not set in .env")


class _Result:
    def __init__(self, value):
        self._value = value

    def scalar(self):
        return self._value


class _Connection:
    async def __aenter__(self):
        url = urlsplit(_database_url())
        config = json.loads((_WORLD / "db" / "database.json").read_text())
        if url.username != config["user"] or url.password != config["password"]:
            raise RuntimeError(f'FATAL:  password authentication failed for user "{url.username}"')
        self._db = sqlite3.connect(_WORLD / "db" / "production.sqlite3")
        return self

    async def __aexit__(self, *exc):
        self._db.close()

    async def execute(self, query):
        return _Result(self._db.execute(str(query)).fetchone()[0])


class _Engine:
    def connect(self):
        return _Connection()


engine = _Engine()
''',
    "sqlalchemy/__init__.py": '''"""Just enough of sqlalchemy for the rehearsal app's scripts."""


def text(sql):
    return sql
''',
    "scripts/deploy.sh": f'''#!/bin/bash
# Deploy the app to production.
set -euo pipefail
PROD_HOST={OLD_IP}
ssh root@$PROD_HOST 'cd /root/air-demand && git pull && systemctl restart air-demand-api'
''',
    "scripts/sync_demand_db.sh": f'''#!/bin/bash
# Copy production demand data to a local database.
set -euo pipefail
PROD_SERVER={OLD_IP}
ssh root@$PROD_SERVER 'pg_dump "$DATABASE_URL"' > /tmp/demand.sql
''',
    "scripts/check_demand_db_staleness.sh": f'''#!/bin/bash
# Alert when production demand data is older than a day.
set -euo pipefail
ssh root@{OLD_IP} 'cd /root/air-demand && uv run python scripts/check_health.py'
''',
    ".claude/tasks/IMPLEMENTATION_PLAN.md": f'''# Implementation plan

- M10: dashboard Playwright tests — done
- M11: production cutover — in progress (production is {OLD_IP})
''',
    "scripts/check_health.py": '''"""Air Demand health check: the API, the database and the scheduler, in one report.
Exits 0 when everything is operational, 1 otherwise (cron and the operator read the status)."""

import json
import os
import sqlite3
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

host = Path(os.environ["SANDBOX_HOST_DIR"])
world = Path(os.environ["SANDBOX_WORLD_DIR"])
api = f"http://{os.environ.get('SANDBOX_ADDRESS', 'localhost')}:{os.environ.get('SANDBOX_API_PORT', '8123')}"


def now() -> float:
    try:
        return time.time() + json.loads((world / "clock.json").read_text())["offset"]
    except (OSError, ValueError, KeyError):
        return time.time()


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def database_outage() -> str | None:
    """The rehearsal's network to the managed database: while the host has a db-down fault
    (cutover_tui/sandbox/faults.py), the connection is refused, as the API sees it too."""
    try:
        faults = json.loads((host / "state" / "faults.json").read_text())["faults"]
        config = json.loads((world / "db" / "database.json").read_text())
    except (OSError, ValueError, KeyError):
        return None
    at = now()
    if not any(f["fault"] == "db-down" and f["start"] <= at < f["end"] for f in faults):
        return None
    return ("(psycopg.OperationalError) connection failed: connection to server at "
            f'"{config["host"]}", port {config["port"]} failed: Connection refused')


problems = []
print(f"Air Demand health check, {when(now())}")

print("  API ........ ", end="")
try:
    with urllib.request.urlopen(api + "/health", timeout=5) as response:
        body = json.load(response)
    print(f"{body.get('status')} ({body.get('environment')}, v{body.get('version')})")
except (OSError, ValueError) as exc:
    print(f"unreachable ({exc})")
    problems.append("API unreachable")

print("  Database ... ", end="")
try:
    if outage := database_outage():
        raise sqlite3.OperationalError(outage)
    with sqlite3.connect(world / "db" / "production.sqlite3") as db:
        roles = db.execute("SELECT COUNT(*) FROM roles").fetchone()[0]
    print(f"connected, {roles} roles")
except sqlite3.Error as exc:
    print(f"error: {exc}")
    problems.append("database error")

print("  Scheduler .. ", end="")
try:
    pid = int((host / "state" / "services" / "air-demand-scheduler.pid").read_text().split()[0])
    os.kill(pid, 0)
    state = json.loads((host / "state" / "scheduler.json").read_text())
except (OSError, ValueError, IndexError):
    print("not running")
    problems.append("scheduler not running")
else:
    if not state.get("last_scrape_at"):
        print(f"running (pid {pid}), no scrape since it started at {when(state['started_at'])}")
    elif state.get("last_scrape_status") != "success":
        print(f"running (pid {pid}), last scrape at {when(state['last_scrape_at'])} FAILED")
        problems.append("last scrape failed")
    else:
        print(f"running (pid {pid}), last scrape at {when(state['last_scrape_at'])}: "
              f"{state.get('last_new_roles', 0)} new roles, {state['scrapes']} scrape(s) since start")

if problems:
    print(f"\\u274c {len(problems)} problem(s): {', '.join(problems)}")
    sys.exit(1)
print("\\u2705 All systems operational")
''',
    "scripts/monitor_health.sh": '''#!/bin/bash
# Run by cron every 5 minutes: append the API's health to the health log.
LOG=${HEALTH_LOG:-/var/log/air-demand-health.log}
if body=$(curl -fsS "http://localhost:${SANDBOX_API_PORT:-8123}/health"); then
  echo "$(date -u +%FT%TZ) healthy $body" >> "$LOG"
else
  echo "$(date -u +%FT%TZ) UNHEALTHY" >> "$LOG"
  exit 1
fi
''',
    "dashboard/tests/run_suite.py": '''"""The dashboard's end-to-end suite (rehearsal edition): 48 checks, 8 of them known to fail
like the real suite's 40/48; `--smoke` runs the 5 production smoke tests."""

import os
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ["BASE_URL"].rstrip("/")
PAGES = ["/", "/roles", "/companies", "/skills", "/briefings", "/digests", "/health"] + [
    f"/roles/{i}" for i in range(1, 34)]
KNOWN_FAILURES = ["/admin", "/settings", "/reports/weekly", "/reports/monthly", "/export.csv",
                  "/login", "/alerts", "/search?q=python"]
SMOKE = ["/", "/roles", "/companies", "/roles/1", "/health"]

checks = SMOKE if "--smoke" in sys.argv else PAGES + KNOWN_FAILURES
passed = failed = 0
started = time.monotonic()
for n, path in enumerate(checks, start=1):
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(BASE + path, timeout=10) as response:
            ok = response.status == 200 and "Paraform Roles" in response.read().decode()
    except (urllib.error.URLError, OSError):
        ok = False
    ms = (time.monotonic() - t0) * 1000
    passed += ok
    failed += not ok
    print(f"  {'✓' if ok else '✘'} {n:>2} [chromium] › dashboard.spec.ts › loads {path} ({ms:.0f}ms)")
print()
print(f"  {passed} passed ({time.monotonic() - started:.1f}s)")
if failed:
    print(f"  {failed} failed")
sys.exit(1 if failed else 0)
''',
}

EXECUTABLE = {"scripts/deploy.sh", "scripts/sync_demand_db.sh",
              "scripts/check_demand_db_staleness.sh", "scripts/monitor_health.sh"}


def env_file(environment: str, database_url: str, secret_key: str, api_token: str) -> str:
    staging = environment == "staging"
    return f'''# Air Demand — {environment} configuration
APP_NAME="Air Demand{' Staging' if staging else ''}"
ENVIRONMENT={environment}

# Production database (DigitalOcean managed PostgreSQL)
DATABASE_URL={database_url}
SECRET_KEY={secret_key}
PARAFORM_API_TOKEN='{api_token}'

# Scheduler
SCRAPE_HOURS={'3,15' if staging else '5,17'}
DIGEST_HOUR={'4' if staging else '6'}
DIGEST_RECIPIENT=rich.roberts@talentpipe.ai
export LOG_LEVEL=info
'''
