"""The rehearsal app's scheduler (``air-demand-scheduler``): APScheduler's two cron jobs, a
Paraform scrape at each of ``SCRAPE_HOURS`` and a digest at ``DIGEST_HOUR`` (UTC), run for every
scheduled time the world's movable clock passes, logged as APScheduler logs them. A good scrape
records its run in the database; a job fails as the host's faults say at the time it was
scheduled for (``sandbox.faults``), with the traceback APScheduler logs for a job that raised.
The app's check_health.py reads the state it keeps in ``scheduler.json``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from . import apperrors
from .apperrors import Crash
from .errormonitor import iso
from .faults import SCRAPE_ERROR, FaultReader
from .hostenv import HostEnv

TICK = 0.05  # how often the scheduler looks at the world's clock (seconds of real time)


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


EXECUTOR = "INFO:apscheduler.executors.default"


class Jobs:
    """The scheduler's two jobs, each run for one scheduled time: its journal lines, and for a
    scrape the run recorded in the database and in the scheduler's state. A job fails as the
    host's faults say at the time it was scheduled for."""

    def __init__(self, env: HostEnv, state: SchedulerState):
        settings = env.read_env_file()
        self.env = env
        self.state = state
        self.faults = FaultReader(env.faults_file)
        self.scrape_hours = [int(h) for h in settings.get("SCRAPE_HOURS", "3,15").split(",")
                             if h.strip()]
        self.digest_hour = int(settings.get("DIGEST_HOUR", "4"))
        self.recipient = settings.get("DIGEST_RECIPIENT", "team@example.com")
        self.database_url = settings.get("DATABASE_URL", "")

    def _database_down(self, at: float, frames: list[str]) -> Crash | None:
        if self.faults.active("db-down", at) is None:
            return None
        return apperrors.database_crash(self.env.app_dir, self.database_url, frames)

    def scrape(self, at: float) -> list[str]:
        job = _job("scrape_paraform", self.scrape_hours, at)
        fetched, new_roles = 180 + int(at) % 61, int(at) % 17
        app = self.env.app_dir
        unreachable = self.faults.active("scrape-fail", at)
        crash = (apperrors.paraform_unreachable(app, unreachable.params.get("error", SCRAPE_ERROR))
                 if unreachable else self._database_down(at, apperrors.scrape_save_frames(app)))
        if crash is None:
            try:
                _record_scrape(self.env, at, new_roles)
            except sqlite3.Error as exc:
                message = f"(sqlite3.OperationalError) {exc}"
                crash = Crash("sqlalchemy.exc.OperationalError", message,
                              [*apperrors.scrape_save_frames(app),
                               f"sqlalchemy.exc.OperationalError: {message}"])
        running = f'{EXECUTOR}:Running job "{job}" (scheduled at {_scheduled(at)})'
        self.state["last_scrape_at"] = at
        if crash is not None:
            # The database is not updated; check_health.py reports the last scrape FAILED
            # until a good one comes.
            self.state.update({"last_scrape_status": "failed", "last_new_roles": None})
            return [running, *apperrors.job_failed(app, job, crash)]
        self.state.update({"scrapes": self.state["scrapes"] + 1,
                           "last_scrape_status": "success", "last_new_roles": new_roles})
        return [running, f"INFO:app.scrapers.paraform:Fetched {fetched} roles from Paraform: "
                         f"{new_roles} new, {fetched - new_roles} updated",
                f'{EXECUTOR}:Job "{job}" executed successfully']

    def digest(self, at: float) -> list[str]:
        job = _job("send_daily_digest", [self.digest_hour], at)
        running = f'{EXECUTOR}:Running job "{job}" (scheduled at {_scheduled(at)})'
        crash = self._database_down(at, apperrors.digest_frames(self.env.app_dir))
        if crash is not None:
            return [running, *apperrors.job_failed(self.env.app_dir, job, crash)]
        return [running, f"INFO:app.services.digest:Daily digest emailed to {self.recipient} "
                         f"({int(at) % 23} roles)",
                f'{EXECUTOR}:Job "{job}" executed successfully']


def _scheduled(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(sep=" ")


def _record_scrape(env: HostEnv, at: float, new_roles: int) -> None:
    """A good scrape leaves its run in the database (the seed: "database updated")."""
    with contextlib.closing(env.open_database()) as db, db:
        next_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM scrape_runs").fetchone()[0]
        db.execute("INSERT INTO scrape_runs VALUES (?, ?, 'completed', ?)",
                   (next_id, iso(at), new_roles))


def scheduler(env: HostEnv, unit: str) -> None:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    last = env.now()
    for name in ("scrape_paraform", "send_daily_digest"):
        env.log(unit, f'INFO:apscheduler.scheduler:Added job "{name}" to job store "default"')
    env.log(unit, "INFO:apscheduler.scheduler:Scheduler started")
    # What the app's scripts/check_health.py reads: the scheduler's pid and its last scrape.
    state: SchedulerState = {"pid": os.getpid(), "started_at": last, "scrapes": 0,
                             "last_scrape_at": None, "last_scrape_status": None,
                             "last_new_roles": None}
    env.scheduler_state.write_text(json.dumps(state))
    jobs = Jobs(env, state)
    while not stopping.wait(TICK):
        now = env.now()
        events = [(t, jobs.scrape) for t in scheduled_between(last, now, jobs.scrape_hours)]
        events += [(t, jobs.digest) for t in scheduled_between(last, now, [jobs.digest_hour])]
        for at, run in sorted(events, key=lambda event: event[0]):
            for line in run(at):
                env.log(unit, line, at=at)
        if events:
            tmp = env.scheduler_state.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, env.scheduler_state)
        last = now
    env.log(unit, "INFO:apscheduler.scheduler:Scheduler has been shut down")

