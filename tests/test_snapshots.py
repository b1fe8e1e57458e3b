"""SVG snapshots of each screen state: fixed size, fixed clock, no network."""

import asyncio
from pathlib import Path

import pytest

from cutover_tui.clock import Clock
from cutover_tui.envfile import diff
from cutover_tui.health import HealthSample, ServiceSample
from cutover_tui.operator import HeadlessOperator
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from cutover_tui.steps.preconditions import Precondition
from screens.app import CutoverApp
from screens.dialogs import ConfirmDialog, ReasonDialog, TypedConfirmDialog
from screens.diff import DiffScreen

RUNBOOK = Path(__file__).parent / "data" / "snapshot.toml"
SIZE = (120, 36)


class FixedClock(Clock):
    def time(self) -> float:
        return 1766138400.0  # 2025-12-19T10:00:00Z

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


@pytest.fixture
def make_app(tmp_path):
    def make() -> CutoverApp:
        async def starter(app):
            return open_session(load_runbook(RUNBOOK), HeadlessOperator("snap"),
                                state=tmp_path / "run.toml", clock=FixedClock(),
                                workdir=tmp_path)

        return CutoverApp(starter, "snap", title="snapshot", health_interval=None)

    return make


async def settle(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def seed_health(app, old_down: bool):
    board, at = app.health, 1766138400.0
    refused = "connection refused (nothing is listening there)"
    for _ in range(6):
        for endpoint in ("api /health", "dashboard"):
            board.record(HealthSample("new", endpoint, 200, 12.0, "ok", "200", at))
            if old_down:
                board.record(HealthSample("old", endpoint, None, None, "down", refused, at))
            else:
                board.record(HealthSample("old", endpoint, 200, 14.0, "ok", "200", at))
    active = (("air-demand-api", "active"), ("air-demand-scheduler", "active"))
    board.record(ServiceSample("new", active, "ok", "all active", at))
    board.record(ServiceSample("old", (), "down", "SSH refused (host down?)", at) if old_down
                 else ServiceSample("old", active, "ok", "all active", at))


def test_phase_screen(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        seed_health(pilot.app, old_down=False)
        pilot.app.tick()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_health_panel_with_one_host_down(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        seed_health(pilot.app, old_down=True)
        pilot.app.tick()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_step_failed(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("down")
        await pilot.press("r")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_step_running(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        watching = asyncio.Event()
        pilot.app.engine.listeners.append(
            lambda e: watching.set() if getattr(e, "text", "") == "watching" else None)
        await pilot.press("down", "down", "r")
        await asyncio.wait_for(watching.wait(), 10)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def _dialog_test(snap_compare, make_app, dialog):
    async def before(pilot):
        await settle(pilot)
        pilot.app.push_screen(dialog())
        await pilot.pause()

    return snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_confirm_dialog(snap_compare, make_app):
    assert _dialog_test(snap_compare, make_app, lambda: ConfirmDialog(
        "Power off droplet air-demand-prod (id 318829101, 203.0.113.10, active)?",
        "The services were stopped first. A graceful shutdown is tried before power_off."))


def test_reason_dialog(snap_compare, make_app):
    assert _dialog_test(snap_compare, make_app, lambda: ReasonDialog(
        "Skip step 2.1-client", "Why is it safe to skip? The reason is recorded in the checklist."))


def test_destroy_guard_with_one_precondition_failing(snap_compare, make_app):
    checks = [
        Precondition("verified backup", True, "the local backup file exists with its sha256"),
        Precondition("monitoring period", False, "2d3h of the 7-day period left"),
        # Consistent with the clock (2025-12-19T10:00Z): cut over 4d21h ago, off since then.
        Precondition("powered off", True, "off since 2025-12-14T13:10:00Z (4d20h)"),
        Precondition("new healthy", True, "5 endpoints answer"),
    ]

    async def before(pilot):
        await settle(pilot)
        pilot.app.push_screen(TypedConfirmDialog(
            "Type the droplet name to destroy it", "air-demand-prod",
            "droplet air-demand-prod (id 318829101, 203.0.113.10, off, s-1vcpu-1gb, nyc3)",
            checks))
        await pilot.pause()
        await pilot.press(*"air-demand-prod")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_env_diff_screen_with_a_masked_database_url(snap_compare, make_app, monkeypatch):
    from cutover_tui import masking

    # Fingerprints are keyed by the run's random salt: a fixed one keeps the picture stable.
    monkeypatch.setattr(masking, "_run_salt", bytes(16))
    old = ('# Air Demand\nAPP_NAME="Air Demand Staging"\nENVIRONMENT=staging\n\n'
           "DATABASE_URL=postgresql://doadmin:s3cr3t-pw@db.internal:25060/air_demand\n"
           "SECRET_KEY=abcdef0123456789\nSCRAPE_HOURS=3,15\nDIGEST_HOUR=4\n"
           "DIGEST_RECIPIENT=rich.roberts@talentpipe.ai\nexport LOG_LEVEL=info\n")
    new = (old.replace('"Air Demand Staging"', '"Air Demand"')
           .replace("ENVIRONMENT=staging", "ENVIRONMENT=production")
           .replace("SCRAPE_HOURS=3,15", "SCRAPE_HOURS=5,17")
           .replace("DIGEST_HOUR=4", "DIGEST_HOUR=6")
           .replace("SECRET_KEY=abcdef0123456789", "SECRET_KEY=fedcba9876543210"))
    shown = diff("/root/air-demand/.env", old, new)
    assert "s3cr3t-pw" not in str(shown.rows)
    assert _dialog_test(snap_compare, make_app,
                        lambda: DiffScreen("edit /root/air-demand/.env", shown))
