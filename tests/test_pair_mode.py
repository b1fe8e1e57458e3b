"""Issue 15, items 2–4: two sessions on one run record, in one process. Operator ops-a runs
steps through a session of their own (an Engine writing the record and the journal as ops-a,
as their wizard would); ops-b's wizard shows the step as ops-a's, streams its output from the
journal, shows ops-a's verdict when it lands, and its keys on that step say who holds it. An
observer's wizard (``cutover observe``) changes nothing whatever is pressed. The waits poll with
``pilot.pause`` and are bounded by a count, never by a clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import RichLog, Static

from cutover_tui.aio import bounded
from cutover_tui.observe import OBSERVING, open_observation
from cutover_tui.operator import HeadlessOperator
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from screens.app import CutoverApp
from screens.dialogs import ReasonDialog
from screens.entry import make_wizard
from screens.observe import ObserverApp, make_observer
from screens.phase import PhaseScreen

BOOK = """
[runbook]
id = "pair"
title = "Pair"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "One"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "Print, then wait for the gate"
command = '''test -e {ok} || {{ echo not-yet; exit 1; }}
echo first-line; echo second-line
while [ ! -e {gate} ]; do sleep 0.02; done; echo last-line'''
[[phases.steps]]
id = "1.2"
kind = "local"
title = "Say done"
command = "echo done"
[[phases]]
id = "2"
title = "Two"
[[phases.steps]]
id = "2.1"
kind = "manual"
title = "Announce"
instructions = "Tell the team."
"""


def runbook(tmp_path: Path) -> Path:
    path = tmp_path / "pair.toml"
    path.write_text(BOOK.format(ok=tmp_path / "ok", gate=tmp_path / "gate"))
    return path


def session_of(tmp_path: Path, name: str):
    """``name``'s own session on the run (as their own wizard or headless run opens it)."""
    return open_session(load_runbook(runbook(tmp_path)), HeadlessOperator(name),
                        state=tmp_path / "run.toml", workdir=tmp_path)


def wizard_of(tmp_path: Path, name: str) -> CutoverApp:
    return make_wizard(lambda ui: open_session(load_runbook(runbook(tmp_path)), ui,
                                               state=tmp_path / "run.toml", workdir=tmp_path),
                       name, title="pair", health_interval=None)


async def ready(pilot) -> PhaseScreen:
    for _ in range(200):
        if isinstance(pilot.app.screen, PhaseScreen) and pilot.app.screen.rows_ready:
            break
        await pilot.pause(0.02)
    screen = pilot.app.screen
    assert isinstance(screen, PhaseScreen)
    return screen


async def until(pilot, condition, tries: int = 40, pause: float = 0.025) -> None:
    """Pause until ``condition()`` holds, ``tries`` times at most (about a second)."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(pause)
    assert condition()


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


def log_lines(screen) -> list[str]:
    return [line.text for line in screen.query_one("#output", RichLog).lines]


def said(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_step_run_by_another_operator_is_theirs_on_my_screen(tmp_path):
    ops_a = session_of(tmp_path, "ops-a")
    app = wizard_of(tmp_path, "ops-b")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await ready(pilot)
        assert screen.selected_step_id() == "1.1"
        # ops-a runs 1.1 and it fails: ops-b's verdict pane shows ops-a's failure.
        verdict = await ops_a.engine.run_step("1.1")
        assert not verdict.ok
        await until(pilot, lambda: "FAILED by ops-a" in text_of(screen, "#detail"))
        # ops-a retries it, and it runs (until the gate opens).
        (tmp_path / "ok").touch()
        running = asyncio.create_task(ops_a.engine.run_step("1.1"))
        await until(pilot, lambda: "local: second-line" in log_lines(screen))
        assert log_lines(screen)[-2:] == ["local: first-line", "local: second-line"]
        assert "RUNNING by ops-a" in text_of(screen, "#detail")
        since = ops_a.checklist.record("1.1").started_at[11:16]
        await until(pilot, lambda: f"▶ 1.1 running by ops-a since {since}"
                    in text_of(screen, "#topbar"))
        # Every key that would act on it says who holds it, and nothing is written.
        before = (tmp_path / "run.toml").read_bytes()
        for key in ("r", "t", "s", "m"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ReasonDialog)
        held = f"1.1 is being run by ops-a (since {since})."
        assert said(app).count(held) == 4, said(app)
        assert not any("has not failed" in message for message in said(app))
        assert (tmp_path / "run.toml").read_bytes() == before
        # The gate opens: the last line streams in and ops-a's verdict replaces the running one.
        (tmp_path / "gate").touch()
        assert (await running).ok
        await until(pilot, lambda: "DONE by ops-a" in text_of(screen, "#detail"))
        await until(pilot, lambda: "local: last-line" in log_lines(screen))
        assert "running by ops-a" not in text_of(screen, "#topbar")
        assert app.engine.state("1.1") == "done"
        await ops_a.aclose()
        await pilot.press("q")
        await app.workers.wait_for_complete()


async def test_my_own_step_is_not_followed_twice_from_the_journal(tmp_path):
    """A step this wizard ran streams once: its journal entries are recognised as its own."""
    (tmp_path / "ok").touch()
    (tmp_path / "gate").touch()
    app = wizard_of(tmp_path, "ops-b")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await ready(pilot)
        await pilot.press("r")
        await until(pilot, lambda: app.engine.state("1.1") == "done")
        for _ in range(10):  # the follower reads the journal several times meanwhile
            await pilot.pause(0.05)
        assert app.outputs["1.1"] == [f"local: {line}" for line in ("first-line", "second-line",
                                                                     "last-line")]
        assert "running by" not in text_of(screen, "#topbar")
        await pilot.press("q")
        await app.workers.wait_for_complete()


async def test_an_observer_changes_nothing_whatever_is_pressed(tmp_path):
    ops_a = session_of(tmp_path, "ops-a")
    assert (await ops_a.engine.run_step("1.1")).final_state == "failed"
    await ops_a.aclose()
    record = tmp_path / "run.toml"
    before = record.read_bytes()
    app = make_observer(lambda ui: open_observation(record, ui), "ops-b", title="pair",
                        health_interval=None)
    assert isinstance(app, ObserverApp)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await ready(pilot)
        assert "observing as ops-b (read-only)" in text_of(screen, "#topbar")
        for key in ("r", "t", "s", "m", "n", "f", "a", "p", "enter", "b", "a", "r",
                    "right_square_bracket", "r", "m", "s", "n"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ReasonDialog), key
        # b went to the rollback (this runbook has none: it stays), ] to phase 2 without asking.
        assert app.screen.phase_id == "2"
        refusals = [m for m in said(app) if m.startswith(OBSERVING)]
        assert len(refusals) >= 12, said(app)
        for key in ("c", "escape", "w", "escape", "question_mark", "escape", "ctrl+p",
                    "escape"):
            await pilot.press(key)  # the review, the week, help, the palette: look, close
            await pilot.pause()
        assert isinstance(app.screen, PhaseScreen) and app.screen.phase_id == "2"
        assert record.read_bytes() == before
        # The core refuses too, should a key ever get through.
        for write in (lambda: app.engine.skip("1.2", "why not"),
                      lambda: app.engine.add_note("1.1", "hello"),
                      lambda: app.engine.raise_red_flag("fire")):
            try:
                write()
            except Exception as exc:  # noqa: BLE001 - the sentence is what is checked
                assert str(exc) == OBSERVING
            else:
                raise AssertionError("an observer's session wrote to the record")
        assert record.read_bytes() == before
        await pilot.press("q")
        await app.workers.wait_for_complete()
    assert record.read_bytes() == before


async def test_an_observer_follows_the_run_live(tmp_path):
    (tmp_path / "ok").touch()
    ops_a = session_of(tmp_path, "ops-a")
    record = tmp_path / "run.toml"
    app = make_observer(lambda ui: open_observation(record, ui), "ops-b", title="pair",
                        health_interval=None)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await ready(pilot)
        running = asyncio.create_task(ops_a.engine.run_step("1.1"))
        await until(pilot, lambda: "local: second-line" in log_lines(screen))
        await until(pilot, lambda: "▶ 1.1 running by ops-a" in text_of(screen, "#topbar"))
        assert "echo first-line" in text_of(screen, "#detail")  # the plan the run recorded
        (tmp_path / "gate").touch()
        await running
        await until(pilot, lambda: "DONE by ops-a" in text_of(screen, "#detail"))
        await ops_a.aclose()
        await pilot.press("q")
        await app.workers.wait_for_complete()


async def test_the_other_session_opened_mid_step_catches_up_on_its_output(tmp_path):
    (tmp_path / "ok").touch()
    ops_a = session_of(tmp_path, "ops-a")
    lines: asyncio.Queue[str] = asyncio.Queue()
    ops_a.engine.listeners.append(lambda e: lines.put_nowait(getattr(e, "text", "")))
    running = asyncio.create_task(ops_a.engine.run_step("1.1"))
    while await bounded(lines.get(), 30) != "second-line":  # the event's text has no host
        pass
    ops_a.engine.journal.flush()  # output is batched for 50 ms; written now
    app = wizard_of(tmp_path, "ops-b")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: log_lines(screen)[-2:] == ["local: first-line",
                                                              "local: second-line"])
        (tmp_path / "gate").touch()
        await running
        await until(pilot, lambda: "local: last-line" in log_lines(screen))
        await ops_a.aclose()
        await pilot.press("q")
        await app.workers.wait_for_complete()
