"""The wizard's App. It gets its session from a starter (``entry.make_wizard``: the same
``open_session`` as the headless runner), renders the engine's events, polls health in a worker,
runs steps and the preflight in workers, and asks the operator through modal dialogs. Every
long thing runs in a worker; every worker failure becomes a sentence on screen. Its screens and
the command palette live in modules of their own; the entry points the CLI finds are in
``entry.py``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from cutover_tui.errors import CutoverError
from cutover_tui.events import OutputLine, Progress, StepEvent, StepFinished, StepStarted
from cutover_tui.health import HealthProbe
from cutover_tui.masking import Masker
from cutover_tui.runbook import Runbook
from cutover_tui.session import Session

from .background import Background
from .commands import JumpProvider
from .dialogs import ConfirmDialog
from .help import HelpScreen
from .loading import LoadingScreen
from .messages import EngineEvent, HealthUpdate
from .outputfeed import OutputFeed
from .pairing import Pairing, held_sentence
from .phase import PhaseScreen
from .preflight import PreflightState
from .rollback import screen_for_phase
from .widgets.health import HealthBoard, HealthPanel

# Seconds each part of quitting may take (a step, a connection, the last write): none hangs it.
CLOSE_SECONDS = 30.0

Starter = Callable[["CutoverApp"], Awaitable[Session]]


class CutoverApp(App, Background):
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {JumpProvider}
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False),
                Binding("w", "monitoring", "Week", show=False)]
    ENABLE_COMMAND_PALETTE = True
    observing = False  # read-only: ``ObserverApp`` (observe.py), ``cutover observe``

    def __init__(self, starter: Starter, operator_name: str, title: str = "cutover",
                 health_interval: float | None = 5.0,
                 on_exit: Callable[[], Awaitable[None]] | None = None,
                 warmup: Callable[[], Awaitable[Any]] | None = None) -> None:
        super().__init__()
        # Something to bring up after the screens show (the rehearsal world); steps wait for it.
        self.warmup = warmup
        self.warming = warmup is not None
        self.starter = starter
        self.operator_name = operator_name
        self.title = title
        self.health_interval = health_interval
        self.on_exit_hook = on_exit
        self.session: Session | None = None
        self.health = HealthBoard([], [])
        self.outputs: dict[str, list[str]] = {}
        self.focus_step: str | None = None
        self.progress_label = ""
        self.checklist_stamp = 0
        self.closing = False
        self._health_probe: HealthProbe | None = None
        self.output_feed = OutputFeed(self.post_message)  # output lines, in batches
        self.first_frame = asyncio.Event()  # set once the first phase screen is painted
        self.pairing: Pairing | None = None  # presence, and the others' steps (pairing.py)
        # The preflight (cutover_tui/preflight.py), offered as the first row of phase 1.
        self.preflight = PreflightState()

    # ------------------------------------------------------------------ start-up

    @property
    def book(self) -> Runbook:
        assert self.session is not None
        return self.session.book

    @property
    def engine(self):
        assert self.session is not None
        return self.session.engine

    @property
    def running_step(self) -> str | None:
        """The step running now, as the engine says (it owns that; the app keeps no copy)."""
        return self.session.engine.running if self.session is not None else None

    @property
    def others_present(self) -> list[Any]:
        """The other sessions on this run (``presence.Presence``), as last read."""
        return self.pairing.others if self.pairing is not None else []

    def on_mount(self) -> None:
        self.push_screen(LoadingScreen())
        self.start_session()
        self.set_interval(0.5, self.tick)

    @work(exclusive=True, group="start", exit_on_error=False)
    async def start_session(self) -> None:
        session = await self.starter(self)
        self.session = session
        from cutover_tui.preflight import select

        self.preflight.candidates = len(select(session.book)[0])
        self.health = HealthBoard(list(session.book.hosts), [e.name for e in session.book.health])

        def forward(event: StepEvent) -> None:
            if isinstance(event, OutputLine):
                self.output_feed.add(event)  # one message per batch of lines, not per line
            else:
                self.post_message(EngineEvent(event))

        session.engine.listeners.append(forward)
        step = session.engine.next_step() or session.engine.next_step(include_rollback=True)
        phase_id = session.book.phase_of(step.id).id if step else session.book.phases[0].id
        self.focus_step = step.id if step else None
        first = screen_for_phase(session.book, phase_id)
        self.switch_screen(first)
        first.call_after_refresh(self.after_first_frame)  # (else the next tick)
        self.pairing = Pairing(self, session, "observer" if self.observing else "operator")
        self.pairing.start()
        self.report_resume(session, step)
        if self.warmup is not None:
            # After the first frame: the world's start imports asyncssh in a thread, which
            # would hold the GIL the first frame is drawn with.
            await self.first_frame.wait()
            self.notify("Starting the rehearsal world …", timeout=3)
            await self.warmup()
            self.warming = False
            if self.first_frame_shown and self.health_interval:
                self.poll_health()  # the world answers now (background.py held it back)
            self.notify("The rehearsal world is up: hosts, services and the DigitalOcean API "
                        "stand-in are answering.", timeout=5)

    def report_resume(self, session: Session, step: Any) -> None:
        report = session.report
        lines = []
        if report.resumed:
            lines.append(f"Resumed {session.checklist.path}.")
        lines += [f"Step {s} was running when the last session stopped; it is marked "
                  "interrupted and will run again." for s in report.interrupted]
        lines += report.runbook_changes
        if step is not None:
            gate = session.engine.phase_gate(session.book.phase_of(step.id))
            lines.append(f"Next: step {step.id} ({step.title})." +
                         (f" Not yet: {gate}" if gate else ""))
        for line in lines:
            self.outputs.setdefault("_session", []).append(line)
        if report.resumed or report.runbook_changes:
            self.notify("\n".join(lines), title="Resumed", timeout=12)

    # ------------------------------------------------------------------ engine events

    @on(EngineEvent)
    def engine_event(self, message: EngineEvent) -> None:
        event: StepEvent = message.event
        screen = self.phase_screen()
        if isinstance(event, StepStarted):
            self.outputs[event.step_id] = []
            if screen:
                screen.refresh_state()
                screen.show_step(screen.selected_step_id())
        elif isinstance(event, Progress):
            self.progress_label = event.label  # shown in the top bar by the next tick
        elif isinstance(event, StepFinished):
            self.progress_label = ""
            if event.state in ("done", "skipped") and screen:
                screen.advance_from(event.step_id)
            if event.state == "failed":
                self.notify(f"Step {event.step_id} failed: {event.verdict.summary}. "
                            "Retry (t), skip with a reason (s) or open the rollback (b).",
                            severity="error", timeout=10)
            if screen:
                screen.refresh_state()
                screen.show_step(screen.selected_step_id())

    @property
    def masker(self) -> Masker:
        """The run's masker (its secrets known), or one for the usual shapes before a session."""
        return self.session.engine.masker if self.session is not None else Masker()

    def phase_screen(self) -> PhaseScreen | None:
        """The current phase screen, once its widgets exist and while they do: never one still
        being composed (a switch and a tick or an event can meet) nor one taken apart at exit."""
        if not self.is_running:  # guard: no-phase-screen-at-exit
            return None  # shutting down: the screen stack itself may be empty
        screen = self.screen
        if not isinstance(screen, PhaseScreen) or not screen.rows_ready:
            return None
        if not screen.is_attached:  # guard: no-phase-screen-after-exit
            return None
        return screen

    def tick(self) -> None:
        screen = self.phase_screen()
        if screen is not None and self.session is not None:
            self.after_first_frame()  # should its first refresh have been missed
            screen.update_topbar()
            # A second operator writing the same checklist: show their changes too.
            try:
                stamp = self.session.checklist.path.stat().st_mtime_ns
            except OSError:
                stamp = 0
            if stamp != self.checklist_stamp:
                self.checklist_stamp = stamp
                self.session.checklist.read()
                screen.refresh_all()  # their verdict too, not only the glyphs
            if self.health.dirty:
                self.health.dirty = False
                screen.query_one(HealthPanel).refresh_view()

    # ------------------------------------------------------------------ health samples
    # (the poll, the transports' warm-up and the output batches: background.py)

    @on(HealthUpdate)
    def health_sample(self, message: HealthUpdate) -> None:
        self.health.record(message.sample)

    # ------------------------------------------------------------------ acting

    def start_step(self, step_id: str) -> None:
        if self.warming:
            self.notify("The rehearsal world is still starting; try again in a moment.",
                        severity="warning")
            return
        if self.running_step:
            self.notify(f"Step {self.running_step} is still running; wait for it to finish.",
                        severity="warning")
            return
        if self.preflight.running:
            self.notify("The preflight is still running; wait for it to finish.",
                        severity="warning")
            return
        if self.engine.state(step_id) == "done":
            self.notify(f"Step {step_id} is already done.", severity="information")
            return
        if held := held_sentence(self.session, step_id, self.running_step):  # guard: held-step-says-who
            self.notify(held, severity="warning")  # another session runs it: say who
            return
        self.run_step_worker(step_id)

    @work(exclusive=True, group="step", exit_on_error=False)
    async def run_step_worker(self, step_id: str) -> None:
        try:
            await self.engine.run_step(step_id)
        except CutoverError as exc:
            reason = self.engine.masker(str(exc))
            self.outputs.setdefault(step_id, []).append(f"not started: {reason}")
            self.notify(f"Step {step_id} cannot start: {reason}", severity="warning", timeout=10)
        finally:
            self._refresh()

    # ------------------------------------------------------------------ preflight

    def start_preflight(self) -> None:
        if self.warming:
            self.notify("The rehearsal world is still starting; try again in a moment.",
                        severity="warning")
            return
        if self.running_step or self.preflight.running:
            what = f"Step {self.running_step}" if self.running_step else "The preflight"
            self.notify(f"{what} is still running; wait for it to finish.", severity="warning")
            return
        self.preflight.running = True
        self._refresh()
        self.run_preflight_worker()

    @work(exclusive=True, group="preflight", exit_on_error=False)
    async def run_preflight_worker(self) -> None:
        """The preflight through the session's own transports, off the event loop's back."""
        from cutover_tui.preflight import run_preflight

        engine = self.engine
        self.notify(f"Preflight: running {self.preflight.candidates} steps that change "
                    "nothing …", timeout=4)
        try:
            report = await run_preflight(self.book, engine.ssh, engine.web,
                                         operator=engine.operator, masker=engine.masker,
                                         clock=engine.clock, workdir=engine.workdir)
        finally:
            self.preflight.running = False
            self._refresh()
        self.preflight.report = report
        self._refresh()
        self.show_preflight_table()

    def show_preflight_table(self) -> None:
        from .preflight import PreflightScreen

        if self.preflight.report is not None:
            self.push_screen(PreflightScreen(self.preflight.report))

    def open_phase(self, phase_id: str, step_id: str | None = None) -> None:
        self.focus_step = step_id
        self.switch_screen(screen_for_phase(self.book, phase_id))

    def _refresh(self) -> None:
        screen = self.phase_screen()
        if screen is not None:
            screen.refresh_state()
            screen.show_selected()

    # ------------------------------------------------------------------ review, help, quit

    def action_review(self) -> None:
        if self.session is not None:
            from .review import ReviewScreen  # here: not on the way to the first frame

            self.push_screen(ReviewScreen(self.session.checklist.path))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_monitoring(self) -> None:
        """The monitoring week (``w``), over the phase screen it was opened from."""
        if self.session is not None and isinstance(self.screen, PhaseScreen):
            from .monitoring import MonitoringScreen  # here: not on the way to the first frame

            self.push_screen(MonitoringScreen())

    async def action_quit(self) -> None:
        if self.closing:  # guard: one-shutdown
            # A second quit: say why it takes a moment (each part is bounded).
            self.notify("Still closing (the step, the connections, the last checklist write); "
                        f"each part gets {CLOSE_SECONDS:g} s at most.", severity="warning")
            return
        if self.running_step:
            def stop_and_quit(yes: bool | None) -> None:
                if yes:
                    self.shutdown()

            self.push_screen(ConfirmDialog(
                f"Step {self.running_step} is running. Stop it and quit?",
                "It is recorded as interrupted and will run again next time.",
                yes="Stop and quit", danger=True), stop_and_quit)
            return
        self.shutdown()

    # Not exclusive: a second call would cancel the first, and the first would never exit.
    @work(group="shutdown", exit_on_error=False)
    async def shutdown(self) -> None:
        if self.closing:  # started already (action_quit also says so)
            return
        self.closing = True
        if self.pairing is not None:
            self.pairing.leave()
        for worker in list(self.workers):
            if worker.group in ("step", "health", "preflight") and worker.is_running:
                worker.cancel()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker.wait(), CLOSE_SECONDS)
        # Each closes whatever the one before did: the demo's world stops even when the
        # checklist's last write failed; none may hang the quit; the app exits in any case,
        # saying what failed.
        problems: list[str] = []
        for what, close in (
                ("the session", self.session.aclose if self.session else None),
                ("the health panel", self._health_probe.aclose if self._health_probe else None),
                ("the rehearsal world", self.on_exit_hook)):  # the demo's only
            if close is None:
                continue
            try:
                await asyncio.wait_for(close(), CLOSE_SECONDS)  # guard: shutdown-bounded
            except TimeoutError:
                problems.append(f"closing {what} did not finish in {CLOSE_SECONDS:g} s")
            except Exception as exc:
                problems.append(  # guard: shutdown-says-what-failed
                    str(exc) if isinstance(exc, CutoverError) else f"{type(exc).__name__}: {exc}")
        if problems:
            said = "; ".join(self.masker(problem) for problem in problems)
            self.exit(return_code=1, message=f"cutover quit, but closing failed: {said}")
        else:
            self.exit(return_code=0)

    # ------------------------------------------------------------------ one place for failures

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, CutoverError):
            message = str(error)
        else:
            message = f"internal error ({type(error).__name__}: {error}); the checklist is intact"
        # Exceptions can carry what a command printed: mask them as everything else.
        message = self.masker(message)
        if event.worker.group == "start":
            self.exit(return_code=1, message=f"cutover could not start: {message}")
            return
        self.notify(message, title="Error", severity="error", timeout=15)
