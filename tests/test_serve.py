"""Issue 15, items 4–5 from the command line: ``cutover serve RECORD`` answers a browser on
127.0.0.1 (the page, then its websocket), and each browser is a read-only observer — a real
``cutover observe`` process, which announces itself as an observer in the run's folder and is
gone when the browser quits it. ``cutover observe`` and ``serve`` say in a sentence what they
cannot open. The server is a real process on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import httpx
import pytest

from cutover_tui.aio import bounded
from cutover_tui.operator import HeadlessOperator
from cutover_tui.presence import presence_dir
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session

pytestmark = pytest.mark.world  # real servers and the CLI as subprocesses

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"
BOOK = """
[runbook]
id = "served"
title = "Served run"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "One"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "say hello"
command = "echo hello"
"""


async def make_record(tmp_path: Path, book_text: str = BOOK) -> Path:
    book = tmp_path / "book.toml"
    book.write_text(book_text)
    record = tmp_path / "runs" / "run.toml"
    session = open_session(load_runbook(book), HeadlessOperator("ops-a"), state=record,
                           workdir=tmp_path)
    assert (await session.engine.run_step("1.1")).ok
    await session.aclose()
    return record


def cutover(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def observers(record: Path) -> list[dict[str, object]]:
    found = []
    for path in presence_dir(record).glob("*.json") if presence_dir(record).exists() else ():
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # gone or being replaced: the next look sees it
    return [p for p in found if p.get("role") == "observer"]


async def test_cutover_serve_answers_a_browser_and_each_browser_is_a_read_only_observer(
        tmp_path):
    record = await make_record(tmp_path)
    before = record.read_bytes()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cutover_tui.cli", "serve", str(record), "--port", str(port),
         "--operator", "ops-web"], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        page = None
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    page = await client.get(f"http://127.0.0.1:{port}/", timeout=5)
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
        assert page is not None and page.status_code == 200, "cutover serve never answered"
        assert "cutover observe: Served run" in page.text
        assert f"ws://127.0.0.1:{port}/ws" in page.text
        async with aiohttp.ClientSession() as web:
            async with web.ws_connect(f"ws://127.0.0.1:{port}/ws?width=120&height=36") as ws:
                screen = bytearray()

                async def drain() -> None:
                    async for message in ws:
                        if message.type == aiohttp.WSMsgType.BINARY:
                            screen.extend(message.data)

                reading = asyncio.create_task(drain())
                for _ in range(600):
                    if observers(record):
                        break
                    await asyncio.sleep(0.05)
                [observer] = observers(record)
                assert observer["operator"] == "ops-web"
                for _ in range(200):
                    if b"read-only" in screen:
                        break
                    await asyncio.sleep(0.05)
                assert b"observing as ops-web" in screen
                for key in "rsnf":  # a browser's keys change nothing either
                    await ws.send_json(["stdin", key])
                await ws.send_json(["stdin", "q"])
                for _ in range(400):
                    if not observers(record):
                        break
                    await asyncio.sleep(0.05)
                assert observers(record) == []  # it quit, and took its presence with it
                reading.cancel()
        assert record.read_bytes() == before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        await bounded(asyncio.to_thread(server.wait), 30)


def test_serve_refuses_an_outside_address_under_the_loopback_switch(tmp_path):
    record = asyncio.run(make_record(tmp_path))
    result = cutover("serve", str(record), "--host", "192.0.2.10", "--port", str(free_port()),
                     cwd=tmp_path)
    assert result.returncode == 1
    assert "refusing to connect to 192.0.2.10 for cutover serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_observe_says_what_it_cannot_open(tmp_path):
    missing = cutover("observe", str(tmp_path / "nothing.toml"), cwd=tmp_path)
    assert missing.returncode == 1 and "no checklist at" in missing.stderr
    record = asyncio.run(make_record(tmp_path))
    (tmp_path / "book.toml").rename(tmp_path / "moved.toml")
    for command in ("observe", "serve"):
        moved = cutover(command, str(record), cwd=tmp_path)
        assert moved.returncode == 1, moved.stderr
        assert "cannot read the runbook" in moved.stderr and "Traceback" not in moved.stderr


async def test_an_m11_record_is_observed_with_its_runbook_and_the_plans_it_recorded(tmp_path):
    from cutover_tui.observe import open_observation

    record = tmp_path / "checklist.toml"  # where the demo keeps its record (--keep DIR)
    session = open_session(load_runbook(M11), HeadlessOperator("demo-operator"), state=record,
                           workdir=tmp_path)
    recorded = {step.id: session.checklist.record(step.id).plan for _, step in
                session.book.steps()}
    await session.aclose()
    observer = open_observation(record, HeadlessOperator("ops-b"))  # the runbook it recorded
    try:
        assert observer.book.runbook.id == "m11-production-cutover"
        shown = {step.id: tuple(f"{item.where}: {item.action}" for item in
                                observer.engine.plan(step)) for _, step in observer.book.steps()}
        assert shown == recorded and recorded["6.2"]
    finally:
        await observer.aclose()
