"""The wizard's first screen comes first (issue 14, item 1): the phase screen is up, and answers
keys, while the run's transports and the health panel's own are still being built; they are
built after it, off the event loop. And the plan — ``cutover validate``, the recorded plans —
imports none of the step kinds' run-time modules."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cutover_tui import cli
from cutover_tui import session as session_module
from cutover_tui.health import HealthProbe
from cutover_tui.operator import HeadlessOperator
from cutover_tui.remote.deferred import DeferredSSH, DeferredWeb
from cutover_tui.runbook import KINDS, load_runbook
from cutover_tui.steps import kind_module
from cutover_tui.steps.plans import PLANS

ROOT = Path(__file__).resolve().parents[1]

BOOK = """
[runbook]
id = "paint"
title = "first paint"

[hosts.box]
address = "127.0.0.1"
port = 9

[[health]]
name = "api"
port = "9"
path = "/health"

[[phases]]
id = "1"
title = "one"
[[phases.steps]]
id = "1.1"
kind = "manual"
title = "look"
instructions = "look"
[[phases.steps]]
id = "1.2"
kind = "manual"
title = "look again"
instructions = "look again"
"""


class Gate:
    """Stands in front of a transport's builder: records whether the phase screen was already
    up when it was called, and holds it until released (10 s at most)."""

    def __init__(self, app_holder: list) -> None:
        self.app_holder = app_holder
        self.entered = threading.Event()
        self.release = threading.Event()
        self.screen_was_up = False

    def hold(self) -> None:
        from screens.phase import PhaseScreen

        app = self.app_holder[0]
        self.screen_was_up = isinstance(app.screen, PhaseScreen) and app.screen.rows_ready
        self.entered.set()
        self.release.wait(10)


async def test_the_phase_screen_is_up_and_answers_keys_while_the_transports_are_built(
        tmp_path, monkeypatch):
    from screens.app import CutoverApp
    from screens.phase import PhaseScreen

    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    book = load_runbook(path)
    holder: list = []
    session_gate, probe_gate = Gate(holder), Gate(holder)
    real_pool, real_probe = session_module._ssh_pool, HealthProbe.with_own_transports

    def held_pool(book, operator):
        session_gate.hold()
        return real_pool(book, operator)

    def held_probe(book, **kwargs):
        probe_gate.hold()
        return real_probe(book, **kwargs)

    monkeypatch.setattr(session_module, "_ssh_pool", held_pool)
    monkeypatch.setattr(HealthProbe, "with_own_transports", held_probe)

    async def starter(app):
        return open_session(app)

    def open_session(app):
        return session_module.open_session(book, HeadlessOperator("pilot"),
                                           state=tmp_path / "run.toml", workdir=tmp_path)

    app = CutoverApp(starter, "pilot", title="paint", health_interval=0.2)
    holder.append(app)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(200):
                if session_gate.entered.is_set() and probe_gate.entered.is_set():
                    break
                await pilot.pause(0.05)
            screen = app.screen
            assert isinstance(screen, PhaseScreen)
            ssh = app.session.engine.ssh
            assert isinstance(ssh, DeferredSSH) and not ssh.built  # still being built
            assert isinstance(app.session.engine.web, DeferredWeb)
            # The screen answers keys meanwhile: the selection moves to the next step.
            before = screen.selected_step_id()
            await pilot.press("down")
            moved = screen.selected_step_id()
            session_gate.release.set()
            probe_gate.release.set()
            for _ in range(200):
                if ssh.built and app._health_probe is not None:
                    break
                await pilot.pause(0.05)
            built = ssh.built and app._health_probe is not None
            await app.action_quit()
    finally:
        session_gate.release.set()
        probe_gate.release.set()
    assert session_gate.screen_was_up and probe_gate.screen_was_up
    assert (before, moved) == ("1.1", "1.2")
    assert built


async def test_a_session_that_never_uses_its_transports_builds_none(tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(session_module, "_ssh_pool", lambda *args: built.append("ssh"))
    monkeypatch.setattr(session_module, "_web", lambda: built.append("web"))
    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    session = session_module.open_session(load_runbook(path), HeadlessOperator("o"),
                                          state=tmp_path / "run.toml", workdir=tmp_path)
    session.engine.skip("1.1", "not needed here")
    await session.aclose()
    assert built == []


def test_every_kind_is_planned_by_plans_py_and_its_module_offers_the_same_planner():
    for kind, model in KINDS.items():
        assert kind_module(kind).plan is PLANS[model.step_module], kind
    assert set(PLANS) == {model.step_module for model in KINDS.values()}


def test_validate_imports_none_of_the_step_kinds_run_time_modules():
    m11 = str(ROOT / "checklists" / "m11-production-cutover.toml")
    probe = ("import sys\nfrom click.testing import CliRunner\nfrom cutover_tui.cli import main\n"
             f"r = CliRunner().invoke(main, ['validate', {m11!r}])\n"
             "assert r.exit_code == 0, r.output\n"
             "print(' '.join(m for m in sys.modules if m.startswith('cutover_tui.steps.')))\n")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout.split()
    assert loaded == ["cutover_tui.steps.plans"]


@pytest.fixture
def collector_restored():
    """These tests pause the cyclic collector as start-up does; it runs again after each."""
    yield
    gc.enable()


async def test_the_collector_paused_for_start_up_runs_again_after_the_first_frame(
        tmp_path, collector_restored):
    from screens.app import CutoverApp

    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    book = load_runbook(path)

    async def starter(app):
        return session_module.open_session(book, HeadlessOperator("pilot"),
                                           state=tmp_path / "run.toml", workdir=tmp_path)

    app = CutoverApp(starter, "pilot", title="paint", health_interval=None)
    gc.disable()  # as `cutover run` starts (gcpause.pause_start)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(100):
            if app.first_frame_shown:
                break
            await pilot.pause(0.05)
        assert app.first_frame_shown and not gc.isenabled()  # settled a moment later
        for _ in range(100):
            if gc.isenabled():
                break
            await pilot.pause(0.05)
        assert gc.isenabled()
        await app.action_quit()


def test_a_headless_run_collects_from_its_first_step(tmp_path, monkeypatch, collector_restored):
    seen = []

    async def run_headless(*args, **kwargs):
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr(cli, "_run_headless", run_headless)
    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    result = CliRunner().invoke(cli.main, ["run", str(path), "--headless"])
    assert result.exit_code == 0, result.output
    assert seen == [True]


@pytest.mark.parametrize("args", [["--headless"], ["--preflight"]])
def test_a_demo_without_the_wizard_collects_from_its_start(monkeypatch, collector_restored, args):
    from cutover_tui.sandbox import demo

    seen = []

    def stand_in(*args, **kwargs):
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr(demo, "run_demo", stand_in)
    monkeypatch.setattr(demo, "run_demo_preflight", stand_in)
    result = CliRunner().invoke(cli.main, ["demo", *args])
    assert result.exit_code == 0, result.output
    assert seen == [True]
    assert gc.isenabled()  # and the command's end resumes it in any case


def test_validate_loads_without_the_collector_and_ends_with_it(monkeypatch, collector_restored):
    import cutover_tui.runbook as runbook_package

    seen = []
    real = runbook_package.load_runbook

    def load(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(runbook_package, "load_runbook", load)
    m11 = str(ROOT / "checklists" / "m11-production-cutover.toml")
    result = CliRunner().invoke(cli.main, ["validate", m11])
    assert result.exit_code == 0 and seen == [False] and gc.isenabled()


async def test_a_step_collects_again_when_no_ui_settled_the_start(tmp_path, collector_restored):
    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    session = session_module.open_session(load_runbook(path), HeadlessOperator("o"),
                                          state=tmp_path / "run.toml", workdir=tmp_path)
    gc.disable()  # as `cutover run` starts, with a wizard that never settles it
    await session.engine.run_step("1.1")
    assert gc.isenabled()
    await session.aclose()


def test_many_commands_in_one_process_leave_one_freeze_for_its_end(monkeypatch,
                                                                  collector_restored):
    import atexit

    from cutover_tui import gcpause

    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    gcpause.freeze_at_exit.cache_clear()
    m11 = str(ROOT / "checklists" / "m11-production-cutover.toml")
    for _ in range(3):
        assert CliRunner().invoke(cli.main, ["validate", m11]).exit_code == 0
    assert registered == [gc.freeze]
