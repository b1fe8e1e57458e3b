"""A run record reopened by another command (``watch``, ``check``, ``approve``, ``observe``):
its runbook, pointed where the run pointed it. The record keeps the ``--host``/``--var`` the
session was opened with (``run.overrides``; a record older than that keeps at least its hosts
as ``user@address:port``), and what the command line gives now wins over them. So watching a
rehearsal's record watches the rehearsal, never the runbook's production addresses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .runbook import Overrides, Runbook, load_runbook


def recorded_hosts(run: Mapping[str, Any]) -> list[str]:
    """The run's hosts (``user@address:port`` as it recorded them) as ``--host`` values."""
    out = []
    hosts = run.get("hosts")
    for name, target in (hosts.items() if isinstance(hosts, Mapping) else ()):
        if not isinstance(target, str):
            continue
        login, _, port = target.rpartition(":")
        user, _, address = login.rpartition("@")
        address = f"[{address}]" if ":" in address else address
        out.append(f"{name}={user + '@' if user else ''}{address}{':' + port if port else ''}")
    return out


def recorded_overrides(run: Mapping[str, Any]) -> Overrides:
    """Where the run pointed its runbook, as recorded."""
    table = run.get("overrides")
    if isinstance(table, Mapping) and table:
        try:
            return Overrides.from_table(dict(table))
        except ValueError:
            pass  # a hand-damaged table: fall back to the hosts the run recorded
    try:
        return Overrides.from_cli(recorded_hosts(run), [])
    except ValueError:
        return Overrides()


def runbook_of(record: Path, run: Mapping[str, Any], runbook: str | Path | None) -> Path:
    """The runbook: ``runbook`` if given, else the one the record names (a relative path from
    here, or beside the record's folder as ``checklists/runs/`` is)."""
    named = runbook or run.get("runbook_path")
    if not isinstance(named, str | Path) or not str(named):
        raise ConfigError(f"{record} does not say which runbook it runs: give the runbook")
    path = Path(named)
    if runbook or path.is_absolute() or path.exists():
        return path
    beside = record.resolve().parent.parent / path.name
    return beside if beside.exists() else path


def reopen_runbook(record: str | Path, run: Mapping[str, Any], *,
                   runbook: str | Path | None = None, hosts: Sequence[str] = (),
                   variables: Sequence[str] = ()) -> Runbook:
    """The record's runbook, pointed where the run was, with ``hosts``/``variables`` on top;
    refused with a sentence when the runbook is another one than the record's."""
    record = Path(record)
    try:
        given = Overrides.from_cli(list(hosts), list(variables))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    book = load_runbook(runbook_of(record, run, runbook), recorded_overrides(run).under(given))
    if run.get("runbook_id") not in (None, book.runbook.id):
        raise ConfigError(f"{record} records a run of runbook {run.get('runbook_id')!r}, not "
                          f"{book.runbook.id!r}: give its runbook")
    return book
