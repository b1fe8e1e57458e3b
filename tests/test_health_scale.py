"""Health at scale (issue 14, item 6): each endpoint is polled on its own schedule, so a hung
one holds back no other sample, in the core and in the wizard's panel; a panel with more
endpoints than rows shows the worst first and counts the rest, and draws nothing again when
nothing it shows has changed. Real HTTP servers on loopback."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from cutover_tui.clock import Clock
from cutover_tui.health import DOWN, OK, HealthProbe, HealthSample
from cutover_tui.operator import HeadlessOperator
from cutover_tui.remote.web import Web
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session


class Answer(BaseHTTPRequestHandler):
    """/ok answers at once; /hang never (until the test ends)."""

    release = threading.Event()

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/hang":
            self.release.wait(30)
            return
        body = b"status: healthy"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Answer.release = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd.server_address[1]
    finally:
        Answer.release.set()
        httpd.shutdown()
        httpd.server_close()


def book_with(tmp_path: Path, port: int, paths: dict[str, str]):
    lines = ['[runbook]\nid = "scale"\ntitle = "scale"\n',
             '[hosts.web]\naddress = "127.0.0.1"\nport = 9\n']
    lines += [f'[[health]]\nname = "{name}"\nport = "{port}"\npath = "{path}"\n'
              for name, path in paths.items()]
    lines.append('[[phases]]\nid = "1"\ntitle = "one"\n[[phases.steps]]\nid = "1.1"\n'
                 'kind = "manual"\ntitle = "look"\ninstructions = "look"\n')
    path = tmp_path / "scale.toml"
    path.write_text("\n".join(lines))
    return load_runbook(path)


async def test_polling_keeps_sampling_the_others_while_one_endpoint_hangs(tmp_path, server):
    book = book_with(tmp_path, server, {"api": "/ok", "hung": "/hang"})
    web = Web()
    counts: Counter[str] = Counter()
    probe = HealthProbe(book, web, timeout=5.0, clock=Clock())
    try:
        async for sample in probe.poll(0.05):
            counts[sample.endpoint] += 1
            assert sample.endpoint == "api" and sample.verdict == OK
            if counts["api"] == 8:
                break
    finally:
        await web.close()
    # Eight rounds of the others went by while the hung request (5 s) had not come back.
    assert counts == {"api": 8}


async def test_the_panel_fills_while_a_hung_endpoint_waits_for_its_timeout(tmp_path, server):
    from screens.app import CutoverApp
    from screens.widgets.health import HealthPanel

    book = book_with(tmp_path, server, {"api": "/ok", "db": "/ok", "hung": "/hang"})

    async def starter(app):
        return open_session(book, HeadlessOperator("pilot"), state=tmp_path / "run.toml",
                            workdir=tmp_path)

    app = CutoverApp(starter, "pilot", title="scale", health_interval=0.1)
    async with app.run_test(size=(120, 36)) as pilot:
        states = app.health.states
        for _ in range(200):  # bounded; the ok ones answer every 0.1 s, the hung one in 2 s
            await pilot.pause(0.05)
            if min(len(states[("web", name)].history) for name in ("api", "db")) >= 10:
                break
        ok_samples = {name: len(states[("web", name)].history) for name in ("api", "db")}
        hung_samples = len(states[("web", "hung")].history)
        app.tick()  # the panel's redraw, as the half-second tick does it
        await pilot.pause()
        console = Console(width=120, record=True, color_system=None)
        console.print(app.screen.query_one(HealthPanel).render_table())
        text = console.export_text()
        await app.action_quit()
    assert min(ok_samples.values()) >= 10
    assert hung_samples * 3 < min(ok_samples.values())  # each of its requests takes 2 s
    assert "● 200" in text.split("api", 1)[1].splitlines()[0]
    assert "● 200" in text.split("db", 1)[1].splitlines()[0]


def sample(endpoint: str, verdict: str) -> HealthSample:
    return HealthSample("web", endpoint, 200 if verdict == OK else None,
                        12.0 if verdict == OK else None, verdict,
                        "200" if verdict == OK else "connection refused", 1766138400.0)


async def test_a_panel_of_200_endpoints_shows_the_worst_first_counts_the_rest_and_skips_redraws():
    from textual.app import App, ComposeResult

    from screens.widgets.health import HealthBoard, HealthPanel
    from screens.widgets.healthrows import ENDPOINT_ROWS

    names = [f"e{n:03d}" for n in range(200)]
    board = HealthBoard(["web"], names)
    for name in names:
        board.record(sample(name, DOWN if name in ("e150", "e007") else OK))
    panel = HealthPanel({"web": "web  root@127.0.0.1:9"}, names, [], board=board,
                        hosts_off=lambda: {}, id="health")

    class One(App):
        def compose(self) -> ComposeResult:
            yield panel

    async with One().run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        console = Console(width=120, record=True, color_system=None)
        console.print(panel.render_table())
        rows = [line for line in console.export_text().splitlines() if line.strip()]
        updates = []
        real_update = panel.update
        panel.update = lambda *args, **kwargs: (updates.append(kwargs), real_update(*args,
                                                                                    **kwargs))
        panel.refresh_view()  # nothing changed since the first drawing
        board.record(sample("e199", OK))  # changed, but not among the rows shown
        panel.refresh_view()
        board.record(sample("e000", DOWN))  # shown, and now down
        panel.refresh_view()
    # The host's title, the rows that fit (the two down first), the rest counted, services.
    assert len(rows) == 1 + ENDPOINT_ROWS + 1
    assert [row.split()[0] for row in rows[1:3]] == ["e007", "e150"]
    assert "+ 191 more" in rows[-2] and "191 ok" in rows[-2]
    assert updates == [{"layout": False}]  # one redraw, of as many rows: no new layout
