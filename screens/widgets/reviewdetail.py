"""The review screen's detail pane: everything the run record says of the selected row. For a
step: state, who and when, summary, skip reason, plan, command and output tail, evidence, notes
and approvals; for a phase its plan and whether it went on unpassed; for an attempt why it was
rolled back; for the red flags' row the flags raised by hand, each monitoring rule and the
silences. Texts come masked from ``cutover_tui.reviewmodel``; they are shown as text, never as
markup (a command's output may hold brackets)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from cutover_tui.records import look
from cutover_tui.reviewmodel import AttemptRow, Fields, PhaseRow, RedFlags, Row, StepRow


def _section(text: Text, title: str) -> None:
    text.append(f"\n{title}\n", style="bold underline")


def _fields(text: Text, fields: Fields, indent: str = "  ") -> None:
    for name, value in fields:
        text.append(f"{indent}{name}: ", style="cyan")
        text.append(f"{value}\n")


def step_text(row: StepRow) -> Text:
    text = Text()
    text.append(f"{row.step_id}  {row.title}\n", style="bold")
    shown = look(row.state)
    text.append(f"{shown.glyph} {row.state.upper()}", style=shown.word_style)
    if row.who:
        text.append(f" by {row.who}")
    if row.started_at:
        text.append(f" · {row.started_at} → {row.finished_at or '…'}", style="dim")
    if row.took:
        text.append(f" · took {row.took}", style="dim")
    text.append("\n")
    if not row.current:
        text.append(f"attempt {row.attempt}, archived by a re-attempt\n", style="italic")
    if row.summary:
        text.append(f"{row.summary}\n")
    if row.skip_reason:
        _section(text, "Skipped")
        text.append(f"  {row.skip_reason}\n")
    if row.plan:
        _section(text, "Plan")
        for line in row.plan:
            text.append(f"• {line}\n")
    if row.command:
        _section(text, "Command")
        status = "" if row.exit_status is None else f"  (exit status {row.exit_status})"
        text.append(f"  {row.command}{status}\n")
    if row.output:
        _section(text, "Output (its last lines)")
        text.append(f"{row.output}\n", style="grey70")
    if row.evidence:
        _section(text, "Evidence")
        _fields(text, row.evidence)
    if row.notes:
        _section(text, "Notes")
        for note in row.notes:
            text.append(f"  {note}\n")
    if row.approvals:
        _section(text, "Approvals")
        for number, approval in enumerate(row.approvals, start=1):
            text.append(f"  {number}.\n")
            _fields(text, approval, "    ")
    return text


def phase_text(row: PhaseRow) -> Text:
    text = Text(f"{row.label}\n", style="bold")
    text.append(f"attempt {row.attempt}" + (f" · planned {row.planned}" if row.planned else "")
                + "\n", style="dim")
    if row.success_criteria:
        _section(text, "Success criteria")
        for line in row.success_criteria:
            text.append(f"• {line}\n")
    if row.override:
        text.append(f"\n{row.override}\n", style="bold yellow")
    return text


def attempt_text(row: AttemptRow) -> Text:
    text = Text(f"{row.label}\n", style="bold")
    if row.current:
        text.append(f"since {row.started_at}: the steps' records as they are now\n")
        return text
    text.append(f"{row.started_at} → {row.ended_at}; re-attempted by {row.by}\n")
    if row.raised_red_flags:
        _section(text, "Red flags raised")
        for flag in row.raised_red_flags:
            text.append(f"  {flag}\n", style="red")
    if row.rule_states:
        _section(text, "Monitoring rules, as they were")
        for line in row.rule_states:
            text.append(f"  {line}\n")
    return text


def red_flags_text(flags: RedFlags) -> Text:
    text = Text("Red flags\n", style="bold")
    _section(text, "Raised by hand")
    for flag in flags.raised:
        text.append(f"  ⚑ {flag}\n", style="bold red")
    if not flags.raised:
        text.append("  none\n", style="dim")
    _section(text, "Monitoring rules")
    for rule in flags.rules:
        firing = rule.state == "firing" or bool(rule.fired_at)
        text.append(f"  {rule.rule} [{rule.state}] ", style="bold red" if firing else "bold")
        text.append(f"{rule.description}")
        for word, at in (("fired", rule.fired_at), ("resolved", rule.resolved_at)):
            if at:
                text.append(f", {word} {at}", style="dim")
        text.append("\n")
        for line in rule.lines:
            text.append(f"      {line}\n")
    if not flags.rules:
        text.append("  none recorded\n", style="dim")
    _section(text, "Silences")
    for line in flags.silences:
        text.append(f"  {line}\n")
    if not flags.silences:
        text.append("  none\n", style="dim")
    return text


def detail_text(row: Row | None) -> Text:
    """What the pane shows for ``row`` (None: nothing selected, the filters left no row)."""
    if row is None:
        return Text("No row matches the filters: o and f cycle them back to all.", style="dim")
    if isinstance(row, StepRow):
        return step_text(row)
    if isinstance(row, PhaseRow):
        return phase_text(row)
    if isinstance(row, AttemptRow):
        return attempt_text(row)
    return red_flags_text(row)


class ReviewDetail(VerticalScroll):
    """The pane: scrolls; ``show`` replaces what it says and scrolls back to the top."""

    DEFAULT_CSS = """
    ReviewDetail { height: 1fr; border: round $primary 50%; padding: 0 1; }
    ReviewDetail > Static { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="review-detail-text", markup=False)

    def show(self, row: Row | None) -> None:
        self.query_one("#review-detail-text", Static).update(detail_text(row))
        self.scroll_home(animate=False)

    @property
    def text(self) -> str:
        """What it says, as plain text."""
        content = self.query_one("#review-detail-text", Static).content
        return content.plain if isinstance(content, Text) else str(content)
