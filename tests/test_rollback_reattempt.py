"""Issue 13, item 8: the rollback ends in a safe state; a re-attempt is its own act.

Tried on real hosts, the rollback worked, but its R5 steps re-cut over in the same linear run,
with R4's investigation "confirmed headless" by ``--yes``. Now the rollback stops after R4; a
step that needs a note takes it from a person (the answers file's ``[text]``), never from
``--yes``; and ``cutover reattempt`` (or ``a`` on the wizard's rollback screen) archives attempt
1 and opens the phases from the rollback's ``reattempt_from`` again as attempt 2."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from cutover_tui.attempts import reattempt
from cutover_tui.checklist import Checklist
from cutover_tui.clock import MovableClock, iso, parse_iso
from cutover_tui.errors import ChecklistError, GateClosed, RunbookError
from cutover_tui.operator import Answers, HeadlessOperator
from cutover_tui.review import render_text
from cutover_tui.runbook import load_runbook
from cutover_tui.runner import phase_step_ids, run_steps
from cutover_tui.sandbox.demo import demo_order, demo_rounds

from .helpers import RecordingOperator, session_on

ROOT = Path(__file__).resolve().parents[1]

BOOK = """
[runbook]
id = "again"
title = "Again"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "Backup"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "keep a backup"
command = "echo kept"
[[phases]]
id = "2"
title = "Cutover"
[[phases.steps]]
id = "2.1"
kind = "local"
title = "cut over"
command = "echo over"
[[phases.steps]]
id = "2.2"
kind = "manual"
title = "announce"
instructions = "Tell the team."
require_note = true
[[phases]]
id = "3"
title = "Week"
[[phases.steps]]
id = "3.1"
kind = "local"
title = "watch"
command = "echo watching"
[rollback]
id = "R"
title = "Rollback"
reattempt_from = "2"
[[rollback.steps]]
id = "R1"
kind = "local"
title = "old production back"
command = "echo back"
[[rollback.steps]]
id = "R4"
kind = "manual"
title = "root cause"
instructions = "Note the cause and the fix."
require_note = true
"""


def new_checklist(tmp_path: Path) -> Checklist:
    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    book = load_runbook(path)
    checklist = Checklist(tmp_path / "run.toml", MovableClock())
    plans = {step.id: [f"plan of {step.id}"] for _, step in book.steps()}
    checklist.open_for(book, "ann", plans, {"x": "root@127.0.0.1:22"})
    return checklist


def finish(checklist: Checklist, *step_ids: str, note: str | None = None) -> None:
    """Record steps done by ann, as a run would (a note in the evidence, as a manual step)."""
    for step_id in step_ids:
        now = iso(checklist.clock.time())
        evidence = {"confirmed_by": "ann", **({"note": note} if note else {})}
        checklist.update_step(step_id, state="done", operator="ann", started_at=now,
                              finished_at=now, summary=f"{step_id} went well",
                              evidence=evidence)


def attempt_one(checklist: Checklist) -> None:
    """Phases 1–3 done, then the rollback, R4 with the root cause noted."""
    finish(checklist, "1.1", "2.1", "3.1")
    finish(checklist, "2.2", note="announced in #ops")
    checklist.clock.advance(3600)
    finish(checklist, "R1")
    finish(checklist, "R4", note="the pool ran out of connections; raised to 20")


def on_disk(checklist: Checklist) -> dict:
    return tomllib.loads(checklist.path.read_text())


# ---------------------------------------------------------------------------- a person's note


async def test_a_required_note_never_comes_from_yes():
    said: list[str] = []
    operator = HeadlessOperator("ann", yes=True, say=said.append)
    assert await operator.ask_text("R4", "Note for R4", required=True) is None
    assert 'no note: a person writes it (--yes never does)' in said[-1]
    assert '[text] "R4" = "..."' in said[-1]
    # A note nobody requires still records who confirmed, as before.
    assert await operator.ask_text("5.3", "Note for 5.3") == "confirmed headless by ann"
    answered = HeadlessOperator("ann", yes=True, say=said.append,
                                answers=Answers(text={"R4": "pool exhausted; raised to 20"}))
    assert await answered.ask_text("R4", "Note for R4", required=True) == \
        "pool exhausted; raised to 20"


# ---------------------------------------------------------------------------- the core act


def test_reattempt_is_refused_until_the_rollback_is_safe_and_noted(tmp_path):
    checklist = new_checklist(tmp_path)
    finish(checklist, "1.1", "2.1", "3.1")
    finish(checklist, "2.2", note="announced")
    before = checklist.path.read_text()
    with pytest.raises(GateClosed) as info:
        reattempt(checklist, "pool size fixed", by="bob")
    assert "the rollback has not reached its safe state: step R1 (old production back) is " \
           "pending" in str(info.value)
    assert checklist.path.read_text() == before  # a refusal writes nothing
    finish(checklist, "R1")
    finish(checklist, "R4")  # confirmed, but without the root cause
    before = checklist.path.read_text()
    with pytest.raises(GateClosed) as info:
        reattempt(checklist, "pool size fixed", by="bob")
    assert "step R4 (root cause) has no note from a person" in str(info.value)
    with pytest.raises(GateClosed, match="needs a reason"):
        reattempt(checklist, "  ", by="bob")
    assert checklist.path.read_text() == before  # a refusal writes nothing
    assert "attempts" not in on_disk(checklist)


def test_reattempt_archives_attempt_one_and_opens_the_phases_again(tmp_path):
    checklist = new_checklist(tmp_path)
    attempt_one(checklist)
    checklist.update_phase("3", override_reason="the week was cut short", override_by="ann")
    with checklist.transaction() as data:
        data["run"]["red_flags"] = ["2026-01-01T00:00:00Z ann: dashboard down"]
        data["red_flags"] = {"health": {"state": "firing", "fired_at": "2026-01-01T01:00:00Z"}}
    tables = {step_id: dict(table) for step_id, table in on_disk(checklist)["steps"].items()}
    started = on_disk(checklist)["run"]["started_at"]

    done = reattempt(checklist, "pool size fixed", by="bob")

    assert (done.number, done.archived, done.phases) == (2, 1, ("2", "3"))
    assert set(done.steps) == {"2.1", "2.2", "3.1", "R1", "R4"}
    data = on_disk(checklist)
    assert data["run"]["attempt"] == 2
    archived = data["attempts"]["1"]
    assert archived["reason"] == "pool size fixed" and archived["by"] == "bob"
    assert archived["started_at"] == started
    assert archived["ended_at"] == iso(checklist.clock.time())
    assert archived["phases"] == ["2", "3", "R"]
    # Every record of the reopened phases and of the rollback, whole; phase 1's stays put.
    assert archived["steps"] == {k: tables[k] for k in ("2.1", "2.2", "3.1", "R1", "R4")}
    assert archived["steps"]["R4"]["evidence"]["note"] == \
        "the pool ran out of connections; raised to 20"
    assert data["steps"]["1.1"] == tables["1.1"]
    # The red flags of attempt 1 — raised by hand, and the monitoring rules' table — moved.
    assert archived["raised_red_flags"] == ["2026-01-01T00:00:00Z ann: dashboard down"]
    assert archived["red_flags"] == {"health": {"state": "firing",
                                                "fired_at": "2026-01-01T01:00:00Z"}}
    assert "red_flags" not in data and "red_flags" not in data["run"]
    assert archived["phase_overrides"]["3"]["override_reason"] == "the week was cut short"
    assert "override_reason" not in data["phases"]["3"]
    # The reopened steps are pending again, keeping what the runbook gave them.
    for step_id in done.steps:
        assert data["steps"][step_id] == {
            "state": "pending", "phase": tables[step_id]["phase"],
            "title": tables[step_id]["title"], "kind": tables[step_id]["kind"], "notes": [],
            "plan": [f"plan of {step_id}"]}
    assert list(data["steps"]) == list(tables)  # in their places
    assert checklist.states()["2.1"] == "pending" and checklist.states()["1.1"] == "done"


def test_review_shows_attempt_one_after_the_current_attempt(tmp_path):
    checklist = new_checklist(tmp_path)
    attempt_one(checklist)
    reattempt(checklist, "pool size fixed", by="bob")
    finish(checklist, "2.1")
    text = render_text(checklist.path)
    assert "attempt 2, since" in text
    current, _, archived = text.partition("Attempt 1 (rolled back: pool size fixed)")
    assert archived, text
    assert "2.1 [done] cut over — ann" in current and "2.2 [pending] announce" in current
    assert "re-attempted by bob" in archived
    assert "2.2 [done] announce — ann" in archived and "note: announced in #ops" in archived
    assert "R4 [done] root cause — ann" in archived
    assert "note: the pool ran out of connections; raised to 20" in archived
    assert "1.1" not in archived  # phase 1 kept its record in the current attempt
    markdown = render_text(checklist.path, markdown=True)
    assert "\n## Attempt 1 (rolled back: pool size fixed)\n" in markdown


def test_later_writes_keep_the_archive_and_a_second_reattempt_is_attempt_three(tmp_path):
    checklist = new_checklist(tmp_path)
    attempt_one(checklist)
    reattempt(checklist, "pool size fixed", by="bob")
    archive = on_disk(checklist)["attempts"]
    checklist.add_note("1.1", "bob", "still good")
    finish(checklist, "2.1")
    assert on_disk(checklist)["attempts"] == archive
    assert Checklist(checklist.path).read()["attempts"] == archive  # the shape check accepts it
    with pytest.raises(GateClosed, match="step R1 .* is pending"):
        reattempt(checklist, "again", by="bob")  # attempt 2 has not rolled back
    checklist.clock.advance(3600)
    finish(checklist, "2.2", note="announced again")
    finish(checklist, "R1")
    finish(checklist, "R4", note="disk full; grown")
    done = reattempt(checklist, "disk grown", by="cy")
    data = on_disk(checklist)
    assert done.number == 3 and data["run"]["attempt"] == 3
    assert data["attempts"]["1"] == archive["1"]
    assert data["attempts"]["2"]["started_at"] == archive["1"]["ended_at"]
    assert data["attempts"]["2"]["steps"]["2.2"]["evidence"]["note"] == "announced again"
    assert "3.1" not in data["attempts"]["2"]["steps"]  # never run in attempt 2: nothing to keep
    text = render_text(checklist.path)
    assert text.index("Attempt 2 (rolled back: disk grown)") < \
        text.index("Attempt 1 (rolled back: pool size fixed)")


# Each hand edit of the re-attempt fields, and the field path the sentence names.
DAMAGE = [
    (lambda d: d["run"].update(attempt="2"), "run.attempt: expected a whole number from 1"),
    (lambda d: d["run"].update(attempt=0), "run.attempt: expected a whole number from 1"),
    (lambda d: d.update(attempts=["1"]), "attempts: expected a table"),
    (lambda d: d["attempts"]["1"].update(reason=3), "attempts.1.reason: expected a string"),
    (lambda d: d["attempts"]["1"]["steps"]["2.1"].update(state="finished"),
     'attempts.1.steps."2.1".state: expected one of'),
    (lambda d: d["attempts"]["1"]["steps"].update({"2.1": "done"}),
     'attempts.1.steps."2.1": expected a table'),
    (lambda d: d["phases"]["R"].update(reattempt_from=2),
     "phases.R.reattempt_from: expected a string"),
]


@pytest.mark.parametrize("index", range(len(DAMAGE)))
def test_a_hand_edit_of_the_attempt_fields_is_a_sentence(tmp_path, index):
    checklist = new_checklist(tmp_path)
    attempt_one(checklist)
    reattempt(checklist, "pool size fixed", by="bob")
    data = on_disk(checklist)
    DAMAGE[index][0](data)
    checklist.path.write_text(tomli_w.dumps(data))
    with pytest.raises(ChecklistError) as info:
        Checklist(checklist.path).read()
    assert f"the checklist {checklist.path} is damaged" in str(info.value)
    assert DAMAGE[index][1] in str(info.value), str(info.value)


def test_reattempt_from_is_checked_when_the_runbook_loads(tmp_path):
    path = tmp_path / "book.toml"
    path.write_text(BOOK.replace('reattempt_from = "2"', 'reattempt_from = "9"'))
    with pytest.raises(RunbookError) as info:
        load_runbook(path)
    assert "rollback.reattempt_from: no phase with id '9'; phases: 1, 2, 3" in str(info.value)
    text = BOOK.replace('id = "3"\ntitle = "Week"\n', 'id = "3"\ntitle = "Week"\nreattempt_from = "2"\n')
    path.write_text(text)
    with pytest.raises(RunbookError) as info:
        load_runbook(path)
    line = text.splitlines().index('reattempt_from = "2"') + 1
    assert f"book.toml:{line}: phases[2].reattempt_from: only [rollback] says where a " \
           "re-attempt starts" in str(info.value)


def test_a_runbook_without_reattempt_from_cannot_be_reattempted(tmp_path):
    path = tmp_path / "book.toml"
    path.write_text(BOOK.replace('reattempt_from = "2"\n', ""))
    checklist = Checklist(tmp_path / "run.toml", MovableClock())
    checklist.open_for(load_runbook(path), "ann", {}, {})
    attempt_one(checklist)
    with pytest.raises(GateClosed, match=r"names no phase to re-attempt from \(reattempt_from\)"):
        reattempt(checklist, "pool size fixed", by="bob")


def test_the_m11_rollback_stops_at_its_safe_state(m11_path):
    book = load_runbook(m11_path)
    assert book.rollback is not None
    assert [s.id for s in book.rollback.steps] == [
        "R1", "R2", "R2-health", "R3", "R3-env", "R4-logs", "R4-errors", "R4"]
    assert book.rollback.steps[-1].require_note
    assert book.rollback.reattempt_from == "3"
    # The demo: phases 1–6 and the rollback; then phases 3–6 again, the week and the destroy.
    before, after = demo_rounds(book)
    ids = {p.id: [s.id for s in p.steps] for p in book.phases}
    assert before == [*ids["1"], *ids["2"], *ids["3"], *ids["4"], *ids["5"], *ids["6"],
                      *[s.id for s in book.rollback.steps]]
    assert after == [*ids["3"], *ids["4"], *ids["5"], *ids["6"], *ids["7"], *ids["8"]]
    assert demo_order(book) == before + after


# ---------------------------------------------------------------------------- the CLI


def cutover(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.world  # the CLI as subprocesses, its local steps real processes
def test_headless_rollback_stops_after_r4_and_reattempt_is_its_own_command(tmp_path):
    (tmp_path / "book.toml").write_text(BOOK)
    (tmp_path / "cutover.toml").write_text('[text]\n"2.2" = "announced in #ops"\n')
    run = ("run", "book.toml", "--headless", "--state", "run.toml", "--operator", "ann")
    first = cutover(*run, "--yes", "--answers", "cutover.toml", "--phase", "1", "--phase", "2",
                    cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    rollback = cutover(*run, "--yes", "--rollback", cwd=tmp_path)
    out = rollback.stdout
    assert rollback.returncode == 1, out + rollback.stderr
    assert "✓ R1" in out and "✗ R4" in out and "R5" not in out
    assert 'give it in an answers file (--answers) as [text] "R4" = "..."' in out
    assert tomllib.loads((tmp_path / "run.toml").read_text())["steps"]["R4"]["state"] != "done"

    refused = cutover("reattempt", "run.toml", "--reason", "pool size fixed", cwd=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: cannot re-attempt the cutover: the rollback has "
                                     "not reached its safe state: step R4 (root cause) is "
                                     "failed")

    (tmp_path / "rollback.toml").write_text(
        '[text]\n"R4" = "the pool ran out of connections; raised to 20"\n')
    noted = cutover(*run, "--yes", "--rollback", "--answers", "rollback.toml", cwd=tmp_path)
    assert noted.returncode == 0, noted.stdout + noted.stderr
    assert "✓ R4" in noted.stdout

    again = cutover("reattempt", "run.toml", "--reason", "pool size fixed", "--operator", "bob",
                    cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith("attempt 2 begins: phase 2, 3 open again")
    data = tomllib.loads((tmp_path / "run.toml").read_text())
    assert data["run"]["attempt"] == 2 and data["attempts"]["1"]["by"] == "bob"
    assert data["steps"]["2.1"]["state"] == "pending" and data["steps"]["1.1"]["state"] == "done"
    review = cutover("review", "run.toml", cwd=tmp_path)
    assert "Attempt 1 (rolled back: pool size fixed)" in review.stdout
    assert "note: the pool ran out of connections; raised to 20" in review.stdout


# ---------------------------------------------------------------------------- on the world


async def test_m11_rollback_with_yes_stops_after_r4_until_a_person_notes_it(world, tmp_path,
                                                                          m11_path):
    cutover_answers = Answers(text={"4.1": "announced (test)"}, trust_unknown_host_keys=True)
    session = session_on(world, m11_path, tmp_path / "run.toml",
                         operator=RecordingOperator(answers=cutover_answers))
    from cutover_tui.sandbox.demo import Teammate

    Teammate(session).join()  # 5.2 is co-signed: a second operator approves it
    book = session.book
    try:
        assert await run_steps(session, phase_step_ids(book, ["1", "2", "3", "4", "5"]),
                               out=lambda _line: None)
        rollback = phase_step_ids(book, None, rollback=True)
        lines: list[str] = []
        assert not await run_steps(session, rollback, out=lines.append)  # --yes, no note
        states = session.checklist.states()
        assert [states[s] for s in rollback] == ["done"] * 7 + ["failed"]
        assert '[text] "R4"' in lines[-1]
        with pytest.raises(GateClosed, match="step R4 .* is failed"):
            reattempt(session.checklist, "rehearsal", by="tester")
        session.engine.operator = RecordingOperator(answers=Answers(
            text={"R4": "rehearsal: nothing wrong"}))
        assert await run_steps(session, rollback, out=lines.append)
        assert session.checklist.record("R4").evidence["note"] == "rehearsal: nothing wrong"
        done = reattempt(session.checklist, "rehearsal", by="tester")
        assert done.phases == ("3", "4", "5", "6", "7", "8")
        assert session.engine.state("3.1") == "pending" and session.engine.state("2.1") == "done"
        assert session.engine.next_step().id == "3.1"
    finally:
        await session.aclose()


async def test_after_a_reattempt_the_week_counts_from_the_new_announcement(world, tmp_path):
    from .test_destroy_and_power import WEEK, TypingOperator

    book = WEEK.replace('[rollback]\nid = "R"\ntitle = "Rollback"\n',
                        '[rollback]\nid = "R"\ntitle = "Rollback"\nreattempt_from = "4"\n')
    book += ('\n[[rollback.steps]]\nid = "R4"\nkind = "manual"\ntitle = "root cause"\n'
             'instructions = "note it"\nrequire_note = true\n')
    (tmp_path / "week.toml").write_text(book)
    operator = TypingOperator()
    operator.answers.text["R4"] = "the dashboard's disk filled; grown"
    session = session_on(world, tmp_path / "week.toml", tmp_path / "run.toml", operator=operator)
    days = [s.id for p in session.book.phases if p.id == "7" for s in p.steps]
    engine = session.engine

    async def run(*step_ids: str) -> None:
        for step_id in step_ids:
            verdict = await engine.run_step(step_id)
            assert verdict.ok, (step_id, verdict.summary)

    try:
        await run("2.1", "4.1", "5.2", *days[:6])  # three days of the week, then trouble
        first_announcement = parse_iso(session.checklist.record("4.1").finished_at)
        await run("R1", "R4")
        reattempt(session.checklist, "disk grown", by="tester")
        world.clock.advance(3600)
        await run("4.1", "5.2")
        announced = parse_iso(session.checklist.record("4.1").finished_at)
        assert announced > first_announcement + 3 * 86400
        await run("7.1-wait.d1")
        assert session.checklist.record("7.1-wait.d1").evidence["until"] == \
            iso(announced + 86400)
        await run(*days[1:])
        verdict = await engine.run_step("8.3")
        assert verdict.ok, verdict.summary
        assert "7 day(s)" in verdict.evidence["preconditions"]["monitoring period"]
        assert engine.clock.time() >= announced + 7 * 86400  # the whole week, after attempt 2
    finally:
        await session.aclose()


# ---------------------------------------------------------------------------- the wizard's key


def wizard_on(tmp_path: Path):
    """The App as ``cutover run`` builds it, on BOOK's run record (its steps local: no host)."""
    from cutover_tui.session import open_session
    from screens.entry import make_wizard

    book = load_runbook(tmp_path / "book.toml")
    return make_wizard(lambda ui: open_session(book, ui, state=tmp_path / "run.toml",
                                               workdir=tmp_path),
                       "pilot", title="test", health_interval=None)


async def test_a_on_the_rollback_screen_asks_the_reason_then_reattempts(tmp_path):
    from screens.dialogs import ReasonDialog
    from screens.rollback import RollbackScreen

    checklist = new_checklist(tmp_path)
    finish(checklist, "1.1", "2.1", "3.1")
    finish(checklist, "2.2", note="announced in #ops")
    finish(checklist, "R1")
    finish(checklist, "R4")  # no root cause noted yet
    app = wizard_on(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, RollbackScreen) and app.screen.phase_id == "R"
        await pilot.press("a")  # not yet: R4 has no note
        await pilot.pause()
        assert isinstance(app.screen, RollbackScreen)
        [refused] = [n for n in app._notifications if n.title == "Re-attempt"]
        assert "Not yet: step R4 (root cause) has no note from a person" in refused.message
        finish(checklist, "R4", note="the pool ran out of connections; raised to 20")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ReasonDialog)
        assert app.screen.title_text == "Re-attempt the cutover as attempt 2"
        await pilot.press(*"pool size fixed", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, RollbackScreen) and app.screen.phase_id == "2"
        assert app.screen.selected_step_id() == "2.1"
        assert app.engine.state("2.1") == "pending"
        await pilot.press("q")
        await app.workers.wait_for_complete()
    data = on_disk(checklist)
    assert data["run"]["attempt"] == 2
    assert data["attempts"]["1"]["reason"] == "pool size fixed"
    assert data["attempts"]["1"]["by"] == "pilot"
