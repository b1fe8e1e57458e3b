"""The run's journal (issue 15, item 7): every entry chained to the one before, every checklist
write's hash in it, output batched; ``cutover review RECORD --verify`` on an untouched run and
on copies with one line edited, removed or inserted, and with the checklist changed by hand."""

from __future__ import annotations

import asyncio
import fcntl
import getpass
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cutover_tui import journal as journal_module
from cutover_tui.checklist import Checklist
from cutover_tui.journal import BATCH_LINES, BATCH_SECONDS, Journal, entry_line, read_new
from cutover_tui.journalcheck import render_journal, verify
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from tests.helpers import RecordingOperator

ROOT = Path(__file__).resolve().parents[1]

BOOK = """
[runbook]
id = "journal"
title = "Journal run"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "Local"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "count"
command = "seq 1 3000; echo DB_PASSWORD=hunter2"
[[phases.steps]]
id = "1.2"
kind = "local"
title = "not needed"
command = "echo never"
[[phases.steps]]
id = "1.3"
kind = "local"
title = "fails"
command = "echo nope; exit 3"
"""


async def _run(folder: Path) -> Path:
    """A small run, as an operator would make it: a step that prints 3,000 lines, a skip with
    its reason, a failure, a note and a red flag; the session closed."""
    (folder / "book.toml").write_text(BOOK)
    state = folder / "run.toml"
    session = open_session(load_runbook(folder / "book.toml"), RecordingOperator("ann"),
                           state=state, workdir=folder)
    assert (await session.engine.run_step("1.1")).ok
    session.engine.skip("1.2", "covered by 1.1")
    assert not (await session.engine.run_step("1.3")).ok
    session.engine.add_note("1.3", "expected: exit 3 is the drill")
    session.engine.raise_red_flag("error rate above 1% for 5 minutes")
    await session.aclose()
    return state


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    return asyncio.run(_run(tmp_path_factory.mktemp("run")))


@pytest.fixture
def run(original, tmp_path) -> Path:
    """A copy of the untouched run (its record and journal) for this test to damage."""
    for name in ("run.toml", "run.journal"):
        shutil.copy2(original.parent / name, tmp_path / name)
    return tmp_path / "run.toml"


def lines_of(record: Path) -> list[str]:
    return record.with_suffix(".journal").read_text().splitlines()


def write_lines(record: Path, lines: list[str]) -> None:
    record.with_suffix(".journal").write_text("".join(f"{line}\n" for line in lines))


def cutover(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


@pytest.mark.world  # the CLI as a subprocess
def test_an_untouched_run_is_intact_and_journals_what_happened(run):
    result = cutover("review", str(run), "--verify", cwd=run.parent)
    entries = [json.loads(line) for line in lines_of(run)]
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"intact: {len(entries)} entries, chain and record match\n"
    assert [entry["seq"] for entry in entries] == list(range(1, len(entries) + 1))
    kinds = {entry["kind"] for entry in entries}
    assert {"started", "output", "finished", "skip", "note", "red_flag", "checklist"} <= kinds
    assert {(entry["operator"], entry["account"]) for entry in entries} == {
        ("ann", getpass.getuser())}
    output = "\n".join(entry["text"] for entry in entries if entry["kind"] == "output")
    assert output.split("\n")[:3000] == [f"local: {n}" for n in range(1, 3001)]
    assert "hunter2" not in run.with_suffix(".journal").read_text()
    assert "DB_PASSWORD=••••••" in output
    skip = next(entry for entry in entries if entry["kind"] == "skip")
    assert (skip["step"], skip["text"]) == ("1.2", "skipped: covered by 1.1")
    last = [entry for entry in entries if entry["kind"] == "checklist"][-1]
    assert last["text"] == hashlib.sha256(run.read_bytes()).hexdigest()
    assert oct(run.with_suffix(".journal").stat().st_mode & 0o777) == "0o600"
    shown = cutover("review", str(run), "--journal", cwd=run.parent)
    assert shown.returncode == 0 and f" ann ({getpass.getuser()}) started 1.1: count" in shown.stdout
    assert "skip 1.2: skipped: covered by 1.1" in shown.stdout
    assert "note 1.3: expected: exit 3 is the drill" in shown.stdout


def test_an_edited_line_is_named_by_its_hash(run):
    lines = lines_of(run)
    index = next(i for i, line in enumerate(lines)
                 if '"kind":"finished"' in line and "failed" in line)
    lines[index] = lines[index].replace("failed", "done").replace(
        "exit status 3, expected 0", "ok")
    assert lines[index] != lines_of(run)[index]
    write_lines(run, lines)
    check = verify(run)
    assert not check.ok
    assert check.problem == (f"entry {index + 1} (line {index + 1}) was edited: its content "
                             "does not match its hash")


def test_an_edited_line_with_its_hash_recomputed_breaks_the_next_ones_prev(run):
    lines = lines_of(run)
    index = next(i for i, line in enumerate(lines) if '"kind":"note"' in line)
    entry = json.loads(lines[index])
    forged = dict(entry, text="expected: all fine")
    lines[index] = entry_line(**{k: forged[k] for k in (
        "seq", "at", "kind", "step", "operator", "account", "text", "prev")}).decode()
    write_lines(run, lines)
    check = verify(run)
    assert not check.ok
    assert check.problem.startswith(f"entry {index + 2} (line {index + 2}) does not follow the "
                                    "line before it"), check.problem


def test_a_removed_line_is_named(run):
    lines = lines_of(run)
    del lines[4]
    write_lines(run, lines)
    check = verify(run)
    assert not check.ok
    assert check.problem == "entry 6 (line 5) should be entry 5: 1 entry removed before it"


def test_an_inserted_line_is_named(run):
    lines = lines_of(run)
    before = json.loads(lines[3])
    # Forged as well as it can be: the right seq and prev, its own hash right.
    forged = entry_line(before["seq"] + 1, before["at"], "note", "1.1", "ann", before["account"],
                        "all checks passed", hashlib.sha256(lines[3].encode()).hexdigest())
    lines.insert(4, forged.decode())
    write_lines(run, lines)
    check = verify(run)
    assert not check.ok
    assert check.problem == "entry 5 (line 6) should be entry 6: a line inserted before it"


def test_a_line_that_is_not_json_is_named(run):
    lines = lines_of(run)
    lines.insert(2, "2025-12-19T10:05:00Z 1.1 started by ann: say hello")
    write_lines(run, lines)
    assert verify(run).problem == "line 3 is not a journal entry: not JSON"


@pytest.mark.world  # the CLI as a subprocess
def test_a_checklist_changed_by_hand_is_named(run):
    run.write_text(run.read_text().replace("expected: exit 3 is the drill",
                                           "expected: all fine"))
    result = cutover("review", str(run), "--verify", cwd=run.parent)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("not intact: the record was changed outside the tool: its "
                                    "sha256 is "), result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_checklist_written_without_a_session_is_journalled(run, monkeypatch):
    """``cutover silence``, ``reattempt`` and scripts write the record with a bare Checklist: the
    run's journal records those writes too, so they are not "outside the tool"."""
    monkeypatch.setenv("CUTOVER_OPERATOR", "bob")
    Checklist(run).add_note("1.3", "bob", "seen")
    check = verify(run)
    assert check.ok, check.problem
    last = json.loads(lines_of(run)[-1])
    assert (last["kind"], last["operator"], last["seq"]) == ("checklist", "bob", check.entries)


def test_a_checklist_without_a_journal_gets_none(tmp_path):
    Checklist(tmp_path / "plain.toml").update_run(runbook_id="t")
    assert not (tmp_path / "plain.journal").exists()
    assert verify(tmp_path / "plain.toml").problem.startswith("no journal at ")


def test_a_line_cut_short_by_a_crash_is_named_and_the_chain_goes_on(run):
    with run.with_suffix(".journal").open("a") as handle:
        handle.write('{"seq":99,"at":"2025-')  # a process killed inside its write
    journal = Journal(run.with_suffix(".journal"), operator="ann", record=run)
    journal.append("note", "after the crash", "1.3")
    journal.close()
    lines = lines_of(run)
    assert json.loads(lines[-1])["prev"] == hashlib.sha256(lines[-2].encode()).hexdigest()
    assert verify(run).problem == f"line {len(lines) - 1} is not a journal entry: not JSON"


WRITER = """
import sys
from pathlib import Path
from cutover_tui.journal import Journal
journal = Journal(Path(sys.argv[1]), operator=sys.argv[2], record=Path(sys.argv[3]))
sys.stdin.readline()  # every writer starts at once
for n in range(300):
    journal.append("note", f"{sys.argv[2]} {n}", "1.1")
    journal.output("1.1", f"line {n}")
journal.close()
"""


def test_writers_in_several_processes_keep_one_chain(tmp_path):
    record = tmp_path / "run.toml"
    record.write_text("")
    path = tmp_path / "run.journal"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"op{n}", str(record)],
                                stdin=subprocess.PIPE, text=True, cwd=ROOT) for n in range(4)]
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    from cutover_tui.journalcheck import check_chain

    entries, problem = check_chain(path.read_bytes())
    assert problem == ""
    notes = [entry["text"] for entry in entries if entry["kind"] == "note"]
    assert sorted(notes) == sorted(f"op{w} {n}" for w in range(4) for n in range(300))


async def test_a_flood_of_output_takes_a_lock_per_batch_not_per_line(tmp_path, monkeypatch):
    locks = []
    real_flock = fcntl.flock

    def counting_flock(fd, operation):
        if operation == fcntl.LOCK_EX:
            locks.append(fd)
        return real_flock(fd, operation)

    monkeypatch.setattr(journal_module.fcntl, "flock", counting_flock)
    journal = Journal(tmp_path / "run.journal", operator="ann", record=tmp_path / "run.toml")
    lines = [f"row {n}" for n in range(200_000)]
    for line in lines:
        journal.output("6.4", line)
    journal.append("finished", "done: ok", "6.4")
    journal.close()
    entries, _ = read_new(tmp_path / "run.journal")
    assert len(locks) <= 200_000 // BATCH_LINES + 1
    assert "\n".join(e["text"] for e in entries if e["kind"] == "output").split("\n") == lines
    assert entries[-1]["kind"] == "finished"


async def test_a_line_reaches_the_file_within_the_batch_time_without_more_output(tmp_path):
    journal = Journal(tmp_path / "run.journal", operator="ann", record=tmp_path / "run.toml")
    journal.output("6.4", "first")
    assert read_new(tmp_path / "run.journal")[0] == []  # batched: not written yet
    await asyncio.sleep(BATCH_SECONDS * 4)  # the batch's timer comes first: same loop, earlier
    entries, offset = read_new(tmp_path / "run.journal")
    assert [(e["kind"], e["step"], e["text"]) for e in entries] == [("output", "6.4", "first")]
    journal.output("6.4", "second")
    journal.close()
    later, _ = read_new(tmp_path / "run.journal", offset)
    assert [e["text"] for e in later] == ["second"]


def test_read_new_leaves_a_line_being_written_for_the_next_call(tmp_path):
    path = tmp_path / "run.journal"
    journal = Journal(path, operator="ann", record=tmp_path / "run.toml")
    journal.append("note", "one", "1.1")
    with path.open("a") as handle:
        handle.write('{"seq":2,')
    entries, offset = read_new(path)
    assert [e["text"] for e in entries] == ["one"]
    assert offset == len(path.read_bytes()) - len('{"seq":2,')


@pytest.mark.parametrize(("record_mode", "old_mode", "expected"), [
    (0o600, None, 0o600), (0o640, None, 0o640), (0o660, None, 0o660), (0o644, None, 0o640),
    (0o600, 0o644, 0o600)])
def test_the_journal_has_the_records_mode_never_the_worlds(tmp_path, record_mode, old_mode,
                                                            expected):
    record = tmp_path / "run.toml"
    record.write_text("")
    record.chmod(record_mode)
    path = tmp_path / "run.journal"
    if old_mode is not None:
        path.write_text("")
        path.chmod(old_mode)
    old_umask = os.umask(0o077)  # what the umask takes off, the record's mode puts back
    try:
        journal = Journal(path, operator="ann", record=record)
        journal.append("note", "x")
        journal.close()
    finally:
        os.umask(old_umask)
    assert path.stat().st_mode & 0o777 == expected


def test_the_journal_printed_for_a_person(run):
    shown = render_journal(run)
    assert "started 1.1: count" in shown
    assert "output 1.1: local: 1\n" in shown and "\n        local: 2\n" in shown
    assert "finished 1.3: failed: exit status 3" in shown
    assert "red_flag: error rate above 1% for 5 minutes" in shown
    assert "checklist: record written, sha256 " in shown


async def test_a_removed_journal_started_again_by_a_later_session_is_not_intact(run):
    """rm run.journal, edit the record, let any tool write it: the new chain starts after the
    record's first step, and --verify says so instead of "intact"."""
    text = run.read_text()
    run.write_text(text.replace("expected: exit 3 is the drill", "expected: all fine"))
    run.with_suffix(".journal").unlink()
    (run.parent / "book.toml").write_text(BOOK)
    session = open_session(load_runbook(run.parent / "book.toml"), RecordingOperator("mallory"),
                           state=run, workdir=run.parent)
    await session.aclose()
    check = verify(run)
    assert not check.ok and "the journal never saw it start" in check.problem, check
    assert "removed and started again" in check.problem
