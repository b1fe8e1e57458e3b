"""Red-flag rules: a state machine per rule, fed one probe observation at a time.

``evaluate(spec, state, obs)`` is pure: it never reads a clock or a file, every decision comes
from the observations' ``at``. So the week can be rehearsed on a movable clock, each case is a
unit test, and a watcher that restarts continues where it left (``RuleState.to_dict`` /
``from_dict`` through the store).

States: ``ok`` → ``pending`` → ``firing`` → ``resolved`` (which behaves like ``ok`` for the
next episode). A ``Transition`` is returned only when the state changes.

Triggers, each borrowed from a monitor that learnt it the hard way:

- ``for`` (Prometheus ``for:``): a bad observation starts an episode (*pending*, ``first_seen``);
  the rule fires once the condition has held ``threshold`` seconds (``at - first_seen``). One
  good observation clears a pending episode, as in Prometheus, so a single failed probe or a
  10-minute outage never fires a 1-hour rule. A gap with no observations longer than
  ``max_gap`` while pending (the watcher was down) restarts the episode at the next
  observation: nobody saw the condition hold through the gap (Prometheus'
  ``--rules.alert.for-outage-tolerance``); a shorter gap, a restart, keeps it.
- ``consecutive`` (Gatus ``failure-threshold``): ``threshold`` bad observations in a row fire;
  pending while the streak is shorter; a good observation resets the streak. No gap rule: the
  scraper's scheduled runs are 12 hours apart by design.
- ``rate`` (Prometheus ``increase()``): the observation's ``value`` is a counter (total
  errors); the rule is bad while its increase over the last hour is above ``threshold``. A
  counter that goes down was reset (a restart): counting goes on from 0, as ``increase()``
  does. Bad fires at once, with no pending: the hour is already in the measure. A failed
  probe (``ok`` False) is no evidence either way: no transition, streaks kept. The API not
  answering is the health rule's business, and counting it here would fire twice for one cause.

Resolving (Gatus ``success-threshold``): a firing rule resolves after ``resolve_after`` good
observations in a row; a bad one in between starts the count again, so a flapping service is
never reported resolved between its failures.

``recent`` keeps ``(at, value, ok)`` for the last hour, at most ``RECENT_CAP`` entries: the
sparkline's data and, for a rate, the window. A rate's values there are the counter with resets
corrected (``value + counter_offset``), so the window can be thinned (every other entry dropped
when a probe is faster than once a minute) without losing a reset; the hour is then counted from
the newest entry kept at or before an hour ago, at most a minute or two more than the hour.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

Trigger = Literal["for", "consecutive", "rate"]
State = Literal["ok", "pending", "firing", "resolved"]
TRIGGERS: tuple[Trigger, ...] = ("for", "consecutive", "rate")
STATES: tuple[State, ...] = ("ok", "pending", "firing", "resolved")
HOUR = 3600.0
RECENT_CAP = 60  # entries kept in ``recent`` (a sparkline's width; a rate's hour)
FIRED_VALUES_CAP = 10  # the first bad observation of an episode and the latest nine

Entry = tuple[float, float | None, bool]  # (at, value, ok)


@dataclass(frozen=True)
class RuleSpec:
    """One red flag's trigger (the runbook model validates the same before building one)."""

    id: str
    trigger: Trigger
    threshold: float  # seconds for "for"; a count for "consecutive"; a per-hour bound for "rate"
    resolve_after: int = 2  # good observations in a row that resolve a firing rule
    max_gap: float = 3600.0  # "for": the longest silence a pending episode survives

    def __post_init__(self) -> None:
        if self.trigger not in TRIGGERS:
            raise ValueError(f"rule {self.id}: trigger must be one of {', '.join(TRIGGERS)}")
        if self.threshold < 0 or (self.trigger == "consecutive" and self.threshold < 1):
            raise ValueError(f"rule {self.id}: threshold {self.threshold} is out of range")
        if self.resolve_after < 1 or self.max_gap <= 0:
            raise ValueError(f"rule {self.id}: resolve_after must be >= 1 and max_gap > 0")


@dataclass(frozen=True)
class Observation:
    """One probe result."""

    at: float  # clock time
    ok: bool  # the probe's verdict; for a rate probe: the probe answered
    value: float | None  # a measured number (latency ms, a total_errors counter) or None
    detail: str  # a few words: "HTTP 503", "connection refused", "total_errors 31"


@dataclass(frozen=True)
class Transition:
    """A rule changed state at ``at``; ``values`` are the observations that fired it."""

    rule: str
    from_state: State
    to_state: State
    at: float
    values: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class RuleState:
    """Where a rule stands; JSON-serialisable (``to_dict``/``from_dict``) for the store."""

    rule: str
    state: State = "ok"
    first_seen: float | None = None  # first bad observation of the current episode
    fired_at: float | None = None
    resolved_at: float | None = None
    bad_streak: int = 0
    good_streak: int = 0
    last_at: float | None = None  # the last observation's time
    fired_values: tuple[str, ...] = ()  # "<UTC time> <detail>" of the episode's bad observations
    recent: tuple[Entry, ...] = ()
    counter_last: float | None = None  # "rate": the counter's last value, as measured
    counter_offset: float = 0.0  # "rate": the sum of the counter's values before each reset

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "state": self.state, "first_seen": self.first_seen,
            "fired_at": self.fired_at, "resolved_at": self.resolved_at,
            "bad_streak": self.bad_streak, "good_streak": self.good_streak,
            "last_at": self.last_at, "fired_values": list(self.fired_values),
            "recent": [list(entry) for entry in self.recent],
            "counter_last": self.counter_last, "counter_offset": self.counter_offset,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleState:
        """The state ``to_dict`` wrote; ValueError naming what is wrong otherwise."""
        try:
            state = data["state"]
            if state not in STATES:
                raise ValueError(f"unknown state {state!r}")
            return cls(
                rule=str(data["rule"]), state=cast(State, state),
                first_seen=_number(data.get("first_seen")),
                fired_at=_number(data.get("fired_at")),
                resolved_at=_number(data.get("resolved_at")),
                bad_streak=int(data.get("bad_streak", 0)),
                good_streak=int(data.get("good_streak", 0)),
                last_at=_number(data.get("last_at")),
                fired_values=tuple(str(v) for v in data.get("fired_values", ())),
                recent=tuple((float(at), _number(value), bool(ok))
                             for at, value, ok in data.get("recent", ())),
                counter_last=_number(data.get("counter_last")),
                counter_offset=float(data.get("counter_offset", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a rule state ({exc})") from None


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def initial(rule_id: str) -> RuleState:
    return RuleState(rule=rule_id)


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def evaluate(spec: RuleSpec, state: RuleState,
             obs: Observation) -> tuple[RuleState, Transition | None]:
    """The rule's state after ``obs``, and the transition if the state changed."""
    if state.rule != spec.id:
        raise ValueError(f"state of rule {state.rule} evaluated against rule {spec.id}")
    if spec.trigger == "rate":
        return _evaluate_rate(spec, state, obs)
    recorded = replace(state, last_at=obs.at,
                       recent=_window(state.recent, (obs.at, obs.value, obs.ok), rate=False))
    line = f"{stamp(obs.at)} {obs.detail}"
    return _step(spec, state, recorded, bad=not obs.ok, line=line, detail=obs.detail, at=obs.at)


def _evaluate_rate(spec: RuleSpec, state: RuleState,
                   obs: Observation) -> tuple[RuleState, Transition | None]:
    if not obs.ok or obs.value is None:  # no evidence either way: only the sparkline learns
        return replace(state, last_at=obs.at,
                       recent=_window(state.recent, (obs.at, None, False), rate=True)), None
    offset = state.counter_offset
    if state.counter_last is not None and obs.value < state.counter_last:  # a reset: from 0
        offset += state.counter_last
    recent = _window(state.recent, (obs.at, obs.value + offset, True), rate=True)
    count = increase(recent)
    said = f"{count:g} errors in the last hour"
    recorded = replace(state, last_at=obs.at, recent=recent, counter_last=obs.value,
                       counter_offset=offset)
    return _step(spec, state, recorded, bad=count > spec.threshold,
                 line=f"{stamp(obs.at)} {said}", detail=f"{said} ({obs.detail})", at=obs.at)


def _step(spec: RuleSpec, before: RuleState, now: RuleState, *, bad: bool, line: str,
          detail: str, at: float) -> tuple[RuleState, Transition | None]:
    """The state machine shared by the triggers; ``now`` already holds the observation."""
    if bad:
        silent = at - before.last_at if before.last_at is not None else 0.0
        now = _on_bad(spec, now, line, at, restart=silent > spec.max_gap)
    else:
        now = _on_good(spec, now, at)
    if now.state == before.state:
        return now, None
    values = now.fired_values if now.state in ("firing", "resolved") else ()
    return now, Transition(spec.id, before.state, now.state, at, values, detail)


def _on_bad(spec: RuleSpec, now: RuleState, line: str, at: float, *, restart: bool) -> RuleState:
    """``restart``: no observation for longer than ``max_gap`` before this one."""
    if now.state == "firing":
        return replace(now, bad_streak=now.bad_streak + 1, good_streak=0)
    # Nobody saw a "for" condition hold through a long silence: its episode starts again.
    gap = now.state == "pending" and spec.trigger == "for" and restart
    if now.state in ("ok", "resolved") or gap:
        # A new episode; what the last one recorded is the checklist's history now.
        now = replace(now, state="pending", first_seen=at, fired_at=None, resolved_at=None,
                      bad_streak=1, good_streak=0, fired_values=(line,))
    else:
        now = replace(now, bad_streak=now.bad_streak + 1, good_streak=0,
                      fired_values=_keep_values(now.fired_values, line))
    if _holds(spec, now, at):
        now = replace(now, state="firing", fired_at=at)
    return now


def _on_good(spec: RuleSpec, now: RuleState, at: float) -> RuleState:
    good = now.good_streak + 1
    if now.state == "firing":
        if good >= spec.resolve_after:
            return replace(now, state="resolved", resolved_at=at, bad_streak=0, good_streak=good)
        return replace(now, good_streak=good)
    if now.state == "pending":  # one good observation clears a pending episode
        return replace(now, state="ok", first_seen=None, bad_streak=0, good_streak=good,
                       fired_values=())
    return replace(now, bad_streak=0, good_streak=good)


def _holds(spec: RuleSpec, now: RuleState, at: float) -> bool:
    """Whether the current episode is long enough to fire."""
    if spec.trigger == "for":
        return now.first_seen is not None and at - now.first_seen >= spec.threshold
    if spec.trigger == "consecutive":
        return now.bad_streak >= spec.threshold
    return True  # rate: the hour is in the measure


def _keep_values(values: tuple[str, ...], line: str) -> tuple[str, ...]:
    """The episode's first bad observation (when it started) and the latest ones."""
    if len(values) < FIRED_VALUES_CAP:
        return (*values, line)
    return (values[0], *values[2:], line)


def _window(recent: tuple[Entry, ...], entry: Entry, *, rate: bool) -> tuple[Entry, ...]:
    """``recent`` with ``entry`` added: the last hour, at most ``RECENT_CAP`` entries. A rate
    also keeps its baseline (its newest valued entry at or before an hour ago), and is thinned
    rather than cut so the hour stays an hour."""
    entries = [*recent, entry]
    horizon = entry[0] - HOUR
    start = next((i for i, (at, _, _) in enumerate(entries) if at > horizon), len(entries))
    if rate:
        base = [i for i, (at, value, _) in enumerate(entries[:start]) if value is not None]
        start = base[-1] if base else start
    kept = entries[start:]
    if not rate:
        return tuple(kept[-RECENT_CAP:])
    while len(kept) > RECENT_CAP:
        kept = [kept[0], *kept[1:-1][1::2], kept[-1]]
    return tuple(kept)


def increase(recent: tuple[Entry, ...]) -> float:
    """A rate window's counter increase: its newest corrected value minus its oldest."""
    values = [value for _, value, _ in recent if value is not None]
    return values[-1] - values[0] if len(values) > 1 else 0.0
