"""The wizard's timers keep ticking while Textual takes its screens apart at exit: the app's
tick and the presence heartbeat must then leave the phase screen alone (a CI run once failed
with `NoMatches: '#steps'` from the heartbeat, read while the steps table was being removed)."""

from __future__ import annotations

from cutover_tui.operator import HeadlessOperator
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from screens.app import CutoverApp
from screens.phase import PhaseScreen

BOOK = """
[runbook]
id = "exit"
title = "exit"
[hosts.box]
address = "127.0.0.1"
port = 9
[[phases]]
id = "1"
title = "one"
[[phases.steps]]
id = "1.1"
kind = "manual"
title = "look"
instructions = "look"
"""


def make_app(tmp_path) -> CutoverApp:
    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    book = load_runbook(path)

    async def starter(app):
        return open_session(book, HeadlessOperator("pilot"), state=tmp_path / "run.toml",
                            workdir=tmp_path)

    return CutoverApp(starter, "pilot", title="exit", health_interval=60)


async def ready(app, pilot) -> PhaseScreen:
    for _ in range(200):
        # ... and its first heartbeat said where it is (written by a worker thread)
        if (app.phase_screen() is not None and app.pairing is not None
                and app.pairing.announcer.me.step):
            break
        await pilot.pause(0.05)
    screen = app.phase_screen()
    assert isinstance(screen, PhaseScreen)
    return screen


async def test_a_shutting_down_app_leaves_its_phase_screen_alone(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(app, pilot)
        assert app.pairing.looking_at() == ("1", "1.1")
        # What Textual's shutdown does first (App._shutdown), before it removes the widgets.
        app._running = False
        try:
            assert app.phase_screen() is None
            app.tick()
            assert app.pairing.looking_at()[0] == "1"  # from what it last showed
            # Then it empties the screen stacks (App._close_all) while the timers still tick.
            stacks, app._screen_stacks = app._screen_stacks, {app._current_mode: []}
            try:
                assert app.phase_screen() is None
                app.tick()
                assert app.pairing.looking_at() == ("1", "1.1")
            finally:
                app._screen_stacks = stacks
        finally:
            app._running = True
        assert app.phase_screen() is screen


async def test_an_exiting_app_leaves_its_phase_screen_alone(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app, pilot)
        app.exit()
        assert app.phase_screen() is None
        app.tick()
