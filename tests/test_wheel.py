"""The wheel carries what the demo needs: the M11 runbook (force-included by pyproject), found by
the demo when the package is installed from the wheel and not run from a checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"

PACKAGED = "cutover_tui/checklists/m11-production-cutover.toml"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed: it builds the wheel")
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([uv, "build", "--wheel", "-o", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=240)
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("cutover-*.whl")
    return path


def test_the_wheel_carries_the_m11_runbook_and_no_run_records(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert archive.read(PACKAGED) == M11.read_bytes()
    assert "screens/app.tcss" in names
    assert not [name for name in names if "/runs/" in name or name.startswith("checklists/")]


def test_the_demo_finds_the_runbook_when_installed_from_the_wheel(wheel, tmp_path):
    site = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # what an installer puts in site-packages for a pure wheel
    # The installed copy comes first on the path: the checkout (and its checklists/) is not used.
    probe = ("import cutover_tui, pathlib; from cutover_tui.sandbox.demo import M11; "
             "from cutover_tui.runbook import load_runbook; "
             "print(pathlib.Path(cutover_tui.__file__).resolve()); print(M11); "
             "print(load_runbook(M11).runbook.id)")
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    package, runbook, runbook_id = result.stdout.split("\n")[:3]
    site = site.resolve()
    assert package == str(site / "cutover_tui" / "__init__.py")
    assert runbook == str(site / PACKAGED)
    assert runbook_id == "m11-production-cutover"
