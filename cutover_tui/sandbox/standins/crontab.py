"""crontab: ``-l``, ``-r`` and installing a file or stdin (``-``), refusing what cron would."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..hostenv import HostEnv


def crontab(args: list[str]) -> int:
    env = HostEnv.from_environ()
    user = os.environ.get("USER", "root")
    if args == ["-l"]:
        if not env.crontab.exists():
            print(f"no crontab for {user}", file=sys.stderr)
            return 1
        sys.stdout.write(env.crontab.read_text())
        return 0
    if args == ["-r"]:
        env.crontab.unlink(missing_ok=True)
        return 0
    if len(args) == 1:
        text = sys.stdin.read() if args[0] == "-" else Path(args[0]).read_text()
        for n, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if line.strip() and not line.lstrip().startswith("#") and "=" not in fields[0] \
                    and len(fields) < 6:
                print(f'"-":{n}: bad minute\nerrors in crontab file, can\'t install.',
                      file=sys.stderr)
                return 1
        tmp = env.crontab.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, env.crontab)
        return 0
    print("usage: crontab [-l | -r | FILE | -]", file=sys.stderr)
    return 1
