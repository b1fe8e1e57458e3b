"""The ``cutover`` command. It only parses arguments and calls the core (or the wizard); heavy
modules (textual, asyncssh, pydo) are imported by the command that needs them, so ``--help``
and ``validate`` start fast."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import click

from .errors import CutoverError


def _overrides(hosts: tuple[str, ...], variables: tuple[str, ...]):
    from .runbook import Overrides

    try:
        return Overrides.from_cli(list(hosts), list(variables))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _fail(exc: CutoverError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


host_option = click.option("--host", "hosts", multiple=True, metavar="NAME=[user@]ADDR[:PORT]",
                           help="Point a runbook host elsewhere (e.g. the rehearsal world).")
var_option = click.option("--var", "variables", multiple=True, metavar="[HOST.]KEY=VALUE",
                          help="Override a runbook variable, for all hosts or one.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cutover")
def main() -> None:
    """A terminal wizard for production cutovers that keeps an honest record of them."""


@main.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@host_option
@var_option
def validate(runbook: str, hosts: tuple[str, ...], variables: tuple[str, ...]) -> None:
    """Check RUNBOOK and print its plan; exit 1 with every problem found."""
    from .errors import RunbookError
    from .runbook import load_runbook, runbook_plan_lines

    try:
        book = load_runbook(runbook, _overrides(hosts, variables))
    except RunbookError as exc:
        click.echo(f"{runbook}: {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    for line in runbook_plan_lines(book):
        click.echo(line)
    click.echo(f"\nok: {len(book.all_phases)} phases, {len(book.steps())} steps")


@main.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@click.option("--headless", is_flag=True, help="No wizard: run the steps in order and print.")
@click.option("--yes", is_flag=True, help="Headless: answer yes to confirmations (never destroys).")
@click.option("--answers", type=click.Path(dir_okay=False), help="Headless: answers file (TOML).")
@click.option("--state", type=click.Path(dir_okay=False), help="The checklist file to write/resume.")
@click.option("--operator", default=None, help="Your name, recorded with every step.")
@click.option("--phase", "phases", multiple=True, help="Headless: only these phase ids.")
@click.option("--rollback", is_flag=True, help="Headless: run the rollback procedure.")
@click.option("--verbose", "-v", is_flag=True, help="Headless: print each step's output too.")
@host_option
@var_option
def run(runbook: str, headless: bool, yes: bool, answers: str | None, state: str | None,
        operator: str | None, phases: tuple[str, ...], rollback: bool, verbose: bool,
        hosts: tuple[str, ...], variables: tuple[str, ...]) -> None:
    """Run RUNBOOK: the wizard, or --headless."""
    overrides = _overrides(hosts, variables)
    name = operator or os.environ.get("CUTOVER_OPERATOR") or getpass.getuser()
    try:
        if headless:
            import asyncio

            code = asyncio.run(_run_headless(runbook, overrides, name, yes, answers, state,
                                             list(phases), rollback, verbose))
            sys.exit(code)
        from .runbook import load_runbook

        book = load_runbook(runbook, overrides)
        from screens.app import run_wizard

        sys.exit(run_wizard(book, operator=name, state=state))
    except CutoverError as exc:
        _fail(exc)


async def _run_headless(runbook: str, overrides, name: str, yes: bool, answers: str | None,
                        state: str | None, phases: list[str], rollback: bool,
                        verbose: bool) -> int:
    from .operator import Answers, HeadlessOperator
    from .runner import phase_step_ids, printer, run_steps
    from .session import open_session

    operator = HeadlessOperator(name, yes=yes, answers=Answers.load(answers) if answers else None)
    session = open_session(runbook, operator, overrides=overrides, state=state,
                           emit=printer(click.echo, verbose))
    try:
        _print_resume(session)
        ok = await run_steps(session, phase_step_ids(session, phases, rollback), click.echo)
    finally:
        await session.aclose()
    click.echo(f"checklist: {session.checklist.path}")
    return 0 if ok else 1


def _print_resume(session) -> None:
    report = session.report
    if report.resumed:
        click.echo(f"resuming {session.checklist.path}")
    for step_id in report.interrupted:
        click.echo(f"  ! step {step_id} was running when the last session stopped: "
                   "marked interrupted, it will run again")
    for change in report.runbook_changes:
        click.echo(f"  ! {change}")


@main.command()
@click.option("--headless", is_flag=True, help="Run every phase unattended and exit.")
@click.option("--keep", type=click.Path(file_okay=False), help="Keep the world's files here.")
@click.option("--operator", default="demo-operator", help="The name recorded in the checklist.")
@click.option("--verbose", "-v", is_flag=True, help="Headless: print each step's output too.")
def demo(headless: bool, keep: str | None, operator: str, verbose: bool) -> None:
    """Rehearse the M11 runbook against an embedded world on loopback."""
    from .sandbox.demo import run_demo

    try:
        sys.exit(run_demo(headless=headless, keep=Path(keep) if keep else None,
                          operator=operator, verbose=verbose))
    except CutoverError as exc:
        _fail(exc)


@main.command()
@click.argument("checklist", type=click.Path(dir_okay=False))
@click.option("--markdown", is_flag=True, help="Print the timeline as Markdown.")
def review(checklist: str, markdown: bool) -> None:
    """Review a saved CHECKLIST (read-only)."""
    from .review import render_text

    try:
        click.echo(render_text(checklist, markdown=markdown))
    except CutoverError as exc:
        _fail(exc)


if __name__ == "__main__":  # pragma: no cover
    main()

