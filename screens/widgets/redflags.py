"""One red-flag rule of the monitoring week as a line of the monitoring screen: its id, state
(ok / pending / firing / resolved, with a glyph so it reads without colour) and since when,
its last measured values as a sparkline, the last observation's detail, and a silence's end."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from cutover_tui.clock import iso
from cutover_tui.durations import format_duration
from cutover_tui.monitor.view import RuleRow, since_text

# rule state → (glyph and word, style)
STATE_LOOK = {
    "ok": ("✓ ok", "green"),
    "pending": ("… pending", "bold yellow"),
    "firing": ("✗ FIRING", "bold red"),
    "resolved": ("✓ resolved", "cyan"),
}


def state_text(row: RuleRow, now: float) -> Text:
    word, style = STATE_LOOK.get(row.state, (f"? {row.state}", ""))
    text = Text.assemble((f"{row.rule:<11}", "bold"), (word, style))
    at = since_text(row.since) if row.since else None
    if at is not None:
        text.append(f" since {iso(at)}")
        if now >= at:
            text.append(f" ({format_duration(now - at)} ago)", style="dim")
    return text


class RuleLine(Horizontal):
    """A rule's line; ``show`` renders a new row of the week's view. Every text shown goes
    through ``mask`` (the session's masker): a probe's detail may quote what a host said."""

    DEFAULT_CSS = """
    RuleLine { height: 2; }
    RuleLine > .rule-state { width: 60; height: 2; }
    RuleLine > Sparkline { width: 20; height: 2; margin: 0 1 0 0; }
    RuleLine > .rule-last { width: 1fr; height: 2; text-wrap: nowrap; text-overflow: ellipsis; }
    RuleLine.firing > .rule-state { background: $error 15%; }
    RuleLine.firing > Sparkline > .sparkline--max-color { color: $error; }
    """

    def __init__(self, rule: str, mask: Callable[[str], str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.rule = rule
        self.mask = mask

    def compose(self) -> ComposeResult:
        yield Static(classes="rule-state")
        yield Sparkline([], summary_function=max)
        yield Static(classes="rule-last")

    def show(self, row: RuleRow, now: float) -> None:
        self.set_class(row.state == "firing", "firing")
        label = state_text(row, now)
        label.append(f"\n  {self.mask(row.description)}", style="dim")
        self.query_one(".rule-state", Static).update(label)
        self.query_one(Sparkline).data = list(row.values)
        last = Text("last: ", style="dim")
        detail = row.last or "no sample yet"
        detail = self.mask(detail)  # guard: monitor-screen-masks
        last.append(detail)
        if row.silenced_until is not None:
            last.append(f"\nsilenced until {iso(row.silenced_until)}", style="bold magenta")
        self.query_one(".rule-last", Static).update(last)
