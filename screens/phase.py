"""One phase of the runbook as a screen: the phase list, this phase's steps, the selected step's
plan (before) or verdict and evidence (after), its output streaming live, and the health panel.
It asks the app to act; it holds no cutover logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, RichLog, Static

from cutover_tui.checklist import FINISHED

from .widgets.health import HealthPanel
from .widgets.phases import PhaseList, glyph

if TYPE_CHECKING:
    from .app import CutoverApp

# Phase 1 offers the preflight as its first row: not a runbook step, nothing is recorded.
PREFLIGHT_ROW = "preflight"


# How a step's state reads in the verdict pane: only failures are red.
STATE_STYLES = {"done": "green", "running": "bold yellow", "skipped": "dim",
                "failed": "bold red", "interrupted": "bold red"}

class TopBar(Static):
    DEFAULT_CSS = """
    TopBar { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """


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
    def cutover(self) -> CutoverApp:
        return self.app  # type: ignore[return-value]

    @property
    def phase(self):
        return next(p for p in self.cutover.book.all_phases if p.id == self.phase_id)

    def compose(self) -> ComposeResult:
        app = self.cutover
        book = app.book
        yield TopBar(id="topbar")
        with Horizontal(id="main"):
            yield PhaseList(id="phases")
            with Vertical(id="work"):
                yield Static(id="phase-title")
                yield DataTable(id="steps", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="lower"):
                    yield Static(id="detail")
                    yield RichLog(id="output", wrap=True, markup=False, max_lines=2000)
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
        if self.offers_preflight and self.cutover.preflight_report is None and all(
                self.cutover.engine.state(s.id) == "pending" for _, s in self.cutover.book.steps()):
            start = PREFLIGHT_ROW  # a fresh run starts with the preflight
        if start in self.row_ids:
            table.move_cursor(row=self.row_ids.index(start))
        self.show_selected()

    # ------------------------------------------------------------------ reading state

    def first_unfinished(self) -> str | None:
        for step in self.phase.steps:
            if self.cutover.engine.state(step.id) not in FINISHED:
                return step.id
        return self.phase.steps[0].id if self.phase.steps else None

    @property
    def offers_preflight(self) -> bool:
        return self.phase is self.cutover.book.phases[0] and self.cutover.preflight_candidates > 0

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
        engine = app.engine
        table = self.query_one("#steps", DataTable)
        for step in self.phase.steps:
            state = "running" if step.id == app.running_step else engine.state(step.id)
            table.update_cell(step.id, "glyph", glyph(state))
        if self.offers_preflight:
            table.update_cell(PREFLIGHT_ROW, "glyph", glyph(app.preflight_state))
        self.query_one("#phases", PhaseList).show(app.phase_rows(), self.phase_id,
                                                  compact=self.has_class("narrow"))
        label = "Rollback" if self.phase is app.book.rollback else f"Phase {self.phase.id}"
        counts = engine.phase_counts(self.phase)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        title = Text.assemble((f"{label}: {self.phase.title}", "bold"), f"   {summary}")
        gate = engine.phase_gate(self.phase)
        if gate:
            title.append(f"\n⚠ {gate}", style="yellow")
        self.query_one("#phase-title", Static).update(title)
        self.update_topbar()

    def update_topbar(self) -> None:
        app = self.cutover
        clock = app.session.engine.clock.now().strftime("%Y-%m-%d %H:%M:%S UTC")
        running = f"   ▶ running {app.running_step}" if app.running_step else ""
        if running and app.progress_label:
            running += f" — {app.progress_label}"
        self.query_one("#topbar", TopBar).update(Text.assemble(
            (app.book.runbook.title, "bold"), f"   operator {app.operator_name}   {clock}",
            (running, "yellow")))

    def show_step(self, step_id: str | None) -> None:
        if step_id is None:
            return
        app = self.cutover
        detail = self.query_one("#detail", Static)
        record = app.session.checklist.step(step_id)
        step = app.book.step(step_id)
        text = Text()
        text.append(f"{step.id}  {step.title}\n", style="bold")
        if step.description:
            text.append(step.description.strip() + "\n", style="italic")
        state = record.get("state", "pending")
        if state != "pending":
            text.append(f"{state.upper()}", style=STATE_STYLES.get(state, "bold red"))
            if record.get("operator"):
                # A running step has no finish yet: say since when it runs.
                when = (f" since {record.get('started_at', '…')}" if state == "running"
                        else f" at {record.get('finished_at', '…')}")
                text.append(f" by {record['operator']}{when}")
            if record.get("summary"):
                text.append(f"\n{record['summary']}")
            if state == "failed":
                host = getattr(step, "host", None)
                where = f" on {host}" if host else ""
                text.append(f"\n\nStep {step.id} failed{where}. You can retry (t), skip it with "
                            "a reason (s), or open the rollback procedure (b).", style="yellow")
            evidence = record.get("evidence", {})
            if evidence:
                text.append("\nEvidence:\n", style="underline")
                for key, value in evidence.items():
                    text.append(f"  {key}: {value}\n")

        text.append("\nPlan:\n", style="underline")
        for item in app.engine.plan(step):
            text.append(f"• {item.where}\n", style="cyan")
            text.append(f"  {app.session.engine.masker(item.action)}\n")
        for note in record.get("notes", []):
            text.append(f"note: {note}\n", style="dim")
        detail.update(text)
        detail.border_title = "Plan" if state == "pending" else "Plan and verdict"
        log = self.query_one("#output", RichLog)
        log.clear()
        lines = app.outputs.get(step_id) or record.get("output", "").splitlines()
        for line in lines[-400:]:
            log.write(line)
        log.border_title = f"Output of {step_id}"

    def show_preflight(self) -> None:
        """The preflight row: what it runs, and the last result."""
        from cutover_tui.preflight import select

        app = self.cutover
        candidates, not_run = select(app.book)
        report = app.preflight_report
        text = Text()
        text.append("Preflight\n", style="bold")
        text.append("Runs every step that changes nothing — http requests, services status, and "
                    "the ssh/local steps marked changes = false — from every phase and the "
                    "rollback, against the hosts as they are now, and says of each: ok, differs "
                    "now (a value the cutover is expected to change), or cannot pass (what the "
                    "check looks for is not there at all: fix the runbook first). Nothing is "
                    "recorded in the checklist.\n", style="italic")
        if app.preflight_running:
            text.append("\nRUNNING …\n", style="yellow")
        elif report is not None:
            style = {0: "green", 1: "bold red"}.get(report.exit_code, "magenta")
            text.append(f"\n{report.summary()}\n", style=style)
            text.append("Enter shows the table again; r runs it again.\n")
        else:
            text.append("\nr runs it; the table opens when it is done.\n")
        text.append("\nPlan:\n", style="underline")
        text.append(f"• {len(candidates)} step(s): "
                    f"{', '.join(c.shown_id for c in candidates)}\n")
        text.append(f"• not run: {len(not_run)} step(s) that change something, ask a person or "
                    "wait\n", style="dim")
        detail = self.query_one("#detail", Static)
        detail.update(text)
        detail.border_title = "Preflight"
        log = self.query_one("#output", RichLog)
        log.clear()
        for row in report.rows if report else []:
            log.write(f"{row.verdict:<12} {row.step_id:<16} {row.reason.splitlines()[0]}")
        log.border_title = "Preflight results"

    def advance_from(self, step_id: str) -> None:
        """After a step ends well, select the next unfinished one of this phase."""
        ids = self.row_ids
        if step_id not in ids or step_id != self.selected_step_id():
            return
        for index in range(ids.index(step_id) + 1, len(ids)):
            if self.cutover.engine.state(ids[index]) not in FINISHED:
                self.query_one("#steps", DataTable).move_cursor(row=index)
                return

    def append_output(self, step_id: str, line: str) -> None:
        if step_id == self.selected_step_id():
            self.query_one("#output", RichLog).write(line)

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
        if self.cutover.preflight_report is not None and not self.cutover.preflight_running:
            self.cutover.show_preflight_table()
        else:
            self.cutover.start_preflight()

    def action_retry(self) -> None:
        step_id = self.selected_step_id()
        if step_id and self.cutover.engine.state(step_id) not in ("failed", "interrupted"):
            self.notify(f"Step {step_id} has not failed; r runs it.", severity="information")
            return
        self.action_run()

    def action_manual_done(self) -> None:
        step_id = self.selected_step_id()
        if step_id and self.cutover.book.step(step_id).kind != "manual":
            self.notify(f"Step {step_id} is not a manual step; r runs it.",
                        severity="information")
            return
        self.action_run()

    def action_skip(self) -> None:
        step_id = self.selected_step_id()
        if step_id:
            self.cutover.ask_skip(step_id)

    def action_note(self) -> None:
        step_id = self.selected_step_id()
        if step_id:
            self.cutover.ask_note(step_id)

    def action_next_phase(self) -> None:
        self.cutover.move_phase(self.phase_id, +1)

    def action_previous_phase(self) -> None:
        self.cutover.move_phase(self.phase_id, -1)

    def action_rollback(self) -> None:
        self.cutover.open_phase("R")

    def action_red_flag(self) -> None:
        self.cutover.ask_red_flag()
