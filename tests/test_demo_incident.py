"""``cutover demo --headless --incident RULE`` (issue 13): the week on the rehearsal clock with
the watcher and RULE's incident on day 4 in the world. The demo exits 0 only if that rule fired
and no other did, its notification was delivered (to the demo's loopback sink), the destroy was
refused naming it and the rollback drill brought the old production back — so each run here is
the whole promise, checked again from the run record it leaves."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from .conftest import ROOT

SLOW = pytest.mark.slow


@pytest.mark.parametrize("rule", [
    "health", "scraper", "error-rate",
    pytest.param("database", marks=SLOW), pytest.param("dashboard", marks=SLOW),
])
def test_the_incident_fires_its_rule_shuts_the_destroy_and_the_rollback_restores(tmp_path, rule):
    keep = tmp_path / "demo"
    env = {k: v for k, v in __import__("os").environ.items() if k != "CUTOVER_NOTIFY"}
    result = subprocess.run([sys.executable, "-m", "cutover_tui.cli", "demo", "--headless",
                             "--incident", rule, "--keep", str(keep)], capture_output=True,
                            text=True, cwd=ROOT, timeout=280, env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "Traceback" not in out
    assert f"sink received: RED FLAG {rule} firing" in out
    data = tomllib.loads((keep / "checklist.toml").read_text())
    flags = data["red_flags"]
    assert flags[rule].get("fired_at") and flags[rule].get("resolved_at")
    assert [r for r, t in flags.items() if t.get("fired_at")] == [rule]
    assert any("delivered" in line for line in flags[rule]["notifications"])
    destroy = data["steps"]["8.3"]
    assert destroy["state"] == "failed" and f"red flag {rule}" in destroy["summary"]
    assert data["steps"]["R2-health"]["state"] == "done"  # old production answers again
