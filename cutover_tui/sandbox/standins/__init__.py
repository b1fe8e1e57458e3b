"""Stand-ins for what a laptop cannot have, put first on each rehearsal host's PATH: systemctl,
journalctl, crontab, pg_dump and uv. Each behaves like the real program for the calls runbooks
make, with the real output formats. The real curl, jq, ps and pgrep are used where the machine
has them (and a PID namespace per host); these stand-ins for them are the fallback.

One program per module. The world's scripts on the hosts' PATH run ``main(name)``; every call
starts a Python process, so ``main`` imports only the module of the program called."""

from __future__ import annotations

import importlib
import sys

# program → its module in this package (the function of the same name in it runs it).
COMMANDS = {
    "systemctl": "systemctl", "journalctl": "journalctl", "crontab": "crontab",
    "pg_dump": "pg_dump", "curl": "curl", "jq": "jq", "pgrep": "procs", "ps": "procs",
    "uv": "uv",
}


def main(name: str) -> None:
    program = getattr(importlib.import_module(f"{__name__}.{COMMANDS[name]}"), name)
    try:
        code = program(sys.argv[1:])
    except BrokenPipeError:
        code = 141
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.exit(code)
