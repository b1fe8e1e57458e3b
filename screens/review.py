"""The run record's timeline (``c``): ``cutover review`` as a read-only modal screen."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class ReviewScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ReviewScreen { align: center middle; background: $background 60%; }
    ReviewScreen > VerticalScroll { width: 96%; height: 90%; border: thick $primary;
                                    background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,c", "dismiss", "Close")]

    def __init__(self, record_path: Path) -> None:
        super().__init__()
        self.record_path = record_path

    def compose(self) -> ComposeResult:
        from cutover_tui.review import render_text

        with VerticalScroll():
            yield Static(Text(render_text(self.record_path)))
