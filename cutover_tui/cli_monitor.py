"""The monitoring week's commands: ``cutover watch`` (unattended, all week), ``cutover check``
(one pass, for cron and CI) and ``cutover silence`` (pause a rule's notices, with a reason).
Registered on the ``cutover`` group by ``cli.py``; like it, they only parse and call the core."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .errors import CutoverError

if TYPE_CHECKING:
    from .monitor.watch import Watcher
    from .session import Session


def _name(operator: str | None, default: str) -> str:
    return operator or os.environ.get("CUTOVER_OPERATOR") or default


def _fail(exc: CutoverError) -> None:
    from .masking import Masker

    click.echo(f"error: {Masker()(str(exc))}", err=True)
    sys.exit(1)


def _open(runbook: str, state: str, hosts: tuple[str, ...], variables: tuple[str, ...],
          operator: str) -> tuple[Watcher, Session]:
    """The watcher's session on the run record ``state`` and its store beside it; the runbook
    pointed where the run pointed it (``reopen.py``), with --host/--var on top."""
    from .checklist import Checklist
    from .monitor.notify import Notifier, notify_urls
    from .monitor.store import WatchStore, store_path
    from .monitor.watch import Watcher
    from .operator import HeadlessOperator
    from .reopen import reopen_runbook
    from .session import open_session

    if not Path(state).exists():
        raise click.UsageError(f"no run record at {state}: watch a run that has started "
                               "(cutover run … --state FILE)")
    run = Checklist(state).read().get("run", {})
    book = reopen_runbook(state, run, runbook=runbook, hosts=hosts, variables=variables)
    quiet = HeadlessOperator(operator, say=lambda _text: None)
    session = open_session(book, quiet, state=state, repoint=False)  # joins the run
    store = WatchStore(store_path(state))
    notifier = Notifier(notify_urls(list(book.notify)))
    return Watcher(session, store, notifier, out=click.echo), session


host_option = click.option("--host", "hosts", multiple=True, metavar="NAME=[user@]ADDR[:PORT]",
                           help="Point a runbook host elsewhere (e.g. the rehearsal world).")
var_option = click.option("--var", "variables", multiple=True, metavar="[HOST.]KEY=VALUE",
                          help="Override a runbook variable, for all hosts or one.")
state_option = click.option("--state", required=True, type=click.Path(dir_okay=False),
                            help="The run record (checklists/runs/<runbook id>.toml).")


@click.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@state_option
@click.option("--operator", default=None, help="The name its checks are recorded by (watch).")
@host_option
@var_option
def watch(runbook: str, state: str, operator: str | None, hosts: tuple[str, ...],
          variables: tuple[str, ...]) -> None:
    """Watch the monitoring week unattended: probe every red-flag rule, run the daily checks
    when due, notify on firing and resolved (CUTOVER_NOTIFY or the runbook's notify). Runs until
    the old droplet is destroyed; run it under systemd or tmux (docs/guide.md)."""

    import asyncio
    import contextlib
    import signal

    async def main() -> int:
        try:
            watcher, session = _open(runbook, state, hosts, variables, _name(operator, "watch"))
        except CutoverError as exc:
            _fail(exc)
            return 1
        task = asyncio.current_task()
        assert task is not None  # asyncio.run's
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        try:
            return await watcher.run()
        except asyncio.CancelledError:
            click.echo("stopped; the rule states are kept, a new watcher goes on from them")
            return 0
        finally:
            with contextlib.suppress(Exception):
                await session.aclose()
            watcher.store.close()

    try:
        sys.exit(asyncio.run(main()))
    except CutoverError as exc:
        _fail(exc)


@click.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@state_option
@host_option
@var_option
def check(runbook: str, state: str, hosts: tuple[str, ...], variables: tuple[str, ...]) -> None:
    """One pass of every red-flag probe and the due daily checks, one line each. Exit 0 clean,
    1 a red flag fires, 2 something could not be checked."""
    import asyncio
    import contextlib

    from .monitor.check import check_once

    async def main() -> int:
        watcher, session = _open(runbook, state, hosts, variables, _name(None, "check"))
        try:
            report = await check_once(watcher)
        finally:
            with contextlib.suppress(Exception):
                await session.aclose()
            watcher.store.close()
        for line in report.lines:
            click.echo(f"{line.what:<24} {line.state:<16} {line.detail}")
        click.echo(f"{report.watcher}; " + ("recorded" if report.recorded else "not recorded"))
        return report.exit_code

    try:
        sys.exit(asyncio.run(main()))
    except CutoverError as exc:
        _fail(exc)


@click.command()
@click.argument("rule")
@state_option
@click.option("--for", "duration", required=True, metavar="DURATION",
              help="How long (30m, 2h, 1d); the silence ends by itself.")
@click.option("--reason", required=True, help="Why (recorded, shown in review).")
@click.option("--operator", default=None, help="Your name, recorded with the silence.")
def silence(rule: str, state: str, duration: str, reason: str, operator: str | None) -> None:
    """Pause RULE's notifications for a while, with a reason. The rule is still evaluated and
    recorded; the destroy lists silenced time instead of counting it as clean."""
    from .checklist import Checklist
    from .clock import Clock, iso
    from .durations import parse_duration
    from .monitor.record import add_silence, flag_tables

    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise click.UsageError(f"--for: {exc}") from None
    if not reason.strip():
        raise click.UsageError("--reason: say why the rule is silenced")
    if not Path(state).exists():
        raise click.UsageError(f"no run record at {state}")
    checklist = Checklist(state)
    try:
        data = checklist.read()
        known = set(flag_tables(data)) | _rules_of(data)
        if known and rule not in known:
            raise click.UsageError(f"no red-flag rule {rule!r} in {state}; rules: "
                                   f"{', '.join(sorted(known))}")
        now = Clock().time()
        name = _name(operator, getpass.getuser())
        add_silence(checklist, rule, now, now + seconds, reason.strip(), name)
    except CutoverError as exc:
        _fail(exc)
    click.echo(f"{rule} silenced until {iso(now + seconds)} by {name}: {reason.strip()}")


def _rules_of(data: dict[str, object]) -> set[str]:
    """The red-flag rules of the runbook the record was made from, when it can be read."""
    from .runbook import load_runbook

    run = data.get("run")
    path = run.get("runbook_path") if isinstance(run, dict) else None
    if not isinstance(path, str) or not Path(path).is_file():
        return set()
    try:
        return {flag.id for flag in load_runbook(path).red_flags if flag.watched}
    except CutoverError:
        return set()


COMMANDS = (watch, check, silence)
