"""Start-up time of the CLI: `cutover --help` and `cutover validate` against a bare
`python -c pass` (the anchor), best of N runs each."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 10


def best(command: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    anchor = best([sys.executable, "-c", "pass"])
    cli = [sys.executable, "-m", "cutover_tui.cli"]
    help_time = best([*cli, "--help"])
    validate = best([*cli, "validate", "checklists/m11-production-cutover.toml"])
    print(f"python -c pass            {anchor * 1000:7.1f} ms  (anchor)")
    print(f"cutover --help            {help_time * 1000:7.1f} ms  ratio {help_time / anchor:4.1f}x")
    print(f"cutover validate M11      {validate * 1000:7.1f} ms  ratio {validate / anchor:4.1f}x")


if __name__ == "__main__":
    main()
