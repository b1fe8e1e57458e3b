"""``cutover watch``: the monitoring week, unattended. One process, no UI.

Each loop turn runs what is due and sleeps on the injected clock until the next thing is due
(so the rehearsal's movable clock runs the week in seconds with the same code):

- every red-flag rule's probe on its interval (a scheduled job's check ``grace`` after each of
  its UTC times), each observation judged by the rule's state machine (``rules.py``) and kept
  in the SQLite store beside the checklist (``store.py``: samples, rule states, notifications,
  the heartbeat), so a restarted watcher goes on where it stopped;
- each day's checks of the monitoring phase once they are due, run by the engine as those
  steps (recorded "by watch" with their evidence; manual confirmations are left for a person);
- a heartbeat, so the wizard and ``cutover check`` can say whether a watcher runs.

A rule's transition goes to the run record (``record.py``); firing and resolved are notified
through Apprise in a background task that never holds the loop up, unless a silence covers the
rule (then the record says the notice was silenced). The week is watched from the announcement
(its step done) until the destroy is done, and not while a rollback is under way: a rolled-back
new production is stopped on purpose and is not a red flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..clock import iso
from ..durations import parse_duration
from ..errors import CutoverError
from ..records import FINISHED, StepState
from ..runbook.models import RedFlag
from ..session import Session
from .days import Day, announced_at, monitoring_days
from .notify import Notifier
from .probes import Probed, probe
from .record import active_silence, flag_tables, record_notification, record_transition
from .rules import RuleSpec, RuleState, Transition, evaluate, initial
from .store import WatchStore

BEAT_EVERY = 30.0  # seconds between heartbeats when nothing else is due
DAY_RETRY = 3600.0  # a day's checks that could not run now are tried again this much later
KEEP_SAMPLES = 14 * 86400.0
NOTIFY_ON = ("firing", "resolved")


def rule_spec(flag: RedFlag) -> RuleSpec:
    if flag.for_ is not None:
        return RuleSpec(flag.id, "for", parse_duration(flag.for_), flag.resolve_after)
    if flag.consecutive is not None:
        return RuleSpec(flag.id, "consecutive", float(flag.consecutive), flag.resolve_after)
    assert flag.per_hour_above is not None  # one trigger each (checked at load)
    return RuleSpec(flag.id, "rate", flag.per_hour_above, flag.resolve_after)


def scheduled_times(after: float, until: float, times: Sequence[str], grace: float) -> list[float]:
    """Each HH:MM UTC in ``times`` plus ``grace`` that falls in (after, until]."""
    out = []
    day = after - after % 86400 - 86400
    while day <= until:
        for text in times:
            hour, minute = (int(x) for x in text.split(":"))
            at = day + hour * 3600 + minute * 60 + grace
            if after < at <= until:
                out.append(at)
        day += 86400
    return sorted(out)


@dataclass
class WatchState:
    """What the loop knows between turns."""

    rules: dict[str, RuleState] = field(default_factory=dict)
    next_probe: dict[str, float] = field(default_factory=dict)
    last_probe: dict[str, float] = field(default_factory=dict)
    days_done: set[tuple[str, int]] = field(default_factory=set)
    day_retry: dict[tuple[str, int], float] = field(default_factory=dict)
    attempt: int = 1
    notices: set[asyncio.Task[None]] = field(default_factory=set)


class Watcher:
    def __init__(self, session: Session, store: WatchStore, notifier: Notifier | None = None, *,
                 out: Callable[[str], None] = print, workdir: Path | None = None,
                 min_interval: float = 0.0,
                 after_day: Callable[[Day], Awaitable[None]] | None = None):
        self.session = session
        self.book = session.book
        self.checklist = session.checklist
        self.engine = session.engine
        self.clock = session.engine.clock
        self.store = store
        self.notifier = notifier
        self.out = out
        self.workdir = workdir or Path.cwd()
        # The rehearsal probes less often than the runbook says, to run a week in seconds;
        # the triggers' durations and counts are the runbook's.
        self.min_interval = min_interval
        # Called once a day's unattended checks ran (the rehearsal's person confirms the rest).
        self.after_day = after_day
        self.flags = [flag for flag in self.book.red_flags if flag.watched]
        self.state = WatchState()
        self.started_at = self.clock.time()
        self.transitions: list[Transition] = []

    # ------------------------------------------------------------------ the record

    def watching_from(self) -> float | None:
        """The announcement's time when the week is being watched now, else None."""
        records = self.checklist.records
        rollback = self.book.rollback
        if rollback and any(records[s.id].state is not StepState.PENDING for s in rollback.steps):
            return None  # a rollback is under way: new production is stopped on purpose
        return announced_at(self.book, records)

    def finished(self) -> bool:
        """The week is over for good: every destroy step done (nothing left to protect)."""
        records = self.checklist.records
        destroys = [s.id for _, s in self.book.steps() if s.kind == "droplet_destroy"]
        return bool(destroys) and all(records[d].state is StepState.DONE for d in destroys)

    # ------------------------------------------------------------------ one turn

    def restore(self) -> None:
        """Rule states from the store (a restarted watcher goes on where it stopped)."""
        run = self.checklist.read().get("run", {})
        attempt = run.get("attempt", 1) if isinstance(run, dict) else 1
        self.state.attempt = attempt if isinstance(attempt, int) else 1
        saved = self.store.load_states()
        recorded = flag_tables(self.checklist.data)
        for flag in self.flags:
            state = saved.get(flag.id) or initial(flag.id)
            table = recorded.get(flag.id)
            shown = table.get("state") if isinstance(table, dict) else None
            if state.state in ("pending", "firing") and shown != state.state:
                # The record does not show it: a re-attempt archived that week, or the record
                # could not be written when it moved. Start it again rather than trust it.
                state = initial(flag.id)
            self.state.rules[flag.id] = state

    def _follow_attempt(self) -> None:
        """A re-attempt (``cutover reattempt``) archived the last week's flags: start every rule
        and day again, in memory and in the store, for the new week."""
        run = self.checklist.data.get("run", {})
        attempt = run.get("attempt", 1) if isinstance(run, dict) else 1
        attempt = attempt if isinstance(attempt, int) else 1
        if attempt == self.state.attempt:
            return
        fresh = WatchState(attempt=attempt)
        fresh.rules = {flag.id: initial(flag.id) for flag in self.flags}
        self.state = fresh  # guard: reattempt-resets-watch
        for state in fresh.rules.values():
            self.store.save_state(state)
        self.out(f"attempt {attempt}: every rule and day starts again from its announcement")

    def next_probe_at(self, flag: RedFlag, start: float, now: float) -> float:
        last = self.state.last_probe.get(flag.id) or self.state.rules[flag.id].last_at
        after = max(start, last or start)
        if flag.after_utc:  # a scheduled job's check: the latest one missed, else the next
            grace = parse_duration(flag.grace)
            missed = scheduled_times(after, now, flag.after_utc, grace)
            if missed:
                return missed[-1]
            return scheduled_times(now, now + 3 * 86400, flag.after_utc, grace)[0]
        interval = max(parse_duration(flag.interval), self.min_interval)
        if last is None:
            return now
        # On a grid from the week's start: rules of one interval are probed in the same turn.
        return start + (int((last - start) // interval) + 1) * interval

    async def turn(self) -> float:
        """Run everything due now; returns when the next thing is due (the clock's time)."""
        now = self.clock.time()
        self.checklist.read()
        self._follow_attempt()
        start = self.watching_from()
        self.store.beat(os.getpid(), socket.gethostname(), self.started_at, now)
        beat = max(BEAT_EVERY, self.min_interval)  # the rehearsal's clock: no 30 s turns
        if start is None or self.finished():
            return now + beat
        due = [flag for flag in self.flags
               if self.state.next_probe.setdefault(flag.id, self.next_probe_at(flag, start, now))
               <= now]
        probed = await asyncio.gather(*(self.probe_flag(flag) for flag in due))
        for flag, result in zip(due, probed, strict=True):
            self.judge(flag, result)
            self.state.next_probe[flag.id] = self.next_probe_at(flag, start, self.clock.time())
        await self.run_due_days(now)
        if due:
            self.store.prune(now - KEEP_SAMPLES)
        upcoming = [*self.state.next_probe.values(), now + beat]
        upcoming += [d.due_at for d in monitoring_days(self.book, self.checklist.records)
                     if d.due_at is not None and d.due_at > now]
        return min(upcoming)

    async def probe_flag(self, flag: RedFlag) -> Probed:
        return await probe(self.book, flag, ssh=self.engine.ssh, web=self.engine.web,
                           clock=self.clock, masker=self.engine.masker, workdir=self.workdir)

    def judge(self, flag: RedFlag, result: Probed) -> None:
        obs = result.observation
        self.state.last_probe[flag.id] = obs.at
        self.store.add_sample(flag.id, obs)
        if not result.answered and not flag.unanswered_is_bad:
            return  # no evidence either way for this rule (another rule covers "no answer")
        state, transition = evaluate(rule_spec(flag), self.state.rules[flag.id], obs)
        self.state.rules[flag.id] = state
        if transition is not None:
            # Recorded (and its notice queued) before the state is saved: if the record cannot
            # be written the watcher stops with the old state kept, and the one started after it
            # makes the same transition again instead of forgetting it.
            self._on_transition(flag, transition)
        self.store.save_state(state)

    def _on_transition(self, flag: RedFlag, transition: Transition) -> None:
        self.transitions.append(transition)
        masker = self.engine.masker
        record_transition(self.checklist, transition, flag.description, masker)
        self.out(f"{iso(transition.at)} red flag {flag.id}: {transition.from_state} → "
                 f"{transition.to_state}" + (f" ({masker(transition.detail)})"
                                             if transition.detail else ""))
        if transition.to_state not in NOTIFY_ON:
            return
        silence = active_silence(self.checklist.data, flag.id, transition.at)
        if silence is not None:
            line = (f"{iso(transition.at)} {transition.to_state} → not sent: silenced until "
                    f"{iso(silence.until)} by {silence.by} ({silence.reason})")
            record_notification(self.checklist, flag.id, masker(line))
            return
        if self.notifier is None or not self.notifier.urls:
            return
        task = asyncio.ensure_future(self._notify(flag, transition))
        self.state.notices.add(task)
        task.add_done_callback(self.state.notices.discard)

    async def _notify(self, flag: RedFlag, transition: Transition) -> None:
        assert self.notifier is not None
        title, body = notice(self.book, flag, transition)
        masker = self.engine.masker
        delivery = await self.notifier.send(masker(title), masker(body))
        self.store.add_notification(flag.id, transition.to_state, transition.at,
                                    ", ".join(delivery.targets), delivery.ok, delivery.attempts,
                                    delivery.error)
        result = (f"delivered ({delivery.attempts} attempt{'s' * (delivery.attempts != 1)})"
                  if delivery.ok else f"FAILED after {delivery.attempts}: {delivery.error}")
        line = f"{iso(transition.at)} {transition.to_state} → {', '.join(delivery.targets)} {result}"
        with contextlib.suppress(CutoverError):  # a notice never stops the watch
            record_notification(self.checklist, flag.id, masker(line))
        self.out(f"  notification for {flag.id} {transition.to_state}: {masker(result)}")

    async def run_due_days(self, now: float) -> None:
        for day in monitoring_days(self.book, self.checklist.records):
            key = (day.phase_id, day.number)
            if day.due_at is None or day.due_at > now or key in self.state.days_done:
                continue
            if self.state.day_retry.get(key, 0.0) > now:
                continue
            if not await self._run_day(day):
                self.state.day_retry[key] = now + DAY_RETRY  # a gate or another's step: later
                continue
            self.state.days_done.add(key)
            if self.after_day is not None:
                await self.after_day(day)

    async def _run_day(self, day: Day) -> bool:
        """Run the day's unattended checks; True when each ended (done, failed or skipped:
        recorded either way), False when one could not run now (tried again later)."""
        records = self.checklist.records
        for step_id in day.unattended:
            if records[step_id].state in FINISHED:
                continue
            try:
                verdict = await self.engine.run_step(step_id)
            except CutoverError as exc:  # a gate, or a step another operator is running
                self.out(f"day {day.number}: {step_id} not run: {exc}")
                return False
            self.out(f"day {day.number}: {step_id} {verdict.final_state}: {verdict.summary}")
            if verdict.final_state not in FINISHED and verdict.final_state != "failed":
                return False
        return True

    # ------------------------------------------------------------------ the loop

    async def run(self, until: float | None = None) -> int:
        """Watch until the destroy is done (0), or until ``until`` on the clock (0)."""
        self.restore()
        self.out(f"watching {len(self.flags)} rule(s) of {self.book.runbook.id}; record "
                 f"{self.checklist.path}; store {self.store.path}")
        try:
            while not self.finished():
                next_at = await self.turn()
                if until is not None:
                    if self.clock.time() >= until:
                        break
                    next_at = min(next_at, until)
                await self.clock.sleep(max(0.0, next_at - self.clock.time()))
        finally:
            await self.drain()
        return 0

    async def drain(self, timeout: float = 60.0) -> None:
        """Let notifications under way finish (each is bounded by its own retries)."""
        if self.state.notices:
            await asyncio.wait(list(self.state.notices), timeout=timeout)


def notice(book: object, flag: RedFlag, transition: Transition) -> tuple[str, str]:
    """A notification's title and body: the rule, its values, the host, what to do."""
    runbook = getattr(book, "runbook", None)
    name = getattr(runbook, "title", "cutover")
    where = flag.host or getattr(flag, "step", "") or ""
    if transition.to_state == "firing":
        title = f"RED FLAG {flag.id} firing: {flag.description}"
        values = "\n".join(f"  {v}" for v in transition.values[-5:])
        body = (f"{name}\nrule {flag.id} ({flag.trigger or flag.description}) fired at "
                f"{iso(transition.at)} on {where}.\nValues:\n{values}\n\nWhat to do: open the "
                "rollback procedure in the wizard (cutover run … → the rollback phase) and "
                "follow it; the destroy stays refused while this flag fires.")
    else:
        title = f"resolved: red flag {flag.id} ({flag.description})"
        body = (f"{name}\nrule {flag.id} resolved at {iso(transition.at)} on {where}: "
                f"{transition.detail}")
    return title, body
