import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_validate_m11_prints_every_phase_and_the_rollback():
    result = run_cli("validate", str(M11))
    assert result.returncode == 0, result.stderr
    for n, title in enumerate(["Pre-Cutover Validation", "Database Backup", "Configuration Updates",
                               "Production Cutover", "Pause Old Production Droplet",
                               "Post-Cutover Validation", "One-Week Monitoring Period",
                               "Delete Old Production Droplet"], start=1):
        assert f"Phase {n}: {title}" in result.stdout
    assert "Rollback: Rollback Procedure" in result.stdout


def test_validate_usage_error_exits_2():
    assert run_cli("validate").returncode == 2
    assert run_cli("validate", str(M11), "--host", "bad").returncode == 2


def test_validate_broken_runbook_exits_1(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[runbook]\nid = 'x'\n")
    result = run_cli("validate", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{bad}:" in result.stderr
