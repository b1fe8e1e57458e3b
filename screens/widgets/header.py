"""The phase screen's header: the runbook, who this session is (an operator, or an observer),
the clock, the step running here and the steps other sessions run ("▶ 6.4 running by ops-a
since 02:25"); and, on a second line when anyone else has the run open, who
("ops-a · operator · phase 6 │ ops-b · observer"; someone quiet for 30 s shows as away)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from rich.text import Text
from textual.widgets import Static

from cutover_tui.pairing import Holder, held_elsewhere
from cutover_tui.records import STATE_LOOK, StepState

if TYPE_CHECKING:
    from cutover_tui.presence import Presence
    from cutover_tui.session import Session


class HeaderHost(Protocol):
    """What the header reads of the wizard (``CutoverApp``)."""

    operator_name: str
    progress_label: str
    observing: bool

    @property
    def running_step(self) -> str | None: ...

    @property
    def others_present(self) -> list[Presence]: ...


def header_text(title: str, me: str, clock: str, running: str | None, progress: str,
                holders: list[Holder], others: list[Presence], now: float) -> Text:
    """The header's lines. ``me``: "operator NAME" or "observing as NAME (read-only)"."""
    mark = STATE_LOOK[StepState.RUNNING].glyph
    text = Text.assemble((title, "bold"), f"   {me}   {clock}")
    if running:
        text.append(f"   {mark} running {running}" + (f" — {progress}" if progress else ""),
                    style="yellow")
    for holder in holders:
        text.append(f"   {holder.banner()}", style="bold yellow")
    if others:
        text.append("\nhere too: ", style="dim")
        for index, presence in enumerate(others):
            if index:
                text.append(" │ ", style="dim")
            text.append(presence.label(now), style="dim" if presence.away(now) else "")
    return text


class TopBar(Static):
    DEFAULT_CSS = """
    TopBar { height: auto; max-height: 3; background: $primary-background; color: $text;
             padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, session: Session) -> None:
        """Everything the header says, read now (of the wizard: ``HeaderHost``)."""
        app: HeaderHost = self.app  # type: ignore[assignment]
        book = session.book
        clock = session.engine.clock.now().strftime("%Y-%m-%d %H:%M:%S UTC")
        me = (f"observing as {app.operator_name} (read-only)" if app.observing
              else f"operator {app.operator_name}")
        holders = held_elsewhere(session.checklist.records, [s.id for _, s in book.steps()],
                                 app.running_step)
        self.update(header_text(book.runbook.title, me, clock, app.running_step,
                                app.progress_label, holders, app.others_present, time.time()))
