"""Small helpers shared by tests: a recording operator and a session on the rehearsal world."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cutover_tui.operator import Answers, HeadlessOperator


class RecordingOperator(HeadlessOperator):
    """A headless operator that keeps what it was asked."""

    def __init__(self, name: str = "tester", answers: Answers | None = None, yes: bool = True):
        self.asked: list[tuple[str, str]] = []
        self.diffs: list[Any] = []
        self.preconditions: list[Any] = []
        super().__init__(name, yes=yes, answers=answers,
                         say=lambda text: self.asked.append(("say", text)))

    async def review_diff(self, step_id: str, title: str, diff: Any) -> bool:
        self.diffs.append(diff)
        return await super().review_diff(step_id, title, diff)

    async def confirm_typed(self, step_id, prompt, expected, detail="", preconditions=()):
        self.preconditions.append(list(preconditions))
        return await super().confirm_typed(step_id, prompt, expected, detail, preconditions)


def session_on(world, path: Path, state: Path, operator=None, **kwargs):
    from cutover_tui.runbook import load_runbook
    from cutover_tui.session import open_session

    book = load_runbook(path, world.overrides())
    return open_session(book, operator or RecordingOperator(), state=state, clock=world.clock,
                        droplets=world.droplet_api, workdir=state.parent, **kwargs)
