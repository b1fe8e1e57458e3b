"""The monitoring week's day grid: one row per day of the monitoring phase, one column per daily
check (its base id, ``7.1-health``), each cell a glyph and a word, so it reads the same
without colour: ✓ done, ✗ red, ! missing (due and not done), · not yet."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from cutover_tui.clock import iso
from cutover_tui.monitor.view import DONE, MISSING, NOT_YET, RED, WeekView

# cell state → (glyph and word, style)
CELL_LOOK = {
    DONE: ("✓ done", "green"),
    RED: ("✗ red", "bold red"),
    MISSING: ("! missing", "bold yellow"),
    NOT_YET: ("· not yet", "dim"),
}


def cell_text(state: str) -> Text:
    word, style = CELL_LOOK.get(state, (f"? {state}", ""))
    return Text(word, style=style)


def grid_table(view: WeekView) -> Table:
    """The days × checks table of ``view``; a day without a check of a column shows nothing."""
    table = Table(box=None, padding=(0, 2), show_edge=False,
                  header_style="bold")
    table.add_column("day", no_wrap=True, width=5)
    table.add_column("due (UTC)", no_wrap=True, width=17)
    for column in view.columns:
        table.add_column(column, no_wrap=True)
    for day in view.days:
        cells = dict(day.cells)
        due = iso(day.due_at)[:16].replace("T", " ") if day.due_at is not None else "—"
        table.add_row(str(day.number), due,
                      *[cell_text(cells[c]) if c in cells else Text("") for c in view.columns])
    return table


class DayGrid(Static):
    """The day grid; ``show`` renders a new view of the week."""

    DEFAULT_CSS = """
    DayGrid {
        height: auto;
        border: round $primary 50%;
        padding: 0 1;
    }
    """

    def on_mount(self) -> None:
        self.border_title = "Daily checks"

    def show(self, view: WeekView) -> None:
        if not view.days:
            self.update(Text("This runbook has no monitoring week (no repeated phase).",
                             style="dim"))
            return
        self.update(grid_table(view))
