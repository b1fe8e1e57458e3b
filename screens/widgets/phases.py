"""The phase list: every phase with its progress glyphs, counts and planned vs actual time."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from rich.text import Text
from textual.widgets import Static

from cutover_tui.clock import parse_iso
from cutover_tui.durations import format_duration, parse_duration
from cutover_tui.records import look

if TYPE_CHECKING:
    from cutover_tui.session import Session


def glyph(state: str) -> Text:
    """A state's glyph in its style (``records.STATE_LOOK``, the one table of them)."""
    shown = look(state)
    return Text(shown.glyph, style=shown.style)


class PhaseRow(NamedTuple):
    """One line of the phase list."""

    phase_id: str
    title: str
    counts: dict[str, int]  # steps by state
    planned: str  # the runbook's duration, as written; "" when it gives none
    actual: str  # first start to last finish of its steps, "" before both exist
    passed: bool  # its success criteria hold (engine.phase_passed)


def phase_rows(session: Session) -> list[PhaseRow]:
    """Every phase of the session's runbook (the rollback last), from the cached run record:
    this process's writes update it, and the app re-reads the file when another operator changed
    it, so no parse on every repaint."""
    engine = session.engine
    records = session.checklist.records
    rows = []
    for phase in session.book.all_phases:
        times = [(records[s.id].started_at, records[s.id].finished_at) for s in phase.steps]
        starts = [parse_iso(a) for a, _ in times if a]
        ends = [parse_iso(b) for _, b in times if b]
        actual = format_duration(max(ends) - min(starts)) if starts and ends else ""
        # A phase without a duration reads "0s" from the model: no plan, not a plan of nothing.
        planned = phase.duration if parse_duration(phase.duration) else ""
        rows.append(PhaseRow(phase.id, phase.title, engine.phase_counts(phase), planned,
                             actual, engine.phase_passed(phase)))
    return rows


def timing(actual: str, planned: str, compact: bool = False) -> str:
    """Actual against planned time ("12m of 1h", "–/1h" compact); only the actual time, if
    any, for a phase the runbook gives no duration."""
    if not planned:
        return actual
    return f"{actual or '–'}/{planned}" if compact else f"{actual or '–'} of {planned}"


class PhaseList(Static):
    DEFAULT_CSS = """
    PhaseList {
        width: 34;
        height: 1fr;
        border: round $primary 50%;
        padding: 0 1;
    }
    """

    def show(self, rows: list[PhaseRow], current: str, compact: bool = False) -> None:
        text = Text()
        for phase_id, title, counts, planned, actual, passed in rows:
            total = sum(counts.values())
            done = counts.get("done", 0) + counts.get("skipped", 0)
            if counts.get("failed"):
                mark = glyph("failed")
            elif counts.get("running"):
                mark = glyph("running")
            elif passed and total:
                mark = glyph("done")
            else:
                mark = glyph("pending")
            style = "reverse" if phase_id == current else ""
            label = "R" if phase_id == "R" else phase_id
            text.append(mark)
            width = 14 if compact else 24
            text.append(f" {label:<2} {title[:width]:<{width}}\n", style=style)
            text.append(f"     {done}/{total}" + ("" if compact else " done"), style="dim")
            if counts.get("failed"):
                text.append(f" ✗{counts['failed']}", style="red")
            text.append(f"  {timing(actual, planned, compact)}\n", style="dim")
        self.update(text)
