"""What the wizard does beside its screens, kept off the way to the first frame: once the first
phase screen is painted, the health poll starts and the run's transports are built (asyncssh,
httpx: imported in a worker thread, not on the event loop); and a step's output reaches the
screen in batches (``outputfeed.py``), not a message and a repaint per line.

``Background`` is a part of ``CutoverApp`` (app.py); its message handlers go by Textual's
naming (``on_pending_output``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import work

from cutover_tui.gcpause import SETTLE_AFTER, settle
from cutover_tui.health import HealthProbe

from .messages import HealthUpdate
from .outputfeed import KEEP, OutputFeed, PendingOutput

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.message import Message

    from cutover_tui.runbook import Runbook
    from cutover_tui.session import Session

    from .phase import PhaseScreen


class Background:
    """The health poll, the transports' warm-up and the output batches of ``CutoverApp``."""

    session: Session | None
    health_interval: float | None
    outputs: dict[str, list[str]]
    output_feed: OutputFeed
    first_frame: asyncio.Event
    warming: bool  # the demo's world is coming up: its hosts have no keys or servers yet
    _health_probe: HealthProbe | None

    @property
    def first_frame_shown(self) -> bool:
        return self.first_frame.is_set()

    if TYPE_CHECKING:  # the App's own
        @property
        def book(self) -> Runbook: ...

        @property
        def engine(self) -> Any: ...

        def post_message(self, message: Message) -> bool: ...

        def set_timer(self, delay: float, callback: Callable[[], Any]) -> Any: ...

        def phase_screen(self) -> PhaseScreen | None: ...

    def after_first_frame(self) -> None:
        """Once the first phase screen is painted, what it did not need: the health poll (red
        until the world answers) and the run's transports, built off the event loop."""
        if self.first_frame_shown:
            return
        self.first_frame.set()
        self.set_timer(SETTLE_AFTER, settle)  # guard: gc-resumed-after-first-frame
        if self.health_interval and not self.warming:  # else once the world is up (app.py)
            self.poll_health()
        self.warm_transports()

    @work(exclusive=True, group="warm", exit_on_error=False)
    async def warm_transports(self) -> None:
        if self.session is not None:
            await self.session.warm()

    @work(exclusive=True, group="health", exit_on_error=False)
    async def poll_health(self) -> None:
        """Post the core's health samples as they come (cutover_tui.health judges them). Each
        endpoint is asked on its own schedule, with its own timeout: a hung one delays nothing
        but its own samples. The probe's transports are built in a worker thread."""
        if self._health_probe is None:
            self._health_probe = await asyncio.to_thread(
                HealthProbe.with_own_transports, self.book, clock=self.engine.clock)
        async for sample in self._health_probe.poll(self.health_interval or 5.0):
            self.post_message(HealthUpdate(sample))

    def on_pending_output(self, _message: PendingOutput) -> None:
        """The lines gathered since the last batch: kept (the last ``KEEP`` of each step; the
        journal has them all) and handed to the screen at once."""
        screen = self.phase_screen()
        for batch in self.output_feed.take():
            kept = self.outputs.setdefault(batch.step_id, [])
            kept.extend(batch.lines)
            del kept[:-KEEP]
            if screen:
                screen.append_lines(batch.step_id, batch.lines)
