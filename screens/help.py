"""The keys, as a modal screen (``?``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > VerticalScroll { width: 80; height: 80%; border: thick $primary;
                                  background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    TEXT = """cutover — keys

r           run the selected step
t           retry a failed or interrupted step
m           mark a manual step done (you confirm, and may leave a note)
s           skip the selected step (a reason is required and recorded)
n           add a note to the selected step
] / [       next / previous phase (going on past an unpassed phase needs a reason)
b           open the rollback procedure
a           on a co-signed step (5.2, 8.3) someone else runs: approve it (four eyes; shows
            what it approves); on the rollback's screen, once it reached its safe state:
            re-attempt the cutover (asks the reason; its phases open again as the next attempt)
f           raise a red flag (blocks the destroy until cleared by rollback or review)
c           review the checklist (read-only timeline)
w           the monitoring week: days x daily checks, each red flag's state
            and last values, the time left, the watcher; b there opens the
            rollback when a flag fires (nothing runs by itself)
p           preflight: every check that changes nothing, against the hosts as they are now
            (phase 1's first row; shows the table of ok / differs now / cannot pass)
ctrl+p      command palette: jump to any phase or step
?           this help
q           quit (asks first while a step runs; the step is recorded interrupted)

Every step shows its exact plan before it runs: commands with their host, requests, files.
Output streams live; the verdict and evidence are recorded in the checklist."""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.TEXT)
