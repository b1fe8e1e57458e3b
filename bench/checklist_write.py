"""One checklist transaction (add a note) on a finished run record: the M11 run (96 steps) and a
500-step record, against the anchor measured in the same run, a TOML parse + dump of that same
file (what every transaction cost before the writes were made incremental), and, for scale, the
raw write + fsync + rename + folder fsync of its bytes. Median of RUNS transactions each, on a
checklist that has already read the file (the first transaction of a process parses it).

    uv run python bench/checklist_write.py            # BENCH_RUNS=50 by default

The records are the M11 runbook's steps, finished the way the engine records them (state,
operator, times, summary, command, exit status, the output's last lines, notes, plan,
evidence); the 500-step one repeats them with suffixed ids."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cutover_tui.checklist import Checklist  # noqa: E402
from cutover_tui.clock import iso  # noqa: E402
from cutover_tui.recordfile import atomic_write  # noqa: E402
from cutover_tui.runbook import load_runbook  # noqa: E402
from cutover_tui.steps import describe_step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"
RUNS = int(os.environ.get("BENCH_RUNS", 50))
START = 1_780_000_000


def finished(phase: Any, step: Any, plan: list[str], i: int) -> dict[str, Any]:
    """A step's table as the engine leaves it when the step is done."""
    output = "\n".join(f"{iso(START + i * 60 + n)} api[{4000 + n}]: GET /health 200 "
                       f"{11 + n * 3} ms ok" for n in range(12))
    return {
        "state": "done", "phase": phase.id, "title": step.title, "kind": step.kind,
        "operator": "ann", "started_at": iso(START + i * 60),
        "finished_at": iso(START + i * 60 + 42), "summary": f"{step.title}: checks held",
        "command": getattr(step, "command", "") or f"check {step.id}", "exit_status": 0,
        "output": output, "plan": plan,
        "notes": [f"{iso(START + i * 60 + 5)} ann: looked fine",
                  f"{iso(START + i * 60 + 30)} bob: confirmed on the dashboard"],
        "evidence": {"checked": 3, "matched": 3, "host": "old", "seconds": 0.42},
    }


def make_record(path: Path, steps: int) -> None:
    """A finished run record of ``steps`` steps, opened the way a session opens it."""
    book = load_runbook(M11)
    pairs = book.steps()
    plans = {step.id: describe_step(book, step) for _, step in pairs}
    checklist = Checklist(path)
    checklist.open_for(book, "ann", plans, {name: host.address for name, host
                                            in book.hosts.items()})
    with checklist.transaction() as data:
        for i in range(steps):
            phase, step = pairs[i % len(pairs)]
            step_id = step.id if i < len(pairs) else f"{step.id}~{i // len(pairs)}"
            data["steps"][step_id] = finished(phase, step, plans[step.id], i)


def median_ms(action: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(path: Path) -> tuple[float, float, float, float]:
    """(parse + dump, raw write, a first transaction, a transaction) in ms."""
    raw = path.read_bytes()
    parse_dump = median_ms(lambda: tomli_w.dumps(tomllib.loads(raw.decode())), max(5, RUNS // 5))
    scratch = path.with_name("raw-" + path.name)
    raw_write = median_ms(lambda: atomic_write(scratch, raw))
    counter = iter(range(10**9))

    def first() -> None:
        Checklist(path).add_note("1.1-health", "ann", f"note {next(counter)}")

    cold = median_ms(first, max(5, RUNS // 5))
    checklist = Checklist(path)
    checklist.add_note("1.1-health", "ann", "warm up")
    warm = median_ms(lambda: checklist.add_note("1.1-health", "ann", f"note {next(counter)}"))
    return parse_dump, raw_write, cold, warm


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cutover-bench-") as folder:
        results = {}
        for steps in (96, 500):
            path = Path(folder) / f"run-{steps}.toml"
            make_record(path, steps)
            size = path.stat().st_size
            parse_dump, raw_write, cold, warm = measure(path)
            results[steps] = (parse_dump, warm)
            print(f"{steps:>3} steps, {size / 1024:6.0f} KiB:")
            print(f"  TOML parse + dump of the file (anchor)     {parse_dump:7.2f} ms")
            print(f"  raw write + fsync + rename + dir fsync      {raw_write:7.2f} ms  "
                  f"ratio {raw_write / parse_dump:4.2f}x")
            print(f"  first transaction of a process (parses it) {cold:7.2f} ms  "
                  f"ratio {cold / parse_dump:4.2f}x")
            print(f"  one transaction: add a note                 {warm:7.2f} ms  "
                  f"ratio {warm / parse_dump:4.2f}x")
        parse_dump, warm = results[500]
        print(f"500-step add-a-note transaction {warm:.2f} ms vs parse + dump "
              f"{parse_dump:.2f} ms: ratio {warm / parse_dump:.3f}x")


if __name__ == "__main__":
    main()
