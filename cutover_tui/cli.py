"""The ``cutover`` command: the one composition root. It only parses arguments and calls the
core, or the wizard, which it finds through the ``cutover.ui`` entry point (``ui.py``) and
never imports. Heavy modules (asyncssh, pydo; textual in the wizard) are imported by the command
that needs them, so ``--help`` and ``validate`` start fast.

Two documents, never mixed: a RUNBOOK (``checklists/*.toml``, written by people) says what to do;
the run record (``checklists/runs/*.toml``, written only by the tool; the code calls it the
checklist) says what was done."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .errors import CutoverError
from .gcpause import pause_start, resume

if TYPE_CHECKING:
    from .runbook import Overrides, Runbook
    from .session import Session


def _overrides(hosts: tuple[str, ...], variables: tuple[str, ...]) -> Overrides:
    from .runbook import Overrides

    try:
        return Overrides.from_cli(list(hosts), list(variables))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _fail(exc: CutoverError) -> None:
    from .masking import Masker
    click.echo(f"error: {Masker()(str(exc))}", err=True)
    sys.exit(1)


host_option = click.option("--host", "hosts", multiple=True, metavar="NAME=[user@]ADDR[:PORT]",
                           help="Point a runbook host elsewhere (e.g. the rehearsal world).")
var_option = click.option("--var", "variables", multiple=True, metavar="[HOST.]KEY=VALUE",
                          help="Override a runbook variable, for all hosts or one.")


def _parse_skips(_ctx: click.Context, _param: click.Parameter,
                 values: tuple[str, ...]) -> dict[str, str]:
    from .runner import parse_skips

    try:
        return parse_skips(values)
    except CutoverError as exc:
        raise click.UsageError(str(exc)) from None


def _check_skips(book: Runbook | None, skips: dict[str, str], step_ids: list[str],
                 headless: bool) -> None:
    """Exit 2 (usage) unless every --skip names a step this headless run goes through."""
    from .runner import check_skips

    if skips and not headless:
        raise click.UsageError("--skip is for --headless runs; in the wizard, select the step "
                               "and press s")
    if not skips or book is None:  # (a headless run passes its runbook)
        return
    try:
        check_skips(book, skips, step_ids)
    except CutoverError as exc:
        raise click.UsageError(str(exc)) from None


skip_option = click.option("--skip", "skips", multiple=True, metavar="STEP_ID=REASON",
                           callback=_parse_skips,
                           help="Headless: skip this step, recording the reason (repeatable).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cutover")
def main() -> None:
    """A terminal wizard for production cutovers that keeps an honest record of them.

    \b
    RUNBOOK     what to do: checklists/*.toml, written by people (cutover validate)
    run record  what was done: checklists/runs/*.toml, written only by cutover
                (the wizard's "checklist"; cutover review)"""
    pause_start(click.get_current_context())  # until the wizard's first frame (gcpause.py)


@main.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@host_option
@var_option
def validate(runbook: str, hosts: tuple[str, ...], variables: tuple[str, ...]) -> None:
    """Check RUNBOOK (checklists/*.toml) and print its plan; exit 1 with every problem found."""
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
@click.option("--state", type=click.Path(dir_okay=False),
              help="The run record to write or resume (default: checklists/runs/<runbook id>.toml "
                   "beside the runbook).")
@click.option("--operator", default=None, help="Your name, recorded with every step.")
@click.option("--group", default=None, help="Share the run's folder with this Unix group "
              "(setgid, files 0660, never the world's): teammates run or observe it as themselves.")
@click.option("--phase", "phases", multiple=True, help="Headless: only these phase ids.")
@click.option("--rollback", is_flag=True, help="Headless: run the rollback procedure.")
@click.option("--verbose", "-v", is_flag=True, help="Headless: print each step's output too.")
@skip_option
@host_option
@var_option
def run(runbook: str, headless: bool, yes: bool, answers: str | None, state: str | None,
        operator: str | None, group: str | None, phases: tuple[str, ...], rollback: bool, verbose: bool,
        skips: dict[str, str], hosts: tuple[str, ...], variables: tuple[str, ...]) -> None:
    """Run RUNBOOK (checklists/*.toml): the wizard, or --headless; the run record goes to
    checklists/runs/ (see --state)."""
    overrides = _overrides(hosts, variables)
    if not headless:
        _check_skips(None, skips, [], headless=False)  # --skip is headless only
    name = operator or os.environ.get("CUTOVER_OPERATOR") or getpass.getuser()
    try:
        if group:
            from .cli_pair import share_run

            state = share_run(runbook, overrides, state, group)
        if headless:
            import asyncio

            resume()  # guard: gc-resumed-headless
            code = asyncio.run(_run_headless(runbook, overrides, name, yes, answers, state,
                                             list(phases), rollback, verbose, skips))
            sys.exit(code)
        from .runbook import load_runbook
        from .ui import find_wizard

        book = load_runbook(runbook, overrides)
        sys.exit(find_wizard().run(book, operator=name, state=state))
    except CutoverError as exc:
        _fail(exc)


async def _run_headless(runbook: str, overrides: Overrides, name: str, yes: bool, answers: str | None,
                        state: str | None, phases: list[str], rollback: bool,
                        verbose: bool, skips: dict[str, str] | None = None) -> int:
    from .operator import Answers, HeadlessOperator
    from .runbook import load_runbook
    from .runner import format_counts, phase_step_ids, printer, run_steps, summary
    from .session import open_session

    book = load_runbook(runbook, overrides)
    step_ids = phase_step_ids(book, phases, rollback)
    _check_skips(book, skips or {}, step_ids, headless=True)
    script = Answers.load(answers) if answers else None
    if script is not None:
        script.check_steps([step.id for _, step in book.steps()])
    operator = HeadlessOperator(name, yes=yes, answers=script)
    show = printer(click.echo, verbose)  # -v: output in batches; ``show.echo`` prints after it
    session = open_session(book, operator, state=state, emit=show)
    operator.say = lambda text: show.echo(session.engine.masker(text))  # questions, diffs
    try:
        _print_resume(session)
        ok = await run_steps(session, step_ids, show.echo, skips)
    finally:
        await session.aclose()
    counts, _ = summary(session, step_ids)
    click.echo(f"summary: {format_counts(counts)} of {len(step_ids)} steps")
    click.echo(f"checklist: {session.checklist.path}")
    return 0 if ok else 1


def _print_resume(session: Session) -> None:
    report = session.report
    if report.resumed:
        click.echo(f"resuming {session.checklist.path}")
    for step_id in report.interrupted:
        click.echo(f"  ! step {step_id} was running when the last session stopped: "
                   "marked interrupted, it will run again")
    for change in report.runbook_changes:
        click.echo(f"  ! {change}")


@main.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@click.option("--verbose", "-v", is_flag=True,
              help="Show every step's output, and the steps not run and why.")
@host_option
@var_option
def preflight(runbook: str, verbose: bool, hosts: tuple[str, ...],
              variables: tuple[str, ...]) -> None:
    """Before the cutover: run every step of RUNBOOK that changes nothing against the hosts as
    they are now; each is ok, differs now or cannot pass (or cannot check: no answer).

    Exit 0 when no step cannot pass, 1 when one cannot (fix the runbook first), 2 when none
    cannot pass but some could not be checked."""
    import asyncio

    from .operator import HeadlessOperator
    from .preflight import preflight as run_preflight
    from .preflight import print_report

    overrides = _overrides(hosts, variables)
    name = os.environ.get("CUTOVER_OPERATOR") or getpass.getuser()
    operator = HeadlessOperator(name, say=lambda text: click.echo(text, err=True))
    try:
        report = asyncio.run(run_preflight(runbook, operator, overrides=overrides))
    except CutoverError as exc:
        _fail(exc)
    print_report(report, verbose)
    sys.exit(report.exit_code)


@main.command()
@click.option("--headless", is_flag=True, help="Run every phase unattended and exit.")
@click.option("--keep", type=click.Path(file_okay=False), help="Keep the world's files here.")
@click.option("--operator", default="demo-operator", help="The name recorded in the run record.")
@click.option("--verbose", "-v", is_flag=True, help="Headless: print each step's output too.")
@click.option("--sshd", "use_sshd", is_flag=True,
              help="Serve the rehearsal hosts with this machine's OpenSSH sshd (needs root).")
@click.option("--preflight", "preflight_only", is_flag=True,
              help="Only `cutover preflight` against a fresh rehearsal world, then exit.")
@click.option("--runbook", "preflight_runbook", type=click.Path(dir_okay=False, exists=True),
              help="With --preflight: the runbook to preflight (default: the M11 runbook).")
@click.option("--incident", type=click.Choice(["health", "scraper", "database", "dashboard",
                                               "error-rate"]),
              help="Headless: inject this red flag's incident on day 4 of the watched week; "
                   "exit 0 only if it fires, is notified, shuts the destroy and the rollback "
                   "brings the old production back.")
@skip_option
def demo(preflight_only: bool, preflight_runbook: str | None, incident: str | None,
         headless: bool, keep: str | None, operator: str, verbose: bool, use_sshd: bool,
         skips: dict[str, str]) -> None:
    """Rehearse the M11 runbook against an embedded world on loopback."""
    from .sandbox.demo import run_demo

    if headless or preflight_only:
        resume()  # guard: gc-resumed-demo-headless

    if use_sshd:
        from .sandbox.sshhost import sshd_available

        if (why := sshd_available()) is not None:
            click.echo(f"cutover demo --sshd: {why}", err=True)
            sys.exit(2)
    if preflight_runbook and not preflight_only:
        raise click.UsageError("--runbook goes with --preflight")
    if incident:
        if not headless or preflight_only or skips:
            raise click.UsageError("--incident goes with --headless (and no --preflight, --skip)")
        from .sandbox.incident_demo import run_demo_incident

        try:
            sys.exit(run_demo_incident(incident, Path(keep) if keep else None, operator,
                                       verbose, server="sshd" if use_sshd else "asyncssh"))
        except CutoverError as exc:
            _fail(exc)
    if preflight_only:
        from .sandbox.demo import M11, run_demo_preflight

        try:
            sys.exit(run_demo_preflight(Path(preflight_runbook) if preflight_runbook else M11,
                                        keep=Path(keep) if keep else None, verbose=verbose,
                                        server="sshd" if use_sshd else "asyncssh"))
        except CutoverError as exc:
            _fail(exc)
    try:
        if skips:
            from .runbook import load_runbook
            from .sandbox.demo import M11, demo_order

            book = load_runbook(M11)
            _check_skips(book, skips, demo_order(book), headless)
        from .ui import find_wizard

        wizard = None if headless else find_wizard()
        sys.exit(run_demo(headless=headless, keep=Path(keep) if keep else None,
                          operator=operator, verbose=verbose, skips=skips,
                          server="sshd" if use_sshd else "asyncssh", wizard=wizard))
    except CutoverError as exc:
        _fail(exc)


@main.command()
@click.argument("record", metavar="RUN_RECORD", type=click.Path(dir_okay=False))
@click.option("--reason", required=True,
              help="The root cause and how it was fixed (recorded with the archived attempt).")
@click.option("--operator", default=None, help="Your name, recorded with the re-attempt.")
def reattempt(record: str, reason: str, operator: str | None) -> None:
    """After a rollback has reached its safe state, re-attempt the cutover as attempt N+1: the
    rollback's and the reopened phases' records (from the rollback's reattempt_from on) are
    archived and shown by review; those steps are pending again. Then run the runbook again."""
    from .attempts import reattempt as reattempt_cutover
    from .checklist import Checklist

    name = operator or os.environ.get("CUTOVER_OPERATOR") or getpass.getuser()
    try:
        done = reattempt_cutover(Checklist(record), reason, by=name)
    except CutoverError as exc:
        _fail(exc)
    click.echo(done.sentence())
    click.echo(f"next: cutover run RUNBOOK --state {record} (phase {done.phases[0]} first)")


@main.command()
@click.argument("record", metavar="RUN_RECORD", type=click.Path(dir_okay=False))
@click.option("--text", "as_text", is_flag=True, help="Print the timeline as text.")
@click.option("--markdown", is_flag=True, help="Print the timeline as Markdown.")
@click.option("--html", "html_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the run as one self-contained HTML page, for the post-mortem.")
@click.option("--verify", is_flag=True, help="Check the run's journal against the record: exit "
                                             "0 if intact, 1 naming the first entry that is not.")
@click.option("--journal", "show_journal", is_flag=True, help="Print the run's journal.")
def review(record: str, as_text: bool, markdown: bool, html_file: str | None, verify: bool,
           show_journal: bool) -> None:
    """Review a saved RUN_RECORD (checklists/runs/*.toml): its timeline, read-only; on a
    terminal as a screen (filters o/f), printed as text on a pipe or with --text."""
    from .review import review_on_screen, review_output

    chosen = sum((as_text, markdown, bool(html_file), verify, show_journal))
    if chosen > 1:
        raise click.UsageError("choose one of --text, --markdown, --html, --verify, --journal")
    if not chosen and sys.stdout.isatty() and sys.stdin.isatty():  # a screen needs both
        shown = review_on_screen(record)
        if shown is not None:
            sys.exit(shown)
    try:
        code, text = review_output(record, markdown=markdown, html=html_file, verify=verify,
                                   journal=show_journal)
    except CutoverError as exc:
        _fail(exc)
    click.echo(text)
    sys.exit(code)


@main.command()
@click.argument("record", metavar="RUN_RECORD", type=click.Path(dir_okay=False))
@click.argument("step_id")
@click.option("--operator", default=None, help="Your name: not the one who runs the step.")
@click.option("--for", "for_operator", default="", metavar="NAME",
              help="Only NAME may run the step on this approval (default: anyone but you).")
@click.option("--yes", is_flag=True, help="Record it without asking (it is printed still).")
@click.option("--runbook", type=click.Path(dir_okay=False),
              help="The runbook, when the one the record names is not there.")
@host_option
@var_option
def approve(record: str, step_id: str, operator: str | None, for_operator: str, yes: bool,
            runbook: str | None, hosts: tuple[str, ...], variables: tuple[str, ...]) -> None:
    """Co-sign STEP_ID of RUN_RECORD (four eyes, `cosign = true`): its plan, droplet and
    preconditions are read now and printed, and your approval of exactly that is recorded with
    the step: void if any of it changes, a red flag fires, or after 15 minutes; never for your
    own step. The hosts are those the run recorded (see --host)."""
    import asyncio

    from .cosign import approve_interactively

    name = operator or os.environ.get("CUTOVER_OPERATOR") or getpass.getuser()
    try:
        approval = asyncio.run(approve_interactively(
            record, step_id, name, for_operator=for_operator, yes=yes, runbook=runbook,
            hosts=hosts, variables=variables, confirm=click.confirm, out=click.echo))
    except CutoverError as exc:
        _fail(exc)
    if approval is None:
        click.echo("not approved: nothing recorded")
        sys.exit(1)
    click.echo(f"approved {step_id} as {name} ({approval.account}) at {approval.at} for "
               f"{approval.for_operator or 'any operator but ' + name}; hash {approval.hash[:16]}")


def _add_monitor_commands() -> None:
    from .cli_monitor import COMMANDS
    from .cli_pair import COMMANDS as PAIR_COMMANDS  # observe, serve

    for command in (*COMMANDS, *PAIR_COMMANDS):
        main.add_command(command)


_add_monitor_commands()


if __name__ == "__main__":  # pragma: no cover
    main()

