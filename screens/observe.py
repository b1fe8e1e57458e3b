"""The observer's wizard (``cutover observe``, and each browser of ``cutover serve``): the same
screens, following the run live, read-only. On the screens whose keys act on the run (a phase
screen, the rollback's, the week) and the app itself, every key whose action is not on the
short list of those that only look (move between phases, open the review, the week, help,
close, quit) says "observing: read-only" and does nothing; moving to the next phase never asks
to record an override. The other screens only look (help, the review, the preflight's table,
the command palette) or open only from a key refused here (dialogs, the diff). The session
itself (``cutover_tui/observe.py``) refuses any write that would get through. Observers write
no notes (see there why)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from textual.actions import ActionParseResult, parse
from textual.dom import DOMNode

from cutover_tui.observe import OBSERVING
from cutover_tui.operator import Operator
from cutover_tui.session import Session

from .app import CutoverApp
from .monitoring import MonitoringScreen
from .operator_ui import UIOperator
from .phase import PhaseScreen

# What a key of those screens may do for an observer: look, move, close. Anything else (run,
# retry, skip, note, red flag, approve, preflight, re-attempt …) is refused.
LOOKING = frozenset({"next_phase", "previous_phase", "rollback", "close", "dismiss", "cancel",
                     "review", "help", "quit", "monitoring", "command_palette", "maximize",
                     "minimize", "back", "pop_screen", "help_quit"})
LOOKING_PREFIXES = ("scroll_", "focus", "page_", "cursor_")


def looks_only(name: str) -> bool:
    return name in LOOKING or name.startswith(LOOKING_PREFIXES)


class ObserverApp(CutoverApp):
    """``CutoverApp`` for someone watching: nothing a key does changes the run."""

    observing = True

    async def run_action(self, action: str | ActionParseResult,
                         default_namespace: DOMNode | None = None,
                         namespaces: Mapping[str, DOMNode] | None = None) -> bool:
        destination, name, _ = parse(action) if isinstance(action, str) else action
        target = self.screen if destination == "screen" else self if destination == "app" \
            else default_namespace or self
        if isinstance(target, PhaseScreen | MonitoringScreen | CutoverApp):
            if name in ("next_phase", "previous_phase") and isinstance(target, PhaseScreen):
                self.move_phase(target, +1 if name == "next_phase" else -1)
                return True
            if not looks_only(name):  # guard: observer-keys-refused
                self.notify(f"{OBSERVING}: {name.replace('_', ' ')} is for the operators.",
                            severity="warning")
                return True
        return await super().run_action(action, default_namespace, namespaces)

    def move_phase(self, screen: PhaseScreen, delta: int) -> None:
        """The next or previous phase, as it is: an observer records no override."""
        ids = [phase.id for phase in self.book.phases]
        if screen.phase_id not in ids:  # the rollback: on to the first, back to the last
            self.open_phase(ids[0] if delta > 0 else ids[-1])
        elif 0 <= ids.index(screen.phase_id) + delta < len(ids):
            self.open_phase(ids[ids.index(screen.phase_id) + delta])

    def start_step(self, step_id: str) -> None:
        self.notify(f"{OBSERVING}: step {step_id} is for the operators to run.",
                    severity="warning")

    def start_preflight(self) -> None:
        self.notify(f"{OBSERVING}: the preflight is for the operators to run.",
                    severity="warning")


def make_observer(open_observation: Callable[[Operator], Session], operator: str,
                  **app_options: Any) -> ObserverApp:
    """The observer's App, its read-only session opened once the first screen shows."""

    async def starter(app: CutoverApp) -> Session:
        return open_observation(UIOperator(app, operator))

    return ObserverApp(starter, operator, **app_options)
