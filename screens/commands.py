"""The command palette's provider (ctrl+p): jump to any phase or step of the runbook."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .dialogs import Question

if TYPE_CHECKING:
    from cutover_tui.session import Session


class Navigator(Protocol):
    """What the provider needs of the app: the session's runbook, and a way to open a phase."""

    session: Session | None

    def open_phase(self, phase_id: str, step_id: str | None = None) -> None: ...


class JumpProvider(Provider):
    """Command palette: jump to any phase or step."""

    def _targets(self) -> list[tuple[str, str, str | None]]:
        app: Navigator = self.app  # type: ignore[assignment]
        if app.session is None:
            return []
        book = app.session.book
        out: list[tuple[str, str, str | None]] = []
        for phase in book.all_phases:
            label = "Rollback" if phase is book.rollback else f"Phase {phase.id}"
            out.append((f"{label}: {phase.title}", phase.id, None))
            for step in phase.steps:
                out.append((f"Step {step.id}: {step.title}", phase.id, step.id))
        return out

    def _open(self, phase_id: str, step_id: str | None) -> None:
        # The palette (a priority key) opens over a step's question too; jumping would replace
        # the screen on top and bury the question beneath it (the preflight's table can sit
        # over one), never answered, and the step would wait for good.
        if any(isinstance(screen, Question)  # guard: no-jump-over-a-question
               for screen in self.app.screen_stack):
            self.app.notify("Answer the open question first, then jump.", severity="warning")
            return
        app: Navigator = self.app  # type: ignore[assignment]
        app.open_phase(phase_id, step_id)

    async def discover(self) -> Hits:
        for text, phase_id, step_id in self._targets():
            if step_id is None:
                yield DiscoveryHit(text, partial(self._open, phase_id, step_id))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, phase_id, step_id in self._targets():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._open, phase_id, step_id),
                          text=text)
