"""The red-flag state machine (cutover_tui/monitor/rules.py), fed observations with chosen
times: every trigger kind, resolving without flapping, and a restart through JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cutover_tui.monitor.rules import (
    RECENT_CAP,
    Observation,
    RuleSpec,
    RuleState,
    Transition,
    evaluate,
    initial,
)

T0 = 1_790_000_000.0  # 2026-09-21T…Z
MIN = 60.0
HEALTH = RuleSpec("health", "for", threshold=3600)
SCRAPER = RuleSpec("scraper", "consecutive", threshold=3)
ERRORS = RuleSpec("error-rate", "rate", threshold=10)


def bad(at: float, detail: str = "HTTP 503") -> Observation:
    return Observation(at, False, None, detail)


def good(at: float, value: float | None = 12.0) -> Observation:
    return Observation(at, True, value, "HTTP 200")


def counter(at: float, total: float) -> Observation:
    return Observation(at, True, total, f"total_errors {total:g}")


def feed(spec: RuleSpec, observations, state: RuleState | None = None):
    """The state after ``observations`` and every transition on the way."""
    state = state or initial(spec.id)
    transitions: list[Transition] = []
    for obs in observations:
        state, transition = evaluate(spec, state, obs)
        if transition:
            transitions.append(transition)
    return state, transitions


def moves(transitions) -> list[tuple[str, str]]:
    return [(t.from_state, t.to_state) for t in transitions]


def restarted(state: RuleState) -> RuleState:
    """What a watcher that restarts reads back: the state through JSON."""
    return RuleState.from_dict(json.loads(json.dumps(state.to_dict())))


# ---------------------------------------------------------------------------- "for"

def test_a_single_failed_probe_is_pending_and_one_good_sample_clears_it():
    state, transitions = feed(HEALTH, [good(T0), bad(T0 + MIN), good(T0 + 2 * MIN)])
    assert moves(transitions) == [("ok", "pending"), ("pending", "ok")]
    assert state.state == "ok" and state.first_seen is None and state.fired_at is None


def test_a_ten_minute_outage_does_not_fire_a_one_hour_rule():
    outage = [bad(T0 + i * MIN) for i in range(11)]  # 0..10 minutes, all failing
    state, transitions = feed(HEALTH, [*outage, good(T0 + 11 * MIN)])
    assert "firing" not in {t.to_state for t in transitions}
    assert state.state == "ok"


def test_pending_until_the_hour_has_passed_then_firing_with_the_values():
    state, transitions = feed(HEALTH, [bad(T0 + i * MIN) for i in range(60)])  # 0..59 min
    assert state.state == "pending" and state.first_seen == T0 and state.bad_streak == 60
    state, transitions = feed(HEALTH, [bad(T0 + 60 * MIN, "connection refused")], state)
    assert moves(transitions) == [("pending", "firing")]
    fired = transitions[0]
    assert fired.at == state.fired_at == T0 + 3600
    assert fired.values[0] == "2026-09-21T14:13:20Z HTTP 503"  # when it started
    assert fired.values[-1] == "2026-09-21T15:13:20Z connection refused"  # what fired it
    assert len(fired.values) == 10 and fired.detail == "connection refused"


def test_sixty_one_minutes_of_failures_fire_once():
    state, transitions = feed(HEALTH, [bad(T0 + i * MIN) for i in range(62)])
    assert moves(transitions) == [("ok", "pending"), ("pending", "firing")]
    assert state.state == "firing" and state.fired_at == T0 + 3600


def test_a_restart_in_the_middle_of_a_pending_for_fires_at_the_right_time():
    state, _ = feed(HEALTH, [bad(T0 + i * MIN) for i in range(30)])  # 0..29 min
    state = restarted(state)
    # The watcher was down 20 minutes (under max_gap): the episode goes on from T0.
    resumed = [bad(T0 + 50 * MIN + i * MIN) for i in range(11)]  # 50..60 min
    state, transitions = feed(HEALTH, resumed, state)
    assert moves(transitions) == [("pending", "firing")]
    assert state.first_seen == T0 and state.fired_at == T0 + 60 * MIN


def test_a_restart_after_a_gap_longer_than_max_gap_restarts_the_episode():
    spec = RuleSpec("health", "for", threshold=3600, max_gap=1800)
    state, _ = feed(spec, [bad(T0 + i * MIN) for i in range(30)])
    state = restarted(state)
    back = T0 + 29 * MIN + 1801  # nothing seen for just over max_gap
    state, transitions = feed(spec, [bad(back)], state)
    assert transitions == [] and state.state == "pending" and state.first_seen == back
    state, transitions = feed(spec, [bad(back + i * MIN) for i in range(1, 60)], state)
    assert transitions == [] and state.state == "pending"  # 59 minutes since it came back
    state, transitions = feed(spec, [bad(back + 3600)], state)
    assert moves(transitions) == [("pending", "firing")] and state.fired_at == back + 3600


def test_a_zero_duration_fires_on_the_first_bad_observation():
    state, transitions = feed(RuleSpec("db", "for", threshold=0), [bad(T0)])
    assert moves(transitions) == [("ok", "firing")] and state.fired_at == T0


# ---------------------------------------------------------------------------- resolving

def test_firing_resolves_after_resolve_after_good_observations_in_a_row():
    state, _ = feed(HEALTH, [bad(T0 + i * MIN) for i in range(61)])
    state, transitions = feed(HEALTH, [good(T0 + 61 * MIN)], state)
    assert transitions == [] and state.state == "firing" and state.good_streak == 1
    state, transitions = feed(HEALTH, [good(T0 + 62 * MIN)], state)
    assert moves(transitions) == [("firing", "resolved")]
    assert state.resolved_at == T0 + 62 * MIN
    assert transitions[0].values == state.fired_values  # what it had fired on
    # Resolved behaves like ok: a new bad observation starts a new episode.
    state, transitions = feed(HEALTH, [bad(T0 + 70 * MIN)], state)
    assert moves(transitions) == [("resolved", "pending")]
    assert state.first_seen == T0 + 70 * MIN and state.fired_at is None


def test_flapping_never_resolves_a_firing_rule():
    state, _ = feed(HEALTH, [bad(T0 + i * MIN) for i in range(61)])
    flapping = [good(T0 + (61 + i) * MIN) if i % 2 == 0 else bad(T0 + (61 + i) * MIN)
                for i in range(40)]
    state, transitions = feed(HEALTH, flapping, state)
    assert transitions == [] and state.state == "firing"


def test_flapping_never_fires_a_consecutive_three_rule():
    flapping = [bad(T0 + i * MIN) if i % 3 != 2 else good(T0 + i * MIN) for i in range(30)]
    state, transitions = feed(SCRAPER, flapping)  # bad, bad, good, bad, bad, good, …
    assert "firing" not in {t.to_state for t in transitions}
    assert state.state == "ok"


# ---------------------------------------------------------------------------- "consecutive"

def test_consecutive_is_pending_below_the_streak_and_fires_at_it():
    runs = [T0 + i * 12 * 3600 for i in range(4)]  # the scraper's runs, 12 hours apart
    state, transitions = feed(SCRAPER, [bad(runs[0], "2 errors in the log"),
                                        bad(runs[1], "database not updated")])
    assert state.state == "pending" and state.bad_streak == 2 and moves(transitions) == [
        ("ok", "pending")]
    state, transitions = feed(SCRAPER, [bad(runs[2], "no run in the journal")], state)
    assert moves(transitions) == [("pending", "firing")]
    assert len(transitions[0].values) == 3 and "no run in the journal" in transitions[0].values[2]


def test_a_good_run_resets_the_streak():
    state, transitions = feed(SCRAPER, [bad(T0), bad(T0 + 1), good(T0 + 2), bad(T0 + 3),
                                        bad(T0 + 4)])
    assert state.state == "pending" and state.bad_streak == 2
    assert moves(transitions) == [("ok", "pending"), ("pending", "ok"), ("ok", "pending")]


def first_run_end(flags: list[bool], n: int) -> int | None:
    """The index at which ``flags`` (True: bad) first holds ``n`` bad in a row."""
    streak = 0
    for index, is_bad in enumerate(flags):
        streak = streak + 1 if is_bad else 0
        if streak >= n:
            return index
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.booleans(), max_size=40), st.integers(min_value=1, max_value=5))
def test_a_consecutive_rule_first_fires_exactly_where_n_bad_in_a_row_end(flags, n):
    spec = RuleSpec("scraper", "consecutive", threshold=n, resolve_after=2)
    state = initial(spec.id)
    fired_at = None
    for index, is_bad in enumerate(flags):
        obs = bad(T0 + index) if is_bad else good(T0 + index)
        state, transition = evaluate(spec, state, obs)
        if transition and transition.to_state == "firing" and fired_at is None:
            fired_at = index
    assert fired_at == first_run_end(flags, n)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(min_value=1, max_value=900)), max_size=60),
       st.integers(min_value=0, max_value=59))
def test_a_restart_anywhere_changes_nothing(steps, cut):
    """Saving the state through JSON at any point and going on gives the same result."""
    observations, at = [], T0
    for is_bad, pause in steps:
        at += pause
        observations.append(bad(at) if is_bad else good(at))
    whole, whole_moves = feed(HEALTH, observations)
    first, first_moves = feed(HEALTH, observations[:cut])
    rest, rest_moves = feed(HEALTH, observations[cut:], restarted(first))
    assert rest == whole and first_moves + rest_moves == whole_moves


# ---------------------------------------------------------------------------- "rate"

def hourly(totals: list[float], start: float = T0, step: float = 5 * MIN):
    return [counter(start + i * step, total) for i, total in enumerate(totals)]


def test_rate_over_ten_an_hour_fires_at_once_and_ten_exactly_does_not():
    # 13 samples 5 minutes apart: the first is the baseline, the last an hour later.
    state, transitions = feed(ERRORS, hourly([0] * 12 + [10]))
    assert transitions == [] and state.state == "ok"
    state, transitions = feed(ERRORS, hourly([0] * 12 + [11]))
    assert moves(transitions) == [("ok", "firing")]  # no pending: the hour is in the measure
    assert transitions[0].values == ("2026-09-21T15:13:20Z 11 errors in the last hour",)


def test_rate_counts_only_the_last_hour():
    # 11 errors two hours ago, then none: the window has moved past them.
    state, transitions = feed(ERRORS, hourly([0, 11] + [11] * 24))
    assert moves(transitions) == [("ok", "firing"), ("firing", "resolved")]
    assert state.state == "resolved"
    # Resolved once the burst left the hour (its baseline now holds the 11), not before.
    assert transitions[1].at >= T0 + 5 * MIN + 3600


def test_rate_a_counter_reset_counts_from_zero():
    # 50 errors, the API restarts (counter back to 3), then 8 more: 3 + 8 = 11 since the reset.
    state, transitions = feed(ERRORS, hourly([50, 50, 3, 11]))
    assert moves(transitions) == [("ok", "firing")]
    assert "11 errors in the last hour" in transitions[0].values[0]
    state, transitions = feed(ERRORS, hourly([50, 50, 3, 10]))
    assert transitions == [] and state.state == "ok"


def test_rate_a_probe_that_did_not_answer_is_no_evidence():
    state, _ = feed(ERRORS, hourly([0, 20]))
    assert state.state == "firing"
    down = [Observation(T0 + i * MIN, False, None, "connection refused") for i in range(10, 200)]
    state, transitions = feed(ERRORS, down, state)
    assert transitions == [] and state.state == "firing" and state.good_streak == 0
    assert state.last_at == T0 + 199 * MIN


def test_rate_window_survives_a_fast_probe_and_a_restart():
    # A probe every 10 s: more samples in the hour than the window keeps; 11 errors spread
    # over the hour still fire, and the state read back after a restart agrees.
    totals = [i // 33 for i in range(370)]  # one error every 330 s: 11 in ~61 minutes
    state, transitions = feed(ERRORS, hourly(totals[:200], step=10))
    state, more = feed(ERRORS, hourly(totals[200:], start=T0 + 2000, step=10), restarted(state))
    assert len(state.recent) <= RECENT_CAP
    assert moves(transitions + more) == [("ok", "firing")]


# ---------------------------------------------------------------------------- records

def test_state_round_trips_through_json_and_refuses_damage():
    state, _ = feed(ERRORS, hourly([0, 5, 30]))
    assert restarted(state) == state
    with pytest.raises(ValueError, match="not a rule state"):
        RuleState.from_dict({"rule": "x", "state": "exploded"})
    with pytest.raises(ValueError, match="not a rule state"):
        RuleState.from_dict({"state": "ok"})


def test_recent_keeps_the_last_hour_for_the_sparkline():
    state, _ = feed(HEALTH, [good(T0 + i * MIN, value=float(i)) for i in range(200)])
    assert len(state.recent) == RECENT_CAP
    assert state.recent[-1] == (T0 + 199 * MIN, 199.0, True)
    assert state.recent[0][0] > T0 + 199 * MIN - 3600


def test_a_spec_out_of_range_is_refused():
    with pytest.raises(ValueError):
        RuleSpec("x", "consecutive", threshold=0)
    with pytest.raises(ValueError):
        RuleSpec("x", "sometimes", threshold=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="evaluated against"):
        evaluate(HEALTH, initial("scraper"), bad(T0))
