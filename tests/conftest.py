"""Test-wide setup. Every transport refuses non-loopback addresses during the tests, and the
rehearsal world is a fixture any test can start."""

import inspect
import os
from pathlib import Path

import pytest

os.environ["CUTOVER_LOOPBACK_ONLY"] = "1"
os.environ.setdefault("CUTOVER_SSH_CONFIG", "none")  # the developer's ~/.ssh/config plays no part
os.environ.pop("CUTOVER_SCRATCH_DATABASE_URL", None)

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"

# Set by .ci/run: a test that would skip (no sshd, no PostgreSQL, no spec) fails instead, so CI
# cannot go green with a whole tier skipped.
STRICT = os.environ.get("CUTOVER_TESTS_STRICT") == "1"
TIERS = ("unit", "world", "pilot", "sshd", "postgres", "slow")
WORLD_FIXTURES = {"world", "one_host", "server"}
# Integration files without the world fixture: real servers, the CLI as a subprocess, or
# waits that are the point of the test (bounded timeouts, kills mid-write).
INTEGRATION_FILES = {
    "test_item15_bounded_waits.py", "test_checklist_crash.py", "test_item8_regex.py",
    "test_headless_skip.py", "test_cli_run_review.py", "test_cli_paths.py", "test_wheel.py",
    "test_do_spec_copy.py", "test_item7_quoting.py", "test_health.py", "test_checklist.py",
    "test_monitor_notify.py", "test_demo_incident.py", "test_monitor_probes.py",
}


def _tier_of(item: pytest.Item) -> str:
    """The tier a test belongs to, from its marks, fixtures and what it drives."""
    marks = {mark.name for mark in item.iter_markers()}
    for tier in ("slow", "sshd", "postgres", "pilot", "world"):
        if tier in marks:
            return tier
    try:
        source = inspect.getsource(item.function)  # type: ignore[attr-defined]
    except (AttributeError, OSError, TypeError):
        source = ""
    if "run_test(" in source or "snap_compare" in getattr(item, "fixturenames", ()):
        return "pilot"
    if item.path.name in INTEGRATION_FILES:
        return "world"
    if WORLD_FIXTURES & set(getattr(item, "fixturenames", ())) or "World(" in source \
            or '"demo"' in source or "world" in getattr(item, "fixturenames", ()):
        return "world"
    return "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = _tier_of(item)
        if tier not in {mark.name for mark in item.iter_markers()}:
            item.add_marker(getattr(pytest.mark, tier))
    # The slow stress tests run only when asked for (-m slow), or when named by node id.
    explicit = any("::" in arg for arg in config.args)
    if not config.option.markexpr and not explicit:
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CUTOVER_TESTS_STRICT=1 (CI must run it): {reason}"


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if STRICT and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"module skipped under CUTOVER_TESTS_STRICT=1 (CI must run it): {reason}"


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
