"""A writer SIGKILLed inside a checklist write never corrupts the file and never loses an update
it had acknowledged. The writer announces when it is inside a write (its temporary file
written and fsynced, the rename not yet done), so each kill provably lands mid-write."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from cutover_tui.checklist import Checklist

WRITER = r"""
import os, sys, time
from cutover_tui.checklist import Checklist

real_fsync = os.fsync
writes = 0
target, pause = int(sys.argv[2]), sys.argv[3] == "pause"

def announcing_fsync(fd):
    global writes
    real_fsync(fd)
    try:
        name = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return
    if name.endswith(".tmp"):  # the new version, written but not yet renamed into place
        writes += 1
        if writes == target:
            print("inside-write", flush=True)
            if pause:
                time.sleep(30)  # the kill lands here: after the write, before the rename

os.fsync = announcing_fsync
checklist = Checklist(sys.argv[1])
for i in range(100000):
    checklist.add_note("shared", "writer", f"note {i}")
    print(f"ack {i}", flush=True)
"""


def kill_mid_write(path: Path, target: int, pause: bool) -> list[str]:
    """Run a writer, SIGKILL it inside its ``target``-th write; the notes it acknowledged."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(target),
                                "pause" if pause else "go"], stdout=subprocess.PIPE, text=True)
    acked: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    for line in process.stdout:
        if line.startswith("ack "):
            acked.append(f"note {line.split()[1]}")
        elif line.strip() == "inside-write":
            process.send_signal(signal.SIGKILL)
            break
        if time.monotonic() > deadline:
            break
    else:
        process.wait()
        pytest.fail("the writer never reached a write (did the checklist stop fsyncing a "
                    "temporary file before renaming it?)")
    process.wait()
    return acked


def crash_many(tmp_path: Path, kills: int) -> None:
    path = tmp_path / "run.toml"
    Checklist(path).update_run(runbook_id="t")
    rng = random.Random(1234)
    acked_total: list[str] = []
    landed_before_rename = 0
    for round_number in range(kills):
        pause = round_number % 2 == 0
        acked = kill_mid_write(path, rng.randint(1, 4), pause)
        with path.open("rb") as handle:
            data = tomllib.load(handle)  # never half a file
        assert data["run"]["runbook_id"] == "t"
        notes = data["steps"]["shared"]["notes"]
        acked_total += acked
        missing = [n for n in acked if not any(note.endswith(n) for note in notes)]
        assert missing == [], f"round {round_number}: acknowledged but lost: {missing[:3]}"
        temps = list(tmp_path.glob(".run.toml.*.tmp"))
        if pause:
            # The kill came after the new version was written and before the rename: the
            # temporary file is the proof, and the checklist is still the old version.
            assert temps, "a paused writer was killed, yet no temporary file was left"
            landed_before_rename += 1
        for temp in temps:
            temp.unlink()
    assert landed_before_rename == (kills + 1) // 2
    assert len(acked_total) >= kills // 2  # updates were really being made between kills


def test_writers_killed_inside_a_write_leave_a_whole_file_and_lose_no_acknowledged_note(
        tmp_path):
    crash_many(tmp_path, kills=16)


@pytest.mark.slow
def test_a_thousand_kills_inside_writes_corrupt_nothing_and_lose_nothing(tmp_path):
    crash_many(tmp_path, kills=1000)


HOLDER = r"""
import sys, time
from cutover_tui.checklist import Checklist

with Checklist(sys.argv[1]).transaction() as data:
    data["steps"].setdefault("shared", {}).setdefault("notes", []).append("from the holder")
    print("holding", flush=True)
    time.sleep(1.5)  # a second operator writes now
print("released", flush=True)
"""


def test_a_second_writer_waits_for_the_lock_instead_of_losing_the_first_writers_update(
        tmp_path):
    path = tmp_path / "run.toml"
    Checklist(path).update_run(runbook_id="t")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    Checklist(path).add_note("shared", "second", "from the second writer")  # waits for the lock
    assert holder.wait(30) == 0
    notes = Checklist(path).read()["steps"]["shared"]["notes"]
    assert any("from the holder" in n for n in notes)
    assert any("from the second writer" in n for n in notes)
