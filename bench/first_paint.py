"""The wizard's first useful paint: a real terminal (tmux, 120x36) running the wizard, its screen
read every few milliseconds until it shows phase 1 (its title and first step) and the health
panel (its first endpoint row). Two ways in: ``cutover run`` on the M11 runbook (its hosts
pointed at loopback ports where nothing answers: the panel shows and goes red) and ``cutover
demo`` (the rehearsal; its world comes up after the first paint). The anchor, measured in the
same run: ``python -c "import textual.app"``. Median of ROUNDS rounds, each running every row
once (the machine's noise shared); bytecode compiled first, as an installed wheel has it.

    uv run python bench/first_paint.py           # BENCH_ROUNDS=5 by default

Needs tmux."""

from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))
SOCKET = f"cutover-bench-{os.getpid()}"  # a tmux server of our own, killed at the end
# What the first useful paint shows: phase 1's title and first step, the health panel's rows.
MARKERS = ("Phase 1:", "1.1-health", "api /health")
LIMIT = 20.0  # seconds: longer is a failure, not a figure
POLL = 0.01


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], check=True, capture_output=True,
                          text=True).stdout


def first_paint(command: list[str], env: dict[str, str]) -> float:
    """Seconds from starting ``command`` in the 120x36 terminal until every marker is on it
    (the screen read every ``POLL`` seconds: each read is a tmux client, a few ms of CPU)."""
    exports = [f"{key}={value}" for key, value in env.items()]
    tmux("respawn-pane", "-k", "-t", "paint", "sleep 60")  # a clear screen to start from
    time.sleep(0.2)
    started = time.perf_counter()
    tmux("respawn-pane", "-k", "-t", "paint", "env", *exports, *command)
    try:
        while time.perf_counter() - started < LIMIT:
            screen = tmux("capture-pane", "-p", "-t", "paint")
            if all(marker in screen for marker in MARKERS):
                return time.perf_counter() - started
            time.sleep(POLL)
        raise SystemExit(f"no first paint within {LIMIT:g} s; the screen:\n{screen}")
    finally:
        tmux("respawn-pane", "-k", "-t", "paint", "sleep 60")  # SIGHUP: the wizard quits
        time.sleep(0.5)  # the wizard (and the demo's world) gone before the next row


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> None:
    if shutil.which("tmux") is None:
        sys.exit("cannot run: tmux is not installed")
    for folder in ("cutover_tui", "screens"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    python = sys.executable
    work = Path(tempfile.mkdtemp(prefix="cutover-paint-"))
    env = {"CUTOVER_LOOPBACK_ONLY": "1", "CUTOVER_OPERATOR": "bench", "TERM": "xterm-256color",
           "PYTHONPATH": str(ROOT), "HOME": str(work)}
    runs = iter(range(1_000_000))

    def wizard_run() -> float:
        # A fresh run record each time: the first screen of a new run, as an operator sees it.
        state = work / f"run-{next(runs)}.toml"
        return first_paint([python, "-m", "cutover_tui.cli", "run", str(M11), "--state",
                            str(state), "--host", "new=root@127.0.0.3:1",
                            "--host", "old=root@127.0.0.2:1"], env)

    rows: dict[str, Callable[[], float]] = {
        'python -c "import textual.app" (anchor)': lambda: timed([python, "-c",
                                                                  "import textual.app"]),
        "cutover run M11: first paint": wizard_run,
        "cutover demo: first paint": lambda: first_paint([python, "-m", "cutover_tui.cli",
                                                          "demo"], env),
    }
    times: dict[str, list[float]] = {label: [] for label in rows}
    tmux("new-session", "-d", "-s", "paint", "-x", "120", "-y", "36", "sleep 60")
    try:
        for _ in range(ROUNDS):
            for label, row in rows.items():
                times[label].append(row())
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    medians = {label: statistics.median(values) for label, values in times.items()}
    anchor = medians['python -c "import textual.app" (anchor)']
    print(f"median of {ROUNDS} rounds (each row once per round), 120x36 in tmux; the paint "
          f"shows {', '.join(MARKERS)}")
    for label, seconds in medians.items():
        spread = f"{min(times[label]):.2f}-{max(times[label]):.2f}"
        ratio = "" if label.endswith("(anchor)") else f"  ratio {seconds / anchor:4.2f}x"
        print(f"{label:<42} {seconds:6.2f} s  ({spread}){ratio}")
    paint = medians["cutover run M11: first paint"]
    print(f"cutover run M11 first paint {paint:.2f} s vs import textual.app {anchor:.2f} s: "
          f"ratio {paint / anchor:.2f}x")


if __name__ == "__main__":
    main()
