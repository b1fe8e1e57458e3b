"""The review screen's timeline: the run's rows (``cutover_tui.reviewmodel``) as a table — the
red flags' row, attempt and phase headings, and one line per step with its id, state (glyph and
word, so it reads without colour), title, who, when (started → finished) and how long."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from cutover_tui.records import look
from cutover_tui.reviewmodel import AttemptRow, PhaseRow, RedFlags, Row, StepRow

# (label, width): fixed, so that narrowing the rows by a filter does not make the columns jump.
COLUMNS = (("Step", 8), ("State", 13), ("Title", 34), ("Who", 16), ("When", 25), ("Took", 7))


def _cell(text: str, width: int, style: str = "") -> Text:
    cell = Text(text, style=style, no_wrap=True)
    cell.truncate(width, overflow="ellipsis")
    return cell


def state_cell(state: str) -> Text:
    """A state as its glyph and word, the glyph in its style (``records.STATE_LOOK``)."""
    shown = look(state)
    return Text.assemble((shown.glyph, shown.style), f" {state}")


def row_cells(row: Row) -> list[Text]:
    """The table's cells for ``row``, one per column."""
    widths = [width for _, width in COLUMNS]
    blank = [Text("") for _ in COLUMNS]
    if isinstance(row, StepRow):
        style = "" if row.current else "dim"  # an archived attempt's steps are history
        return [_cell(row.step_id, widths[0], style), state_cell(row.state),
                _cell(row.title, widths[2], style), _cell(row.who, widths[3], style),
                _cell(row.when, widths[4], style), _cell(row.took, widths[5], style)]
    if isinstance(row, PhaseRow):
        planned = f"planned {row.planned}" if row.planned else ""
        return [_cell(row.phase_id, widths[0], "bold"), _cell("", widths[1]),
                _cell(row.label, widths[2], "bold underline"), blank[3], blank[4],
                _cell(planned, widths[5], "dim")]
    if isinstance(row, AttemptRow):
        cells = blank.copy()
        cells[0] = _cell(f"#{row.number}", widths[0], "bold reverse")
        cells[2] = _cell(row.label, widths[2], "bold reverse")
        cells[3] = _cell(f"by {row.by}" if row.by else "", widths[3], "dim")
        cells[4] = _cell(row.started_at + (f" → {row.ended_at}" if row.ended_at else ""),
                         widths[4], "dim")
        return cells
    flags: RedFlags = row
    cells = blank.copy()
    cells[0] = _cell("⚑", widths[0], "bold red" if flags.firing else "yellow")
    cells[1] = Text("⚑ raised" if flags.firing else "  none firing",
                    style="bold red" if flags.firing else "dim")
    cells[2] = _cell(flags.label, widths[2], "bold")
    if flags.silences:
        cells[3] = _cell(f"{len(flags.silences)} silence(s)", widths[3], "dim")
    return cells


class Timeline(DataTable[Text]):
    """The rows, selectable one at a time; ``show`` replaces them and says which rows it shows
    (by their keys, in order) so the screen can keep the selection."""

    DEFAULT_CSS = """
    Timeline { height: 1fr; min-height: 6; border: round $primary 50%; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.shown: list[Row] = []

    def show(self, rows: list[Row], select: str | None = None) -> None:
        """Show ``rows``, the cursor on the row whose key is ``select`` if it is still shown,
        else on the first step (or the first row)."""
        if not self.columns:
            for label, width in COLUMNS:
                self.add_column(label, width=width, key=label.lower())
        self.clear()
        self.shown = rows
        for row in rows:
            self.add_row(*row_cells(row), key=row.key)
        keys = [row.key for row in rows]
        if select not in keys:
            select = next((row.key for row in rows if isinstance(row, StepRow)),
                          keys[0] if keys else None)
        if select is not None:
            self.move_cursor(row=keys.index(select))

    @property
    def selected(self) -> Row | None:
        if not self.shown or not 0 <= self.cursor_row < len(self.shown):
            return None
        return self.shown[self.cursor_row]
