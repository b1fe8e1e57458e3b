"""Headless parity with the wizard's ``s``: ``--skip STEP_ID=REASON`` records the step skipped,
with its reason, never done; bad ``--skip`` input is a usage error (exit 2) in one sentence."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BOOK = """
[runbook]
id = "skips"
title = "Skips"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "Before"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "say hello"
command = "echo hello"
[[phases.steps]]
id = "1.2"
kind = "wait"
title = "the next scrape"
until_utc = ["05:00", "17:00"]
[[phases.steps]]
id = "1.3"
kind = "local"
title = "a check known to be wrong"
command = "echo 'error: no such field errors_last_hour' >&2; exit 1"
[[phases]]
id = "2"
title = "After"
[[phases.steps]]
id = "2.1"
kind = "local"
title = "goes on"
command = "echo after"
"""


def cutover(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def write_book(tmp_path):
    (tmp_path / "book.toml").write_text(BOOK)


def test_skip_records_the_reason_and_a_skipped_wait_is_not_done(tmp_path):
    write_book(tmp_path)
    result = cutover("run", "book.toml", "--headless", "--yes", "--state", "run.toml",
                     "--operator", "ann", "--skip", "1.2=the scrape is checked tomorrow",
                     "--skip", "1.3=the seed states no errors_last_hour field", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  ↷ 1.2            skipped  the next scrape: skipped: the scrape is checked " \
           "tomorrow" in result.stdout
    assert "summary: 2 done, 2 skipped of 4 steps" in result.stdout
    steps = tomllib.loads((tmp_path / "run.toml").read_text())["steps"]
    assert {k: v["state"] for k, v in steps.items()} == {
        "1.1": "done", "1.2": "skipped", "1.3": "skipped", "2.1": "done"}
    wait = steps["1.2"]
    assert wait["summary"] == "skipped: the scrape is checked tomorrow"
    assert wait["operator"] == "ann" and wait["finished_at"]
    assert "evidence" not in wait  # it never ran: no "reached" time, nothing waited
    assert any(note.endswith("ann: skipped: the scrape is checked tomorrow")
               for note in wait["notes"])
    # Phase 2 ran: a phase whose gating steps are done or skipped has passed, as in the wizard.
    review = cutover("review", "run.toml", cwd=tmp_path)
    assert "1.3 [skipped] a check known to be wrong — ann" in review.stdout
    assert "skipped: the seed states no errors_last_hour field" in review.stdout


def test_without_the_skip_the_failure_names_the_cause_and_a_later_skip_resumes(tmp_path):
    write_book(tmp_path)
    first = cutover("run", "book.toml", "--headless", "--yes", "--state", "run.toml",
                    "--skip", "1.2=not waiting in a test", cwd=tmp_path)
    assert first.returncode == 1
    assert "✗ 1.3            failed   a check known to be wrong: exit status 1, expected 0: " \
           "error: no such field errors_last_hour" in first.stdout
    assert "summary: 1 done, 1 skipped, 1 failed, 1 pending of 4 steps" in first.stdout
    again = cutover("run", "book.toml", "--headless", "--yes", "--state", "run.toml",
                    "--skip", "1.3=the check is wrong, see issue 10", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1.2            skipped  the next scrape (already recorded)" in again.stdout
    assert "summary: 2 done, 2 skipped of 4 steps" in again.stdout


def test_a_done_step_is_not_skipped_after_the_fact(tmp_path):
    write_book(tmp_path)
    cutover("run", "book.toml", "--headless", "--yes", "--state", "run.toml", "--phase", "2",
            "--skip", "2.1=x", cwd=tmp_path)
    result = cutover("run", "book.toml", "--headless", "--yes", "--state", "run.toml",
                     "--phase", "1", "--skip", "1.2=later", "--skip", "1.3=wrong",
                     cwd=tmp_path)
    assert result.returncode == 0
    steps = tomllib.loads((tmp_path / "run.toml").read_text())["steps"]
    assert steps["2.1"]["state"] == "skipped"
    rerun = cutover("run", "book.toml", "--headless", "--yes", "--state", "run.toml",
                    "--phase", "1", "--skip", "1.1=too late", cwd=tmp_path)
    assert "1.1            done     say hello (already recorded; --skip not applied)" \
        in rerun.stdout
    assert tomllib.loads((tmp_path / "run.toml").read_text())["steps"]["1.1"]["state"] == "done"


def test_bad_skips_are_usage_errors_in_a_sentence(tmp_path):
    write_book(tmp_path)
    cases = {
        ("--skip", "9.9=whatever"): "runbook 'skips' has no step 9.9",
        ("--skip", "1.2"): "--skip '1.2': write STEP_ID=REASON",
        ("--skip", "1.2=  "): "--skip 1.2: skipping a step needs a reason",
        ("--skip", "1.2=a", "--skip", "1.2=b"): "--skip 1.2 is given twice",
        ("--phase", "2", "--skip", "1.2=a"): "step 1.2 is not one this run goes through",
    }
    for args, sentence in cases.items():
        result = cutover("run", "book.toml", "--headless", "--yes", "--state", "run.toml", *args,
                         cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert sentence in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    wizard = cutover("run", "book.toml", "--skip", "1.2=a", cwd=tmp_path)
    assert wizard.returncode == 2 and "--skip is for --headless runs" in wizard.stderr
    assert not (tmp_path / "run.toml").exists()  # nothing was started


def test_demo_checks_its_skips_before_starting_the_world(tmp_path):
    unknown = cutover("demo", "--headless", "--skip", "4.3-nope=x", cwd=ROOT)
    assert unknown.returncode == 2
    assert "runbook 'm11-production-cutover' has no step 4.3-nope" in unknown.stderr
    assert "starting the rehearsal world" not in unknown.stdout
    wizard = cutover("demo", "--skip", "5.1-processes=x", cwd=ROOT)
    assert wizard.returncode == 2 and "--skip is for --headless runs" in wizard.stderr
