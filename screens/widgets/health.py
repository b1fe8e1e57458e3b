"""The live health panel: every runbook health endpoint and service, old and new hosts side by
side, with status, latency and a short history. It only renders samples posted to it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

BARS = "▁▂▃▄▅▆▇█"
HISTORY = 12


def sparkline(values: list[float | None]) -> Text:
    text = Text()
    known = [v for v in values if v is not None]
    top = max(known) if known else 1.0
    for value in values:
        if value is None:
            text.append("✗", style="bold red")
        else:
            text.append(BARS[min(len(BARS) - 1, int(value / max(top, 1e-9) * (len(BARS) - 1)))],
                        style="green")
    return text


@dataclass
class EndpointState:
    ok: bool | None = None
    detail: str = "waiting for the first poll"
    latency_ms: float | None = None
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))


class HealthBoard:
    """The latest samples for every host and endpoint, shared by every screen's panel."""

    def __init__(self, hosts: list[str], endpoints: list[str]) -> None:
        self.states = {(h, e): EndpointState() for h in hosts for e in endpoints}
        self.service_states: dict[str, dict[str, str]] = {h: {} for h in hosts}
        self.dirty = True

    def record(self, host: str, endpoint: str, ok: bool, detail: str,
               latency_ms: float | None) -> None:
        state = self.states.setdefault((host, endpoint), EndpointState())
        state.ok, state.detail, state.latency_ms = ok, detail, latency_ms
        state.history.append(latency_ms if ok else None)
        self.dirty = True

    def record_services(self, host: str, states: dict[str, str]) -> None:
        self.service_states[host] = states
        self.dirty = True


class HealthPanel(Static):
    DEFAULT_CSS = """
    HealthPanel {
        height: auto;
        max-height: 14;
        border: round $primary 50%;
        padding: 0 1;
    }
    """

    def __init__(self, hosts: dict[str, str], endpoints: list[str], services: list[str],
                 board: HealthBoard, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hosts = hosts  # name -> label
        self.endpoints = endpoints
        self.services = services
        self.board = board
        self.border_title = "Live health"

    def on_mount(self) -> None:
        self.refresh_view()

    def render_table(self) -> Table:
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in self.hosts:
            grid.add_column(ratio=1)
        grid.add_row(*[self._host_table(h) for h in self.hosts])
        return grid

    def _host_table(self, host: str) -> Table:
        table = Table(title=Text(self.hosts[host], style="bold"), expand=True, box=None,
                      show_header=False, padding=(0, 1), title_justify="left")
        table.add_column("endpoint", ratio=3, no_wrap=True)
        table.add_column("state", ratio=4, no_wrap=True)
        table.add_column("history", width=HISTORY, no_wrap=True)
        for endpoint in self.endpoints:
            state = self.board.states.setdefault((host, endpoint), EndpointState())
            if state.ok is None:
                status = Text("… " + state.detail, style="dim")
            elif state.ok:
                status = Text(f"● {state.detail} {state.latency_ms:.0f} ms", style="green")
            else:
                status = Text(f"● {state.detail}", style="bold red")
            table.add_row(endpoint, status, sparkline(list(state.history)))
        services = self.board.service_states.get(host, {})
        line = Text()
        if "_error" in services:
            line.append(services["_error"], style="red")
        for unit in self.services if "_error" not in services else []:
            value = services.get(unit, "unknown")
            style = "green" if value == "active" else ("dim" if value == "unknown" else "bold red")
            line.append({"active": "● ", "unknown": "· "}.get(value, "✗ "), style=style)
            line.append(f"{unit.removeprefix('air-demand-')} ", style=style)
        table.add_row("services", line, "")
        return table

    def refresh_view(self) -> None:
        self.update(self.render_table())
