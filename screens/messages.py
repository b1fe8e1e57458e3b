"""Messages from workers to screens. High-rate ones coalesce: a newer health sample for the
same endpoint replaces one still waiting in the queue, so the UI never falls behind."""

from __future__ import annotations

from textual.message import Message

from cutover_tui.events import StepEvent
from cutover_tui.health import Sample


class EngineEvent(Message):
    """An event the engine emitted (step started, output line, progress, finished)."""

    def __init__(self, event: StepEvent) -> None:
        super().__init__()
        self.event = event


class HealthUpdate(Message):
    """A health sample (``cutover_tui.health``): one endpoint on one host, or a host's services.
    A newer one for the same host and endpoint replaces one still waiting."""

    def __init__(self, sample: Sample) -> None:
        super().__init__()
        self.sample = sample

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HealthUpdate) and message.sample.key == self.sample.key
