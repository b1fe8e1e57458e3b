"""``cutover preflight``: before anything changes, run every step that changes nothing — http
requests, ``services`` status, and the ssh / local steps the runbook marks ``changes = false`` —
from every phase (the monitoring week, the destroy's checks and the rollback included) against
the hosts as they are now, and say of each whether it could pass.

A step is run by its own kind (``steps/``), so the command, the timeout and the judging are the
ones the cutover will use; only its retries are dropped. Each expectation comes back as a
``steps.base.Check`` and the step's preflight verdict follows from the worst of them:

- ``ok``: every check holds already;
- ``differs now``: each failing check found what it looks at with another value — a JSON field
  that is ``staging`` where ``production`` is expected, a number out of range, a non-zero exit
  (the command answered), an HTTP 5xx, a pattern the command echoes in another branch
  (``… || echo 'no app processes'``), a ``"field":`` pattern whose field is there, a pattern the
  output must not contain. The cutover may well produce the expected value;
- ``cannot pass``: something a check looks for is not in the output at all — a missing JSON
  field, a number or test summary its regex never finds, an ``expect_regex`` that matches nothing
  (unless the step is seen to print it in another state, as above: a regex is opaque, so a miss
  counts against the check), text absent from the body, an HTTP 4xx, exit 126/127 (the command
  cannot run), a unit systemd does not know. The check is wrong for these hosts: fix the runbook;
- ``cannot check``: no answer to judge — the host is unreachable or refuses the key, the request
  is refused or times out, the command does not finish within the step's timeout.

Repeated phases (the monitoring week's days) are run once per template step. Steps that change
something, ask a person, or wait for a time or an earlier step are listed as not run.

Exit status: 1 when any step ``cannot pass``; otherwise 2 when any step ``cannot check`` (the
preflight is incomplete, so it does not claim all is well); otherwise 0.
"""

from __future__ import annotations

import asyncio
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import msgspec

from .clock import Clock
from .errors import CutoverError
from .events import StepEvent, Verdict
from .masking import Masker
from .remote.protocols import SSHRunner, WebClient
from .runbook import Runbook, always_changes
from .steps import kind_module
from .steps.base import ABSENT, DIFFERS, UNANSWERED, StepContext

OK, DIFFERS_NOW, CANNOT_PASS, CANNOT_CHECK = "ok", "differs now", "cannot pass", "cannot check"
VERDICTS = (OK, DIFFERS_NOW, CANNOT_PASS, CANNOT_CHECK)
OUTPUT_LINES = 15
MAX_CONCURRENT = 10  # steps at once; the SSH pool also keeps ≤ 10 channels per connection
MAX_LOCAL = 1  # local steps are test suites: one at a time


@dataclass(frozen=True)
class Candidate:
    phase_id: str
    step: Any  # the runbook step, retries dropped
    shown_id: str  # the template id for a repeated phase ("7.1-health", not "7.1-health.d1")
    copies: int = 1  # how many steps of a repeated phase it stands for


@dataclass(frozen=True)
class PreflightRow:
    step_id: str
    phase_id: str
    title: str
    kind: str
    where: str  # the host name, or "local"
    verdict: str  # one of VERDICTS
    reason: str
    command: str = ""
    output: str = ""  # masked, the last lines
    copies: int = 1


@dataclass
class PreflightReport:
    rows: list[PreflightRow]
    not_run: list[tuple[str, str, str]] = field(default_factory=list)  # (step, phase, why)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(VERDICTS, 0)
        for row in self.rows:
            counts[row.verdict] += 1
        return counts

    def by_verdict(self, verdict: str) -> list[str]:
        return [row.step_id for row in self.rows if row.verdict == verdict]

    @property
    def exit_code(self) -> int:
        counts = self.counts()
        return 1 if counts[CANNOT_PASS] else 2 if counts[CANNOT_CHECK] else 0

    def summary(self) -> str:
        counts = self.counts()
        parts = ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
        return (f"preflight: {len(self.rows)} step(s) that change nothing: {parts}; "
                f"{len(self.not_run)} not run")


# ---------------------------------------------------------------------------- choosing steps


def why_not(step: Any) -> str | None:
    """Why ``step`` is not run by the preflight, or None when it is."""
    if step.kind == "manual":
        return "a person does it"
    if step.kind == "wait":
        return "waits for a time or for an earlier step"
    if always_changes(step):
        return "changes something"
    if step.changes is True:
        return "marked changes = true"
    if step.kind in ("ssh", "local") and step.changes is None:
        return "does not say whether it changes anything (mark it changes = false if it only reads)"
    if step.kind == "http" and step.method not in ("GET", "HEAD"):
        return "not a GET"
    return None


def select(book: Runbook) -> tuple[list[Candidate], list[tuple[str, str, str]]]:
    """The steps the preflight runs (each template step of a repeated phase once), and the
    others with the reason they are not run."""
    candidates: list[Candidate] = []
    not_run: list[tuple[str, str, str]] = []
    for phase in book.all_phases:
        seen: dict[str, int] = {}
        order: list[tuple[str, Any]] = []
        for step in phase.steps:
            shown = re.sub(r"\.d\d+$", "", step.id) if phase.repeat else step.id
            if shown in seen:
                seen[shown] += 1
                continue
            seen[shown] = 1
            order.append((shown, step))
        for shown, step in order:
            reason = why_not(step)
            if reason:
                not_run.append((shown, phase.id, reason))
                continue
            if getattr(step, "retries", 0):
                step = msgspec.structs.replace(step, retries=0)
            candidates.append(Candidate(phase.id, step, shown, seen[shown]))
    return candidates, not_run


# ---------------------------------------------------------------------------- judging


def classify(verdict: Verdict) -> tuple[str, str]:
    """(preflight verdict, reason) from the checks of one run of a step."""
    bad = [check for check in verdict.checks if not check.ok]
    if verdict.ok and not bad:
        return OK, verdict.summary
    for outcome, label in ((UNANSWERED, CANNOT_CHECK), (ABSENT, CANNOT_PASS),
                           (DIFFERS, DIFFERS_NOW)):
        deciding = [c.problem for c in bad if c.outcome == outcome]
        if deciding:
            others = [c.problem for c in bad if c.outcome != outcome]
            return label, "; ".join(deciding + others)
    return CANNOT_CHECK, verdict.summary  # a failure the step kind did not break down


def _tail(text: str, lines: int = OUTPUT_LINES) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


# ---------------------------------------------------------------------------- running


class NoChecklist:
    """No run record (the preflight's, a red-flag probe's): a step kind that reads one gets
    nothing."""

    data: dict[str, Any] = {}

    def read(self) -> dict[str, Any]:
        return {}

    def step(self, step_id: str) -> dict[str, Any]:
        return {}


def no_droplets() -> NoReturn:
    raise CutoverError("the preflight and the red-flag probes do not use the DigitalOcean API")


async def run_preflight(book: Runbook, ssh: SSHRunner, web: WebClient, *, operator: Any = None,
                        masker: Masker | None = None, clock: Clock | None = None,
                        workdir: Path | None = None,
                        emit: Callable[[StepEvent], None] | None = None,
                        on_row: Callable[[PreflightRow], None] | None = None,
                        concurrency: int = MAX_CONCURRENT) -> PreflightReport:
    """Run every candidate step of ``book`` through ``ssh`` / ``web`` (a session's transports),
    concurrently but bounded; ``on_row`` hears of each result as it comes."""
    masker = masker or Masker()
    clock = clock or Clock()
    candidates, not_run = select(book)
    # One connection attempt per host: an unreachable host costs one timeout, not one per step.
    hosts = sorted({c.step.host for c in candidates if hasattr(c.step, "host")})
    down: dict[str, str] = {}

    async def connect(name: str) -> None:
        try:
            await ssh.connection(name)
        except CutoverError as exc:
            down[name] = str(exc)

    await asyncio.gather(*(connect(name) for name in hosts))
    gate = asyncio.Semaphore(concurrency)
    local_gate = asyncio.Semaphore(MAX_LOCAL)

    async def one(candidate: Candidate) -> PreflightRow:
        step = candidate.step
        where = _where(book, step)
        if getattr(step, "host", None) in down:
            row = _row(candidate, where, CANNOT_CHECK, down[step.host])
        else:
            async with gate:
                if step.kind == "local":
                    async with local_gate:
                        row = await _run_one(candidate, where)
                else:
                    row = await _run_one(candidate, where)
        if on_row is not None:
            on_row(row)
        return row

    async def _run_one(candidate: Candidate, where: str) -> PreflightRow:
        step = candidate.step
        if step.kind == "local":
            try:
                _guard_local(book, step)
            except CutoverError as exc:
                return _row(candidate, where, CANNOT_CHECK, str(exc), step.command)
        ctx = StepContext(book, NoChecklist(), operator, ssh, web,  # type: ignore[arg-type]
                          clock, masker, emit or (lambda _event: None), no_droplets,
                          workdir or Path.cwd(), step.id)
        try:
            verdict = await kind_module(step.kind).run(ctx, step)
        except CutoverError as exc:
            return _row(candidate, where, CANNOT_CHECK, masker(str(exc)))
        except Exception as exc:  # a step kind's bug: one row says so, the others still run
            detail = traceback.format_exception_only(exc)[-1].strip()
            return _row(candidate, where, CANNOT_CHECK, f"internal error: {detail}")
        verdict_label, reason = classify(verdict)
        return _row(candidate, where, verdict_label, masker(reason), masker(verdict.command),
                    _tail(masker(verdict.output)))

    rows = await asyncio.gather(*(one(c) for c in candidates))
    return PreflightReport(list(rows), not_run)


_URL_HOST = re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(\[[^\]]+\]|[^/:\s'\"]+)")


def _guard_local(book: Runbook, step: Any) -> None:
    """A local command (a test suite with ``BASE_URL=http://…``) reaches hosts no transport
    guards: under ``CUTOVER_LOOPBACK_ONLY`` refuse one that names a host or URL off loopback."""
    from .netguard import ensure_allowed, loopback_only

    if not loopback_only():
        return
    text = " ".join([step.command, step.cwd or "", *step.env.values()])
    names = {m.group(1).strip("[]") for m in _URL_HOST.finditer(text)}
    names |= {h.address for h in book.hosts.values() if h.address in text}
    for name in sorted(names):
        ensure_allowed(name, f"the local command of step {step.id}")


def _where(book: Runbook, step: Any) -> str:
    """The host a step talks to: its SSH host, the host an http step's URL names, or local."""
    named: str | None = getattr(step, "host", None)  # a step's host is a runbook host's name
    if named:
        return named
    if step.kind == "http":
        from urllib.parse import urlsplit

        address = urlsplit(step.url).hostname
        for name, host in book.hosts.items():
            if host.address == address:
                return name
    return "local"


def _row(candidate: Candidate, where: str, verdict: str, reason: str, command: str = "",
         output: str = "") -> PreflightRow:
    step = candidate.step
    return PreflightRow(candidate.shown_id, candidate.phase_id, step.title, step.kind, where,
                        verdict, reason, command, output, candidate.copies)


async def preflight(runbook: str | Path | Runbook, operator: Any, *, overrides: Any = None,
                    **kwargs: Any) -> PreflightReport:
    """Load the runbook, open transports the way a run does (``session.open_transports``) and
    run the preflight; the transports are closed after."""
    from .runbook import load_runbook
    from .session import open_transports

    book = runbook if isinstance(runbook, Runbook) else load_runbook(runbook, overrides)
    transports = open_transports(book, operator)
    try:
        return await run_preflight(book, transports.ssh, transports.web, operator=operator,
                                   masker=transports.masker, **kwargs)
    finally:
        await transports.aclose()


# ---------------------------------------------------------------------------- showing

STYLE = {OK: "green", DIFFERS_NOW: "yellow", CANNOT_PASS: "bold red", CANNOT_CHECK: "magenta"}


def render(report: PreflightReport, verbose: bool = False) -> Any:
    """A rich renderable: the table (step, phase, verdict, reason), each non-ok step's command
    and masked output under its row (every step's with ``verbose``), then the summary."""
    from rich.console import Group, RenderableType
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Preflight: the steps that change nothing, against the hosts as they "
                        "are now", title_justify="left", show_lines=False, expand=True)
    table.add_column("step", no_wrap=True)
    table.add_column("phase", no_wrap=True)
    table.add_column("where", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("reason", ratio=1, overflow="fold")
    for row in report.rows:
        step = row.step_id + (f" ×{row.copies}" if row.copies > 1 else "")
        table.add_row(step, row.phase_id, row.where, Text(row.verdict, style=STYLE[row.verdict]),
                      row.reason)
        if (row.verdict != OK or verbose) and (row.command or row.output):
            shown = (f"$ {row.command.strip()}\n" if row.command else "") + (
                row.output or "(no output)")
            table.add_row("", "", "", "", Text(shown, style="dim"), end_section=True)
    parts: list[RenderableType] = [table, Text(report.summary())]
    counts = report.counts()
    if counts[CANNOT_PASS]:
        parts.append(Text(f"cannot pass: {', '.join(report.by_verdict(CANNOT_PASS))} — these "
                          "checks look for what these hosts never print; fix the runbook "
                          "before the cutover.", style="bold red"))
    elif counts[CANNOT_CHECK]:
        parts.append(Text(f"cannot check: {', '.join(report.by_verdict(CANNOT_CHECK))} — no "
                          "answer; the preflight is incomplete.", style="magenta"))
    else:
        parts.append(Text("nothing cannot pass: every check finds what it looks for, or a value "
                          "the cutover is expected to change.", style="green"))
    if verbose and report.not_run:
        parts.append(Text("not run:\n" + "\n".join(f"  {sid:<16} phase {pid:<3} {why}"
                                                   for sid, pid, why in report.not_run),
                          style="dim"))
    return Group(*parts)


def print_report(report: PreflightReport, verbose: bool = False, file: Any = None) -> None:
    import shutil
    import sys

    from rich.console import Console

    out = file or sys.stdout
    width = None if out.isatty() else max(120, shutil.get_terminal_size((120, 40)).columns)
    Console(file=out, width=width, highlight=False, soft_wrap=False).print(
        render(report, verbose))
