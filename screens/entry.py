"""The wizard's entry points: what the core finds through the ``cutover.ui`` entry point
(``pyproject.toml``; ``cutover_tui/ui.py`` says what it must offer) and calls for ``cutover run``
and ``cutover demo``, and the review screen for ``cutover review`` on a terminal.
``make_wizard`` builds the wizard's App for the first two and for the Pilot tests, as
posting's ``make_posting`` does for its CLI and tests."""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cutover_tui.session import Session, open_session

from .app import CutoverApp
from .operator_ui import UIOperator

if TYPE_CHECKING:
    from pathlib import Path

    from cutover_tui.runbook import Runbook
    from cutover_tui.sandbox.demo import Rehearsal
    from cutover_tui.ui import ObservationOpener, RehearsalOpener

# Opens the session with the wizard's Operator (dialogs on the App), at once or awaited.
SessionOpener = Callable[[UIOperator], Session | Awaitable[Session]]


def make_wizard(open_session_with: SessionOpener, operator: str, **app_options: Any) -> CutoverApp:
    """The App, its session opened (once the first screen shows) by ``open_session_with`` with
    the operator answering through the App's dialogs. ``app_options``: ``CutoverApp``'s."""

    async def starter(app: CutoverApp) -> Session:
        opened = open_session_with(UIOperator(app, operator))
        return await opened if inspect.isawaitable(opened) else opened

    return CutoverApp(starter, operator, **app_options)


class Wizard:
    """The ``cutover.ui`` entry point's ``wizard`` (``cutover_tui.ui.Wizard``)."""

    def run(self, book: Runbook, operator: str, state: str | None = None) -> int:
        app = make_wizard(lambda ui: open_session(book, ui, state=state), operator,
                          title=book.runbook.title)
        app.run()
        return app.return_code or 0

    def rehearse(self, open_rehearsal: RehearsalOpener, operator: str, title: str) -> int:
        """The demo: the rehearsal is opened when the first screen shows and its world started
        right after (steps wait for it); it is stopped on the way out, however the App ends."""
        opened: list[Rehearsal] = []

        async def open_with(ui: UIOperator) -> Session:
            opened.append(await open_rehearsal(ui))
            return opened[-1].session

        async def start_world() -> None:
            await opened[-1].start()

        async def stop_world() -> None:
            if opened:
                await opened[-1].stop()

        app = make_wizard(open_with, operator, title=title, health_interval=2.0,
                          on_exit=stop_world, warmup=start_world)
        try:
            app.run()
        finally:
            if opened and opened[-1].started:
                asyncio.run(opened[-1].stop())
        return app.return_code or 0

    def observe(self, open_observation: ObservationOpener, operator: str, title: str) -> int:
        """``cutover observe`` (each browser of ``cutover serve`` too): read-only, live."""
        from .observe import make_observer

        app = make_observer(open_observation, operator, title=title)
        app.run()
        return app.return_code or 0

    def review(self, record_path: Path) -> int:
        """The record on the read-only review screen; a record that cannot be read is said
        on it, and again on stderr once the screen is gone."""
        from .reviewapp import ReviewApp  # here: the wizard's first frame needs none of it

        app = ReviewApp(record_path)
        app.run()
        if app.problem:
            print(f"error: {app.problem}", file=sys.stderr)
        return app.return_code or 0
