"""Typed step records (issue 12): a ``StepRecord`` reads a step's table of the run record and
writes it back as it was — every state, fields this version does not know, a record an older
cutover wrote — and one table says how each state looks, wherever a state is shown."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest
import tomli_w

from cutover_tui.checklist import CHECKLIST_FORMAT, Checklist
from cutover_tui.evidence import INTENT_KEYS, BackupEvidence, DestroyIntent, PowerEvidence
from cutover_tui.records import (
    FINISHED,
    STATE_LOOK,
    STATES,
    STEP_FIELDS,
    UNKNOWN_LOOK,
    RunRecords,
    StepRecord,
    StepState,
    look,
)

FULL = {
    "state": "done", "phase": "2", "title": "Back up the database", "kind": "backup",
    "operator": "ann", "runner": "laptop:4242", "started_at": "2025-12-19T10:00:00Z",
    "finished_at": "2025-12-19T10:05:00Z", "summary": "backup verified",
    "command": "pg_dump …", "exit_status": 0, "output": "line one\nline two",
    "evidence": {"local_path": "/tmp/dump.sql.gz", "sha256": "ab" * 32, "verified": True,
                 "tables": 9, "rows": {"roles": 747}},
    "notes": ["2025-12-19T10:06:00Z ann: looked fine"], "plan": ["old: pg_dump …"],
    "removed_from_runbook": False,
}


@pytest.mark.parametrize("state", list(StepState))
def test_every_state_round_trips(state):
    table = {**FULL, "state": state.value}
    record = StepRecord.from_dict(table)
    assert record.state is state
    back = record.to_dict()
    assert back == table and list(back) == list(table)
    assert type(back["state"]) is str  # stored as its word, not as an enum
    assert tomllib.loads(tomli_w.dumps(back)) == table


def test_the_states_are_the_six_words_and_done_and_skipped_are_finished():
    assert STATES == ("pending", "running", "done", "failed", "skipped", "interrupted")
    assert FINISHED == {StepState.DONE, StepState.SKIPPED}
    assert [s for s in StepState if s.finished] == [StepState.DONE, StepState.SKIPPED]
    assert StepState.DONE == "done" and {"done": 1}[StepState.DONE] == 1
    assert f"{StepState.FAILED:<8}|" == "failed  |"


def test_unknown_fields_are_kept_in_their_place():
    table = {"state": "failed", "duration_s": 12.5, "summary": "exit 3",
             "reviewer": {"name": "bob", "ok": False}, "notes": []}
    record = StepRecord.from_dict(table)
    assert record.extra == {"duration_s": 12.5, "reviewer": {"name": "bob", "ok": False}}
    assert record.to_dict() == table and list(record.to_dict()) == list(table)
    changed = record.changed(state="done", summary="ok", tag="x")
    assert list(changed.to_dict()) == ["state", "duration_s", "summary", "reviewer", "notes",
                                       "tag"]
    assert changed.to_dict()["duration_s"] == 12.5


def test_a_field_absent_stays_absent_and_none_removes_one():
    assert StepRecord.from_dict({}).to_dict() == {}
    assert StepRecord.from_dict({"notes": []}).to_dict() == {"notes": []}
    record = StepRecord.from_dict({"state": "running", "runner": "h:1", "exit_status": 2,
                                   "output": "x"})
    done = record.changed(runner=None, exit_status=None, output=None, command="")
    assert done.runner == "" and done.exit_status is None
    assert done.to_dict() == {"state": "running", "command": ""}


def test_evidence_is_added_to_and_read_only():
    record = StepRecord.from_dict({"evidence": {"a": 1, "b": 2}})
    more = record.changed(evidence={"b": 3, "c": None, "d": [1, None]})
    assert more.to_dict() == {"evidence": {"a": 1, "b": 3, "d": [1]}}
    with pytest.raises(TypeError):
        record.evidence["a"] = 5  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.state = StepState.DONE  # type: ignore[misc]
    dropped = more.without_evidence(["a", "b"]).with_note("n")
    assert dropped.to_dict() == {"evidence": {"d": [1]}, "notes": ["n"]}
    assert record.to_dict() == {"evidence": {"a": 1, "b": 2}}  # the original is unchanged


def test_a_field_of_the_wrong_type_or_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match="state is 'finished', expected one of pending"):
        StepRecord.from_dict({"state": "finished"})
    with pytest.raises(ValueError, match="exit_status is the string '0', expected a whole"):
        StepRecord.from_dict({"exit_status": "0"})
    with pytest.raises(ValueError, match="notes is the string"):
        StepRecord().changed(notes="one")


def test_the_record_knows_every_field_the_checklist_checks():
    known = {f.name for f in dataclasses.fields(StepRecord)} - {"extra", "stored"}
    assert known == set(STEP_FIELDS)


def test_evidence_views_name_what_other_steps_read():
    record = StepRecord.from_dict(FULL)
    assert record.backup == BackupEvidence("/tmp/dump.sql.gz", "ab" * 32, True)
    assert StepRecord.from_dict({"evidence": {"verified": "yes"}}).backup.verified is False
    power = StepRecord.from_dict({"evidence": {
        "droplet_id": 318829101, "droplet_name": "air-demand-prod", "size": "s-1vcpu-1gb",
        "shutdown_action": 7, "powered_off_at": "2025-12-14T13:10:00Z"}}).power
    assert power == PowerEvidence(318829101, "air-demand-prod", "", 7, None,
                                  "2025-12-14T13:10:00Z")
    assert power.identity == {"droplet_id": 318829101, "droplet_name": "air-demand-prod"}
    assert power.actions == (7,)
    assert StepRecord.from_dict({"evidence": {"backup_path": "/r/.env.bak-1"}}).env_edit \
        .backup_path == "/r/.env.bak-1"
    assert StepRecord().env_edit.backup_path == ""
    intent = DestroyIntent("destroy of droplet 5 sent at t by ann", 5, "t")
    assert tuple(intent.as_evidence()) == INTENT_KEYS
    assert StepRecord.from_dict({"evidence": intent.as_evidence()}).destroy_intent == intent


# A run record as an older cutover wrote it: no ``format`` line, a field this one dropped
# (step durations in the step's table), and the layout otherwise as today.
OLDER_RUN_RECORD = """\
[run]
runbook_id = "record"
runbook_title = "Record"
started_at = "2025-12-19T10:00:00Z"
updated_at = "2025-12-19T10:06:00Z"
operators = ["ann"]

[steps."1.1"]
state = "done"
notes = []
phase = "1"
title = "Say hello"
kind = "local"
plan = ["local: echo hello"]
operator = "ann"
started_at = "2025-12-19T10:00:00Z"
finished_at = "2025-12-19T10:00:01Z"
summary = "exit status 0"
command = "echo hello"
exit_status = 0
output = "hello"
duration_s = 0.4

[steps."1.1".evidence]
exit_status = 0

[steps."1.2"]
state = "running"
notes = ["2025-12-19T10:05:00Z ann: slow today"]
operator = "ann"
runner = "elsewhere:1"
"""


def test_a_record_from_an_older_run_record_reads_and_is_written_back_as_it_was(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(OLDER_RUN_RECORD)
    checklist = Checklist(path)
    hello = checklist.record("1.1")
    assert hello.state is StepState.DONE and hello.exit_status == 0
    assert hello.extra == {"duration_s": 0.4}
    assert checklist.record("1.2").state is StepState.RUNNING
    assert checklist.record("9.9") == StepRecord()  # not recorded: pending
    assert checklist.states() == {"1.1": "done", "1.2": "running"}
    original = tomllib.loads(OLDER_RUN_RECORD)
    checklist.add_note("1.2", "bob", "still going")
    again = tomllib.loads(path.read_text())
    assert again["format"] == CHECKLIST_FORMAT
    assert again["steps"]["1.1"] == original["steps"]["1.1"]  # untouched, duration kept
    assert again["steps"]["1.2"]["notes"][-1].endswith("bob: still going")
    assert again["steps"]["1.2"]["runner"] == "elsewhere:1"
    assert checklist.data == Checklist(path).read()


def test_the_checklist_parses_each_record_once_per_version(tmp_path):
    path = tmp_path / "run.toml"
    checklist = Checklist(path)
    checklist.update_run(runbook_id="t")
    checklist.update_step("1.1", state="done", evidence={"verified": True})
    first = checklist.records
    assert checklist.records is first and checklist.record("1.1") is first["1.1"]
    assert list(first) == ["1.1"] and "1.1" in first and "1.2" not in first
    checklist.update_step("1.1", summary="ok")
    assert checklist.records is not first  # a write is a new version
    assert checklist.record("1.1").summary == "ok" and first["1.1"].summary == ""
    assert checklist.record("1.1").state is StepState.DONE
    assert RunRecords({"run": {"red_flags": ["t x: y"]}}).red_flags == ("t x: y",)


def test_one_table_says_how_every_state_looks():
    assert set(STATE_LOOK) == set(StepState)
    glyphs = [STATE_LOOK[state].glyph for state in StepState]
    assert len(set(glyphs)) == len(glyphs) and all(len(g) == 1 for g in glyphs)
    assert {s for s, shown in STATE_LOOK.items() if "red" in shown.word_style} == {
        StepState.FAILED, StepState.INTERRUPTED}  # the verdict pane: only failures red
    assert STATE_LOOK[StepState.DONE].glyph == "✓" and STATE_LOOK[StepState.PENDING].glyph == "·"
    assert look("done") is STATE_LOOK[StepState.DONE]
    assert look("blocked") is UNKNOWN_LOOK


def test_the_runner_and_the_wizard_draw_states_from_that_table():
    from cutover_tui import runner
    from screens.widgets.phases import glyph

    assert not hasattr(runner, "GLYPH")
    for state, shown in STATE_LOOK.items():
        drawn = glyph(state)
        assert str(drawn) == shown.glyph and str(drawn.style) == shown.style
    assert str(glyph("blocked")) == UNKNOWN_LOOK.glyph


LOCAL_BOOK = """
[runbook]
id = "records"
title = "records"
[hosts.web]
address = "127.0.0.5"
[[phases]]
id = "1"
title = "One"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "say hello"
command = "echo hello"
changes = false
[[phases.steps]]
id = "1.2"
kind = "wait"
title = "a second after 1.1"
since_step = "1.1"
after = "1s"
"""


def local_session(tmp_path):
    from cutover_tui.clock import MovableClock
    from cutover_tui.operator import HeadlessOperator
    from cutover_tui.runbook import load_runbook
    from cutover_tui.session import open_session

    path = tmp_path / "book.toml"
    path.write_text(LOCAL_BOOK)
    return open_session(load_runbook(path), HeadlessOperator("ann", yes=True),
                        state=tmp_path / "run.toml", clock=MovableClock(), workdir=tmp_path)


async def test_the_engine_owns_the_running_step(tmp_path):
    from cutover_tui.events import StepFinished, StepStarted

    session = local_session(tmp_path)
    seen = []
    session.engine.listeners.append(lambda event: seen.append(
        (type(event).__name__, session.engine.running)) if isinstance(
            event, StepStarted | StepFinished) else None)
    try:
        assert session.engine.running is None
        verdict = await session.engine.run_step("1.1")
        assert verdict.ok and session.engine.running is None
        # While it ran the engine said so; by the time StepFinished goes out it no longer does.
        assert seen == [("StepStarted", "1.1"), ("StepFinished", None)]
        assert session.engine.state("1.1") is StepState.DONE
    finally:
        await session.aclose()


async def test_steps_read_other_records_from_the_checklist_the_engine_read(tmp_path,
                                                                           monkeypatch):
    from cutover_tui.steps import wait

    session = local_session(tmp_path)
    try:
        assert (await session.engine.run_step("1.1")).ok
        checklist = session.checklist
        reads = []
        original_read = checklist.read
        monkeypatch.setattr(checklist, "read", lambda: reads.append(1) or original_read())
        real_target = wait.target_time

        def counted(ctx, step):
            before = len(reads)
            target = real_target(ctx, step)  # reads 1.1's record through ctx.record
            assert len(reads) == before, "ctx.record re-read the file"
            assert isinstance(ctx.records, RunRecords) and ctx.record("1.1").finished_at
            return target

        monkeypatch.setattr(wait, "target_time", counted)
        assert (await session.engine.run_step("1.2")).ok
        assert reads  # the engine's one read at the start (and the transactions' own)
        assert "until" in session.checklist.record("1.2").evidence
    finally:
        await session.aclose()
