"""The phase screen's output view: a step's output as it streams, bounded and drawn at most
``FRAMES_PER_SECOND`` times a second. It keeps the last ``MAX_LINES`` lines (the whole output
is in the run's journal, and the checklist keeps its last lines).

Lines are gathered and drawn once per frame. Drawing a line (wrapping it, cutting it into
cells) costs far more than a step takes to print it, so when more came in one frame than the
view can show, only the last ``tail_rows`` of them are drawn, after a dim line that says how
many were not: a step printing 200,000 lines costs the screen a few thousand drawn lines, not
200,000, and nothing is hidden without saying so. When the step ends, the phase screen shows its
last lines again, without a gap (``PhaseScreen.show_step``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.timer import Timer
from textual.widgets import RichLog

MAX_LINES = 2000
FRAMES_PER_SECOND = 30


def skipped_line(count: int) -> Text:
    return Text(f"⋯ {count:,} more lines, not drawn here: the run's journal has every line",
                style="dim italic")


class OutputLog(RichLog):
    """A ``RichLog`` that takes lines in batches (``add_lines``) and draws them once a frame,
    at most ``MAX_LINES`` kept."""

    def __init__(self, *, max_lines: int = MAX_LINES, **kwargs: Any) -> None:
        super().__init__(max_lines=max_lines, **kwargs)
        self._waiting: list[str] = []
        self._not_drawn = 0
        self._frame: Timer | None = None

    @property
    def tail_rows(self) -> int:
        """How many of a frame's lines are drawn: twice what the view shows, so the view is
        full however the lines wrap."""
        return max(2 * self.size.height, 40)

    def add_lines(self, lines: Sequence[str]) -> None:
        """Lines to draw with the next frame."""
        if not lines:
            return
        self._waiting.extend(lines)
        if len(self._waiting) > 2 * MAX_LINES:  # only the last ones can be drawn: count the rest
            self._not_drawn += len(self._waiting) - MAX_LINES
            del self._waiting[:-MAX_LINES]
        if self._frame is None:
            self._frame = self.set_timer(1 / FRAMES_PER_SECOND, self.draw_waiting)

    def draw_waiting(self) -> None:
        """Draw what came since the last frame: all of it, or its tail after a line saying how
        much was left out."""
        self._frame = None
        lines, self._waiting = self._waiting, []
        not_drawn, self._not_drawn = self._not_drawn, 0
        rows = self.tail_rows
        if len(lines) > rows:
            not_drawn += len(lines) - rows
            lines = lines[-rows:]
        if not_drawn:
            self.write(skipped_line(not_drawn))
        if lines:
            self.write("\n".join(lines))

    def clear(self) -> OutputLog:
        """Empty the view, lines not yet drawn too (another step is shown)."""
        if self._frame is not None:
            self._frame.stop()
            self._frame = None
        self._waiting, self._not_drawn = [], 0
        super().clear()
        return self
