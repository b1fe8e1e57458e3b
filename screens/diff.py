"""The side-by-side ``.env`` diff: current | proposed, changed lines highlighted, unchanged
context collapsible, secrets masked (a hash shows *that* a secret changed). Confirm applies."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from .dialogs import Question, answer_once

CONTEXT = 1
STYLES = {"changed": ("on #5a1e1e", "on #1e4a1e"), "removed": ("on #5a1e1e", ""),
          "added": ("", "on #1e4a1e"), "equal": ("", "")}


def diff_table(diff: Any, collapse: bool, revealed: bool = False) -> Table:
    table = Table(expand=True, show_lines=False, pad_edge=False, box=None)
    table.add_column("", width=3, justify="right", style="dim")
    table.add_column("current", ratio=1, overflow="fold")
    table.add_column("", width=3, justify="right", style="dim")
    table.add_column("proposed", ratio=1, overflow="fold")
    rows = diff.raw_rows if revealed and getattr(diff, "raw_rows", None) else diff.rows
    keep = set(range(len(rows)))
    if collapse:
        near = {j for i, row in enumerate(rows) if row.tag != "equal"
                for j in range(i - CONTEXT, i + CONTEXT + 1)}
        keep = {i for i in keep if i in near}
    skipped = 0
    for i, row in enumerate(rows):
        if i not in keep:
            skipped += 1
            continue
        if skipped:
            table.add_row("", Text(f"⋯ {skipped} unchanged line(s)", style="dim italic"), "", "")
            skipped = 0
        left_style, right_style = STYLES[row.tag]
        table.add_row(str(row.left_no or ""), Text(row.left, style=left_style),
                      str(row.right_no or ""), Text(row.right, style=right_style))
    if skipped:
        table.add_row("", Text(f"⋯ {skipped} unchanged line(s)", style="dim italic"), "", "")
    return table


class DiffScreen(Question, ModalScreen[bool]):
    DEFAULT_CSS = """
    DiffScreen { align: center middle; background: $background 60%; }
    DiffScreen > Vertical {
        width: 96%; height: 90%; border: thick $primary; background: $surface; padding: 0 1;
    }
    DiffScreen .title { text-style: bold; }
    DiffScreen .hashes { color: $text-muted; }
    DiffScreen VerticalScroll { height: 1fr; border: round $primary 40%; }
    DiffScreen Horizontal { height: auto; align-horizontal: right; }
    DiffScreen Button { margin-left: 2; }
    """
    BINDINGS = [
        Binding("c", "toggle_context", "Context"),
        Binding("ctrl+r", "reveal", "Reveal secrets"),
        Binding("a", "apply", "Apply"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str, diff: Any, on_reveal: Any = None) -> None:
        super().__init__()
        self.title_text = title
        self.diff = diff
        self.collapse = True
        self.revealed = False
        self.on_reveal = on_reveal

    def compose(self) -> ComposeResult:
        with Vertical():
            where = "" if self.diff.path in self.title_text else f"  ({self.diff.path})"
            yield Label(f"Review: {self.title_text}{where}", classes="title")
            yield Static(f"sha256 {self.diff.old_sha256[:16]}… → {self.diff.new_sha256[:16]}…  "
                         "secrets are masked (ctrl+r reveals them, and that is recorded); "
                         "c shows or hides unchanged lines", classes="hashes")
            with VerticalScroll():
                yield Static(diff_table(self.diff, self.collapse), id="table")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Apply", id="apply", variant="primary")

    def _redraw(self) -> None:
        self.query_one("#table", Static).update(diff_table(self.diff, self.collapse,
                                                           self.revealed))

    def action_toggle_context(self) -> None:
        self.collapse = not self.collapse
        self._redraw()

    def action_reveal(self) -> None:
        self.revealed = not self.revealed
        if self.revealed and self.on_reveal is not None:
            self.on_reveal()
        self._redraw()

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        answer_once(self, True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        answer_once(self, False)
