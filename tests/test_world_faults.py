"""Incidents in the rehearsal world (issue 13, item 9): each fault ``World.inject`` gives a host
is seen from outside — over real HTTP, and over SSH with curl, journalctl and the app's
check_health.py — inside its window on the movable clock, and is gone after it.

The services follow the world's clock in their own processes: where one acts a tick after the
clock moves (the API's listener, the scheduler's jobs), the test polls what it shows, bounded."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import asyncssh
import httpx
import pytest

from cutover_tui.errors import ConfigError
from cutover_tui.sandbox.faults import FaultReader, add_fault, make_fault
from cutover_tui.sandbox.scheduler import scheduled_between

HOUR = 3600.0


async def ssh_run(world, name: str, command: str) -> asyncssh.SSHCompletedProcess:
    host = world.hosts[name]
    async with asyncssh.connect(host.address, host.port, username="root",
                                client_keys=[str(world.client_key)],
                                known_hosts=str(world.known_hosts)) as conn:
        return await conn.run(command)


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 15.0) -> Any:
    """``probe()``'s first truthy answer, polled until ``timeout`` (real seconds) runs out."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = await probe()
        if answer:
            return answer
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


def move_to(world, at: float) -> None:
    world.clock.advance(at - world.clock.time())


def api(world, name: str = "new") -> str:
    host = world.hosts[name]
    return f"http://{host.address}:{host.env.api_port}"


async def check_health(world, name: str = "new") -> asyncssh.SSHCompletedProcess:
    """The app's check, as the runbook runs it (6.4, 7.1) in the host's app directory."""
    return await ssh_run(world, name, f"cd {world.app_dir(name)} && "
                                      "uv run python scripts/check_health.py")


async def main_pid(world, unit: str, name: str = "new") -> str:
    status = (await ssh_run(world, name, f"systemctl status {unit}")).stdout
    return status.split("Main PID: ")[1].split()[0]


# ---------------------------------------------------------------------------------- api-down


async def test_api_down_stops_listening_in_its_window_and_listens_again_after(world):
    start = world.clock.time() + HOUR
    world.inject("new", "api-down", start, 2 * HOUR)
    port = world.hosts["new"].env.api_port
    curl = f"curl -sS -o /dev/null -w '%{{http_code}}' http://localhost:{port}/health"
    pid = await main_pid(world, "air-demand-api")
    assert (await ssh_run(world, "new", curl)).stdout == "200"  # set ahead, not yet begun

    move_to(world, start + 60)

    async def refused() -> asyncssh.SSHCompletedProcess | None:
        result = await ssh_run(world, "new", curl)
        return result if result.exit_status == 7 else None  # curl's "Failed to connect"

    down = await eventually(refused, "the API stops listening")
    assert down.stdout == "000"  # no HTTP answer at all
    report = await check_health(world)
    assert report.exit_status == 1 and "API ........ unreachable" in report.stdout
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{api(world)}/health")
        # A fault is the host's: the old production answers all along.
        assert (await client.get(f"{api(world, 'old')}/health")).status_code == 200

        move_to(world, start + 2 * HOUR + 60)

        async def answers() -> bool:
            try:
                return (await client.get(f"{api(world)}/health")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(answers, "the API listens again after the window")
    # The same process listened again: the outage was not a restart.
    assert await main_pid(world, "air-demand-api") == pid
    assert (await check_health(world)).exit_status == 0


# ---------------------------------------------------------------------------------- scrape-fail


def scheduler_state(world, name: str = "new") -> dict[str, Any]:
    try:
        return dict(json.loads(world.hosts[name].env.scheduler_state.read_text()))
    except (OSError, ValueError):
        return {}


async def scrape_ran(world, at: float) -> dict[str, Any]:
    async def state() -> dict[str, Any]:
        found = scheduler_state(world)
        return found if found.get("last_scrape_at") == at else {}

    return dict(await eventually(state, f"the scheduler runs the scrape scheduled at {at}"))


def scrape_runs(world) -> int:
    with sqlite3.connect(world.root / "db" / "production.sqlite3") as db:
        return int(db.execute("SELECT COUNT(*) FROM scrape_runs").fetchone()[0])


async def test_failed_scrapes_are_logged_as_apscheduler_logs_a_job_that_raised(world):
    # The new host is staging until the cutover: it scrapes at 03:00 and 15:00 UTC.
    runs = scheduled_between(world.clock.time(), world.clock.time() + 3 * 86400, [3, 15])
    world.inject("new", "scrape-fail", runs[0] - 60, runs[1] - runs[0] + 120)
    # The old production shares the database: paused as in the monitoring week, it scrapes none.
    assert (await ssh_run(world, "old", "systemctl stop air-demand-scheduler")).exit_status == 0
    before = scrape_runs(world)

    move_to(world, runs[1] + 60)
    state = await scrape_ran(world, runs[1])
    assert state["last_scrape_status"] == "failed" and state["scrapes"] == 0
    assert scrape_runs(world) == before  # the database is not updated
    journal = (await ssh_run(world, "new", "journalctl -u air-demand-scheduler -o cat")).stdout
    assert journal.count("ERROR:apscheduler.executors.default:Job \"scrape_paraform (trigger: "
                         "cron[hour='3,15', minute='0'], next run at: ") == 2
    assert journal.count("raised an exception\nTraceback (most recent call last):\n") == 2
    assert journal.count("\nhttpx.ConnectError: [Errno 111] Connection refused\n") == 2
    report = await check_health(world)
    assert report.exit_status == 1
    assert "FAILED" in report.stdout and "last scrape failed" in report.stdout

    move_to(world, runs[2] + 60)  # the window is over: the next scrape is good again
    state = await scrape_ran(world, runs[2])
    assert state["last_scrape_status"] == "success" and state["scrapes"] == 1
    assert scrape_runs(world) == before + 1
    report = await check_health(world)
    assert report.exit_status == 0 and "All systems operational" in report.stdout


# ---------------------------------------------------------------------------------- db-down


async def test_database_down_fails_what_needs_it_and_not_what_does_not(world):
    # The new host's scheduler scrapes at 03:00 and 15:00 UTC (its .env: SCRAPE_HOURS=3,15). A
    # scrape while the database is down fails, as it would, and stays the last one reported:
    # the outage is placed clear of them (run at 14:00 UTC, this test once failed on it).
    start = world.clock.time() + 600
    while scheduled_between(start - 1, start + HOUR + 60, [3, 15]):
        start += HOUR
    world.inject("new", "db-down", start, HOUR)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{api(world)}/health/db")).status_code == 200

        move_to(world, start + 60)
        db = await client.get(f"{api(world)}/health/db")
        assert db.status_code == 503 and db.json()["status"] == "unhealthy"
        assert db.json()["database"].startswith("error: (psycopg.OperationalError) connection "
                                                'failed: connection to server at "127.0.0.1", '
                                                "port 25060 failed: Connection refused")
        roles = await client.get(f"{api(world)}/demand/roles")
        assert roles.status_code == 500 and roles.text == "Internal Server Error"
        assert (await client.get(f"{api(world)}/health/ready")).status_code == 503
        assert (await client.get(f"{api(world)}/health")).json()["status"] == "healthy"
        errors = (await client.get(f"{api(world)}/monitoring/errors")).json()
        assert errors["total_errors"] == 1
        assert errors["recent_errors"][0]["type"] == "sqlalchemy.exc.OperationalError"
        # The old production's database connection is not this host's.
        assert (await client.get(f"{api(world, 'old')}/health/db")).status_code == 200
        report = await check_health(world)
        assert report.exit_status == 1 and "database error" in report.stdout
        assert "Database ... error: (psycopg.OperationalError)" in report.stdout
        journal = (await ssh_run(world, "new", "journalctl -u air-demand-api -o cat")).stdout
        assert '"GET /demand/roles HTTP/1.1" 500 Internal Server Error\nERROR:    Exception ' \
               "in ASGI application\nTraceback (most recent call last):\n" in journal
        assert "\nsqlalchemy.exc.OperationalError: (psycopg.OperationalError)" in journal

        move_to(world, start + HOUR + 60)
        assert (await client.get(f"{api(world)}/health/db")).json()["database"] == "connected"
        assert (await client.get(f"{api(world)}/demand/roles")).status_code == 200
        assert (await client.get(f"{api(world)}/health/ready")).status_code == 200
    assert (await check_health(world)).exit_status == 0


# ---------------------------------------------------------------------------------- dashboard


async def test_dashboard_down_answers_502_from_the_proxy_then_loads_again(world):
    start = world.clock.time() + 600
    world.inject("new", "dashboard-down", start, HOUR)
    port = world.hosts["new"].env.dashboard_port
    curl = f"curl -s -i http://localhost:{port}/roles"
    assert "Paraform Roles" in (await ssh_run(world, "new", curl)).stdout

    move_to(world, start + 60)
    page = (await ssh_run(world, "new", curl)).stdout
    assert page.split("\r\n")[0].endswith(" 502 Bad Gateway")
    assert "Server: nginx" in page and "Paraform Roles" not in page
    old = world.hosts["old"]
    async with httpx.AsyncClient() as client:
        assert "Paraform Roles" in (await client.get(
            f"http://{old.address}:{old.env.dashboard_port}/")).text

    move_to(world, start + HOUR + 60)
    page = (await ssh_run(world, "new", curl)).stdout
    assert page.split("\r\n")[0].endswith(" 200 OK") and "Paraform Roles" in page


# ---------------------------------------------------------------------------------- errors


async def test_errors_spread_over_the_window_count_since_the_api_started(world):
    start = world.clock.time() + 600
    world.inject("new", "errors", start, HOUR, count=30)
    url = f"{api(world)}/monitoring/errors"
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).json()["total_errors"] == 0

        move_to(world, start + HOUR / 2)  # halfway: half of them, one every two minutes
        half = (await client.get(url)).json()
        assert half["total_errors"] == 15
        assert half["errors_by_type"] == {"AttributeError": 15}
        assert len(half["recent_errors"]) == 10
        assert half["recent_errors"][0]["path"] == "/demand/roles"
        assert half["recent_errors"][0]["timestamp"] > half["recent_errors"][-1]["timestamp"]
        journal = (await ssh_run(world, "new", "journalctl -u air-demand-api -o cat")).stdout
        assert journal.count("500 Internal Server Error\nERROR:    Exception in ASGI "
                             "application\nTraceback (most recent call last):\n") == 15
        assert journal.count("\nAttributeError: 'NoneType' object has no attribute "
                             "'isoformat'\n") == 15

        move_to(world, start + HOUR + 60)
        assert (await client.get(url)).json()["total_errors"] == 30
        move_to(world, start + 3 * HOUR)  # over: no more errors come
        assert (await client.get(url)).json()["total_errors"] == 30

        restart = await ssh_run(world, "new", "systemctl restart air-demand-api")
        assert restart.exit_status == 0
        fresh = (await client.get(url)).json()
        assert fresh["total_errors"] == 0 and fresh["recent_errors"] == []  # a new process
        assert fresh["since"] > half["since"]
    journal = (await ssh_run(world, "new", "journalctl -u air-demand-api -o cat")).stdout
    assert journal.count("ERROR:    Exception in ASGI application") == 30  # each logged once


# ---------------------------------------------------------------------------------- the file


def test_a_fault_is_checked_before_it_is_given():
    with pytest.raises(ConfigError, match="unknown fault 'disk-full'"):
        make_fault("disk-full", 0, 60, {})
    with pytest.raises(ConfigError, match="needs count"):
        make_fault("errors", 0, 60, {})
    with pytest.raises(ConfigError, match="takes no parameters, not count"):
        make_fault("api-down", 0, 60, {"count": 3})
    with pytest.raises(ConfigError, match="count is a int"):
        make_fault("errors", 0, 60, {"count": "30"})
    with pytest.raises(ConfigError, match="duration above zero"):
        make_fault("db-down", 0, 0, {})


def test_a_reader_sees_each_fault_added_and_its_window(tmp_path):
    path = tmp_path / "faults.json"
    reader = FaultReader(path)
    assert reader.faults() == []
    add_fault(path, make_fault("db-down", 1000, 100, {}))
    assert reader.active("db-down", 1000) is not None
    assert reader.active("db-down", 1100) is None  # the window's end is outside it
    assert reader.active("api-down", 1050) is None
    add_fault(path, make_fault("errors", 2000, 600, {"count": 3}))
    assert [f.kind for f in reader.faults()] == ["db-down", "errors"]
    assert reader.of("errors")[0].event_times() == [2100.0, 2300.0, 2500.0]
