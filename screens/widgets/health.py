"""The live health panel: every runbook health endpoint and service, old and new hosts side by
side, with status, latency and a short history. It only renders the samples
(``cutover_tui.health``) posted to it: green ok, yellow degraded (answers, but not as
expected), red down; a host the run itself powered off or destroyed (``cutover_tui.hostsoff``,
from the run record) is not down but "powered off by 5.2 at 02:31 UTC", dim."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from cutover_tui.health import DEGRADED, DOWN, HealthSample, Sample, ServiceSample
from cutover_tui.hostsoff import HostOff, hosts_off

from .healthrows import left_out, shown_endpoints, view_key

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
                 board: HealthBoard,
                 hosts_off: Callable[[], Mapping[str, HostOff]] | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.hosts = hosts  # name -> label
        self.endpoints = endpoints
        self.services = services
        self.board = board
        # The hosts the run took down itself, read at each repaint: their silence is the plan,
        # not an outage. By default from the wizard's session (its cached run record).
        self.hosts_off = hosts_off or self._hosts_off_of_session
        self.border_title = "Live health"
        self._drawn: tuple[object, ...] | None = None  # what the last redraw showed
        self._rows = 0  # endpoint rows drawn per host: a redraw with as many needs no layout

    def _hosts_off_of_session(self) -> Mapping[str, HostOff]:
        session = getattr(self.app, "session", None)
        if session is None:
            return {}
        return hosts_off(session.book, session.checklist.records)

    def on_mount(self) -> None:
        self.refresh_view()

    def render_table(self) -> Table:
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in self.hosts:
            grid.add_column(ratio=1)
        down = self.hosts_off()
        grid.add_row(*[self._host_table(h, down.get(h)) for h in self.hosts])
        return grid

    def _host_table(self, host: str, off: HostOff | None = None) -> Table:
        table = Table(title=Text(self.hosts[host], style="bold"), expand=True, box=None,
                      show_header=False, padding=(0, 1), title_justify="left")
        if off is None:
            table.add_column("endpoint", ratio=3, no_wrap=True)
            table.add_column("state", ratio=4, no_wrap=True)
            table.add_column("history", width=HISTORY, no_wrap=True)
        else:  # its history is of the silence the run made: room for who made it, and when
            table.add_column("endpoint", no_wrap=True)
            table.add_column("state", ratio=1, no_wrap=True)
        shown, hidden = self._shown(host)
        for endpoint in shown:
            state = self.board.states.setdefault((host, endpoint), EndpointState())
            sample = state.sample
            if sample is None:
                status = Text("… waiting for the first poll", style="dim")
            elif sample.ok:
                status = Text(f"● {sample.reason} {sample.latency_ms or 0:.0f} ms", style="green")
            elif off is not None and sample.verdict == DOWN:
                status = Text(f"○ {off.sentence(sample.at)}", style="dim")
            else:
                style = "bold yellow" if sample.verdict == DEGRADED else "bold red"
                status = Text(f"● {sample.reason}", style=style)
            table.add_row(endpoint, status,
                          *([sparkline(list(state.history))] if off is None else []))
        if hidden:  # more endpoints than rows: the worst are shown, the rest counted
            table.add_row(*left_out(hidden), *([""] if off is None else []))
        services = self.board.service_states.get(host)
        line = Text()
        if services is not None and services.verdict == DOWN:
            if off is not None:
                line.append(f"○ {off.sentence(services.at)}", style="dim")
            else:
                line.append(services.reason, style="red")
        else:
            for unit in self.services:
                value = services.state(unit) if services is not None else "unknown"
                style = ("green" if value == "active" else
                         "dim" if value == "unknown" else "bold red")
                line.append({"active": "● ", "unknown": "· "}.get(value, "✗ "), style=style)
                line.append(f"{unit.removeprefix('air-demand-')} ", style=style)
        table.add_row("services", line, *([""] if off is None else []))
        return table

    def _shown(self, host: str) -> tuple[list[str], Counter[str | None]]:
        states = {name: self.board.states.get((host, name)) for name in self.endpoints}
        return shown_endpoints(self.endpoints, states)

    def refresh_view(self) -> None:
        """Draw again, if anything it shows changed (healthrows.py: only the rows that fit are
        drawn, and a redraw of as many rows needs no new layout)."""
        off = self.hosts_off()
        keys, rows = [], 0
        for host in self.hosts:
            shown, hidden = self._shown(host)
            states = {name: self.board.states.get((host, name)) for name in shown}
            keys.append(view_key(host, shown, states, hidden,
                                 self.board.service_states.get(host), off.get(host)))
            rows = max(rows, len(shown) + bool(hidden))
        drawn = tuple(keys)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        self.update(self.render_table(), layout=rows != self._rows)
        self._rows = rows
