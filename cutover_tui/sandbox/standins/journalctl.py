"""journalctl: the units' journals (``-u``, ``-n``, ``--since``, ``-f``, ``-o cat``), in
journalctl's short format."""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime

from ..hostenv import UNITS, HostEnv


def unit_name(arg: str) -> str:
    return arg.removesuffix(".service")


def _parse_since(text: str, now: float) -> float:
    m = re.fullmatch(r"\s*(\d+)\s*(second|minute|min|hour|day)s?\s+ago\s*", text)
    if m:
        size = {"second": 1, "minute": 60, "min": 60, "hour": 3600, "day": 86400}[m.group(2)]
        return now - int(m.group(1)) * size
    if text == "today":
        return datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0).timestamp()
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise SystemExit(f'Failed to parse timestamp: {text}') from None


def _format(env: HostEnv, record: tuple[float, str, str, str], cat: bool) -> str:
    ts, unit, pid, message = record
    if cat:
        return message
    stamp = datetime.fromtimestamp(ts, UTC).strftime("%b %d %H:%M:%S")
    process = "systemd" if pid == "1" else unit
    return f"{stamp} {env.name} {process}[{pid}]: {message}"


def _records(env: HostEnv, units: list[str]) -> list[tuple[float, str, str, str]]:
    records = []
    for unit in units:
        try:
            text = env.journal(unit).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split("\t", 3)
            if len(parts) == 4:
                try:
                    records.append((float(parts[0]), parts[1], parts[2], parts[3]))
                except ValueError:
                    continue
    records.sort(key=lambda r: r[0])
    return records


def journal_lines(env: HostEnv, units: list[str], since: float | None,
                  lines: int | None, cat: bool = False) -> list[str]:
    records = [r for r in _records(env, units) if since is None or r[0] >= since]
    if lines is not None:
        records = records[-lines:] if lines else []
    return [_format(env, r, cat) for r in records]


def journalctl(args: list[str]) -> int:
    env = HostEnv.from_environ()
    units: list[str] = []
    since = None
    lines = None
    follow = cat = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-u", "--unit"):
            units.append(unit_name(args[i + 1]))
            i += 1
        elif arg.startswith("--unit="):
            units.append(unit_name(arg.split("=", 1)[1]))
        elif arg in ("-n", "--lines"):
            lines = int(args[i + 1])
            i += 1
        elif arg == "--since" or arg == "-S":
            since = _parse_since(args[i + 1], env.now())
            i += 1
        elif arg in ("-f", "--follow"):
            follow = True
        elif arg in ("-o", "--output"):
            cat = args[i + 1] == "cat"
            i += 1
        elif arg in ("--no-pager", "-q", "--quiet", "-x", "-e"):
            pass
        else:
            print(f"journalctl: unsupported option {arg}", file=sys.stderr)
            return 1
        i += 1
    units = units or list(UNITS)
    if follow and lines is None:
        lines = 10
    # One read for both the lines shown and where following starts: nothing falls in between.
    records = _records(env, units)
    shown = [r for r in records if since is None or r[0] >= since]
    if lines is not None:
        shown = shown[-lines:] if lines else []
    for record in shown:
        print(_format(env, record, cat))
    if not follow:
        if not shown and lines is None:
            print("-- No entries --")
        return 0
    sys.stdout.flush()
    seen = len(records)
    while True:
        time.sleep(0.1)
        records = _records(env, units)
        for record in records[seen:]:
            print(_format(env, record, cat), flush=True)
        seen = len(records)
