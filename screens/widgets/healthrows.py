"""Which endpoints the health panel shows, and whether it must draw again. The panel has room for
``ENDPOINT_ROWS`` endpoint rows per host (its CSS ``max-height``); a runbook with more endpoints
than that (200, say) shows the ones that are not well first, then the others in the runbook's
order, and one line that counts the rest. A redraw renders those rows only, and none at all when
nothing it would show has changed since the last (``view_key``): at 200 endpoints polled once a
second, the panel costs what a dozen rows cost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from cutover_tui.health import DEGRADED, DOWN, OK

# HealthPanel's max-height (14) less its border (2), a host's title line and its services line.
ENDPOINT_ROWS = 10
# Not well first: down, then degraded, then not polled yet; ok last.
RANK: dict[str | None, int] = {DOWN: 0, DEGRADED: 1, None: 2, OK: 3}
WORDS: dict[str | None, str] = {DOWN: "down", DEGRADED: "degraded", None: "not polled yet",
                                OK: "ok"}


def verdict_of(state: Any) -> str | None:
    """An endpoint's last verdict, None before its first sample."""
    sample = getattr(state, "sample", None)
    return sample.verdict if sample is not None else None


def shown_endpoints(endpoints: Sequence[str], states: Mapping[str, Any],
                    room: int = ENDPOINT_ROWS) -> tuple[list[str], Counter[str | None]]:
    """The endpoints to show, by name, and the verdicts of those left out. All of them, in the
    runbook's order, when they fit; else the worst first (the runbook's order among equals) and
    a line for the rest."""
    if len(endpoints) <= room:
        return list(endpoints), Counter()
    ranked = sorted(endpoints, key=lambda name: RANK[verdict_of(states.get(name))])
    shown, rest = ranked[:room - 1], ranked[room - 1:]
    return shown, Counter(verdict_of(states.get(name)) for name in rest)


def left_out(counts: Counter[str | None]) -> tuple[Text, Text]:
    """The row for the endpoints not shown: ``+ 191 more`` and ``190 ok, 1 not polled yet``."""
    parts = [f"{counts[verdict]} {WORDS[verdict]}" for verdict in (DOWN, DEGRADED, None, OK)
             if counts[verdict]]
    style = "bold red" if counts[DOWN] else "bold yellow" if counts[DEGRADED] else "dim"
    return Text(f"+ {sum(counts.values())} more", style="dim"), Text(", ".join(parts), style=style)


def view_key(host: str, shown: Sequence[str], states: Mapping[str, Any],
             hidden: Counter[str | None], services: Any, off: Any) -> tuple[Any, ...]:
    """Everything a host's part of the panel is drawn from: equal keys, equal drawings."""
    rows = tuple((name, getattr(states.get(name), "sample", None),
                  tuple(getattr(states.get(name), "history", ()))) for name in shown)
    return host, rows, tuple(sorted(hidden.items(), key=lambda item: RANK[item[0]])), \
        services, off
