"""How the core finds the wizard without importing it.

The core never imports ``screens`` or Textual (an import-linter contract in ``pyproject.toml``
and ``tests/test_import_hygiene.py`` hold it to that). A UI declares itself instead, as
harlequin's adapters do, through an entry point in the ``cutover.ui`` group::

    [project.entry-points."cutover.ui"]
    wizard = "screens.entry:Wizard"

``find_wizard()`` loads it when a command wants the wizard (``cutover run`` without
``--headless``, ``cutover demo``, ``cutover observe``, ``cutover review`` on a terminal); what
it loads is a zero-argument factory of an object with the ``Wizard`` methods below. With no UI
installed the command says so in a sentence (``cutover review`` prints its text instead).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import NoWizard

if TYPE_CHECKING:
    from .operator import Operator
    from .runbook import Runbook
    from .sandbox.demo import Rehearsal
    from .session import Session

GROUP = "cutover.ui"
NAME = "wizard"

# Opens the rehearsal (world + session) with the wizard's own Operator: the wizard calls it once
# its screens can ask questions (sandbox/demo.py ``open_rehearsal``, bound to the demo's root).
RehearsalOpener = Callable[["Operator"], Awaitable["Rehearsal"]]
# Opens a run read-only with the wizard's Operator (``observe.open_observation``, bound to the
# record): ``cutover observe`` and each browser of ``cutover serve``.
ObservationOpener = Callable[["Operator"], "Session"]


class Wizard(Protocol):
    """What the core asks of a UI. Each method blocks until the operator quits and returns the
    process's exit status. ``cutover run`` and ``demo`` start with the cyclic collector paused:
    once its first screen is up, a UI calls ``gcpause.settle()`` (the engine resumes it before
    any step in any case)."""

    def run(self, book: Runbook, operator: str, state: str | None = None) -> int:
        """Walk the operator through ``book``, recording to the run record at ``state``."""
        ...

    def rehearse(self, open_rehearsal: RehearsalOpener, operator: str, title: str) -> int:
        """``cutover demo``: the rehearsal ``open_rehearsal`` opens (its world not yet started:
        the wizard starts it once its first screen shows, and stops it on the way out)."""
        ...

    def observe(self, open_observation: ObservationOpener, operator: str, title: str) -> int:
        """``cutover observe``: the run ``open_observation`` opens, read-only, followed live."""
        ...

    def review(self, record_path: Path) -> int:
        """``cutover review RECORD`` on a terminal: the run record at ``record_path`` on a
        read-only review screen (its rows: ``reviewmodel.read_review``); nothing is written."""
        ...


def find_wizard() -> Wizard:
    """The installed wizard, or ``NoWizard`` with a sentence saying what to do instead."""
    found = list(entry_points(group=GROUP, name=NAME))
    if not found:
        raise NoWizard("no wizard is installed (nothing declares the 'cutover.ui' entry point "
                       "'wizard'): run with --headless, or install cutover with its screens "
                       "package")
    point = found[0]
    try:
        factory = point.load()
    except ImportError as exc:
        raise NoWizard(f"the wizard ({point.value}) cannot be loaded: {exc}; run with "
                       "--headless, or reinstall cutover") from None
    wizard: Wizard = factory()
    return wizard
