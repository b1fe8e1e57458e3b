"""Start-up time of the CLI: `cutover --help` and `cutover validate` on the M11 runbook against a
bare `python -c pass` (the anchor), best of RUNS each, bytecode compiled first (as an installed
wheel has it). Then `uv run cutover ...` the same way (uv adds its own start-up, shown by
`uv run python -c pass`), and where the validate's time goes, step by step, in one process,
with the modules it imported that it should not need (the step kinds' run-time modules: the
plan comes from ``steps/plans.py``; asyncio, asyncssh, httpx, pydo, textual).

    uv run python bench/startup.py          # BENCH_RUNS=10 by default
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", 10))
M11 = "checklists/m11-production-cutover.toml"

# Where the time of `cutover validate` goes, in one process: each line's time is the step's.
BREAKDOWN = f"""
import time
marks = [("python start-up", time.perf_counter())]
def mark(label): marks.append((label, time.perf_counter()))
import click, cutover_tui.cli; mark("click and the CLI module")
import msgspec; mark("msgspec")
import cutover_tui.runbook; mark("the runbook models and the loader")
from cutover_tui.runbook import load_runbook, runbook_plan_lines
load_runbook({M11!r}); mark("first load: read, rendered, validated, cross-checked")
book = load_runbook({M11!r}); mark("a second load")
runbook_plan_lines(book); mark("the plan's lines (steps/plans.py)")
for (_, before), (label, after) in zip(marks, marks[1:]):
    print(f"  {{label:<52}} {{(after - before) * 1000:6.1f}} ms")
import collections, sys
unneeded = collections.Counter(
    "the step kinds' run-time modules" if m.startswith("cutover_tui.steps.") else m.split(".")[0]
    for m in sys.modules if m.startswith("cutover_tui.steps.") and m != "cutover_tui.steps.plans"
    or m.split(".")[0] in ("asyncio", "asyncssh", "httpx", "pydo", "textual"))
print("  modules imported that validate does not need: " +
      (", ".join(f"{{what}} ({{n}})" for what, n in unneeded.items()) or "none"))
"""


def best(command: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    compileall.compile_dir(ROOT / "cutover_tui", quiet=1)
    python = [sys.executable]
    anchor = best([*python, "-c", "pass"])
    help_time = best([*python, "-m", "cutover_tui.cli", "--help"])
    validate = best([*python, "-m", "cutover_tui.cli", "validate", M11])
    print(f"best of {RUNS}:")
    print(f"python -c pass (anchor)           {anchor * 1000:7.1f} ms")
    print(f"cutover --help                    {help_time * 1000:7.1f} ms  "
          f"ratio {help_time / anchor:4.1f}x")
    print(f"cutover validate M11              {validate * 1000:7.1f} ms  "
          f"ratio {validate / anchor:4.1f}x")
    uv = shutil.which("uv")
    if uv:
        uv_anchor = best([uv, "run", "python", "-c", "pass"])
        uv_help = best([uv, "run", "cutover", "--help"])
        uv_validate = best([uv, "run", "cutover", "validate", M11])
        print(f"uv run python -c pass             {uv_anchor * 1000:7.1f} ms  "
              f"ratio {uv_anchor / anchor:4.1f}x")
        print(f"uv run cutover --help             {uv_help * 1000:7.1f} ms  "
              f"ratio {uv_help / anchor:4.1f}x")
        print(f"uv run cutover validate M11       {uv_validate * 1000:7.1f} ms  "
              f"ratio {uv_validate / anchor:4.1f}x")
    print("where the validate's time goes (one run):")
    subprocess.run([*python, "-c", BREAKDOWN], check=True, cwd=ROOT)
    print(f"cutover validate M11 {validate * 1000:.1f} ms vs python -c pass "
          f"{anchor * 1000:.1f} ms: ratio {validate / anchor:.1f}x")


if __name__ == "__main__":
    main()
