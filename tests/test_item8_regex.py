"""Issue 16, item 8: a runbook regex such as ``(a+)+$`` against long output used to run on the
event loop with no bound, freezing the wizard for good. Each match now runs in a worker thread
and stops at a time limit (the ``regex`` package's ``timeout``), failing its check with the
reason; a pattern that does not compile is refused when the runbook loads.

The scenarios run in a child process with a deadline: with an unbounded match on the event
loop the child never finishes, and the test fails instead of hanging."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cutover_tui.errors import RunbookError
from cutover_tui.patterns import MATCH_SECONDS, RegexTooSlow, search
from cutover_tui.runbook import load_runbook

BOOK = """\
[runbook]
id = "regex"
title = "Regex"

[hosts.web]
address = "127.0.0.5"

[[phases]]
id = "1"
title = "Check"

[[phases.steps]]
id = "1.1"
kind = "ssh"
title = "Output"
host = "web"
command = "print-output"
expect_regex = ['{pattern}']

[[phases.steps]]
id = "1.2"
kind = "local"
title = "Tests"
command = "{python} -c \\"print('a' * 5000 + 'b')\\""
threshold = {{ regex = '{pattern}', min_passed = 1 }}
"""

CHILD = textwrap.dedent("""
    import asyncio, json, sys, time
    from pathlib import Path
    from cutover_tui.clock import Clock
    from cutover_tui.masking import Masker
    from cutover_tui.runbook import load_runbook
    from cutover_tui.steps import kind_module
    from cutover_tui.steps.base import StepContext

    class Result:
        output, exit_status, timed_out = "a" * 5000 + "b", 0, False

    class FakeSSH:
        async def run(self, host, command, **kwargs):
            return Result()

    async def main():
        book = load_runbook(sys.argv[1])
        step = book.step(sys.argv[2])
        ctx = StepContext(book, None, None, FakeSSH(), None, Clock(), Masker(), lambda e: None,
                          lambda: None, Path.cwd(), step.id)
        ticks, done = [], asyncio.Event()

        async def ticker():
            while not done.is_set():
                await asyncio.sleep(0.01)
                ticks.append(time.monotonic())

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        verdict = await kind_module(step.kind).run(ctx, step)
        elapsed = time.monotonic() - started
        done.set()
        await task
        gaps = [b - a for a, b in zip([started, *ticks], ticks)]
        print(json.dumps({"ok": verdict.ok, "summary": verdict.summary, "elapsed": elapsed,
                          "longest_gap": max(gaps, default=elapsed)}))

    asyncio.run(main())
""")


def run_step(tmp_path: Path, pattern: str, step_id: str) -> dict:
    book = tmp_path / "book.toml"
    book.write_text(BOOK.format(pattern=pattern, python=sys.executable))
    try:
        result = subprocess.run([sys.executable, "-c", CHILD, str(book), step_id],
                                capture_output=True, text=True, timeout=30, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the {step_id} step's regex /{pattern}/ was still matching after 30 s: "
                    "the match is not bounded in time")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("step_id", ["1.1", "1.2"])
def test_item8_catastrophic_regex_does_not_block_the_event_loop(tmp_path, step_id):
    found = run_step(tmp_path, "(a+)+$", step_id)
    assert not found["ok"]
    assert f"the regex /(a+)+$/ did not finish within {MATCH_SECONDS:g}s" in found["summary"]
    assert found["elapsed"] < MATCH_SECONDS * 4, found
    # The event loop went on while the regex ran: no pause of the ticker near the match's
    # length (a match on the loop itself would stop it for the whole time limit).
    assert found["longest_gap"] < MATCH_SECONDS / 2, found


def test_item8_a_good_regex_still_matches(tmp_path):
    assert run_step(tmp_path, "(a{3})b$", "1.1")["ok"]


def test_item8_search_raises_past_the_limit():
    with pytest.raises(RegexTooSlow):
        search("(a|aa)+$", "a" * 60 + "b")
    assert search(r"(\d+) passed", "40 passed").group(1) == "40"


@pytest.mark.parametrize("pattern", ["(unclosed", "a{2,1}", "a)", "*a"])
def test_item8_a_regex_that_does_not_compile_is_refused_at_load(tmp_path, pattern):
    path = tmp_path / "book.toml"
    path.write_text(BOOK.format(pattern=pattern, python="python").replace(
        f"threshold = {{ regex = '{pattern}', min_passed = 1 }}\n", ""))
    with pytest.raises(RunbookError) as info:
        load_runbook(path)
    assert f"{path}:18: phases[0].steps[0].expect_regex[0]: expected a valid regular " \
           "expression" in str(info.value)
