"""uv: ``uv run python ...`` runs the world's Python; nothing else."""

from __future__ import annotations

import os
import sys


def uv(args: list[str]) -> int:
    if len(args) >= 2 and args[0] == "run" and args[1] in ("python", "python3"):
        os.execv(sys.executable, [sys.executable, *args[2:]])
    print("uv (rehearsal stand-in): only `uv run python ...` is supported", file=sys.stderr)
    return 2
