"""A step that floods its output (issue 14, item 2): the wizard takes the lines in batches, its
view keeps a bounded tail with the last line shown, and the run's journal keeps every line; the
headless printer writes batches too, in order with what it prints around them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cutover_tui.events import OutputLine, StepFinished, Verdict
from cutover_tui.journal import journal_path, read_new
from cutover_tui.operator import HeadlessOperator
from cutover_tui.runbook import load_runbook
from cutover_tui.runner import Printer
from cutover_tui.session import open_session
from screens.outputfeed import KEEP, OutputFeed, PendingOutput

FLOOD = 20_000


def line(n: int) -> str:
    return f"line {n:06d} of the flood"


def shown_line(n: int) -> str:
    return f"local: {line(n)}"  # as the wizard and the journal show a local command's line


def flood_book(tmp_path: Path, lines: int) -> Path:
    script = tmp_path / "flood.py"
    script.write_text("import sys\n"
                      f"sys.stdout.writelines(f'line {{n:06d}} of the flood\\n' "
                      f"for n in range({lines}))\n")
    path = tmp_path / "flood.toml"
    path.write_text('[runbook]\nid = "flood"\ntitle = "flood"\n\n'
                    '[hosts.box]\naddress = "127.0.0.1"\n\n'
                    '[[phases]]\nid = "1"\ntitle = "one"\n'
                    '[[phases.steps]]\nid = "1.1"\nkind = "local"\ntitle = "print a lot"\n'
                    f'command = "{sys.executable} {script}"\n')
    return path


async def test_a_flood_ends_with_a_bounded_view_showing_its_last_line_and_journals_every_line(
        tmp_path):
    from screens.app import CutoverApp
    from screens.phase import PhaseScreen
    from screens.widgets.outputlog import MAX_LINES, OutputLog

    book = load_runbook(flood_book(tmp_path, FLOOD))
    state = tmp_path / "run.toml"

    async def starter(app):
        return open_session(book, HeadlessOperator("pilot"), state=state, workdir=tmp_path)

    app = CutoverApp(starter, "pilot", title="flood", health_interval=None)
    deliveries = []
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(200):
            if isinstance(app.screen, PhaseScreen) and app.screen.rows_ready:
                break
            await pilot.pause(0.05)
        screen = app.screen
        take = app.output_feed.take

        def counted():
            batches = take()
            deliveries.append(sum(len(batch.lines) for batch in batches))
            return batches

        app.output_feed.take = counted
        log = screen.query_one("#output", OutputLog)
        peak = 0
        await pilot.press("r")
        for _ in range(1200):  # bounded: the step takes a second or two
            await pilot.pause(0.05)
            peak = max(peak, len(log.lines))
            if app.engine.state("1.1") == "done" and app.running_step is None:
                break
        await pilot.pause(0.2)
        shown = [strip.text.rstrip() for strip in log.lines]
        at_end = log.scroll_y == log.max_scroll_y
        kept = list(app.outputs["1.1"])
        await app.action_quit()
    assert app.engine.state("1.1") == "done"
    # The view: never more than its bound, a contiguous tail ending with the last line, shown.
    assert peak <= MAX_LINES and 0 < len(shown) <= MAX_LINES
    assert shown == [shown_line(n) for n in range(FLOOD - len(shown), FLOOD)]
    assert at_end
    assert len(kept) <= KEEP and kept[-1] == shown_line(FLOOD - 1)
    # Taken in batches, not line by line (lines older than a view's worth may have waited in
    # vain while the app was busy: they would have scrolled out anyway).
    assert 0 < len(deliveries) < FLOOD // 100 and sum(deliveries) <= FLOOD
    # The journal has them all, in order.
    entries, _ = read_new(journal_path(state))
    journaled = "\n".join(e["text"] for e in entries if e["kind"] == "output" and e["step"] == "1.1")
    assert journaled.split("\n") == [shown_line(n) for n in range(FLOOD)]


def test_the_feed_posts_once_per_batch_keeps_order_and_bounds_what_waits():
    posted = []
    feed = OutputFeed(posted.append)
    for n in range(3 * KEEP):
        feed.add(OutputLine("a", line(n)))
    feed.add(OutputLine("b", "from b", host="new"))
    feed.add(OutputLine("a", "a again", stream="info", host="new"))
    assert len(posted) == 1 and isinstance(posted[0], PendingOutput)
    assert posted[0].can_replace(PendingOutput())
    batches = feed.take()
    assert [batch.step_id for batch in batches] == ["a", "b", "a"]
    waited = batches[0].lines  # the app fell behind by 3 × KEEP lines: the last of them wait
    assert KEEP <= len(waited) < 2 * KEEP and waited[-1] == line(3 * KEEP - 1)
    assert waited == [line(n) for n in range(3 * KEEP - len(waited), 3 * KEEP)]
    assert batches[1].lines == ["new: from b"] and batches[2].lines == ["a again"]
    assert feed.take() == []
    feed.add(OutputLine("a", "next"))
    assert len(posted) == 2  # a new batch, a new message


async def test_the_headless_printer_writes_a_turns_lines_at_once_and_in_order():
    writes: list[str] = []
    show = Printer(writes.append, verbose=True)
    for n in range(5000):
        show(OutputLine("1.1", line(n), host="old" if n % 2 else ""))
    assert writes == []  # still in the same turn of the loop
    await asyncio.sleep(0)
    assert len(writes) == 1
    assert writes[0].split("\n") == [f"      {'old: ' if n % 2 else ''}{line(n)}"
                                     for n in range(5000)]
    show(OutputLine("1.1", "last line"))
    show.echo("a question")  # the output before it comes first
    show(OutputLine("1.1", "after the question"))
    show(StepFinished("1.1", "done", Verdict(True, "ok")))
    assert writes[1:] == ["      last line", "a question", "      after the question"]
    quiet = Printer(writes.append, verbose=False)
    quiet(OutputLine("1.1", "not shown without -v"))
    await asyncio.sleep(0)
    assert len(writes) == 4
