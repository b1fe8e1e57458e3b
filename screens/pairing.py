"""Two people on one run, in the wizard: this session's presence announced and the others' read
(``cutover_tui/presence.py``), and what other sessions do to steps followed live from the run's
journal (``cutover_tui/journalfollow.py``): a step another operator starts shows as theirs, its
output streams into this screen, and its verdict replaces the old one as soon as it is written.
``held_sentence``/``refuse_held`` are what a key that would act on such a step says instead.

The files are read and written by short worker threads that timers start (never two of a kind
at once), so nothing here blocks the screen and no worker runs forever."""

from __future__ import annotations

import atexit
import time
from typing import TYPE_CHECKING, Any

from cutover_tui.events import StepEvent, StepStarted
from cutover_tui.journal import journal_path
from cutover_tui.journalfollow import JournalFollower
from cutover_tui.pairing import held_elsewhere, holder_of
from cutover_tui.presence import BEAT_SECONDS, Announcer, Presence

if TYPE_CHECKING:
    from cutover_tui.session import Session

    from .app import CutoverApp
    from .phase import PhaseScreen

READ_SECONDS = 1.0  # how often the others' presence is read (this one's beat: BEAT_SECONDS)
FOLLOW_SECONDS = 0.2  # how often the journal is read for what the others do
KEPT_LINES = 2000  # of a followed step's output


def held_sentence(session: Session | None, step_id: str, own_running: str | None) -> str:
    """Who runs ``step_id`` in another session now ("6.4 is being run by ops-a (since
    02:25)."), or "" when nobody else does (or no session is open yet)."""
    if session is None:
        return ""
    session.checklist.read()  # they may have started it since this screen last looked
    holder = holder_of(step_id, session.checklist.record(step_id), own_running)
    return f"{holder.sentence()}." if holder is not None else ""


def refuse_held(screen: PhaseScreen, step_id: str | None) -> bool:
    """True, having said who, when another session runs ``step_id`` now."""
    held = held_sentence(screen.session, step_id, screen.cutover.running_step) if step_id \
        else ""
    if held:
        screen.notify(held, severity="warning")
    return bool(held)


class Pairing:
    """One wizard's presence, and its view of the other sessions on the run."""

    def __init__(self, app: CutoverApp, session: Session, role: str) -> None:
        self.app = app
        self.session = session
        self.announcer = Announcer(session.checklist.path, app.operator_name, role)
        self.follower = JournalFollower(journal_path(session.checklist.path),
                                        session.engine.operator.name)
        self.others: list[Presence] = []
        self.problem = ""  # why this session's presence cannot be written, said once
        self.closed = False
        self._busy: set[str] = set()  # the kinds of worker running now
        self._said: tuple[str, str] | None = None
        self._beaten = float("-inf")
        self._caught_up = False
        session.engine.listeners.append(self._own_event)

    def _own_event(self, event: StepEvent) -> None:
        if isinstance(event, StepStarted):  # told as the engine emits, before we judge it
            self.follower.own_started(event.step_id)

    def start(self) -> None:
        atexit.register(self.leave)
        self.app.set_interval(READ_SECONDS, self._presence_tick)
        self.app.set_interval(FOLLOW_SECONDS, self._follow_tick)
        self._presence_tick()
        self._follow_tick()

    def leave(self) -> None:
        """The wizard closes: its presence file goes."""
        self.closed = True
        self.announcer.leave()
        atexit.unregister(self.leave)

    def _start(self, kind: str, work: Any) -> None:
        if kind in self._busy or self.closed:
            return
        self._busy.add(kind)

        def run() -> None:
            try:
                work()
            finally:
                self._busy.discard(kind)

        self.app.run_worker(run, thread=True, group=kind, exit_on_error=False)

    # ------------------------------------------------------------------ presence

    def looking_at(self) -> tuple[str, str]:
        """The phase and step this wizard shows (what it last showed, under a dialog)."""
        if not self.app.is_running:  # guard: presence-at-exit
            phase = None  # shutting down: its screens are being taken apart, the stack emptied
        else:  # a phase screen, maybe still being built
            phase = getattr(self.app.screen, "phase_id", None)
        if phase is None:
            return self.announcer.me.phase, self.announcer.me.step
        ready = self.app.phase_screen()
        return phase, (ready.selected_step_id() if ready else self.app.focus_step) or ""

    def _presence_tick(self) -> None:
        looking = self.looking_at()
        due = looking != self._said or time.monotonic() - self._beaten >= BEAT_SECONDS
        self._start("presence", lambda: self._presence_work(looking if due else None))

    def _presence_work(self, looking: tuple[str, str] | None) -> None:
        """In a worker thread: the heartbeat (when due), then who else is here."""
        if looking is not None and not self.closed:
            try:
                self.announcer.beat(*looking)
                self._said, self._beaten = looking, time.monotonic()
            except OSError as exc:
                self._say_once(f"The others cannot see you here: cannot write "
                               f"{self.announcer.path}: {exc.strerror or exc}.")
        self.others = self.announcer.others()

    def _say_once(self, problem: str) -> None:
        """From a worker thread: ``problem`` on screen, the first time only."""
        if not self.problem:
            self.problem = problem
            self._on_screen(self.app.notify, problem, severity="warning", timeout=10)

    def _on_screen(self, call: Any, *args: Any, **kwargs: Any) -> None:
        """From a worker thread: ``call`` on the screen's thread (not once the app closed)."""
        if self.closed:
            return
        try:
            self.app.call_from_thread(call, *args, **kwargs)
        except RuntimeError:
            pass  # the app stopped meanwhile

    # ------------------------------------------------------------------ the journal

    def _follow_tick(self) -> None:
        self._start("follow", self._follow_work)

    def _follow_work(self) -> None:
        """In a worker thread: the journal's new entries, judged and shown on the screen's
        thread (where the engine says which steps it started)."""
        try:
            entries = self.follower.read()
        except OSError as exc:
            self._say_once(f"Cannot follow the run's journal {self.follower.path}: "
                           f"{exc.strerror or exc}; other operators' output is not shown.")
            return
        if entries or not self._caught_up:
            self._on_screen(self.apply, entries)

    def apply(self, entries: list[dict[str, Any]]) -> None:
        """Show what other sessions did. The first time (the journal read from its start) only
        the steps another session runs now are kept: the record says the rest."""
        app, checklist = self.app, self.session.checklist
        catching_up, self._caught_up = not self._caught_up, True
        wanted: set[str] | None = None
        if catching_up:
            checklist.read()
            ids = [step.id for _, step in self.session.book.steps()]
            wanted = {h.step_id for h in held_elsewhere(checklist.records, ids, app.running_step)}
        screen = app.phase_screen()
        changed = catching_up
        for item in self.follower.judge(entries):
            if wanted is not None and item.step not in wanted:
                continue
            if item.kind == "started":
                app.outputs[item.step] = []
                changed = True
                if not catching_up:
                    app.notify(f"{item.operator} started step {item.step}: {item.text}",
                               timeout=5)
            elif item.kind == "output":
                lines = app.outputs.setdefault(item.step, [])
                lines.extend(item.lines)
                del lines[:-KEPT_LINES]
                if screen is not None and not catching_up:
                    for line in item.lines:
                        screen.append_output(item.step, line)
            else:  # finished or skipped: the record holds the verdict already
                changed = True
        if changed and screen is not None:
            checklist.read()
            screen.refresh_all()
