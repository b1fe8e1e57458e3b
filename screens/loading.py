"""What shows while the session opens (and, in the demo, before the world answers)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import LoadingIndicator, Static


class LoadingScreen(Screen):
    def compose(self) -> ComposeResult:
        with Vertical(id="loading"):
            yield Static(self.app.title or "cutover", id="loading-title")
            yield Static("starting …", id="loading-status")
            yield LoadingIndicator()
