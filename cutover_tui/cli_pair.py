"""Pair-operating commands: ``cutover observe`` (the wizard, read-only, following a run live)
and ``cutover serve`` (the same for a browser, through textual-serve), and ``share_run``, what
``cutover run --group`` does before the run starts. Registered on the ``cutover`` group by
``cli.py``; like it, they only parse and call the core (or the wizard, found through
``ui.find_wizard``)."""

from __future__ import annotations

import getpass
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .errors import CutoverError

if TYPE_CHECKING:
    from .runbook import Overrides

DEFAULT_PORT = 8000


def _name(operator: str | None) -> str:
    return operator or os.environ.get("CUTOVER_OPERATOR") or getpass.getuser()


def _fail(exc: CutoverError) -> None:
    from .masking import Masker

    click.echo(f"error: {Masker()(str(exc))}", err=True)
    sys.exit(1)


def share_run(runbook: str, overrides: Overrides, state: str | None, group: str) -> str:
    """``cutover run --group GROUP``: the run's folder (and the run's files already in it)
    given to ``group`` before anything is written; the run record's path."""
    from .runbook import load_runbook
    from .session import default_state_path
    from .sharing import run_files, share_folder

    path = Path(state) if state else default_state_path(load_runbook(runbook, overrides))
    share_folder(path.parent, group, run_files(path))
    return str(path)


runbook_option = click.option("--runbook", type=click.Path(dir_okay=False),
                              help="The runbook, when the one the record names is not there.")
var_option = click.option("--var", "variables", multiple=True, metavar="[HOST.]KEY=VALUE",
                          help="A runbook variable the run was given (for the health panel).")


@click.command()
@click.argument("record", metavar="RUN_RECORD", type=click.Path(dir_okay=False))
@click.option("--operator", default=None, help="Your name, shown to the others as observing.")
@runbook_option
@click.option("--host", "hosts", multiple=True, metavar="NAME=[user@]ADDR[:PORT]",
              help="Point a runbook host elsewhere (default: where the run recorded it).")
@var_option
def observe(record: str, operator: str | None, runbook: str | None, hosts: tuple[str, ...],
            variables: tuple[str, ...]) -> None:
    """Watch RUN_RECORD live in the wizard, read-only: every key that would change something
    says "observing: read-only"; the operators see you in their header."""
    from .observe import open_observation
    from .operator import HeadlessOperator
    from .ui import find_wizard

    name = _name(operator)
    try:
        # Opened here, so a record or runbook that cannot be read is a sentence before any
        # screen; an observer runs nothing, so it never has a question for its operator.
        session = open_observation(record, HeadlessOperator(name), runbook=runbook,
                                   hosts=hosts, variables=variables)
        sys.exit(find_wizard().observe(lambda _ui: session, name, session.book.runbook.title))
    except CutoverError as exc:
        _fail(exc)


def observe_command(record: str, operator: str, runbook: str | None,
                    variables: tuple[str, ...]) -> str:
    """The shell command textual-serve runs for each browser: ``cutover observe``."""
    words = [sys.executable, "-m", "cutover_tui.cli", "observe", str(Path(record).resolve()),
             "--operator", operator]
    if runbook:
        words += ["--runbook", str(Path(runbook).resolve())]
    for variable in variables:
        words += ["--var", variable]
    return shlex.join(words)


@click.command()
@click.argument("record", metavar="RUN_RECORD", type=click.Path(dir_okay=False))
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", "bind", default="127.0.0.1", show_default=True,
              help="The address to listen on. Keep 127.0.0.1 and reach it with "
                   "`ssh -L 8000:127.0.0.1:8000 jumphost`.")
@click.option("--public-url", default=None,
              help="The URL browsers use, when it is not http://HOST:PORT (a tunnel to "
                   "another local port).")
@click.option("--operator", default=None,
              help="The name each browser is shown as (default: yours, '(browser)').")
@runbook_option
@var_option
def serve(record: str, port: int, bind: str, public_url: str | None, operator: str | None,
          runbook: str | None, variables: tuple[str, ...]) -> None:
    """Serve RUN_RECORD's observer view to browsers (textual-serve): each browser is a
    read-only observer (`cutover observe`), bound to 127.0.0.1 unless --host says otherwise."""
    from .netguard import ensure_allowed
    from .observe import ReadOnlyChecklist
    from .reopen import runbook_of
    from .runbook import load_runbook

    try:
        ensure_allowed(bind, "cutover serve")
        run = ReadOnlyChecklist(record).read()["run"]
        load_runbook(runbook_of(Path(record), run, runbook))  # a sentence now, not per browser
    except CutoverError as exc:
        _fail(exc)
    from textual_serve.server import Server

    if bind not in ("127.0.0.1", "::1", "localhost"):
        click.echo(f"warning: serving on {bind}: anyone who reaches {bind}:{port} sees the run; "
                   "prefer 127.0.0.1 and an SSH tunnel", err=True)
    name = operator or f"{_name(None)} (browser)"
    command = observe_command(record, name, runbook, variables)
    title = f"cutover observe: {run.get('runbook_title') or record}"
    Server(command, host=bind, port=port, title=title, public_url=public_url).serve()


COMMANDS = (observe, serve)
