"""The monitoring week in the rehearsal: ``cutover watch``'s watcher runs the week on the movable
clock (its own session, operator ``watch``, on the demo's run record), optionally with an
incident injected on day 4 in the world, and ``cutover demo --headless --incident RULE`` judges
the outcome: exit 0 only if that rule fired and no other did, a notification reached
``CUTOVER_NOTIFY`` (or the demo's own sink, whose messages are printed), the destroy was refused
naming the flag, and the rollback drill brought the old production back.

The incidents are the world's faults (``World.inject``), as the real app would show them:
``health`` the API down for 2 h; ``scraper`` three scheduled scrapes failing; ``database`` the
database unreachable for an hour; ``dashboard`` the dashboard down for an hour; ``error-rate``
30 errors in an hour. Every week also has two blips that must not fire anything: a single
failed probe's worth of API outage (5 minutes) and a 10-minute one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ..monitor.days import Day, announced_at, monitoring_days, week_end
from ..monitor.notify import Notifier, notify_urls
from ..monitor.rules import Transition
from ..monitor.store import WatchStore, store_path
from ..monitor.watch import Watcher, scheduled_times
from ..operator import HeadlessOperator
from .sink import NotifySink

INCIDENTS = ("health", "scraper", "database", "dashboard", "error-rate")
DAY = 86400.0
PROBE_EVERY = 900.0  # the rehearsal probes every 15 minutes: a week in under a minute
NEW_HOST = "new"


@dataclass
class WeekResult:
    fired: set[str] = field(default_factory=set)
    transitions: list[Transition] = field(default_factory=list)
    received: list[dict[str, object]] = field(default_factory=list)
    notify_lines: list[str] = field(default_factory=list)


def schedule_incident(world: object, rule: str, announced: float) -> str:
    """Inject ``rule``'s incident on day 4 (3 days after the announcement, 2 h in); its
    description."""
    inject = world.inject  # type: ignore[attr-defined]
    start = announced + 3 * DAY + 2 * 3600
    if rule == "health":
        inject(NEW_HOST, "api-down", start, 2 * 3600)
        return "the API down for 2 h"
    if rule == "scraper":
        runs = scheduled_times(announced + 3 * DAY, announced + 6 * DAY, ["05:00", "17:00"], 0)
        inject(NEW_HOST, "scrape-fail", runs[0] - 60, runs[2] - runs[0] + 120)
        return "three scheduled scrapes failing"
    if rule == "database":
        inject(NEW_HOST, "db-down", start, 3600)
        return "the database unreachable for 1 h"
    if rule == "dashboard":
        inject(NEW_HOST, "dashboard-down", start, 3600)
        return "the dashboard down for 1 h"
    if rule == "error-rate":
        inject(NEW_HOST, "errors", start, 3600, count=30)
        return "30 errors in an hour"
    raise ValueError(f"no incident {rule!r}; one of {', '.join(INCIDENTS)}")


def schedule_blips(world: object, announced: float) -> None:
    """Outages the rules must ride out: 5 minutes on day 2, 10 minutes on day 5."""
    inject = world.inject  # type: ignore[attr-defined]
    inject(NEW_HOST, "api-down", announced + DAY + 5 * 3600, 300)
    inject(NEW_HOST, "api-down", announced + 4 * DAY + 5 * 3600, 600)


async def watch_the_week(rehearsal: object, out: Callable[[str], None],
                         incident: str | None = None) -> WeekResult:
    """Run the watcher from the announcement to an hour after the last day's checks are due,
    with ``incident`` (and the blips) injected in the world. Notifications go to
    ``CUTOVER_NOTIFY``, else to a loopback sink started here."""
    from ..session import open_session

    world = rehearsal.world  # type: ignore[attr-defined]
    session = rehearsal.session  # type: ignore[attr-defined]
    book = session.book
    records = session.checklist.records
    announced = announced_at(book, records)
    if announced is None:
        raise RuntimeError("the announcement has not been recorded: nothing to watch from")
    schedule_blips(world, announced)
    if incident:
        out(f"incident on day 4: {schedule_incident(world, incident, announced)}")
    sink = None
    urls = notify_urls(list(book.notify))
    if not urls:
        sink = NotifySink().start()
        urls = [sink.url]
        out(f"notifications: CUTOVER_NOTIFY is unset; a local sink takes them at {sink.url}")
    async def a_person_on_the_day(day: Day) -> None:
        """The day's confirmations (the digest in the inbox) by the demo's operator, that day."""
        from ..runner import run_steps

        manual = [s for s in day.steps if s not in day.unattended]
        await run_steps(session, manual, out)

    watch_session = open_session(book, HeadlessOperator("watch", say=lambda _t: None),
                                 state=session.checklist.path, clock=world.clock,
                                 droplets=world.droplet_api, workdir=world.root)
    store = WatchStore(store_path(session.checklist.path))
    watcher = Watcher(watch_session, store, Notifier(urls, backoff=(1, 2)), out=out,
                      workdir=world.root, min_interval=PROBE_EVERY,
                      after_day=a_person_on_the_day)
    end = week_end(monitoring_days(book, records))
    assert end is not None  # announced
    try:
        await watcher.run(until=end + 3600)
    finally:
        await watch_session.aclose()
        store.close()
        if sink is not None:
            sink.stop()
    session.checklist.read()
    result = WeekResult(transitions=list(watcher.transitions))
    result.fired = {t.rule for t in watcher.transitions if t.to_state == "firing"}
    result.received = list(sink.received) if sink else []
    for rule, table in (session.checklist.data.get("red_flags") or {}).items():
        result.notify_lines += [f"{rule}: {line}" for line in table.get("notifications", [])]
    return result


def incident_verdict(rule: str | None, week: WeekResult, destroy_summary: str,
                     destroy_ok: bool, rollback_ok: bool) -> list[str]:
    """What failed of the demo's promises (empty: it kept them all)."""
    problems = []
    expected = {rule} if rule else set()
    if week.fired != expected:
        problems.append(f"fired: {', '.join(sorted(week.fired)) or 'nothing'}; expected "
                        f"{', '.join(sorted(expected)) or 'nothing'}")
    if rule:
        sent = [line for line in week.notify_lines if line.startswith(f"{rule}: ")
                and "firing" in line and "delivered" in line]
        if not sent:
            problems.append(f"no notification of {rule} firing was delivered")
        if destroy_ok or f"red flag {rule}" not in destroy_summary:
            problems.append(f"the destroy was not refused naming red flag {rule}")
        if not rollback_ok:
            problems.append("the rollback drill did not bring the old production back")
    elif not destroy_ok:
        problems.append(f"the destroy did not happen: {destroy_summary}")
    return problems


def notify_env_set() -> bool:
    return bool(os.environ.get("CUTOVER_NOTIFY", "").strip())
