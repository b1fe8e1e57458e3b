"""ps and pgrep for a host that shares the machine's process table (no PID namespace): the
processes whose environment names the host's tree."""

from __future__ import annotations

import os
import re
import sys
from datetime import datetime
from pathlib import Path

from ..hostenv import HostEnv
from ..procspace import tagged_processes


def _host_processes(env: HostEnv) -> list[tuple[int, str]]:
    """This host's processes when it shares the machine's process table (no PID namespace):
    those whose environment names the host's tree — the calling shell included."""
    found = []
    for pid in sorted(tagged_processes(env.host_dir)):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        found.append((pid, raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")))
    return found


def pgrep(args: list[str]) -> int:
    """procps pgrep for the calls runbooks make (-f, -a, -l, -x); like the real one it never
    lists itself, but does list the shell that called it."""
    flags = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
    patterns = [a for a in args if not a.startswith("-")]
    if len(patterns) != 1:
        print("pgrep: only one pattern can be provided", file=sys.stderr)
        return 2
    pattern = re.compile(patterns[0])
    found = 0
    for pid, cmdline in _host_processes(HostEnv.from_environ()):
        if pid == os.getpid():
            continue
        name = Path(cmdline.split(" ")[0]).name[:15]
        haystack = cmdline if "f" in flags else name
        hit = pattern.fullmatch(haystack) if "x" in flags else pattern.search(haystack)
        if hit:
            found += 1
            if "a" in flags:
                print(f"{pid} {cmdline}")
            elif "l" in flags:
                print(f"{pid} {name}")
            else:
                print(pid)
    return 0 if found else 1


def ps(args: list[str]) -> int:
    """procps ps for ``ps aux`` and ``ps -ef``: this host's processes, ps itself included."""
    rows = _host_processes(HostEnv.from_environ())
    bsd = not any(a.startswith("-") for a in args)
    if bsd:
        print("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND")
        start = datetime.now().strftime("%H:%M")
        for pid, cmdline in rows:
            print(f"root     {pid:>7}  0.0  0.1  10000  5000 ?        S    {start}   0:00 "
                  f"{cmdline}")
    else:
        print("UID          PID    PPID  C STIME TTY          TIME CMD")
        for pid, cmdline in rows:
            try:
                ppid = int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                ppid = 0
            print(f"root     {pid:>7} {ppid:>7}  0 00:00 ?        00:00:00 {cmdline}")
    return 0
