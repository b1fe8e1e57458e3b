"""The wizard's health panel at scale: 200 health endpoints on a real HTTP server on loopback (one
server, 200 paths, in a process of its own) plus one endpoint that never answers, polled at 1 Hz,
while keys are pressed (down, up, … on the phase's steps: each moves the selection and repaints
the step's plan and output). The figure: the key press → repaint latency at p99, against the
anchor measured in the same run: the same key presses in the same wizard with nothing polled.
Also how often each endpoint was sampled: 1 Hz each, but the hung one (its 2 s timeout).

    uv run python bench/health_poll.py          # BENCH_SECONDS=20 of key presses by default

The wizard runs under Pilot (Textual's headless driver: every frame is rendered, not written to
a terminal); keys are posted from another thread at random moments, as a terminal's input
thread does, and a key's latency ends at the first frame rendered after its handler ran."""

from __future__ import annotations

import asyncio
import gc
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENDPOINTS = 200
SECONDS = float(os.environ.get("BENCH_SECONDS", 20))
WARMUP = 3.0  # seconds before the first key (the first rounds polled, connections made)

SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real service
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def do_GET(self):
        body = b"status: healthy"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def runbook(folder: Path, port: int, hung_port: int) -> Path:
    lines = ['[runbook]\nid = "health-scale"\ntitle = "health at scale"\n',
             '[hosts.web]\naddress = "127.0.0.1"\nport = 9\n']
    for n in range(ENDPOINTS):
        lines.append(f'[[health]]\nname = "e{n:03d}"\nport = "{port}"\npath = "/e{n:03d}"\n'
                     'contains = "healthy"\n')
    lines.append(f'[[health]]\nname = "hung"\nport = "{hung_port}"\npath = "/"\n')
    lines.append('[[phases]]\nid = "1"\ntitle = "one"')
    for n in range(6):
        lines.append(f'[[phases.steps]]\nid = "1.{n + 1}"\nkind = "manual"\ntitle = "look {n}"\n'
                     f'instructions = "look at the panel, {n}"')
    path = folder / "health.toml"
    path.write_text("\n".join(lines))
    return path


async def measure(book_path: Path, folder: Path, interval: float | None,
                  seconds: float) -> tuple[list[float], Counter[str], float]:
    """Key latencies (s), samples per endpoint and the polling time they were counted over."""
    from textual import events

    from cutover_tui.operator import HeadlessOperator
    from cutover_tui.runbook import load_runbook
    from cutover_tui.session import open_session
    from screens.app import CutoverApp
    from screens.phase import PhaseScreen

    book = load_runbook(book_path)
    state = folder / f"run-{interval}.toml"

    async def starter(app: CutoverApp):
        return open_session(book, HeadlessOperator("bench"), state=state, workdir=folder)

    # As `cutover run` starts it (cutover_tui/gcpause.py): no cyclic collection until the first
    # frame, where the wizard moves what start-up allocated out of later collections' way.
    gc.disable()
    app = CutoverApp(starter, "bench", title="health", health_interval=interval)
    frames: list[float] = []  # when each frame was rendered
    original = app._display

    def display(screen, renderable):  # type: ignore[no-untyped-def]
        frames.append(time.perf_counter())
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    counts: Counter[str] = Counter()
    latencies: list[float] = []
    async with app.run_test(size=(120, 36)) as pilot:
        while not isinstance(app.screen, PhaseScreen) or not app.screen.rows_ready:
            await pilot.pause(0.05)
        record = app.health.record

        def counting(sample):  # type: ignore[no-untyped-def]
            counts[sample.endpoint] += 1
            record(sample)

        # Both rows start after the wizard settled its collector (gcpause.SETTLE_AFTER).
        await asyncio.sleep(WARMUP)
        app.health.record = counting  # type: ignore[method-assign]
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        handled = asyncio.Event()
        table = app.screen.query_one("#steps")
        keys = iter(["down", "down", "down", "up", "up", "up"] * 100_000)
        while time.perf_counter() - started < seconds:
            await asyncio.sleep(random.uniform(0.05, 0.25))
            key = next(keys)
            row = table.cursor_row
            pressed = time.perf_counter()
            handled.clear()
            # As a terminal's input thread does: posted to the app's loop from another thread.
            threading.Thread(target=loop.call_soon_threadsafe,
                             args=(app.post_message, events.Key(key, None))).start()
            while table.cursor_row == row:
                await asyncio.sleep(0.0005)
            moved = time.perf_counter()
            while not frames or frames[-1] < moved:
                await asyncio.sleep(0.0005)
            latencies.append(frames[-1] - pressed)
        del latencies[:3]  # the first frames of each screen part fill Textual's caches
        polled = time.perf_counter() - started
        await app.action_quit()
    return latencies, counts, polled


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def main() -> None:
    os.environ["CUTOVER_LOOPBACK_ONLY"] = "1"
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.DEVNULL)  # a request given up on: a broken pipe
    hung = socket.socket()  # listens, never accepts: a request to it is never answered
    hung.bind(("127.0.0.1", 0))
    hung.listen(1024)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="cutover-health-") as tmp:
            folder = Path(tmp)
            book = runbook(folder, port, hung.getsockname()[1])
            idle, _, _ = asyncio.run(measure(book, folder, None, SECONDS / 2))
            busy, counts, polled = asyncio.run(measure(book, folder, 1.0, SECONDS))
    finally:
        server.terminate()
        hung.close()
    rates = {name: counts[name] / polled for name in [f"e{n:03d}" for n in range(ENDPOINTS)]}
    print(f"{ENDPOINTS} endpoints + 1 that never answers, polled at 1 Hz; keys pressed at random "
          f"every 0.05-0.25 s for {SECONDS:g} s (Pilot, 120x36)")
    print(f"each endpoint's samples: {min(rates.values()):.2f}-{max(rates.values()):.2f} per "
          f"second (median {statistics.median(rates.values()):.2f}); the hung one "
          f"{counts['hung'] / polled:.2f} per second")
    for label, values in (("nothing polled (anchor)", idle), ("polling 201 endpoints", busy)):
        ms = [v * 1000 for v in values]
        print(f"key -> repaint, {label:<24} {len(ms):4d} keys  median "
              f"{statistics.median(ms):5.1f} ms  p99 {p99(ms):6.1f} ms  max {max(ms):6.1f} ms")
    print(f"key -> repaint at p99 while polling {p99(busy) * 1000:.1f} ms vs nothing polled "
          f"{p99(idle) * 1000:.1f} ms: ratio {p99(busy) / p99(idle):.2f}x")


if __name__ == "__main__":
    main()
