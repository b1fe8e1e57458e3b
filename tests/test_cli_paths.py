"""Paths through the CLI that had no test (issue 11): resuming after a crash, the rollback
headless with its first step failing. Real subprocesses, local steps only."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from cutover_tui.checklist import Checklist

ROOT = Path(__file__).resolve().parents[1]

BOOK = """
[runbook]
id = "paths"
title = "paths"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "One"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "first"
command = "echo first"
[[phases.steps]]
id = "1.2"
kind = "local"
title = "second"
command = "echo second"
[rollback]
id = "R"
title = "Rollback"
[[rollback.steps]]
id = "R1"
kind = "local"
title = "power on the old host"
command = "echo 'cannot power on' >&2; exit 4"
[[rollback.steps]]
id = "R2"
kind = "local"
title = "start the old services"
command = "touch started"
"""


def cutover(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_a_step_left_running_by_a_crash_is_reported_interrupted_and_run_again(tmp_path):
    (tmp_path / "book.toml").write_text(BOOK)
    state = tmp_path / "run.toml"
    first = cutover("run", "book.toml", "--headless", "--yes", "--state", str(state),
                    "--operator", "ann", "--phase", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    # A runner that died mid-step (SIGKILL, power cut) left 1.2 "running".
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    Checklist(state).update_step("1.2", state="running", operator="ann",
                                 runner=f"{os.uname().nodename}:{dead.pid}")
    again = cutover("run", "book.toml", "--headless", "--yes", "--state", str(state),
                    "--operator", "bob", "--phase", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "step 1.2 was running when the last session stopped: marked interrupted, it will " \
           "run again" in again.stdout
    assert "1.1            done     first (already recorded)" in again.stdout
    record = tomllib.loads(state.read_text())["steps"]["1.2"]
    assert record["state"] == "done" and record["operator"] == "bob"
    assert any("found running after a crash" in note for note in record["notes"])


def test_the_rollback_headless_stops_at_a_failing_first_step(tmp_path):
    (tmp_path / "book.toml").write_text(BOOK)
    state = tmp_path / "run.toml"
    result = cutover("run", "book.toml", "--headless", "--yes", "--rollback", "--state",
                     str(state), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "R1" in result.stdout and "failed" in result.stdout
    assert "cannot power on" in result.stdout  # the cause, from stderr
    steps = tomllib.loads(state.read_text())["steps"]
    assert steps["R1"]["state"] == "failed"
    assert steps.get("R2", {}).get("state", "pending") == "pending"
    assert not (tmp_path / "started").exists()
