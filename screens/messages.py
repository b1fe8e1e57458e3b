"""Messages from workers to screens. High-rate ones coalesce: a newer health sample for the
same endpoint replaces one still waiting in the queue, so the UI never falls behind."""

from __future__ import annotations

from textual.message import Message

from cutover_tui.events import StepEvent


class EngineEvent(Message):
    """An event the engine emitted (step started, output line, progress, finished)."""

    def __init__(self, event: StepEvent) -> None:
        super().__init__()
        self.event = event


class HealthSample(Message):
    """One poll of one endpoint on one host."""

    def __init__(self, host: str, endpoint: str, ok: bool, detail: str,
                 latency_ms: float | None) -> None:
        super().__init__()
        self.host = host
        self.endpoint = endpoint
        self.ok = ok
        self.detail = detail
        self.latency_ms = latency_ms

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HealthSample) and (message.host, message.endpoint) == (
            self.host, self.endpoint)


class ServiceStates(Message):
    """The systemd states of the runbook's services on one host (or why they are unknown)."""

    def __init__(self, host: str, states: dict[str, str]) -> None:
        super().__init__()
        self.host = host
        self.states = states

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ServiceStates) and message.host == self.host
