"""The preflight's table as a modal screen: every step that changes nothing with its verdict
(ok, differs now, cannot pass, cannot check) and reason; the highlighted step's command and
masked output below. The report is computed by the app in a worker; this screen only shows it.
``PreflightState`` is what the wizard knows of the preflight, for phase 1's preflight row."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from cutover_tui.preflight import CANNOT_CHECK, CANNOT_PASS, STYLE, PreflightReport


@dataclass
class PreflightState:
    """The preflight as the wizard knows it: offered as phase 1's first row (not a runbook step;
    nothing of it is recorded)."""

    candidates: int = 0  # the steps it would run; 0: no row
    report: PreflightReport | None = None  # the last one
    running: bool = False

    @property
    def state(self) -> str:
        """The row's glyph state."""
        if self.running:
            return "running"
        if self.report is None:
            return "pending"
        return {0: "done", 1: "failed"}.get(self.report.exit_code, "interrupted")


INTRO = ("Every step that changes nothing (http requests, services status, ssh/local steps "
         "marked changes = false), from every phase and the rollback, run against the hosts "
         "as they are now. differs now: the value is one the cutover is expected to change. "
         "cannot pass: what the check looks for is not in the output at all — fix the runbook "
         "before the cutover.")


class PreflightScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    PreflightScreen { align: center middle; background: $background 60%; }
    PreflightScreen > Vertical { width: 96%; height: 92%; border: thick $primary;
                                 background: $surface; padding: 0 1; }
    PreflightScreen #preflight-summary { height: auto; margin-bottom: 1; }
    PreflightScreen #preflight-table { height: 2fr; }
    PreflightScreen #preflight-output { height: 1fr; border: round $primary 50%;
                                        overflow-y: auto; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,p", "dismiss", "Close")]

    def __init__(self, report: PreflightReport) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="preflight-summary")
            yield DataTable(id="preflight-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="preflight-output")
        yield Footer()

    def on_mount(self) -> None:
        report = self.report
        counts = report.counts()
        summary = Text(INTRO + "\n", style="dim")
        summary.append(report.summary())
        if counts[CANNOT_PASS]:
            summary.append(f"\ncannot pass: {', '.join(report.by_verdict(CANNOT_PASS))}",
                           style="bold red")
        elif counts[CANNOT_CHECK]:
            summary.append(f"\ncannot check: {', '.join(report.by_verdict(CANNOT_CHECK))} — "
                           "the preflight is incomplete", style="magenta")
        else:
            summary.append("\nnothing cannot pass", style="green")
        self.query_one("#preflight-summary", Static).update(summary)
        table = self.query_one("#preflight-table", DataTable)
        table.add_column("step", key="step", width=18)
        table.add_column("phase", key="phase", width=5)
        table.add_column("where", key="where", width=6)
        table.add_column("verdict", key="verdict", width=12)
        table.add_column("reason", key="reason")
        for index, row in enumerate(report.rows):
            step = row.step_id + (f" ×{row.copies}" if row.copies > 1 else "")
            table.add_row(step, row.phase_id, row.where,
                          Text(row.verdict, style=STYLE[row.verdict]),
                          row.reason.splitlines()[0] if row.reason else "", key=str(index))
        # Start on the first step that is not ok: that is what needs reading.
        first = next((i for i, row in enumerate(report.rows) if row.verdict != "ok"), 0)
        if report.rows:
            table.move_cursor(row=first)
            self.show_row(first)
        table.focus()

    def show_row(self, index: int) -> None:
        if not 0 <= index < len(self.report.rows):
            return
        row = self.report.rows[index]
        text = Text()
        text.append(f"{row.step_id}  {row.title}\n", style="bold")
        text.append(row.verdict, style=STYLE[row.verdict])
        text.append(f": {row.reason}\n")
        if row.command:
            text.append(f"$ {row.command.strip()}\n", style="cyan")
        text.append(row.output or "(no output)")
        output = self.query_one("#preflight-output", Static)
        output.update(text)
        output.border_title = f"Output of {row.step_id} (masked)"

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_row(event.cursor_row)
