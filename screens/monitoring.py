"""The monitoring week at a glance (``w``): the day grid (days × daily checks), each red-flag
rule's state with its last values as a sparkline, the time left in the week and whether a
watcher (``cutover watch``) is running. A firing rule shows a banner with one key, ``b``, that
opens the rollback phase's screen; nothing runs until a person runs its steps there.

The screen only renders. A thread worker reads the run record (its own ``Checklist``, not the
session's, which belongs to the event loop) and the watcher's SQLite store every
``REFRESH_SECONDS`` and posts the frozen ``WeekView``: file and SQLite reads never run on the
event loop. The store is opened only when it exists (opening creates it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from cutover_tui.checklist import Checklist
from cutover_tui.clock import iso
from cutover_tui.durations import format_duration
from cutover_tui.errors import CutoverError
from cutover_tui.monitor.store import WatchStore, store_path
from cutover_tui.monitor.view import WeekView, week_view

from .widgets.redflags import RuleLine
from .widgets.week import DayGrid

if TYPE_CHECKING:
    from cutover_tui.runbook import Runbook
    from cutover_tui.session import Session

    from .phase import PhaseHost

REFRESH_SECONDS = 2.0


class WeekRead(Message):
    """A fresh view of the week, read at ``now`` on the session's clock."""

    def __init__(self, view: WeekView, now: float) -> None:
        super().__init__()
        self.view = view
        self.now = now


class WeekUnreadable(Message):
    """The record or the store could not be read: the sentence why (not masked yet)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


def announcement_step(book: Runbook) -> str | None:
    """The step the monitoring week counts from (its first wait's ``since_step``)."""
    for phase in book.phases:
        if phase.repeat:
            for step in phase.steps:
                if step.kind == "wait" and step.since_step:
                    return str(step.since_step)
    return None


def ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{format_duration(seconds)} ago"


def week_text(view: WeekView, now: float, book: Runbook) -> Text:
    """The time left in the week, or why it has not started."""
    if view.started_at is None:
        step = announcement_step(book)
        first = f"announce first ({step})" if step else "no step starts it"
        return Text(f"The week has not started: {first}.", style="bold yellow")
    left = view.left(now)
    if left is None:
        return Text(f"The week started {iso(view.started_at)}; its end is not known yet.")
    assert view.ends_at is not None  # left is known only with an end
    if left <= 0:
        return Text(f"The week is over (the last day's checks were due {iso(view.ends_at)}).",
                    style="green")
    return Text.assemble((f"{format_duration(left)} left in the week", "bold"),
                         f" (started {iso(view.started_at)}, the last day's checks are due "
                         f"{iso(view.ends_at)})")


def watcher_text(view: WeekView, now: float, runbook_path: str, record_path: Path) -> Text:
    beat = view.heartbeat
    if beat is not None and view.watcher_alive:
        return Text(f"● watcher pid {beat.pid} on {beat.hostname} since {iso(beat.started_at)}, "
                    f"last beat {ago(now - beat.beat_at)}", style="green")
    last = (f" (the last one, pid {beat.pid} on {beat.hostname}, beat {ago(now - beat.beat_at)})"
            if beat is not None else "")
    return Text(f"✗ no watcher running{last} — start one: cutover watch {runbook_path} "
                f"--state {record_path}", style="bold yellow")


def banner_text(view: WeekView, mask: Callable[[str], str]) -> Text:
    text = Text()
    for row in view.firing:
        since = f" since {row.since}" if row.since else ""
        text.append(f"RED FLAG {row.rule} firing{since}", style="bold")
        text.append(f" — {mask(row.description)}\n")
    text.append("Press b to open the rollback procedure (its steps run only when you run them)."
                "\nThe destroy stays refused while a red flag fires.")
    return text


def read_once(session: Session, reader: Checklist) -> WeekRead | WeekUnreadable:
    """The week as the record and the watcher's store hold it now (blocking: a thread's)."""
    now = session.engine.clock.time()
    try:
        reader.read()
        path = store_path(reader.path)
        if not path.exists():  # opening would create it: no watcher has run yet
            return WeekRead(week_view(session.book, reader.records, None, now), now)
        with WatchStore(path) as store:
            return WeekRead(week_view(session.book, reader.records, store, now), now)
    except CutoverError as exc:
        return WeekUnreadable(str(exc))  # masked when shown, on the event loop


class MonitoringScreen(Screen):
    DEFAULT_CSS = """
    MonitoringScreen { layout: vertical; }
    MonitoringScreen > #week-title { height: 1; background: $primary-background;
                                     padding: 0 1; }
    MonitoringScreen > #banner { display: none; height: auto; background: $error;
                                 color: $text; padding: 0 1; margin: 0 0 1 0; }
    MonitoringScreen.firing > #banner { display: block; }
    MonitoringScreen #week-body { height: 1fr; }
    MonitoringScreen #week-status { height: auto; padding: 0 1; margin: 0 0 1 0; }
    MonitoringScreen #rules { height: auto; border: round $primary 50%; padding: 0 1; }
    MonitoringScreen.narrow RuleLine > .rule-state { width: 44; }
    MonitoringScreen.narrow RuleLine > Sparkline { width: 12; }
    """
    BINDINGS = [
        Binding("b", "rollback", "Open rollback"),
        Binding("escape,w", "close", "Back"),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: WeekView | None = None
        self.now = 0.0
        self.reads = 0  # views rendered so far (tests wait for the first)
        self._stop = threading.Event()

    @property
    def cutover(self) -> PhaseHost:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> Session:
        session = self.cutover.session
        assert session is not None  # the app opens this screen once the session is open
        return session

    def compose(self) -> ComposeResult:
        book = self.session.book
        yield Static(Text.assemble(("Monitoring week", "bold"), f" — {book.runbook.title}"),
                     id="week-title")
        yield Static(id="banner")
        with VerticalScroll(id="week-body"):  # on a small terminal the rules scroll
            yield Static(Text("Reading the run record and the watcher's store …", style="dim"),
                         id="week-status")
            yield DayGrid(id="days")
            with Vertical(id="rules"):
                mask = self.session.engine.masker
                for flag in book.red_flags:
                    if flag.watched:
                        yield RuleLine(flag.id, mask, id=f"rule-{flag.id}")
                if not any(flag.watched for flag in book.red_flags):
                    yield Static(Text("This runbook has no red-flag rules to watch.",
                                      style="dim"))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#rules").border_title = "Red flags"
        self.read_week(self.session)

    def on_resize(self) -> None:
        # Below 110 columns the rules' state and sparkline give way to the last observation.
        self.set_class(self.size.width < 110, "narrow")

    def on_unmount(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ reading (a thread)

    @work(thread=True, exclusive=True, group="monitoring", exit_on_error=False)
    def read_week(self, session: Session) -> None:
        """Read the week now and every REFRESH_SECONDS until the screen goes."""
        worker = get_current_worker()
        reader = Checklist(session.checklist.path)  # this thread's own reader
        while not worker.is_cancelled and not self._stop.is_set():
            self.post_message(read_once(session, reader))
            self._stop.wait(REFRESH_SECONDS)

    # ------------------------------------------------------------------ rendering

    @on(WeekRead)
    def show_week(self, message: WeekRead) -> None:
        view, now = message.view, message.now
        self.view, self.now = view, now
        session = self.session
        mask = session.engine.masker
        self.set_class(bool(view.firing), "firing")
        self.query_one("#banner", Static).update(banner_text(view, mask))
        status = week_text(view, now, session.book)
        status.append("\n")
        status.append_text(watcher_text(view, now, str(session.book.path),
                                        session.checklist.path))
        self.query_one("#week-status", Static).update(status)
        self.query_one(DayGrid).show(view)
        for row in view.rules:
            for line in self.query(f"#rule-{row.rule}").results(RuleLine):
                line.show(row, now)
        self.reads += 1

    @on(WeekUnreadable)
    def show_unreadable(self, message: WeekUnreadable) -> None:
        self.query_one("#week-status", Static).update(
            Text(f"Cannot read the week: {self.session.engine.masker(message.reason)}",
                 style="bold red"))
        self.reads += 1

    # ------------------------------------------------------------------ keys

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_rollback(self) -> None:
        """Open the rollback phase's screen; run nothing (its steps run when a person runs
        them there)."""
        rollback = self.session.book.rollback
        if rollback is None:
            self.notify("This runbook has no rollback procedure.", severity="warning")
            return
        self.app.pop_screen()
        self.cutover.open_phase(rollback.id)
