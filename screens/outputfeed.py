"""A step's output on its way to the screen, in batches: the engine's ``OutputLine`` events are
gathered here, and one ``PendingOutput`` message tells the app there are lines to take — not one
message per line. While the app is busy (rendering a frame, say), lines gather; the app then takes
them all at once, so a step printing 200,000 lines costs the screen one batch per frame.

The pattern is toolong's (``src/toolong/messages.py`` ``PendingLines``): the message only says
"there is more"; a newer one replaces one still waiting (``can_replace``), and the lines
themselves wait in the feed. The feed keeps at most ``KEEP`` lines of each step waiting: a screen
shows the last ``widgets/outputlog.MAX_LINES`` anyway, and the whole output is in the run's
journal (the engine writes every line there before it reaches us)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from cutover_tui.events import OutputLine

from .widgets.outputlog import MAX_LINES

KEEP = MAX_LINES  # waiting lines kept per step; older ones are only in the journal


def shown_line(event: OutputLine) -> str:
    """The line as the wizard shows it: the host first when a host printed it."""
    prefix = f"{event.host}: " if event.host and event.stream != "info" else ""
    return f"{prefix}{event.text}"


class PendingOutput(Message):
    """There are output lines to take from the app's ``OutputFeed``."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PendingOutput)


@dataclass
class Batch:
    """Lines of one step, in order."""

    step_id: str
    lines: list[str]


class OutputFeed:
    """Gathers output lines (from the engine's listener, on any thread) and posts a
    ``PendingOutput`` when the first line of a new batch arrives."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._batches: list[Batch] = []  # in arrival order, one per run of lines of a step
        self._posted = False

    def add(self, event: OutputLine) -> None:
        with self._lock:
            if not self._batches or self._batches[-1].step_id != event.step_id:
                self._batches.append(Batch(event.step_id, []))
            batch = self._batches[-1]
            batch.lines.append(shown_line(event))
            if len(batch.lines) >= 2 * KEEP:  # the app is behind: keep what it would show
                del batch.lines[:-KEEP]
            post, self._posted = not self._posted, True
        if post:
            self._post(PendingOutput())

    def take(self) -> list[Batch]:
        """Every line gathered since the last ``take``, by step, in order."""
        with self._lock:
            batches, self._batches, self._posted = self._batches, [], False
        return batches
