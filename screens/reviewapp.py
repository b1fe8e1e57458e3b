"""``cutover review RECORD`` on a terminal: an App holding only the review screen
(``review.py``), reached through the ``cutover.ui`` entry point (``entry.Wizard.review``). It
opens no session and takes no lock: it reads the record, and writes nothing."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from .review import ReviewScreen


class ReviewApp(App[int]):
    """Exits 0 when the screen is closed, 1 when the record could not be read (its sentence
    is in ``problem``, for the command to print after the screen is gone)."""

    TITLE = "cutover review"
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False)]
    ENABLE_COMMAND_PALETTE = False  # nothing to run here

    def __init__(self, record_path: str | Path) -> None:
        super().__init__()
        self.record_path = Path(record_path)
        self.problem = ""

    def on_mount(self) -> None:
        screen = ReviewScreen(self.record_path)

        def closed(_result: None) -> None:
            self.problem = screen.problem
            self.exit(return_code=1 if screen.problem else 0)

        self.push_screen(screen, closed)
