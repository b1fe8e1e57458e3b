"""The review screen: a run record's read-only timeline, for ``cutover review RECORD`` on a
terminal (``reviewapp.py``) and the wizard's ``c``.

The header says what run it is and the journal's verdict (``journalcheck``: "journal intact"
or "NOT INTACT: …"); the timeline (``widgets/timeline.py``) lists the red flags' row, then each
attempt's phases and steps (who, when, how long); the detail pane (``widgets/reviewdetail.py``)
shows the selected row. ``o`` cycles the operator filter and ``f`` the state filter through the
values the record holds, back to "all". It renders and nothing more: the record is read once,
in a worker (a long run's record takes a while), by ``cutover_tui.reviewmodel``, and no key
writes anything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from cutover_tui.errors import CutoverError
from cutover_tui.masking import Masker
from cutover_tui.reviewmodel import Review, StepRow, read_review

from .dialogs import answer_once
from .widgets.reviewdetail import ReviewDetail
from .widgets.timeline import Timeline


def _next(values: tuple[str, ...], current: str) -> str:
    """The value after ``current`` in "all" ("") followed by ``values``, round again."""
    cycle = ("", *values)
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else ""


class ReviewScreen(Screen[None]):
    DEFAULT_CSS = """
    ReviewScreen #review-head { height: 1; padding: 0 1; background: $primary-background;
                                text-wrap: nowrap; text-overflow: ellipsis; }
    ReviewScreen #review-journal { height: auto; max-height: 3; padding: 0 1; }
    ReviewScreen #review-filters { height: 1; padding: 0 1; }
    ReviewScreen #review-rows { height: auto; max-height: 55%; }
    ReviewScreen #review-detail { height: 1fr; }
    """
    BINDINGS = [
        Binding("o", "cycle_operator", "Operator filter"),
        Binding("f", "cycle_state", "State filter"),
        Binding("q,escape,c", "close", "Close"),
    ]

    def __init__(self, record_path: str | Path) -> None:
        super().__init__()
        self.record_path = Path(record_path)
        self.review: Review | None = None
        self.problem = ""  # why the record could not be read, in a sentence
        self.operator = ""  # the operator filter ("": all)
        self.state = ""  # the state filter ("": all)

    def compose(self) -> ComposeResult:
        yield Static(Text(f"reading {self.record_path.name} …"), id="review-head")
        yield Static(id="review-journal")
        yield Static(id="review-filters")
        yield Timeline(id="review-rows")
        yield ReviewDetail(id="review-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="review", exit_on_error=False)
    async def load(self) -> None:
        """Read the record away from the event loop; a record that cannot be read is said in
        the header (the sentence of its ``CutoverError``)."""
        try:
            review = await asyncio.to_thread(read_review, self.record_path)
        except CutoverError as exc:
            review, self.problem = None, Masker()(str(exc))
        self.review = review
        try:
            self.show_loaded()
        except NoMatches:  # closed while it read: its widgets are being removed
            pass

    def show_loaded(self) -> None:
        head = self.query_one("#review-head", Static)
        if self.review is None:
            head.update(Text(f"cannot review {self.record_path.name}: {self.problem}",
                             style="bold red"))
            return
        head.update(self.head_text(self.review))
        self.query_one("#review-journal", Static).update(self.journal_text(self.review))
        self.show_rows()
        self.query_one(Timeline).focus()

    @staticmethod
    def head_text(review: Review) -> Text:
        """The run in one line, what tells runs apart first (cut at the edge, not wrapped)."""
        text = Text()
        text.append(f"Review  {review.title}", style="bold")
        text.append(f" · operators {', '.join(review.operators) or '–'} · attempt "
                    f"{review.attempt} · {review.record_name} · started {review.started_at} · "
                    f"runbook {review.runbook_id} {review.runbook_sha256[:12]}")
        return text

    @staticmethod
    def journal_text(review: Review) -> Text:
        """The journal's verdict, whole (a problem names the entry: it may take lines)."""
        verdict = review.journal
        if verdict.ok:
            return Text(f"✓ {verdict.text}", style="green")
        return Text(f"✗ {verdict.text}", style="bold white on red")

    def filters_text(self) -> Text:
        text = Text()
        text.append("filter  o ", style="dim")
        text.append(f"operator: {self.operator or 'all'}",
                    style="bold reverse" if self.operator else "")
        text.append("   f ", style="dim")
        text.append(f"state: {self.state or 'all'}", style="bold reverse" if self.state else "")
        if self.review is not None:
            shown = sum(isinstance(row, StepRow) for row in self.query_one(Timeline).shown)
            text.append(f"   {shown} of {len(self.review.steps)} steps", style="dim")
        text.append("   ↑↓ select a row · read-only", style="dim")
        return text

    def show_rows(self) -> None:
        """The rows the filters leave, keeping the selected row when it is still there."""
        if self.review is None:
            return
        table = self.query_one(Timeline)
        selected = table.selected
        table.show(self.review.visible(self.operator, self.state),
                   select=selected.key if selected is not None else None)
        self.query_one("#review-filters", Static).update(self.filters_text())
        self.query_one(ReviewDetail).show(table.selected)

    @on(DataTable.RowHighlighted, "#review-rows")
    def _selected(self, _event: DataTable.RowHighlighted) -> None:
        self.query_one(ReviewDetail).show(self.query_one(Timeline).selected)

    def action_cycle_operator(self) -> None:
        if self.review is not None:
            self.operator = _next(self.review.operators_seen(), self.operator)
            self.show_rows()

    def action_cycle_state(self) -> None:
        if self.review is not None:
            self.state = _next(self.review.states_seen(), self.state)
            self.show_rows()

    def action_close(self) -> None:
        answer_once(self, None)
