"""The wizard. It builds a session through the same factory as the headless runner, renders the
engine's events, polls health in a worker, and asks the operator through modal dialogs. Every
long thing runs in a worker; every worker failure becomes a sentence on screen."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from cutover_tui.aio import bounded
from cutover_tui.checklist import FINISHED
from cutover_tui.clock import parse_iso
from cutover_tui.durations import format_duration
from cutover_tui.errors import CutoverError
from cutover_tui.events import OutputLine, Progress, StepEvent, StepFinished, StepStarted
from cutover_tui.masking import Masker
from cutover_tui.runbook import Runbook
from cutover_tui.session import Session, open_session

from .dialogs import ConfirmDialog, ReasonDialog
from .messages import EngineEvent, HealthSample, ServiceStates
from .operator_ui import UIOperator
from .phase import PhaseScreen
from .widgets.health import HealthBoard, HealthPanel

Starter = Callable[["CutoverApp"], Awaitable[Session]]


class LoadingScreen(Screen):
    def compose(self) -> ComposeResult:
        with Vertical(id="loading"):
            yield Static(self.app.title or "cutover", id="loading-title")
            yield Static("starting …", id="loading-status")
            yield LoadingIndicator()


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > VerticalScroll { width: 80; height: 80%; border: thick $primary;
                                  background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    TEXT = """cutover — keys

r           run the selected step
t           retry a failed or interrupted step
m           mark a manual step done (you confirm, and may leave a note)
s           skip the selected step (a reason is required and recorded)
n           add a note to the selected step
] / [       next / previous phase (going on past an unpassed phase needs a reason)
b           open the rollback procedure
f           raise a red flag (blocks the destroy until cleared by rollback or review)
c           review the checklist (read-only timeline)
p           preflight: every check that changes nothing, against the hosts as they are now
            (phase 1's first row; shows the table of ok / differs now / cannot pass)
ctrl+p      command palette: jump to any phase or step
?           this help
q           quit (asks first while a step runs; the step is recorded interrupted)

Every step shows its exact plan before it runs: commands with their host, requests, files.
Output streams live; the verdict and evidence are recorded in the checklist."""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.TEXT)


class ReviewScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ReviewScreen { align: center middle; background: $background 60%; }
    ReviewScreen > VerticalScroll { width: 96%; height: 90%; border: thick $primary;
                                    background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,c", "dismiss", "Close")]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        from cutover_tui.review import render_text

        with VerticalScroll():
            yield Static(Text(render_text(self.path)))


class JumpProvider(Provider):
    """Command palette: jump to any phase or step."""

    def _targets(self) -> list[tuple[str, str, str | None]]:
        app: CutoverApp = self.app  # type: ignore[assignment]
        if app.session is None:
            return []
        out = []
        for phase in app.book.all_phases:
            label = "Rollback" if phase is app.book.rollback else f"Phase {phase.id}"
            out.append((f"{label}: {phase.title}", phase.id, None))
            for step in phase.steps:
                out.append((f"Step {step.id}: {step.title}", phase.id, step.id))
        return out

    async def discover(self) -> Hits:
        for text, phase_id, step_id in self._targets():
            if step_id is None:
                yield DiscoveryHit(text, partial(self.app.open_phase, phase_id, step_id))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, phase_id, step_id in self._targets():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text),
                          partial(self.app.open_phase, phase_id, step_id), text=text)


class CutoverApp(App):
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {JumpProvider}
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False)]
    ENABLE_COMMAND_PALETTE = True

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
        self.running_step: str | None = None
        self.focus_step: str | None = None
        self.progress_label = ""
        self.checklist_stamp = 0
        self.closing = False
        self._health_web: Any = None
        self._health_pool: Any = None
        # The preflight (cutover_tui/preflight.py), offered as the first row of phase 1.
        self.preflight_candidates = 0
        self.preflight_report: Any = None
        self.preflight_running = False

    # ------------------------------------------------------------------ start-up

    @property
    def book(self) -> Runbook:
        assert self.session is not None
        return self.session.book

    @property
    def engine(self):
        assert self.session is not None
        return self.session.engine

    def on_mount(self) -> None:
        self.push_screen(LoadingScreen())
        self.start_session()
        self.set_interval(0.5, self.tick)

    @work(exclusive=True, group="start", exit_on_error=False)
    async def start_session(self) -> None:
        session = await self.starter(self)
        self.session = session
        from cutover_tui.preflight import select

        self.preflight_candidates = len(select(session.book)[0])
        self.health = HealthBoard(list(session.book.hosts), [e.name for e in session.book.health])
        session.engine.listeners.append(lambda event: self.post_message(EngineEvent(event)))
        step = session.engine.next_step() or session.engine.next_step(include_rollback=True)
        phase_id = session.book.phase_of(step.id).id if step else session.book.phases[0].id
        self.focus_step = step.id if step else None
        self.switch_screen(PhaseScreen(phase_id))
        self.report_resume(session, step)
        if self.health_interval:
            self.poll_health()  # live from the first paint; red until the world answers
        if self.warmup is not None:
            self.notify("Starting the rehearsal world …", timeout=3)
            await self.warmup()
            self.warming = False
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
            self.running_step = event.step_id
            self.outputs[event.step_id] = []
            if screen:
                screen.refresh_state()
                screen.show_step(screen.selected_step_id())
        elif isinstance(event, OutputLine):
            prefix = f"{event.host}: " if event.host and event.stream != "info" else ""
            line = f"{prefix}{event.text}"
            self.outputs.setdefault(event.step_id, []).append(line)
            if screen:
                screen.append_output(event.step_id, line)
        elif isinstance(event, Progress):
            self.progress_label = event.label  # shown in the top bar by the next tick
        elif isinstance(event, StepFinished):
            self.progress_label = ""
            if self.running_step == event.step_id:
                self.running_step = None
            if event.state in ("done", "skipped") and screen:
                screen.advance_from(event.step_id)
            if event.state == "failed":
                self.notify(f"Step {event.step_id} failed: {event.verdict.summary}. "
                            "Retry (t), skip with a reason (s) or open the rollback (b).",
                            severity="error", timeout=10)
            if screen:
                screen.refresh_state()
                screen.show_step(screen.selected_step_id())

    def phase_screen(self) -> PhaseScreen | None:
        """The current phase screen, once its widgets exist; the app never touches one that is
        still being composed (a switch and a tick or an event can meet)."""
        screen = self.screen
        return screen if isinstance(screen, PhaseScreen) and screen.rows_ready else None

    def tick(self) -> None:
        screen = self.phase_screen()
        if screen is not None and self.session is not None:
            screen.update_topbar()
            # A second operator writing the same checklist: show their changes too.
            try:
                stamp = self.session.checklist.path.stat().st_mtime_ns
            except OSError:
                stamp = 0
            if stamp != self.checklist_stamp:
                self.checklist_stamp = stamp
                self.session.checklist.read()
                screen.refresh_state()
            if self.health.dirty:
                self.health.dirty = False
                screen.query_one(HealthPanel).refresh_view()

    # ------------------------------------------------------------------ health polling

    @work(exclusive=True, group="health", exit_on_error=False)
    async def poll_health(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self.health_interval or 5.0)

    async def poll_once(self) -> None:
        """One round: every endpoint on every host and each host's services, concurrently, each
        with its own timeout, so a hung endpoint delays nothing else."""
        from cutover_tui.errors import TransportError
        from cutover_tui.remote.ssh import SSHPool, SSHTarget
        from cutover_tui.remote.web import Web

        book = self.book
        if self._health_web is None:
            self._health_web = Web(default_timeout=2.0)
            # Its own pool: polling never prompts for host keys or takes a step's channels.
            self._health_pool = SSHPool(
                {n: SSHTarget(n, h.address, h.port, h.user, h.ssh_key, h.known_hosts)
                 for n, h in book.hosts.items()}, connect_timeout=3)
        web, pool = self._health_web, self._health_pool

        async def endpoint(host: str, health: Any) -> None:
            url = book.health_url(host, health)
            try:
                result = await web.request("GET", url, timeout=2.0)
            except (TransportError, CutoverError) as exc:
                reason = str(exc).split(": ", 1)[-1]
                self.post_message(HealthSample(host, health.name, False, reason, None))
                return
            ok = result.status == health.expect_status and (
                not health.contains or health.contains in result.text)
            detail = f"{result.status}" if ok else f"HTTP {result.status}" + (
                "" if result.status != health.expect_status else f", no {health.contains!r}")
            self.post_message(HealthSample(host, health.name, ok, detail, result.latency_ms))

        async def services(host: str) -> None:
            units = " ".join(book.services)
            try:
                result = await bounded(
                    pool.run(host, f"systemctl is-active {units}", timeout=3), 4)
                states = dict(zip(book.services, result.output.split(), strict=False))
            except (CutoverError, TimeoutError) as exc:
                await pool.drop(host)
                reason = "no answer" if isinstance(exc, TimeoutError) else str(exc)
                if "not in" in reason and "known_hosts" in reason:
                    reason = "host key not trusted yet (a step will ask)"
                elif "refused" in reason:
                    reason = "SSH refused (host down?)"
                states = {"_error": reason[:60]}
            self.post_message(ServiceStates(host, states))

        jobs = [endpoint(h, e) for h in book.hosts for e in book.health]
        jobs += [services(h) for h in book.hosts if book.services]
        await asyncio.gather(*jobs)

    @on(HealthSample)
    def health_sample(self, message: HealthSample) -> None:
        self.health.record(message.host, message.endpoint, message.ok, message.detail,
                           message.latency_ms)

    @on(ServiceStates)
    def service_states(self, message: ServiceStates) -> None:
        self.health.record_services(message.host, message.states)

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
        if self.preflight_running:
            self.notify("The preflight is still running; wait for it to finish.",
                        severity="warning")
            return
        if self.engine.state(step_id) == "done":
            self.notify(f"Step {step_id} is already done.", severity="information")
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
            self.running_step = None
            self._refresh()

    # ------------------------------------------------------------------ preflight

    @property
    def preflight_state(self) -> str:
        """The glyph state of the preflight row."""
        if self.preflight_running:
            return "running"
        if self.preflight_report is None:
            return "pending"
        return {0: "done", 1: "failed"}.get(self.preflight_report.exit_code, "interrupted")

    def start_preflight(self) -> None:
        if self.warming:
            self.notify("The rehearsal world is still starting; try again in a moment.",
                        severity="warning")
            return
        if self.running_step or self.preflight_running:
            what = f"Step {self.running_step}" if self.running_step else "The preflight"
            self.notify(f"{what} is still running; wait for it to finish.", severity="warning")
            return
        self.preflight_running = True
        self._refresh()
        self.run_preflight_worker()

    @work(exclusive=True, group="preflight", exit_on_error=False)
    async def run_preflight_worker(self) -> None:
        """The preflight through the session's own transports, off the event loop's back."""
        from cutover_tui.preflight import run_preflight

        engine = self.engine
        self.notify(f"Preflight: running {self.preflight_candidates} steps that change "
                    "nothing …", timeout=4)
        try:
            report = await run_preflight(self.book, engine.ssh, engine.web,
                                         operator=engine.operator, masker=engine.masker,
                                         clock=engine.clock, workdir=engine.workdir)
        finally:
            self.preflight_running = False
            self._refresh()
        self.preflight_report = report
        self._refresh()
        self.show_preflight_table()

    def show_preflight_table(self) -> None:
        from .preflight import PreflightScreen

        if self.preflight_report is not None:
            self.push_screen(PreflightScreen(self.preflight_report))

    def ask_skip(self, step_id: str) -> None:
        if self.engine.state(step_id) in FINISHED or step_id == self.running_step:
            self.notify(f"Step {step_id} is {self.engine.state(step_id)}; nothing to skip.")
            return

        def done(reason: str | None) -> None:
            if reason:
                self.engine.skip(step_id, reason)
                self._refresh()

        self.push_screen(ReasonDialog(f"Skip step {step_id}", "Why is it safe to skip? The reason "
                                      "is recorded in the checklist.", placeholder="reason"), done)

    def ask_note(self, step_id: str) -> None:
        def done(note: str | None) -> None:
            if note:
                self.engine.add_note(step_id, note)
                self._refresh()

        self.push_screen(ReasonDialog(f"Note for step {step_id}", placeholder="note"), done)

    def ask_red_flag(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self.engine.raise_red_flag(text)
                self.notify("Red flag recorded. The destroy step stays shut; consider the "
                            "rollback (b).", severity="error", timeout=10)

        self.push_screen(ReasonDialog("Raise a red flag", "What happened? (health failing > 1h, "
                                      "scrapes failing, database issues, dashboard down, error "
                                      "rate > 10/hour)"), done)

    def move_phase(self, phase_id: str, delta: int) -> None:
        phases = self.book.phases
        ids = [p.id for p in phases]
        if phase_id not in ids:
            self.open_phase(ids[0] if delta > 0 else ids[-1])
            return
        index = ids.index(phase_id) + delta
        if not 0 <= index < len(ids):
            return
        current = phases[ids.index(phase_id)]
        if delta > 0 and not self.engine.phase_passed(current) and not \
                self.session.checklist.read().get("phases", {}).get(current.id, {}).get(
                    "override_reason"):
            def done(reason: str | None) -> None:
                if reason:
                    self.engine.override_phase(current.id, reason)
                    self.open_phase(ids[index])

            self.push_screen(ReasonDialog(
                f"Phase {current.id} has not passed its success criteria",
                "\n".join(f"• {c}" for c in current.success_criteria) +
                "\n\nGo on anyway? Type the reason; it is recorded in the checklist."), done)
            return
        self.open_phase(ids[index])

    def open_phase(self, phase_id: str, step_id: str | None = None) -> None:
        self.focus_step = step_id
        self.switch_screen(PhaseScreen(phase_id))

    def _refresh(self) -> None:
        screen = self.phase_screen()
        if screen is not None:
            screen.refresh_state()
            screen.show_selected()

    def phase_rows(self) -> list[tuple[str, str, dict[str, int], str, str, bool]]:
        rows = []
        # The cached record: this process's writes update it, and tick() re-reads the file when
        # another operator changed it, so no parse on every repaint.
        records = self.session.checklist.data.get("steps", {})
        for phase in self.book.all_phases:
            counts = self.engine.phase_counts(phase)
            times = [(records.get(s.id, {}).get("started_at"),
                      records.get(s.id, {}).get("finished_at")) for s in phase.steps]
            starts = [parse_iso(a) for a, _ in times if a]
            ends = [parse_iso(b) for _, b in times if b]
            actual = format_duration(max(ends) - min(starts)) if starts and ends else ""
            rows.append((phase.id, phase.title, counts, phase.duration, actual,
                         self.engine.phase_passed(phase)))
        return rows

    # ------------------------------------------------------------------ review, help, quit

    def action_review(self) -> None:
        if self.session is not None:
            self.push_screen(ReviewScreen(self.session.checklist.path))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if self.running_step:
            def done(yes: bool | None) -> None:
                if yes:
                    self.shutdown()

            self.push_screen(ConfirmDialog(
                f"Step {self.running_step} is running. Stop it and quit?",
                "It is recorded as interrupted and will run again next time.",
                yes="Stop and quit", danger=True), done)
            return
        self.shutdown()

    @work(exclusive=True, group="shutdown", exit_on_error=False)
    async def shutdown(self) -> None:
        if self.closing:
            return
        self.closing = True
        for worker in list(self.workers):
            if worker.group in ("step", "health", "preflight") and worker.is_running:
                worker.cancel()
                with contextlib.suppress(Exception):
                    await worker.wait()
        if self.session is not None:
            await self.session.aclose()
        if self._health_web is not None:
            await self._health_web.close()
            await self._health_pool.close()
        if self.on_exit_hook is not None:
            await self.on_exit_hook()
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
        masker = self.session.engine.masker if self.session is not None else Masker()
        message = masker(message)
        if event.worker.group == "start":
            self.exit(return_code=1, message=f"cutover could not start: {message}")
            return
        self.notify(message, title="Error", severity="error", timeout=15)


# ---------------------------------------------------------------------------- entry points


def run_wizard(book: Runbook, operator: str, state: str | None = None) -> int:
    async def starter(app: CutoverApp) -> Session:
        return open_session(book, UIOperator(app, operator), state=state)

    app = CutoverApp(starter, operator, title=book.runbook.title)
    app.run()
    return app.return_code or 0


def run_demo_wizard(root: Path, operator: str, server: str = "asyncssh") -> int:
    from cutover_tui.clock import MovableClock
    from cutover_tui.runbook import load_runbook
    from cutover_tui.sandbox.demo import M11
    from cutover_tui.sandbox.world import World

    world = World(root / "world", MovableClock(state_file=root / "world" / "clock.json"),
                  server=server)

    async def starter(app: CutoverApp) -> Session:
        world.prepare()
        book = load_runbook(M11, world.overrides())
        return open_session(book, UIOperator(app, operator), state=root / "checklist.toml",
                            clock=world.clock, droplets=world.droplet_api, workdir=root)

    app = CutoverApp(starter, operator, title="M11: Production Cutover (rehearsal)",
                     health_interval=2.0, on_exit=world.stop, warmup=world.start)
    try:
        app.run()
    finally:
        if world.started:
            asyncio.run(world.stop())
    return app.return_code or 0
