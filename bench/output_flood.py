"""A step printing 200,000 lines (a local command: ~7 MiB of output), in the wizard against the
same step headless (the anchor, measured in the same run): ``cutover run --headless -v`` prints
every line to a pipe the benchmark reads. Each mode runs in a process of its own, median of
ROUNDS rounds (each running both once); also each process's peak memory (RSS), and its growth
during the step.

    uv run python bench/output_flood.py           # BENCH_LINES=200000, BENCH_ROUNDS=3

The wizard runs under Pilot (Textual's headless driver: every frame is rendered, not written to
a terminal) at 120x36, the step's output streaming into the phase screen's log; its time runs
from the key press that starts the step to the first frame after the step has finished. Both
record the step in the run's checklist and journal, as a real run does."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LINES = int(os.environ.get("BENCH_LINES", 200_000))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_book(folder: Path) -> Path:
    script = folder / "flood.py"
    script.write_text("import sys\nsys.stdout.writelines(f'{n:06d} GET /api/v1/demand?region=eu "
                      f"200 12 ms ok\\n' for n in range({LINES}))\n")
    path = folder / "flood.toml"
    path.write_text('[runbook]\nid = "flood"\ntitle = "flood"\n\n'
                    '[hosts.box]\naddress = "127.0.0.1"\n\n'
                    '[[phases]]\nid = "1"\ntitle = "one"\n'
                    '[[phases.steps]]\nid = "1.1"\nkind = "local"\ntitle = "print a lot"\n'
                    f'command = "{sys.executable} {script}"\n')
    return path


async def headless(folder: Path) -> dict[str, float]:
    import click

    from cutover_tui.operator import HeadlessOperator
    from cutover_tui.runbook import load_runbook
    from cutover_tui.runner import printer, run_steps
    from cutover_tui.session import open_session

    book = load_runbook(write_book(folder))
    show = printer(click.echo, True)  # as `cutover run --headless -v`
    session = open_session(book, HeadlessOperator("bench"), state=folder / "headless.toml",
                           emit=show, workdir=folder)
    before = rss_mib()
    started = time.perf_counter()
    ok = await run_steps(session, ["1.1"], getattr(show, "echo", click.echo))  # (older code)
    seconds = time.perf_counter() - started
    await session.aclose()
    assert ok
    return {"seconds": seconds, "peak": peak_mib(), "growth": peak_mib() - before}


async def wizard(folder: Path) -> dict[str, float]:
    from cutover_tui.operator import HeadlessOperator
    from cutover_tui.runbook import load_runbook
    from cutover_tui.session import open_session
    from screens.app import CutoverApp
    from screens.phase import PhaseScreen

    book = load_runbook(write_book(folder))

    async def starter(app: CutoverApp):
        return open_session(book, HeadlessOperator("bench"), state=folder / "wizard.toml",
                            workdir=folder)

    app = CutoverApp(starter, "bench", title="flood", health_interval=None)
    frames: list[float] = []
    original = app._display

    def display(screen, renderable):  # type: ignore[no-untyped-def]
        frames.append(time.perf_counter())
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        while not isinstance(app.screen, PhaseScreen) or not app.screen.rows_ready:
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        before = rss_mib()
        started = time.perf_counter()
        await pilot.press("r")
        while app.engine.state("1.1") != "done" or app.running_step is not None:
            await asyncio.sleep(0.005)
        finished = time.perf_counter()
        while not frames or frames[-1] < finished:
            await asyncio.sleep(0.001)
        seconds = frames[-1] - started
        last = app.screen.query_one("#output").lines[-1].text.strip()
        await app.action_quit()
    assert last.endswith(f"{LINES - 1:06d} GET /api/v1/demand?region=eu 200 12 ms ok"), last
    return {"seconds": seconds, "peak": peak_mib(), "growth": peak_mib() - before}


def child(mode: str, result: Path) -> None:
    os.environ["CUTOVER_LOOPBACK_ONLY"] = "1"
    with tempfile.TemporaryDirectory(prefix="cutover-flood-") as tmp:
        run = headless if mode == "headless" else wizard
        result.write_text(json.dumps(asyncio.run(run(Path(tmp)))))


def measure(mode: str) -> dict[str, float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        process = subprocess.Popen([sys.executable, __file__, mode, result.name],
                                   stdout=subprocess.PIPE)
        assert process.stdout is not None
        for _ in iter(lambda: process.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
            pass  # the headless run's terminal: read, as fast as it comes
        if process.wait() != 0:
            raise SystemExit(f"the {mode} run failed")
        return json.loads(Path(result.name).read_text())  # type: ignore[no-any-return]


def main() -> None:
    runs: dict[str, list[dict[str, float]]] = {"headless": [], "wizard": []}
    for _ in range(ROUNDS):
        for mode in runs:
            runs[mode].append(measure(mode))
    median = {mode: {key: statistics.median(r[key] for r in results)
                     for key in results[0]} for mode, results in runs.items()}
    print(f"a local step printing {LINES:,} lines; median of {ROUNDS} rounds, each mode in a "
          "process of its own")
    labels = {"headless": "headless -v, to a pipe (anchor)", "wizard": "in the wizard (120x36)"}
    for mode, figures in median.items():
        ratio = "" if mode == "headless" else \
            f"  ratio {figures['seconds'] / median['headless']['seconds']:4.2f}x"
        print(f"{labels[mode]:<34} {figures['seconds']:6.2f} s  peak RSS {figures['peak']:6.1f} "
              f"MiB (+{figures['growth']:5.1f} during the step){ratio}")
    wiz, anchor = median["wizard"]["seconds"], median["headless"]["seconds"]
    print(f"{LINES:,} lines in the wizard {wiz:.2f} s vs headless {anchor:.2f} s: "
          f"ratio {wiz / anchor:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        child(sys.argv[1], Path(sys.argv[2]))
    else:
        main()
