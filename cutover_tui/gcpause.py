"""Start-up without the cyclic garbage collector's passes.

Importing Textual and the core, loading the runbook and building the first screen allocate a few
hundred thousand objects, nearly all of which live as long as the process. Meanwhile the cyclic
collector walks them again and again, finding nothing to free: about 45 ms of a 0.44 s first
paint (bench/first_paint.py). So ``cutover run`` and ``cutover demo`` (and ``validate``, which
exits) pause it while they start, and the wizard resumes it once its first frame is on screen,
after ``gc.freeze()`` moved what start-up allocated to the permanent generation, where later
passes (the health panel's repaints, a long run) do not walk it again. Reference counting frees
everything as usual meanwhile; only reference cycles wait. A headless run resumes it before its
first step; the command's end resumes it in any case.
"""

from __future__ import annotations

import gc
from typing import Any

# The commands whose start-up is paused: the wizard's (resumed at its first frame) and validate.
PAUSED_COMMANDS = ("run", "demo", "validate")


def pause_start(ctx: Any) -> None:
    """Called by the command group (``ctx``: its click context) before its command starts."""
    if ctx.invoked_subcommand in PAUSED_COMMANDS:
        gc.disable()
        ctx.call_on_close(resume)  # at the command's end at the latest


def resume() -> None:
    """Start-up is over: keep what it allocated out of later passes, and collect again."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
