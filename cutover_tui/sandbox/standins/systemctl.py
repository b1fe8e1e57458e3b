"""systemctl: start, stop, restart, status and is-active of the app's units, each a process
(``sandbox/service.py``) with a pidfile; output and exit statuses as systemd's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

from ..hostenv import UNITS, HostEnv, running_pid
from .journalctl import journal_lines, unit_name


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%a %Y-%m-%d %H:%M:%S UTC")


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return f"{seconds}s ago"


def _spawn(env: HostEnv, unit: str) -> subprocess.Popen[bytes] | None:
    if running_pid(env, unit):
        return None
    env.pidfile(unit).parent.mkdir(parents=True, exist_ok=True)
    journal = env.journal(unit)
    journal.parent.mkdir(parents=True, exist_ok=True)
    with open(os.devnull, "rb") as devnull, journal.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cutover_tui.sandbox.service", unit, str(env.host_dir)],
            stdin=devnull, stdout=log, stderr=log, cwd=env.app_dir, start_new_session=True,
            env={**os.environ},
        )
    env.pidfile(unit).write_text(f"{process.pid} {env.now():.3f}\n")
    env.log(unit, f"Started {UNITS[unit]}.", pid=1)
    return process


def _await_ready(env: HostEnv, unit: str, process: subprocess.Popen[bytes] | None) -> int:
    """Like systemd's notify: wait until a serving unit answers on its port."""
    port = {"air-demand-api": env.api_port, "air-demand-dashboard": env.dashboard_port}.get(unit)
    deadline = time.monotonic() + 10
    while process is not None and port and time.monotonic() < deadline:
        if process.poll() is not None:
            env.log(unit, f"{unit}.service: Main process exited, code=exited, "
                          f"status={process.returncode}/FAILURE", pid=1)
            return 1
        try:
            socket.create_connection((env.address, port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    return 0


def _start(env: HostEnv, units: list[str]) -> int:
    """Start every unit first, then wait for each: they come up side by side."""
    processes = [(unit, _spawn(env, unit)) for unit in units]
    return max((_await_ready(env, unit, process) for unit, process in processes), default=0)


def _stop(env: HostEnv, unit: str) -> int:
    pid = running_pid(env, unit)
    if pid is None:
        env.pidfile(unit).unlink(missing_ok=True)
        return 0
    env.log(unit, f"Stopping {UNITS[unit]}...", pid=1)
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while running_pid(env, unit) and time.monotonic() < deadline:
        time.sleep(0.02)
    if running_pid(env, unit):
        os.killpg(pid, signal.SIGKILL)
    env.pidfile(unit).unlink(missing_ok=True)
    (env.state_dir / "services" / f"{unit}.stopped").write_text(f"{env.now():.3f}\n")
    env.log(unit, f"{unit}.service: Deactivated successfully.", pid=1)
    env.log(unit, f"Stopped {UNITS[unit]}.", pid=1)
    return 0


def _status(env: HostEnv, unit: str) -> int:
    pid = running_pid(env, unit)
    desc = UNITS[unit]
    print(f"{'●' if pid else '○'} {unit}.service - {desc}")
    print(f"     Loaded: loaded (/etc/systemd/system/{unit}.service; enabled; "
          "vendor preset: enabled)")
    now = env.now()
    if pid:
        since = float(env.pidfile(unit).read_text().split()[1])
        print(f"     Active: active (running) since {_stamp(since)}; {_ago(now - since)}")
        print(f"   Main PID: {pid} (python3)")
        print("      Tasks: 3 (limit: 1131)")
        print(f"     CGroup: /system.slice/{unit}.service")
        print(f"             └─{pid} {sys.executable} -m cutover_tui.sandbox.service {unit}")
    else:
        stopped_file = env.state_dir / "services" / f"{unit}.stopped"
        try:
            since = float(stopped_file.read_text())
            print(f"     Active: inactive (dead) since {_stamp(since)}; {_ago(now - since)}")
        except (OSError, ValueError):
            print("     Active: inactive (dead)")
    print()
    for line in journal_lines(env, [unit], since=None, lines=5):
        print(line)
    return 0 if pid else 3


def systemctl(args: list[str]) -> int:
    env = HostEnv.from_environ()
    args = [a for a in args if a not in ("--no-pager", "-l", "--full", "-q", "--quiet")]
    if not args:
        print("usage: systemctl status|start|stop|restart|is-active UNIT...", file=sys.stderr)
        return 1
    action, units = args[0], [unit_name(a) for a in args[1:]]
    for unit in units:
        if unit not in UNITS:
            print(f"Unit {unit}.service could not be found.", file=sys.stderr)
            return 4 if action == "status" else 5
    if action == "start":
        return _start(env, units)
    code = 0
    for unit in units:
        if action == "status":
            code = max(code, _status(env, unit))
        elif action == "is-active":
            active = running_pid(env, unit) is not None
            print("active" if active else "inactive")
            code = max(code, 0 if active else 3)
        elif action == "stop":
            code = max(code, _stop(env, unit))
        elif action == "restart":
            _stop(env, unit)
            code = max(code, _start(env, [unit]))
        else:
            print(f"Unknown command verb {action}.", file=sys.stderr)
            return 1
    return code
