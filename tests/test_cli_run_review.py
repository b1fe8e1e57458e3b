"""The headless runner and the review, through the CLI as an operator types them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BOOK = """
[runbook]
id = "cli"
title = "CLI run"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "Local"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "say hello"
command = "echo hello; echo DB_PASSWORD=hunter2"
[[phases.steps]]
id = "1.2"
kind = "manual"
title = "announce"
instructions = "Tell the team."
require_note = true
[[phases.steps]]
id = "1.3"
kind = "local"
title = "fails"
command = "echo nope; exit 3"
"""


def cutover(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_headless_run_prints_a_line_per_step_and_stops_at_the_failure(tmp_path):
    (tmp_path / "book.toml").write_text(BOOK)
    (tmp_path / "answers.toml").write_text('[confirm]\ndefault = true\n[text]\n'
                                           '"1.2" = "posted in #ops"\n')
    result = cutover("run", "book.toml", "--headless", "--answers", "answers.toml", "--state",
                     "run.toml", "--operator", "ann", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line[2:3] in ("✓", "✗")]
    assert lines[0].startswith("  ✓ 1.1") and lines[1].startswith("  ✓ 1.2")
    assert lines[2].startswith("  ✗ 1.3") and "exit status 3, expected 0" in lines[2]
    assert "Traceback" not in result.stdout + result.stderr
    again = cutover("run", "book.toml", "--headless", "--yes", "--state", "run.toml", cwd=tmp_path)
    assert "resuming" in again.stdout and "already recorded" in again.stdout

    review = cutover("review", "run.toml", cwd=tmp_path)
    assert review.returncode == 0
    assert "1.1 [done] say hello — ann" in review.stdout
    assert "1.3 [failed] fails" in review.stdout
    assert "note: posted in #ops" in review.stdout or "posted in #ops" in review.stdout
    markdown = cutover("review", "run.toml", "--markdown", cwd=tmp_path)
    assert markdown.stdout.startswith("# CLI run") and "\n## Phase 1: Local" in markdown.stdout
    written = (tmp_path / "run.toml").read_text() + (tmp_path / "run.journal").read_text()
    assert "hunter2" not in written and "DB_PASSWORD=••••••" in written


def test_bad_command_line_input_is_a_sentence(tmp_path):
    (tmp_path / "book.toml").write_text(BOOK)
    bad_var = cutover("run", "book.toml", "--headless", "--var", "no-equals", cwd=tmp_path)
    assert bad_var.returncode == 2 and "write KEY=VALUE" in bad_var.stderr
    missing = cutover("review", "nowhere.toml", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no checklist at nowhere.toml"
