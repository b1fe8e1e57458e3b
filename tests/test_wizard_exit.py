"""Quitting, and questions, under hurried hands. While Textual takes the screens apart, the
app's tick and the presence heartbeat must leave the phase screen alone: under Pilot
(``run_test`` calls the shutdown directly) the app's timers still tick then, and a worker's
``call_from_thread`` callback (the heartbeat's journal) can land then in any run; a CI run once
failed with `NoMatches: '#steps'` from the heartbeat. A second quit while the first still closes
says so; a close that fails or hangs still ends the app, saying why. A question answered twice
(a key and a button press queued together) is answered once; the command palette does not jump
away from a question, even one under another screen."""

from __future__ import annotations

import asyncio

from textual.command import CommandList, CommandPalette

import screens.app as app_module
from cutover_tui.errors import CutoverError
from cutover_tui.operator import HeadlessOperator
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from screens.app import CutoverApp
from screens.dialogs import ConfirmDialog, ReasonDialog
from screens.help import HelpScreen
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
[[phases]]
id = "2"
title = "elsewhere entirely"
[[phases.steps]]
id = "2.1"
kind = "manual"
title = "look there"
instructions = "look there"
"""


def make_app(tmp_path, on_exit=None) -> CutoverApp:
    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    book = load_runbook(path)

    async def starter(app):
        return open_session(book, HeadlessOperator("pilot"), state=tmp_path / "run.toml",
                            workdir=tmp_path)

    return CutoverApp(starter, "pilot", title="exit", health_interval=60, on_exit=on_exit)


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


async def ended(app, pilot) -> int | None:
    for _ in range(100):
        if app.return_code is not None:
            break
        await pilot.pause(0.05)
    return app.return_code


async def test_a_second_quit_while_the_first_still_closes_still_ends_the_app(tmp_path):
    stopping, stopped = [], []

    async def stop_world():  # the demo's world takes a moment to stop
        stopping.append(True)
        await asyncio.sleep(0.3)
        stopped.append(True)

    app = make_app(tmp_path, on_exit=stop_world)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app, pilot)
        await app.action_quit()
        await pilot.pause(0.05)
        await app.action_quit()  # impatient: q again
        await pilot.pause(0.05)  # the notification is a message to the app
        said = [note.message for note in app._notifications]
        assert await ended(app, pilot) == 0
    assert stopping == stopped == [True]  # closed once
    assert any(message.startswith("Still closing") for message in said)


async def test_a_close_that_hangs_ends_the_app_when_its_time_is_up(tmp_path, monkeypatch):
    async def stop_world():
        await asyncio.sleep(60)  # a world that never stops

    monkeypatch.setattr(app_module, "CLOSE_SECONDS", 0.3)
    app = make_app(tmp_path, on_exit=stop_world)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app, pilot)
        await app.action_quit()
        assert await ended(app, pilot) == 1
        said = " ".join(str(message) for message in app._exit_renderables)
    assert "closing the rehearsal world did not finish in 0.3 s" in said


async def test_a_close_that_fails_still_stops_the_world_and_says_why(tmp_path):
    stopped = []

    async def stop_world():
        stopped.append(True)

    app = make_app(tmp_path, on_exit=stop_world)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app, pilot)

        real_close = app.session.aclose

        async def failing_close():
            await real_close()
            raise CutoverError("cannot write run.toml: No space left on device")

        app.session.aclose = failing_close
        await app.action_quit()
        assert await ended(app, pilot) == 1
        said = " ".join(str(message) for message in app._exit_renderables)
    assert stopped == [True]
    assert "closing failed: cannot write run.toml: No space left on device" in said


async def test_a_question_answered_twice_is_answered_once(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(app, pilot)
        answers: list = []
        dialog = ConfirmDialog("Power it off?")
        app.push_screen(dialog, answers.append)
        await pilot.pause()
        dialog.action_answer(True)  # `y`...
        dialog.action_answer(False)  # ...and a press of No queued behind it
        await pilot.pause()
        assert answers == [True]
        assert app.screen is screen  # not popped with it: no blank screen


async def test_the_palette_does_not_jump_away_from_a_question(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app, pilot)
        answers: list = []
        dialog = ReasonDialog("Why skip it?")
        app.push_screen(dialog, answers.append)
        help_screen = HelpScreen()  # another screen over the question (as the preflight's table)
        app.push_screen(help_screen)
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.press(*"elsewhere")
        for _ in range(100):  # the palette's search runs in its own time
            found = app.screen.query(CommandList)
            if found and found.first().option_count == 1:
                break
            await pilot.pause(0.05)
        await pilot.press("enter")
        for _ in range(40):  # until the jump is refused, or made
            if app._notifications or not (app.screen is help_screen
                                          or isinstance(app.screen, CommandPalette)):
                break
            await pilot.pause(0.05)
        assert app.screen is help_screen and dialog in app.screen_stack  # nothing buried
        assert any("Answer the open question first" in note.message
                   for note in app._notifications)
        await pilot.press("escape")  # the help screen
        await pilot.press("escape")  # the question
        await pilot.pause()
        assert answers == [None]
