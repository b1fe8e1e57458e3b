"""One phase of the runbook as a screen: the phase list, this phase's steps, the selected step's
plan (before) or verdict and evidence (after), its output streaming live, and the health panel.
It holds no cutover logic: it reads the session, writes skips, notes, red flags and phase
overrides through the engine (each asked in a dialog first), and asks the app (``PhaseHost``) for
what outlives a screen: the step and preflight workers, and going to another phase."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, RichLog, Static

from cutover_tui.records import FINISHED, StepState

from .approve import approve_selected
from .detail import preflight_text, step_text
from .dialogs import ReasonDialog
from .pairing import refuse_held
from .preflight import PreflightState
from .widgets.header import TopBar
from .widgets.health import HealthBoard, HealthPanel
from .widgets.outputlog import OutputLog
from .widgets.phases import PhaseList, glyph, phase_rows

if TYPE_CHECKING:
    from cutover_tui.runbook import Phase
    from cutover_tui.session import Session

# Phase 1 offers the preflight as its first row: not a runbook step, nothing is recorded.
PREFLIGHT_ROW = "preflight"


class PhaseHost(Protocol):
    """What a phase screen needs of the wizard (``CutoverApp``), and nothing more: the session
    it shows; what the wizard knows beyond the run record (the running step and its progress,
    the output streamed so far, the health board, the preflight, the step to select first); and
    what outlives a screen: the step and preflight workers, and opening another phase."""

    session: Session | None
    operator_name: str
    health: HealthBoard
    outputs: dict[str, list[str]]
    progress_label: str
    focus_step: str | None
    preflight: PreflightState

    @property
    def running_step(self) -> str | None: ...  # the engine's ``running``

    def start_step(self, step_id: str) -> None: ...

    def start_preflight(self) -> None: ...

    def show_preflight_table(self) -> None: ...

    def open_phase(self, phase_id: str, step_id: str | None = None) -> None: ...


class PhaseScreen(Screen):
    BINDINGS = [
        Binding("r", "run", "Run"),
        Binding("t", "retry", "Retry"),
        Binding("m", "manual_done", "Manual done"),
        Binding("s", "skip", "Skip"),
        Binding("n", "note", "Note"),
        Binding("right_square_bracket", "next_phase", "Next"),
        Binding("left_square_bracket", "previous_phase", "Prev"),
        Binding("b", "rollback", "Rollback"),
        Binding("f", "red_flag", "Red flag", show=False),
        Binding("a", "approve", "Approve", show=False),
        Binding("c", "app.review", "Checklist"),
        Binding("p", "preflight", "Preflight", show=False),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, phase_id: str) -> None:
        super().__init__()
        self.phase_id = phase_id
        self.rows_ready = False  # set by on_mount; the app waits for it (CutoverApp.phase_screen)
        self.row_ids: list[str] = []  # the table's rows: [PREFLIGHT_ROW] + the phase's step ids

    @property
    def cutover(self) -> PhaseHost:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> Session:
        session = self.cutover.session
        assert session is not None  # the app shows phases once the session is open
        return session

    @property
    def phase(self) -> Phase:
        return next(p for p in self.session.book.all_phases if p.id == self.phase_id)

    def compose(self) -> ComposeResult:
        app = self.cutover
        book = self.session.book
        yield TopBar(id="topbar")
        with Horizontal(id="main"):
            yield PhaseList(id="phases")
            with Vertical(id="work"):
                yield Static(id="phase-title")
                yield DataTable(id="steps", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="lower"):
                    yield Static(id="detail")
                    yield OutputLog(id="output", wrap=True, markup=False)
        hosts = {name: f"{name}  {h.user}@{h.address}:{h.port}" for name, h in
                 book.hosts.items()}
        yield HealthPanel(hosts, [e.name for e in book.health], list(book.services),
                          board=app.health, id="health")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#steps", DataTable)
        table.add_column(" ", key="glyph", width=1)
        table.add_column("step", key="id", width=16)
        table.add_column("kind", key="kind", width=15)
        table.add_column("title", key="title")
        if self.offers_preflight:
            table.add_row(glyph("pending"), PREFLIGHT_ROW, "preflight",
                          "Before anything changes: every check that changes nothing, against "
                          "the hosts as they are now", key=PREFLIGHT_ROW)
            self.row_ids.append(PREFLIGHT_ROW)
        for step in self.phase.steps:
            table.add_row(glyph("pending"), step.id, step.kind, step.title, key=step.id)
            self.row_ids.append(step.id)
        self.rows_ready = True
        self.query_one("#output", RichLog).border_title = "Output"
        self.query_one("#detail", Static).border_title = "Plan"
        self.refresh_state()
        start = self.cutover.focus_step or self.first_unfinished()
        engine = self.session.engine
        if self.offers_preflight and self.cutover.preflight.report is None and all(
                engine.state(s.id) == "pending" for _, s in self.session.book.steps()):
            start = PREFLIGHT_ROW  # a fresh run starts with the preflight
        if start in self.row_ids:
            table.move_cursor(row=self.row_ids.index(start))
        self.show_selected()

    # ------------------------------------------------------------------ reading state

    def first_unfinished(self) -> str | None:
        for step in self.phase.steps:
            if self.session.engine.state(step.id) not in FINISHED:
                return step.id
        return self.phase.steps[0].id if self.phase.steps else None

    @property
    def offers_preflight(self) -> bool:
        return (self.phase is self.session.book.phases[0]
                and self.cutover.preflight.candidates > 0)

    def selected_row(self) -> str | None:
        table = self.query_one("#steps", DataTable)
        if not self.row_ids or table.cursor_row < 0:
            return None
        return self.row_ids[min(table.cursor_row, len(self.row_ids) - 1)]

    def selected_step_id(self) -> str | None:
        row = self.selected_row()
        return None if row == PREFLIGHT_ROW else row

    def show_selected(self) -> None:
        if self.selected_row() == PREFLIGHT_ROW:
            self.show_preflight()
        else:
            self.show_step(self.selected_step_id())

    def refresh_state(self) -> None:
        if not self.rows_ready:  # a resize can arrive before on_mount
            return
        app = self.cutover
        engine = self.session.engine
        table = self.query_one("#steps", DataTable)
        for step in self.phase.steps:
            state = "running" if step.id == app.running_step else engine.state(step.id)
            table.update_cell(step.id, "glyph", glyph(state))
        if self.offers_preflight:
            table.update_cell(PREFLIGHT_ROW, "glyph", glyph(app.preflight.state))
        self.query_one("#phases", PhaseList).show(phase_rows(self.session), self.phase_id,
                                                  compact=self.has_class("narrow"))
        rollback = self.phase is self.session.book.rollback
        label = "Rollback" if rollback else f"Phase {self.phase.id}"
        counts = engine.phase_counts(self.phase)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        title = Text.assemble((f"{label}: {self.phase.title}", "bold"), f"   {summary}")
        gate = engine.phase_gate(self.phase)
        if gate:
            title.append(f"\n⚠ {gate}", style="yellow")
        self.query_one("#phase-title", Static).update(title)
        self.update_topbar()

    def update_topbar(self) -> None:
        # Who this is, the clock, the steps running here and elsewhere, who else is here.
        self.query_one("#topbar", TopBar).show(self.session)

    def show_step(self, step_id: str | None) -> None:
        if step_id is None:
            return
        record = self.session.checklist.record(step_id)
        detail = self.query_one("#detail", Static)
        detail.update(step_text(self.session, step_id, record))
        detail.border_title = ("Plan" if record.state is StepState.PENDING
                               else "Plan and verdict")
        log = self.query_one("#output", RichLog)
        log.clear()
        lines = self.cutover.outputs.get(step_id) or record.output.splitlines()
        for line in lines[-400:]:
            log.write(line)
        log.border_title = f"Output of {step_id}"

    def show_preflight(self) -> None:
        """The preflight row: what it runs, and the last result."""
        preflight = self.cutover.preflight
        detail = self.query_one("#detail", Static)
        detail.update(preflight_text(self.session.book, preflight))
        detail.border_title = "Preflight"
        log = self.query_one("#output", RichLog)
        log.clear()
        for row in preflight.report.rows if preflight.report else []:
            log.write(f"{row.verdict:<12} {row.step_id:<16} {row.reason.splitlines()[0]}")
        log.border_title = "Preflight results"

    def advance_from(self, step_id: str) -> None:
        """After a step ends well, select the next unfinished one of this phase."""
        ids = self.row_ids
        if step_id not in ids or step_id != self.selected_step_id():
            return
        for index in range(ids.index(step_id) + 1, len(ids)):
            if self.session.engine.state(ids[index]) not in FINISHED:
                self.query_one("#steps", DataTable).move_cursor(row=index)
                return

    def append_output(self, step_id: str, line: str) -> None:
        self.append_lines(step_id, [line])

    def append_lines(self, step_id: str, lines: list[str]) -> None:
        """A batch of the step's output (only the lines the bounded view keeps are drawn)."""
        if step_id == self.selected_step_id():
            self.query_one("#output", OutputLog).add_lines(lines)

    def on_resize(self) -> None:
        # Below 100 columns the side panels give way to the steps (still usable at 80x24).
        narrow = self.size.width < 100
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            self.refresh_state()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_selected()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value == PREFLIGHT_ROW:
            self.action_preflight()

    # ------------------------------------------------------------------ actions (delegated)

    def action_run(self) -> None:
        if self.selected_row() == PREFLIGHT_ROW:
            self.cutover.start_preflight()
            return
        step_id = self.selected_step_id()
        if step_id:
            self.cutover.start_step(step_id)

    def action_preflight(self) -> None:
        """Show the last preflight's table, or run it when there is none yet."""
        if self.cutover.preflight.report is not None and not self.cutover.preflight.running:
            self.cutover.show_preflight_table()
        else:
            self.cutover.start_preflight()

    def action_retry(self) -> None:
        step_id = self.selected_step_id()
        if refuse_held(self, step_id):  # another operator runs it: say who
            return
        if step_id and self.session.engine.state(step_id) not in ("failed", "interrupted"):
            self.notify(f"Step {step_id} has not failed; r runs it.", severity="information")
            return
        self.action_run()

    def action_manual_done(self) -> None:
        step_id = self.selected_step_id()
        if refuse_held(self, step_id):
            return
        if step_id and self.session.book.step(step_id).kind != "manual":
            self.notify(f"Step {step_id} is not a manual step; r runs it.",
                        severity="information")
            return
        self.action_run()

    def action_next_phase(self) -> None:
        self.move_phase(+1)

    def action_previous_phase(self) -> None:
        self.move_phase(-1)

    def action_rollback(self) -> None:
        rollback = self.session.book.rollback
        if rollback is None:
            self.notify("This runbook has no rollback procedure.", severity="warning")
            return
        self.cutover.open_phase(rollback.id)

    # ------------------------------------------------------------------ asked, then recorded

    def refresh_all(self) -> None:
        self.refresh_state()
        self.show_selected()

    def action_skip(self) -> None:
        step_id = self.selected_step_id()
        if not step_id:
            return
        engine = self.session.engine
        if refuse_held(self, step_id):
            return
        if engine.state(step_id) in FINISHED or step_id == self.cutover.running_step:
            self.notify(f"Step {step_id} is {engine.state(step_id)}; nothing to skip.")
            return

        def record_skip(reason: str | None) -> None:
            if reason:
                engine.skip(step_id, reason)
                self.refresh_all()

        self.app.push_screen(ReasonDialog(f"Skip step {step_id}", "Why is it safe to skip? The "
                                          "reason is recorded in the checklist.",
                                          placeholder="reason"), record_skip)

    def action_note(self) -> None:
        step_id = self.selected_step_id()
        if not step_id:
            return
        engine = self.session.engine

        def record_note(note: str | None) -> None:
            if note:
                engine.add_note(step_id, note)
                self.refresh_all()

        self.app.push_screen(ReasonDialog(f"Note for step {step_id}", placeholder="note"),
                             record_note)

    def action_approve(self) -> None:
        approve_selected(self)  # four eyes: another operator's step, co-signed (approve.py)

    def action_red_flag(self) -> None:
        engine = self.session.engine

        def record_red_flag(text: str | None) -> None:
            if text:
                engine.raise_red_flag(text)
                self.notify("Red flag recorded. The destroy step stays shut; consider the "
                            "rollback (b).", severity="error", timeout=10)

        self.app.push_screen(ReasonDialog("Raise a red flag", "What happened? (health failing "
                                          "> 1h, scrapes failing, database issues, dashboard "
                                          "down, error rate > 10/hour)"), record_red_flag)

    def move_phase(self, delta: int) -> None:
        """The next or previous phase; going on past one that has not passed its success
        criteria (and was not overridden before) asks for the reason and records it."""
        session = self.session
        phases = session.book.phases
        ids = [p.id for p in phases]
        if self.phase_id not in ids:  # the rollback: on to the first phase, back to the last
            self.cutover.open_phase(ids[0] if delta > 0 else ids[-1])
            return
        index = ids.index(self.phase_id) + delta
        if not 0 <= index < len(ids):
            return
        current = phases[ids.index(self.phase_id)]
        if delta > 0 and not session.engine.phase_passed(current) and not \
                session.checklist.read().get("phases", {}).get(current.id, {}).get(
                    "override_reason"):
            def override_and_go_on(reason: str | None) -> None:
                if reason:
                    session.engine.override_phase(current.id, reason)
                    self.cutover.open_phase(ids[index])

            self.app.push_screen(ReasonDialog(
                f"Phase {current.id} has not passed its success criteria",
                "\n".join(f"• {c}" for c in current.success_criteria) +
                "\n\nGo on anyway? Type the reason; it is recorded in the checklist."),
                override_and_go_on)
            return
        self.cutover.open_phase(ids[index])
