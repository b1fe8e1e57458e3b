"""The wizard's Operator: every question a step asks becomes a modal dialog, awaited from the
worker that runs the step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .dialogs import ConfirmDialog, ReasonDialog, TypedConfirmDialog
from .diff import DiffScreen

if TYPE_CHECKING:
    from textual.app import App


class UIOperator:
    def __init__(self, app: App, name: str) -> None:
        self.app = app
        self.name = name

    async def confirm(self, step_id: str, question: str, detail: str = "") -> bool:
        answer = await self.app.push_screen_wait(ConfirmDialog(question, detail))
        return bool(answer)

    async def confirm_typed(self, step_id: str, prompt: str, expected: str, detail: str = "",
                            preconditions: Sequence[Any] = ()) -> bool:
        answer = await self.app.push_screen_wait(
            TypedConfirmDialog(prompt, expected, detail, preconditions))
        return bool(answer)

    async def ask_text(self, step_id: str, prompt: str, required: bool = False) -> str | None:
        return await self.app.push_screen_wait(ReasonDialog(prompt, required=required,
                                                            placeholder="note"))

    async def review_diff(self, step_id: str, title: str, diff: Any) -> bool:
        if hasattr(diff, "rows"):
            def revealed() -> None:
                session = getattr(self.app, "session", None)
                if session is not None:
                    session.engine.add_note(step_id, f"revealed the unmasked secrets of the "
                                                     f"{diff.path} diff on screen")

            applied = await self.app.push_screen_wait(DiffScreen(title, diff, revealed))
            return bool(applied)
        detail = "\n".join(diff.unified_lines())
        answer = await self.app.push_screen_wait(ConfirmDialog(f"Apply: {title}?", detail,
                                                               yes="Apply"))
        return bool(answer)

    async def trust_host_key(self, host: str, fingerprint: str) -> bool:
        answer = await self.app.push_screen_wait(ConfirmDialog(
            f"Unknown host key for {host}",
            f"Fingerprint {fingerprint}\n\nCompare it with the one the host's console shows. "
            "Trust it and remember it in known_hosts?", yes="Trust", no="Refuse"))
        return bool(answer)
