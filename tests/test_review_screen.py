"""``cutover review RECORD`` as a screen (issue 15, item 8): a read-only timeline of a run made
by a real small headless run — two operators (ann, then bob resuming), a step with a pass
threshold's evidence, a skip with its reason, a note, a failure, a red flag raised by hand.
Pilot tests drive it by keys: the operator and state filters narrow the rows, the detail pane
shows the selected step's output, evidence, notes and skip reason, approvals and archived
attempts; the header gives the journal's verdict; no key changes a byte of the record. On a pipe
``cutover review`` still prints the text; on a terminal (a pty) it opens the screen."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cutover_tui.checklist import Checklist
from cutover_tui.clock import Clock
from cutover_tui.reviewmodel import StepRow, read_review
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from screens.entry import make_wizard
from screens.phase import PhaseScreen
from screens.review import ReviewScreen
from screens.reviewapp import ReviewApp
from screens.widgets.reviewdetail import ReviewDetail
from screens.widgets.timeline import Timeline
from tests.helpers import RecordingOperator

ROOT = Path(__file__).resolve().parents[1]
SIZE = (120, 36)

BOOK = """
[runbook]
id = "review"
title = "Review screen run"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "Tests"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "test suite"
command = "for i in 1 2 3; do echo test-$i ok; done; echo 'tail-marker-42: 40 of 48 passed'"
threshold = { regex = '(\\d+) of (\\d+) passed', min_passed = 40 }
[[phases.steps]]
id = "1.2"
kind = "local"
title = "not needed"
command = "echo never"
[[phases]]
id = "2"
title = "Checks"
[[phases.steps]]
id = "2.1"
kind = "local"
title = "check by bob"
command = "echo checked-by-bob"
[[phases.steps]]
id = "2.2"
kind = "local"
title = "fails"
command = "echo nope; exit 3"
"""
# Fixed times for each step (started, finished), so that the picture never changes.
TIMES = {"1.1": ("2025-12-19T10:00:00Z", "2025-12-19T10:00:42Z"),
         "1.2": ("2025-12-19T10:01:00Z", "2025-12-19T10:01:00Z"),
         "2.1": ("2025-12-19T10:05:00Z", "2025-12-19T10:05:03Z"),
         "2.2": ("2025-12-19T10:06:00Z", "2025-12-19T11:36:30Z")}
ACCOUNTS = {"ann": "alice", "bob": "robert"}
LEADING_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


class FixedClock(Clock):
    def time(self) -> float:
        return 1766142000.0  # 2025-12-19T11:00:00Z


async def _headless_run(folder: Path) -> Path:
    (folder / "book.toml").write_text(BOOK)
    state = folder / "run.toml"
    book = load_runbook(folder / "book.toml")
    ann = open_session(book, RecordingOperator("ann"), state=state, workdir=folder)
    assert (await ann.engine.run_step("1.1")).ok
    ann.engine.skip("1.2", "covered by 1.1")
    ann.engine.add_note("1.1", "looked fine")
    await ann.aclose()
    bob = open_session(book, RecordingOperator("bob"), state=state, workdir=folder)
    assert (await bob.engine.run_step("2.1")).ok
    assert not (await bob.engine.run_step("2.2")).ok
    bob.engine.raise_red_flag("error rate above 1%")
    await bob.aclose()
    # Through the tool (so the journal records the write): fixed times and accounts, for a
    # steady picture whoever runs the tests.
    with Checklist(state, clock=FixedClock()).transaction() as data:
        data["run"]["started_at"] = "2025-12-19T10:00:00Z"
        data["run"]["red_flags"] = [LEADING_TIME.sub("2025-12-19T11:40:00Z ", flag)
                                    for flag in data["run"]["red_flags"]]
        for step_id, (started, finished) in TIMES.items():
            record = data["steps"][step_id]
            record["started_at"], record["finished_at"] = started, finished
            record["account"] = ACCOUNTS[record["operator"]]  # the Unix accounts of a jump host
            record["notes"] = [LEADING_TIME.sub(f"{finished} ", note) for note in record["notes"]]
    return state


@pytest.fixture
def record(tmp_path) -> Path:
    return asyncio.run(_headless_run(tmp_path))


async def _opened(pilot) -> ReviewScreen:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen) and screen.review is not None
    return screen


def _step_ids(screen: ReviewScreen) -> list[str]:
    return [row.step_id for row in screen.query_one(Timeline).shown if isinstance(row, StepRow)]


async def _select(pilot, screen: ReviewScreen, key: str) -> str:
    """Move the cursor (by key presses: up to the top, down to ``key``); the detail pane's
    text then."""
    table = screen.query_one(Timeline)
    while table.cursor_row > 0:
        await pilot.press("up")
    for _ in range(len(table.shown)):
        if table.selected is not None and table.selected.key == key:
            break
        await pilot.press("down")
    assert table.selected is not None and table.selected.key == key
    await pilot.pause()
    return screen.query_one(ReviewDetail).text


# ---------------------------------------------------------------------------- the model


def test_the_model_reads_who_when_how_long_and_the_skip_and_masks_a_hand_edit(record):
    with Checklist(record).transaction() as data:  # a note written around the engine's masker
        data["steps"]["2.1"]["notes"].append("DB_PASSWORD=hunter2 was in the shell")
        data["steps"]["1.1"]["account"] = "ann"
        data["steps"]["1.1"]["evidence"]["DB_PASSWORD"] = "hunter2"
    review = read_review(record)
    steps = {row.step_id: row for row in review.steps}
    assert [row.step_id for row in review.steps] == ["1.1", "1.2", "2.1", "2.2"]
    assert review.operators_seen() == ("ann", "bob")
    assert review.states_seen() == ("done", "failed", "skipped")
    assert steps["1.1"].when == "12-19 10:00:00 → 10:00:42" and steps["1.1"].took == "42s"
    assert steps["2.2"].took == "1h30m" and steps["2.2"].state == "failed"
    assert steps["1.2"].skip_reason == "covered by 1.1" and steps["1.1"].skip_reason == ""
    assert dict(steps["1.1"].evidence) == {"passed": "40", "total": "48", "DB_PASSWORD": "••••••"}
    assert steps["2.1"].who == "bob (robert)" and steps["1.1"].who == "ann"  # same: once
    assert "DB_PASSWORD=•••••• was in the shell" in steps["2.1"].notes
    assert "hunter2" not in repr(review)
    assert review.journal.ok and review.journal.text.startswith("journal intact: ")
    assert [f.removeprefix("2025-12-19T11:40:00Z ") for f in review.red_flags.raised] == [
        "bob: error rate above 1%"]
    assert [row.step_id for row in review.visible(operator="bob") if isinstance(row, StepRow)
            ] == ["2.1", "2.2"]
    assert [row.key for row in review.visible(state="skipped")] == [
        "red-flags", "1/phase/1", "1/1.2"]


# ---------------------------------------------------------------------------- the screen


async def test_the_timeline_shows_phases_steps_and_the_journal_verdict(record):
    app = ReviewApp(record)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _opened(pilot)
        head = str(screen.query_one("#review-head").content)
        assert head.startswith("Review  Review screen run · operators ann, bob · attempt 1")
        journal = str(screen.query_one("#review-journal").content)
        assert re.fullmatch(r"✓ journal intact: \d+ entries, chain and record match", journal)
        table = screen.query_one(Timeline)
        assert [row.key for row in table.shown] == [
            "red-flags", "1/phase/1", "1/1.1", "1/1.2", "1/phase/2", "1/2.1", "1/2.2"]
        cells = [cell.plain for cell in table.get_row("1/2.2")]
        assert cells == ["2.2", "✗ failed", "fails", "bob (robert)", "12-19 10:06:00 → 11:36:30", "1h30m"]
        assert table.get_row("1/1.2")[1].plain == "↷ skipped"
        # The cursor starts on the first step.
        assert table.selected is not None and table.selected.key == "1/1.1"
        await pilot.press("q")
    assert app.return_code == 0


async def test_operator_and_state_filters_narrow_the_rows(record):
    async with ReviewApp(record).run_test(size=SIZE) as pilot:
        screen = await _opened(pilot)
        filters = screen.query_one("#review-filters")
        assert _step_ids(screen) == ["1.1", "1.2", "2.1", "2.2"]
        await pilot.press("o")
        assert _step_ids(screen) == ["1.1", "1.2"]
        assert "operator: ann" in str(filters.content) and "2 of 4 steps" in str(filters.content)
        await pilot.press("o")
        assert _step_ids(screen) == ["2.1", "2.2"]
        # Both filters at once: bob's failed steps; phase 1 has none, so its heading goes too.
        await pilot.press("f", "f")
        assert screen.state == "failed" and _step_ids(screen) == ["2.2"]
        assert [row.key for row in screen.query_one(Timeline).shown] == [
            "red-flags", "1/phase/2", "1/2.2"]
        await pilot.press("o")  # back to all operators: every failed step
        assert screen.operator == "" and _step_ids(screen) == ["2.2"]
        await pilot.press("f")
        assert screen.state == "skipped" and _step_ids(screen) == ["1.2"]
        await pilot.press("f")  # round again to all
        assert screen.state == "" and _step_ids(screen) == ["1.1", "1.2", "2.1", "2.2"]


async def test_the_detail_pane_shows_output_evidence_notes_skip_and_red_flags(record):
    async with ReviewApp(record).run_test(size=SIZE) as pilot:
        screen = await _opened(pilot)
        text = await _select(pilot, screen, "1/1.1")
        assert "DONE by ann (alice) · 2025-12-19T10:00:00Z → 2025-12-19T10:00:42Z · took 42s" in text
        assert "Output (its last lines)\ntest-1 ok\ntest-2 ok\ntest-3 ok\n" \
               "tail-marker-42: 40 of 48 passed" in text
        assert "Evidence\n  passed: 40\n  total: 48" in text
        assert "Notes\n  2025-12-19T10:00:42Z ann: looked fine" in text
        assert "Plan\n• local: for i in 1 2 3; do echo test-$i ok; done" in text
        text = await _select(pilot, screen, "1/1.2")
        assert "SKIPPED by ann (alice)" in text and "Skipped\n  covered by 1.1" in text
        text = await _select(pilot, screen, "1/2.2")
        assert "FAILED by bob (robert)" in text and "exit status 3" in text and "nope" in text
        text = await _select(pilot, screen, "red-flags")
        assert "Raised by hand\n  ⚑ 2025-12-19T11:40:00Z bob: error rate above 1%" in text


async def test_approvals_rules_silences_and_an_archived_attempt_are_selectable(record):
    with Checklist(record).transaction() as data:
        data["steps"]["2.1"]["approvals"] = [{"by": "carol", "account": "carol",
                                              "at": "2025-12-19T10:04:00Z", "hash": "ab12cd",
                                              "covers": "droplet 42 old-prod"}]
        data["red_flags"] = {"health": {"state": "resolved", "description": "health down",
                                        "fired_at": "2025-12-19T12:00:00Z",
                                        "transitions": ["12:00 ok → firing"]}}
        data["silences"] = [{"rule": "scraper", "from": "2025-12-19T13:00:00Z",
                             "until": "2025-12-19T14:00:00Z", "by": "bob", "reason": "upkeep"}]
        data["run"]["attempt"] = 2
        data["attempts"] = {"1": {
            "started_at": "2025-12-18T10:00:00Z", "ended_at": "2025-12-18T12:00:00Z",
            "reason": "DNS TTL too long", "by": "ann", "phases": ["1"],
            "steps": {"1.1": {"state": "failed", "title": "test suite", "operator": "ann",
                              "summary": "exit status 1", "output": "attempt-one-output"}}}}
    async with ReviewApp(record).run_test(size=SIZE) as pilot:
        screen = await _opened(pilot)
        keys = [row.key for row in screen.query_one(Timeline).shown]
        assert keys[:3] == ["red-flags", "2/attempt", "2/phase/1"]
        assert keys[-3:] == ["1/attempt", "1/phase/1", "1/1.1"]
        text = await _select(pilot, screen, "2/2.1")
        assert "Approvals\n  1.\n    by: carol\n" in text and "covers: droplet 42 old-prod" in text
        text = await _select(pilot, screen, "1/1.1")
        assert "attempt 1, archived by a re-attempt" in text and "attempt-one-output" in text
        text = await _select(pilot, screen, "1/attempt")
        assert "Attempt 1 (rolled back: DNS TTL too long)" in text and "by ann" in text
        text = await _select(pilot, screen, "red-flags")
        assert "health [resolved] health down, fired 2025-12-19T12:00:00Z" in text
        assert "12:00 ok → firing" in text
        assert "scraper 2025-12-19T13:00:00Z → 2025-12-19T14:00:00Z by bob: upkeep" in text


async def test_a_record_changed_by_hand_says_not_intact_in_the_header(record):
    record.write_text(record.read_text() + "\n# edited by hand\n")
    async with ReviewApp(record).run_test(size=SIZE) as pilot:
        screen = await _opened(pilot)
        journal = str(screen.query_one("#review-journal").content)
        assert journal.startswith("✗ NOT INTACT: the record was changed outside the tool")


async def test_no_key_changes_the_record_or_its_journal(record):
    journal = record.with_suffix(".journal")
    before = record.read_bytes(), journal.read_bytes()
    app = ReviewApp(record)
    async with app.run_test(size=SIZE) as pilot:
        await _opened(pilot)
        # The wizard's acting keys, the filters, moving and selecting, typing.
        for key in ("r", "t", "m", "s", "n", "a", "b", "p", "w", "o", "f", "down", "enter",
                    "x", "y", "space", "end", "enter", "left_square_bracket",
                    "right_square_bracket", "ctrl+p", "escape"):
            await pilot.press(key)
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
    assert app.return_code == 0  # escape closed it, nothing failed on the way
    assert (record.read_bytes(), journal.read_bytes()) == before
    assert tomllib.loads(before[0].decode())["steps"]["1.2"]["state"] == "skipped"


async def test_the_wizard_c_key_opens_the_same_review_screen(record):
    book = load_runbook(record.parent / "book.toml")
    app = make_wizard(lambda ui: open_session(book, ui, state=record, workdir=record.parent),
                      "carol", title="test", health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, PhaseScreen)
        await pilot.press("c")
        screen = await _opened(pilot)
        assert _step_ids(screen) == ["1.1", "1.2", "2.1", "2.2"]
        await pilot.press("o")
        assert _step_ids(screen) == ["1.1", "1.2"]
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, PhaseScreen)
        await pilot.press("q")
        await app.workers.wait_for_complete()


# ---------------------------------------------------------------------------- the command


def test_on_a_pipe_review_prints_the_text(record):
    result = subprocess.run([sys.executable, "-m", "cutover_tui.cli", "review", str(record)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "1.1 [done] test suite — ann 2025-12-19T10:00:00Z → 2025-12-19T10:00:42Z" \
        in result.stdout
    assert "1.2 [skipped] not needed — ann" in result.stdout
    assert "\x1b[" not in result.stdout  # no screen was drawn


def test_on_a_terminal_review_opens_the_screen_and_q_closes_it(record):
    """In a pseudo-terminal of 120 x 36: the screen draws the journal's verdict; q exits 0."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
    process = subprocess.Popen([sys.executable, "-m", "cutover_tui.cli", "review", str(record)],
                               stdin=follower, stdout=follower, stderr=follower, cwd=ROOT,
                               env=env, start_new_session=True)
    os.close(follower)
    seen, sent = b"", False
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:  # a bound, not a timing: the screen never drew
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal: it has exited
                break
            if not chunk:
                break
            seen += chunk
            if not sent and b"journal intact" in seen and b"test suite" in seen:
                os.write(leader, b"q")
                sent = True
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    assert sent, seen[-2000:].decode("utf-8", "replace")
    assert b"Traceback" not in seen


# ---------------------------------------------------------------------------- the picture


def test_snapshot_of_the_review_screen(snap_compare, record):
    async def before(pilot):
        screen = await _opened(pilot)
        await _select(pilot, screen, "1/1.1")

    assert snap_compare(ReviewApp(record), terminal_size=SIZE, run_before=before)
