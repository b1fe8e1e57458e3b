"""``cutover review RECORD --html FILE`` (issue 15, item 8): one self-contained page for the
post-mortem — it parses, holds a step's output, escapes what the record holds (a ``<script>``
in a note stays text), fetches nothing, and shows skips, red flags, the monitoring rules and
silences, approvals and archived attempts."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cutover_tui.checklist import Checklist
from cutover_tui.reviewhtml import render_html
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from tests.helpers import RecordingOperator

BOOK = """
[runbook]
id = "html"
title = "HTML <review> run"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "Local"
success_criteria = ["the count ran"]
[[phases.steps]]
id = "1.1"
kind = "local"
title = "count"
command = "seq 1 60; echo 'tail-marker-42 <b>bold</b>'"
[[phases.steps]]
id = "1.2"
kind = "local"
title = "not needed"
command = "echo never"
"""
SCRIPT = "<script>alert('pwned')</script>"
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


class Page(HTMLParser):
    """The page's elements, checked to nest and close as written."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    assert parser.errors == [] and parser.open == [], (parser.errors, parser.open)
    return parser


async def _run(folder: Path) -> Path:
    (folder / "book.toml").write_text(BOOK)
    state = folder / "run.toml"
    session = open_session(load_runbook(folder / "book.toml"), RecordingOperator("ann"),
                           state=state, workdir=folder)
    assert (await session.engine.run_step("1.1")).ok
    session.engine.skip("1.2", "covered by 1.1")
    session.engine.add_note("1.1", f"looked fine {SCRIPT}")
    session.engine.raise_red_flag("error rate above 1% <for 5 minutes>")
    await session.aclose()
    return state


@pytest.fixture
def run(tmp_path) -> Path:
    return asyncio.run(_run(tmp_path))


def test_the_page_parses_holds_the_output_and_escapes_a_script_in_a_note(run):
    page = render_html(run)
    parsed = parse(page)
    text = "".join(parsed.text)
    assert "tail-marker-42 <b>bold</b>" in text  # the output, shown as text
    assert f"looked fine {SCRIPT}" in text  # the note, as written
    assert "script" not in {tag for tag, _ in parsed.tags}
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "b" not in {tag for tag, _ in parsed.tags}
    assert "HTML <review> run" in text and "error rate above 1% <for 5 minutes>" in text
    # Self-contained: its style inline, nothing to fetch.
    assert {tag for tag, _ in parsed.tags} >= {"html", "head", "style", "body", "article"}
    assert not [attrs for _, attrs in parsed.tags if {"src", "href"} & set(attrs)]
    assert not re.search(r"url\(|@import|https?://", page)
    # Who, when, how long, state; the plan; the skip with its reason; the journal's verdict.
    assert re.search(r"by ann · \d{4}-\d\d-\d\dT[\d:]+Z → \d{4}-\d\d-\d\dT[\d:]+Z · took \d+s",
                     text)
    assert "local: seq 1 60; echo 'tail-marker-42 <b>bold</b>'" in text
    assert "1.2: skipped: covered by 1.1 (ann)" in text
    assert re.search(r"Journal: intact: \d+ entries, chain and record match", text)


def test_the_page_shows_rules_silences_approvals_and_archived_attempts(run):
    with Checklist(run).transaction() as data:
        data["red_flags"] = {"health": {
            "state": "resolved", "description": "health endpoint down", "fired_at":
            "2025-12-20T03:00:00Z", "resolved_at": "2025-12-20T03:20:00Z",
            "values": ["502 <bad gateway>"], "transitions": ["03:00 ok → firing"],
            "notifications": ["ops channel: fired"]}}
        data["silences"] = [{"rule": "scraper", "from": "2025-12-20T04:00:00Z",
                             "until": "2025-12-20T05:00:00Z", "by": "bob",
                             "reason": "planned maintenance"}]
        data["steps"]["1.1"]["approvals"] = [{"by": "bob", "account": "bob",
                                              "at": "2025-12-20T02:00:00Z", "hash": "ab12",
                                              "covers": "droplet 42 <old-prod>"}]
        data["run"]["attempt"] = 2
        data["attempts"] = {"1": {
            "started_at": "2025-12-19T10:00:00Z", "ended_at": "2025-12-19T12:00:00Z",
            "reason": "DNS TTL <too long>", "by": "ann", "phases": ["1"],
            "raised_red_flags": ["site down"],
            "steps": {"1.1": {"state": "failed", "title": "count", "operator": "ann",
                              "summary": "exit status 1", "output": "attempt-one-output"}}}}
    text = "".join(parse(render_html(run)).text)
    assert "health [resolved] health endpoint down, fired 2025-12-20T03:00:00Z" in text
    assert "fired on: 502 <bad gateway>" in text and "notified: ops channel: fired" in text
    assert "scraper 2025-12-20T04:00:00Z → 2025-12-20T05:00:00Z by bob: planned maintenance" \
        in text
    assert "droplet 42 <old-prod>" in text and "Approvals" in text
    assert "Attempt 1 (rolled back: DNS TTL <too long>)" in text
    assert "attempt-one-output" in text and "site down" in text
    # The hand-made transaction above went through the tool: the journal still says intact.
    assert "Journal: intact:" in text


@pytest.mark.world  # the CLI as a subprocess
def test_cutover_review_html_writes_the_page_as_private_as_the_record(run):
    target = run.parent / "post-mortem.html"
    result = subprocess.run([sys.executable, "-m", "cutover_tui.cli", "review", str(run),
                             "--html", str(target)], capture_output=True, text=True,
                            cwd=run.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"wrote {target}\n"
    assert target.stat().st_mode & 0o777 == run.stat().st_mode & 0o777 == 0o600
    assert "tail-marker-42" in "".join(parse(target.read_text()).text)
    both = subprocess.run([sys.executable, "-m", "cutover_tui.cli", "review", str(run),
                           "--html", str(target), "--verify"], capture_output=True, text=True,
                          cwd=run.parent)
    assert both.returncode == 2 and "choose one of" in both.stderr
