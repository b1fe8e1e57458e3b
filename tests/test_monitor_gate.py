"""The destroy's "no red flag" precondition (``monitor.gate``) and the red-flag rules' model:
shut while a rule fires or is pending or a flag raised by hand stands; a fired and resolved rule
restarts the clean week; silenced time is listed and not counted as clean; a rule with two
triggers, no probe or a probe that changes something does not load."""

from __future__ import annotations

import pytest

from cutover_tui.clock import iso
from cutover_tui.errors import RunbookError
from cutover_tui.monitor.gate import red_flag_verdict
from cutover_tui.runbook import load_runbook

DAY = 86400.0
WEEK = 7 * DAY
START = 1_800_000_000.0


def flag(state: str, **times: float) -> dict:
    table: dict = {"state": state, "values": ["2027-01-15T10:00:00Z HTTP 503"]}
    table.update({key: iso(value) for key, value in times.items()})
    return table


def test_a_firing_rule_shuts_the_destroy_naming_it():
    data = {"red_flags": {"health": flag("firing", first_seen=START + DAY,
                                         fired_at=START + DAY + 3600)}}
    met, why = red_flag_verdict(data, (), START, WEEK, START + 8 * DAY)
    assert not met
    assert f"red flag health firing since {iso(START + DAY + 3600)}" in why
    assert "HTTP 503" in why


def test_a_pending_rule_shuts_it_too():
    data = {"red_flags": {"database": flag("pending", first_seen=START + 8 * DAY)}}
    met, why = red_flag_verdict(data, (), START, WEEK, START + 8 * DAY + 60)
    assert not met and "red flag database pending" in why


def test_a_flag_raised_by_hand_shuts_it():
    met, why = red_flag_verdict({}, ("2027-01-15T10:00:00Z ops-a: scraper odd",), START, WEEK,
                                START + 8 * DAY)
    assert not met and "scraper odd" in why


def test_a_resolved_flag_opens_it_only_after_a_clean_week_from_its_resolution():
    resolved = START + 3 * DAY
    data = {"red_flags": {"health": flag("resolved", first_seen=resolved - 7200,
                                         fired_at=resolved - 3600, resolved_at=resolved)}}
    met, why = red_flag_verdict(data, (), START, WEEK, START + 8 * DAY)
    assert not met
    assert "red flag health fired and resolved" in why and "clean week counts from then" in why
    met, why = red_flag_verdict(data, (), START, WEEK, resolved + WEEK + 1)
    assert met, why


def test_a_quiet_week_opens_it():
    data = {"red_flags": {"health": {"state": "ok", "transitions": ["… pending", "… ok"]}}}
    met, why = red_flag_verdict(data, (), START, WEEK, START + WEEK + 1)
    assert met, why


def test_silenced_time_is_listed_and_not_counted_as_clean():
    data = {"silences": [{"rule": "health", "from": iso(START + DAY), "until":
                          iso(START + DAY + 2 * 3600), "reason": "planned DB maintenance",
                          "by": "ops-a"}]}
    met, why = red_flag_verdict(data, (), START, WEEK, START + WEEK + 3600)
    assert not met
    assert "silenced time is not clean time" in why and "planned DB maintenance" in why
    met, why = red_flag_verdict(data, (), START, WEEK, START + WEEK + 2 * 3600 + 1)
    assert met and "not counted as clean: health silenced 2h" in why, why


RULES = """
[runbook]
id = "rules"
title = "rules"
[hosts.new]
address = "127.0.0.3"
[[health]]
name = "api /health"
port = "8123"
path = "/health"
[[phases]]
id = "6"
title = "six"
[[phases.steps]]
id = "6.4"
kind = "ssh"
title = "check"
host = "new"
command = "true"
{changes}
[[red_flags]]
id = "x"
description = "x"
{rule}
"""


@pytest.mark.parametrize("rule, changes, expected", [
    ('health = "api /health"\nhost = "new"\nfor = "1h"\nconsecutive = 3', "changes = false",
     "exactly one trigger"),
    ('health = "api /health"\nhost = "new"', "changes = false", "exactly one trigger"),
    ('consecutive = 3', "changes = false", "exactly one probe"),
    ('step = "6.4"\nconsecutive = 3', "", "a probe must be an http step or an ssh step marked"),
    ('health = "api /nope"\nhost = "new"\nfor = "1h"', "changes = false", "no [[health]] endpoint"),
    ('health = "api /health"\nhost = "new"\nper_hour_above = 10', "changes = false",
     "needs `value`"),
])
def test_a_rule_that_cannot_be_watched_safely_does_not_load(tmp_path, rule, changes, expected):
    path = tmp_path / "rules.toml"
    path.write_text(RULES.format(rule=rule, changes=changes))
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert expected in "\n".join(caught.value.problems)


def test_a_rule_with_one_probe_and_one_trigger_loads(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RULES.format(rule='step = "6.4"\nafter_utc = ["05:00"]\nconsecutive = 3',
                                 changes="changes = false"))
    book = load_runbook(path)
    assert book.red_flags[0].watched and book.red_flags[0].consecutive == 3


@pytest.mark.parametrize("edit, place", [
    ('red_flags = "firing"', "red_flags"),
    ('[red_flags.health]\nstate = 3', "red_flags.health.state"),
    ('[red_flags.health]\nnotifications = "sent"', "red_flags.health.notifications"),
    ('silences = 5', "silences"),
    ('[[silences]]\nrule = "health"\nuntil = 7', "silences.0"),
])
def test_a_hand_edited_monitoring_record_is_a_sentence_naming_its_place(tmp_path, edit, place):
    from cutover_tui.checklist import Checklist
    from cutover_tui.errors import ChecklistError

    path = tmp_path / "run.toml"
    top, tables = (edit, "") if not edit.startswith("[") else ("", edit)
    path.write_text(f'format = 1\n{top}\n[run]\nrunbook_id = "x"\n{tables}\n')
    with pytest.raises(ChecklistError) as caught:
        Checklist(path).read()
    assert place in str(caught.value)


def test_no_red_flag_is_not_the_same_as_no_look_the_week_must_have_been_watched(tmp_path):
    from cutover_tui.monitor.gate import unwatched
    from cutover_tui.monitor.rules import Observation
    from cutover_tui.monitor.store import WatchStore

    path = tmp_path / "rules.toml"
    path.write_text(RULES.format(rule='health = "api /health"\nhost = "new"\nfor = "1h"',
                                 changes="changes = false"))
    book = load_runbook(path)
    store_file = tmp_path / "run.toml.watch.sqlite3"
    assert "nothing watched the week" in unwatched(book, store_file, START, START + WEEK)[0]
    with WatchStore(store_file) as store:
        for minute in range(0, 7 * 24 * 60 + 1, 10):
            if not 3 * 24 * 60 <= minute < 3 * 24 * 60 + 180:  # three hours unwatched on day 4
                store.add_sample("x", Observation(START + minute * 60, True, 1.0, "200"))
    gaps = unwatched(book, store_file, START, START + WEEK)
    assert len(gaps) == 1 and "rule x had no probe from" in gaps[0] and "3h" in gaps[0], gaps
    assert unwatched(book, store_file, START, START + 3 * DAY) == []
    nothing_to_watch = tmp_path / "none.toml"
    nothing_to_watch.write_text(RULES.format(rule="", changes="changes = false").replace(
        '[[red_flags]]\nid = "x"\ndescription = "x"\n', ""))
    assert unwatched(load_runbook(nothing_to_watch), store_file, START, START + WEEK) == []


def test_the_destroy_precondition_says_not_watched_when_no_watcher_ran(tmp_path):
    from cutover_tui.records import RunRecords
    from cutover_tui.runbook import Overrides
    from cutover_tui.steps.preconditions import red_flags

    from .conftest import M11

    book = load_runbook(M11, Overrides.from_cli(["new=127.0.0.3", "old=127.0.0.2"], []))
    records = RunRecords({"run": {}, "steps": {"4.1": {"state": "done",
                                                       "finished_at": iso(START)}}})
    verdict = red_flags(records, book, book.step("8.3"), START + WEEK + 60,
                        tmp_path / "run.toml.watch.sqlite3")
    assert not verdict.ok and verdict.detail.startswith("not watched: nothing watched the week")
