"""Test-wide setup. Every transport refuses non-loopback addresses during the tests, and the
rehearsal world is a fixture any test can start."""

import os
from pathlib import Path

import pytest

os.environ["CUTOVER_LOOPBACK_ONLY"] = "1"
os.environ.setdefault("CUTOVER_SSH_CONFIG", "none")  # the developer's ~/.ssh/config plays no part
os.environ.pop("CUTOVER_SCRATCH_DATABASE_URL", None)

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"


@pytest.fixture
async def world(tmp_path):
    from cutover_tui.clock import MovableClock
    from cutover_tui.sandbox.world import World

    w = World(tmp_path / "world", MovableClock(state_file=tmp_path / "world" / "clock.json"),
              action_seconds=0.05)
    await w.start()
    w.trust_host_keys()
    try:
        yield w
    finally:
        await w.stop()


@pytest.fixture
def m11_path():
    return M11
