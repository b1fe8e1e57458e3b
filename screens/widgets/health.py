"""The live health panel: every runbook health endpoint and service, old and new hosts side by
side, with status, latency and a short history. It only renders the samples
(``cutover_tui.health``) posted to it: green ok, yellow degraded (answers, but not as
expected), red down."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from cutover_tui.health import DEGRADED, DOWN, HealthSample, Sample, ServiceSample

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
    sample: HealthSample | None = None  # the latest, None before the first poll
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))


class HealthBoard:
    """The latest samples for every host and endpoint, shared by every screen's panel."""

    def __init__(self, hosts: list[str], endpoints: list[str]) -> None:
        self.states = {(h, e): EndpointState() for h in hosts for e in endpoints}
        self.service_states: dict[str, ServiceSample | None] = dict.fromkeys(hosts)
        self.dirty = True

    def record(self, sample: Sample) -> None:
        if isinstance(sample, ServiceSample):
            self.service_states[sample.host] = sample
        else:
            state = self.states.setdefault(sample.key, EndpointState())
            state.sample = sample
            state.history.append(sample.latency_ms if sample.ok else None)
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
            sample = state.sample
            if sample is None:
                status = Text("… waiting for the first poll", style="dim")
            elif sample.ok:
                status = Text(f"● {sample.reason} {sample.latency_ms or 0:.0f} ms", style="green")
            else:
                style = "bold yellow" if sample.verdict == DEGRADED else "bold red"
                status = Text(f"● {sample.reason}", style=style)
            table.add_row(endpoint, status, sparkline(list(state.history)))
        services = self.board.service_states.get(host)
        line = Text()
        if services is not None and services.verdict == DOWN:
            line.append(services.reason, style="red")
        else:
            for unit in self.services:
                value = services.state(unit) if services is not None else "unknown"
                style = ("green" if value == "active" else
                         "dim" if value == "unknown" else "bold red")
                line.append({"active": "● ", "unknown": "· "}.get(value, "✗ "), style=style)
                line.append(f"{unit.removeprefix('air-demand-')} ", style=style)
        table.add_row("services", line, "")
        return table

    def refresh_view(self) -> None:
        self.update(self.render_table())
