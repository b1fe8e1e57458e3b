"""A damaged dump says why (issue 11): the rehearsal world's pg_dump stand-in writes a dump cut
short (its ``pg_dump_fault``; exit status 0, the host's sha256 of it matching), and the backup
step's verification rejects it with the checking tool's own words, keeps it aside as
``.rejected``, and leaves the backup gate shut."""

from __future__ import annotations

import shutil

import pytest

from cutover_tui.runbook import load_runbook
from cutover_tui.sandbox.standins.pg_dump import FAULT_FILE
from cutover_tui.session import open_session
from cutover_tui.steps.backup import backup_gate

from .helpers import RecordingOperator, backup_book


async def damaged_backup(world, tmp_path, fmt):
    (world.root / "db" / FAULT_FILE).write_text("cut\n")
    path = tmp_path / "backup.toml"
    path.write_text(backup_book(fmt))
    session = open_session(load_runbook(path, world.overrides(["new"])), RecordingOperator(),
                           state=tmp_path / "run.toml", clock=world.clock, workdir=tmp_path)
    verdict = await session.engine.run_step("2.1")
    gate = backup_gate(session.checklist.read(), session.book, recheck_file=True)
    await session.aclose()
    [rejected] = list(world.backup_dir.glob("*.rejected"))
    assert [p for p in world.backup_dir.iterdir() if p != rejected] == []
    assert gate == "backup step 2.1 has not produced a verified backup"
    return verdict, rejected


async def test_a_custom_dump_cut_short_is_rejected_in_pg_restores_own_words(world, tmp_path):
    if shutil.which("pg_restore") is None:
        pytest.skip("pg_restore (postgresql-client) is not installed here")
    verdict, rejected = await damaged_backup(world, tmp_path, "custom")
    assert not verdict.ok
    assert verdict.summary == (
        "the backup failed verification: pg_restore --list rejects the dump: pg_restore: "
        "error: could not read from input file: end of file; kept as "
        f"{rejected} for inspection, not as a backup")


async def test_a_plain_dump_cut_inside_a_tables_data_is_rejected_naming_the_table(world,
                                                                                  tmp_path):
    verdict, rejected = await damaged_backup(world, tmp_path, "sql.gz")
    assert not verdict.ok
    assert verdict.summary == (
        "the backup failed verification: the dump ends inside the data of table roles: it is "
        f"truncated; kept as {rejected} for inspection, not as a backup")
