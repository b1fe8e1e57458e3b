"""Start-up without the cyclic garbage collector's passes.

Importing Textual and the core, loading the runbook and building the first screen allocate some
65,000 objects, nearly all of which live as long as the process. Meanwhile the cyclic collector
walks them again and again, finding little to free: about 45 ms of a 0.44 s first paint
(bench/first_paint.py). So ``cutover run`` and ``cutover demo`` (and ``validate``, which exits)
pause it while they start. A second after its first frame, the wizard ``settle``s: one full
collection of what start-up left in reference cycles, then ``gc.freeze()`` moves what is left
(the modules, the runbook, the screens) to the permanent generation, where later passes (the
health panel's repaints, a long run) do not walk it again, and the collector runs again. A
headless run ``resume``s it before its first step, as the engine does before any step (a UI of
someone else's that never settles), and the command's end in any case. Reference counting frees
everything as usual meanwhile; only cycles wait.
"""

from __future__ import annotations

import atexit
import functools
import gc
from typing import Any

# The commands whose start-up is paused: the wizard's (settled after its first frame), validate.
PAUSED_COMMANDS = ("run", "demo", "validate")
# Seconds after the first frame the wizard settles (one full collection, ~15-40 ms, then).
SETTLE_AFTER = 1.0


def pause_start(ctx: Any) -> None:
    """Called by the command group (``ctx``: its click context) before its command starts."""
    if ctx.invoked_subcommand in PAUSED_COMMANDS:
        gc.disable()
        ctx.call_on_close(resume)  # at the command's end at the latest
        # The interpreter's shutdown collects once more, walking every object (~10 ms for
        # validate); frozen ones it skips. At the process's end only: a test calling the
        # command in its own process goes on collecting as usual.
        freeze_at_exit()


@functools.cache
def freeze_at_exit() -> None:
    """Once a process (a test may run many commands in its own)."""
    atexit.register(gc.freeze)


def resume() -> None:
    """Collect again, as before the pause (nothing frozen)."""
    if not gc.isenabled():
        gc.enable()


def settle() -> None:
    """Start-up is over and its screen is up: collect what it left in cycles, keep what lives
    on out of later passes, and collect again."""
    if not gc.isenabled():
        gc.collect()
        gc.freeze()
        gc.enable()
