import os
import signal
import subprocess
import sys
import time
import tomllib

from cutover_tui.checklist import Checklist
from cutover_tui.operator import HeadlessOperator
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session

WRITER = """
import sys
from cutover_tui.checklist import Checklist
checklist = Checklist(sys.argv[1])
prefix = sys.argv[2]
count = int(sys.argv[3])
big = "x" * int(sys.argv[4])
for i in range(count):
    checklist.update_step(f"{prefix}-{i % 7}", state="done", counter=i, output=big)
    checklist.add_note("shared", prefix, f"{prefix} note {i}")
print("finished", flush=True)
"""


def writer(path, prefix, count, size=10):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), prefix, str(count),
                             str(size)], stdout=subprocess.PIPE, text=True)


def test_a_process_killed_mid_save_leaves_a_whole_file(tmp_path):
    path = tmp_path / "run.toml"
    Checklist(path).update_run(runbook_id="t")
    for attempt in range(15):
        process = writer(path, f"w{attempt}", 10_000, size=200_000)
        time.sleep(0.05 + attempt * 0.013)
        process.send_signal(signal.SIGKILL)
        process.wait()
        with path.open("rb") as handle:
            data = tomllib.load(handle)  # never half a file
        assert data["run"]["runbook_id"] == "t"
    leftovers = [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    # A killed writer may leave its temporary file; it never replaces the checklist.
    assert all(name.startswith(".run.toml.") for name in leftovers)


UPDATER = """
import sys
from cutover_tui.checklist import Checklist
checklist = Checklist(sys.argv[1])
name, count = sys.argv[2], int(sys.argv[3])
for i in range(count):
    checklist.add_note("shared", name, f"{name} note {i}")
    if i % 10 == 9:  # and now and then a table of its own, so more than one table changes
        checklist.update_step(f"own-{name}", state="done", counter=i)
print("finished", flush=True)
"""


def test_four_processes_writing_the_same_checklist_lose_nothing(tmp_path):
    """4 writers x 250 updates, all at once: every update is in the file at the end."""
    path = tmp_path / "run.toml"
    Checklist(path).update_run(runbook_id="t")
    names, count = ("alice", "bob", "carol", "dave"), 250
    writers = [subprocess.Popen([sys.executable, "-c", UPDATER, str(path), name, str(count)],
                                stdout=subprocess.PIPE, text=True) for name in names]
    assert [writer.wait(300) for writer in writers] == [0, 0, 0, 0]
    data = Checklist(path).read()
    notes = data["steps"]["shared"]["notes"]
    assert len(notes) == len(names) * count
    for name in names:
        mine = [note.split(": ", 1)[1] for note in notes if f" {name}: " in note]
        assert mine == [f"{name} note {i}" for i in range(count)]  # all, in the order made
        assert data["steps"][f"own-{name}"]["counter"] == count - 1
    assert data["run"]["runbook_id"] == "t"


OUTSIDER = """
import sys
from cutover_tui.checklist import Checklist
Checklist(sys.argv[1]).add_note("1.1", "bob", "from another process")
"""


def test_a_write_by_another_process_between_ours_is_kept_by_our_next_write(tmp_path):
    path = tmp_path / "run.toml"
    ours = Checklist(path)
    ours.update_run(runbook_id="t")
    ours.add_note("1.1", "ann", "ours first")
    subprocess.run([sys.executable, "-c", OUTSIDER, str(path)], check=True, timeout=60)
    ours.add_note("1.1", "ann", "ours again")
    notes = tomllib.loads(path.read_text())["steps"]["1.1"]["notes"]
    assert [note.split(": ", 1)[1] for note in notes] == [
        "ours first", "from another process", "ours again"]
    assert ours.records["1.1"].notes == tuple(notes)


def test_resume_marks_a_crashed_running_step_interrupted(tmp_path, m11_path):
    state = tmp_path / "run.toml"
    book = load_runbook(m11_path)
    session = open_session(book, HeadlessOperator("ann"), state=state)
    assert not session.report.resumed
    # A runner that no longer exists left the step running.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    session.checklist.update_step("1.1-health", state="running", operator="ann",
                                  runner=f"{os.uname().nodename}:{dead.pid}")
    again = open_session(book, HeadlessOperator("bob"), state=state)
    assert again.report.resumed
    assert again.report.interrupted == ["1.1-health"]
    record = again.checklist.step("1.1-health")
    assert record["state"] == "interrupted"
    assert "found running after a crash" in record["notes"][-1]
    assert again.checklist.read()["run"]["operators"] == ["ann", "bob"]
    assert again.engine.next_step().id == "1.1-health"


def test_resume_lands_on_the_first_unfinished_step(tmp_path, m11_path):
    state = tmp_path / "run.toml"
    book = load_runbook(m11_path)
    session = open_session(book, HeadlessOperator("ann"), state=state)
    for step_id in ("1.1-health", "1.1-services"):
        session.checklist.update_step(step_id, state="done")
    session.engine.skip("1.1-dashboard", "checked by hand in a browser")
    again = open_session(book, HeadlessOperator("ann"), state=state)
    assert again.engine.next_step().id == "1.1-logs"
    assert again.checklist.step("1.1-dashboard")["summary"].startswith("skipped: checked")


def test_a_changed_runbook_is_reported_with_what_changed(tmp_path, m11_path):
    state = tmp_path / "run.toml"
    open_session(load_runbook(m11_path), HeadlessOperator("ann"), state=state)
    changed = tmp_path / "m11.toml"
    changed.write_text(m11_path.read_text().replace(
        "journalctl -u air-demand-api -f", "journalctl -u air-demand-api -f -n 50"))
    again = open_session(load_runbook(changed), HeadlessOperator("ann"), state=state)
    changes = "\n".join(again.report.runbook_changes)
    assert "the runbook changed since this run started" in changes
    assert "step 4.3-api-logs (Watch API logs in real time) now does something else" in changes
    assert "-n 50" in "\n".join(again.checklist.step("4.3-api-logs")["plan"])


def test_the_checklist_is_self_contained(tmp_path, m11_path):
    state = tmp_path / "run.toml"
    open_session(load_runbook(m11_path), HeadlessOperator("ann"), state=state)
    data = Checklist(state).read()
    assert data["run"]["runbook_sha256"] and data["run"]["started_at"]
    assert data["phases"]["1"]["title"] == "Pre-Cutover Validation"
    assert "Test suite: at least 40 of 48 tests pass" in data["phases"]["1"]["success_criteria"]
    step = data["steps"]["1.2"]
    assert step["title"].startswith("Run full test suite") and step["state"] == "pending"
    assert any("npm test" in line for line in step["plan"])


def test_a_broken_checklist_file_is_a_sentence(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[run\n")
    from cutover_tui.errors import ChecklistError

    try:
        Checklist(path).read()
    except ChecklistError as exc:
        assert "is not valid TOML" in str(exc)
    else:
        raise AssertionError("a broken checklist must be refused")
