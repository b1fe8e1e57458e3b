"""Issue 16, item 12: the downloaded dump is private here as on the host (folder 0700, files
0600), and pg_dump gets the URL's libpq options (sslmode, sslrootcert, …) — the password still
never in argv. Against the rehearsal world's pg_dump stand-in, which refuses what pg_dump
refuses; tests/test_backup_pg.py has the same against a real PostgreSQL."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import asyncssh
import pytest

from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session

from .helpers import RecordingOperator, backup_book, file_mode


def world_backup_session(world, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "backup.toml"
    path.write_text(backup_book())
    return open_session(load_runbook(path, world.overrides(["new"])), RecordingOperator(),
                        state=tmp_path / "run.toml", clock=world.clock, workdir=tmp_path)


def set_database_query(world, query: str) -> None:
    env = world.app_dir("new") / ".env"
    text = re.sub(r"^(DATABASE_URL=[^?\n]*)(\?[^\n]*)?$", rf"\g<1>?{query}", env.read_text(),
                  flags=re.MULTILINE)
    env.write_text(text)


async def test_item12_backup_folder_and_files_are_private(world, tmp_path):
    """The local folder ends 0700 (an existing 0755 one too) and the dump 0600, whatever the
    umask: the dump is the whole database."""
    world.backup_dir.mkdir(parents=True, exist_ok=True)
    world.backup_dir.chmod(0o755)
    old_umask = os.umask(0o022)
    try:
        session = world_backup_session(world, tmp_path)
        verdict = await session.engine.run_step("2.1")
        await session.aclose()
    finally:
        os.umask(old_umask)
    assert verdict.ok, verdict.summary
    dump = Path(session.checklist.step("2.1")["evidence"]["local_path"])
    assert file_mode(world.backup_dir) == 0o700
    assert file_mode(dump) == 0o600


async def test_item12_pg_dump_keeps_the_urls_libpq_options(world, tmp_path):
    """The rehearsal database is a managed one (SSL only, its own CA). A verify-full URL is
    verified against the sslrootcert it names — so a missing root certificate fails, as with
    the real pg_dump, instead of silently connecting unverified."""
    ca = world.root / "db" / "ca-certificate.crt"
    set_database_query(world, f"sslmode=verify-full&sslrootcert={ca}&connect_timeout=10")
    session = world_backup_session(world, tmp_path)
    verdict = await session.engine.run_step("2.1")
    await session.aclose()
    assert verdict.ok, verdict.summary
    command = session.checklist.step("2.1")["command"]
    assert f"sslmode=verify-full&sslrootcert={ca}&connect_timeout=10" in command
    assert world.db_password not in command

    set_database_query(world, "sslmode=verify-full&sslrootcert=/nonexistent/root.crt")
    session = world_backup_session(world, tmp_path / "again")
    verdict = await session.engine.run_step("2.1")
    await session.aclose()
    assert not verdict.ok
    assert 'root certificate file "/nonexistent/root.crt" does not exist' in verdict.summary


@pytest.mark.parametrize("conninfo", [
    "postgresql://doadmin@127.0.0.1:25060/air_demand?bogus=1",
    "postgresql://doadmin@127.0.0.1:25060/air_demand?sslmode=verify-everything",
    "postgresql://doadmin@127.0.0.1:25060/air_demand?ssl=false",
    "host=127.0.0.1 port=25060 foo=bar",
])
async def test_item12_standin_refuses_what_pg_dump_refuses(world, conninfo):
    real = shutil.which("pg_dump")
    if real is None:
        pytest.skip("pg_dump is not installed here")
    expected = subprocess.run([real, "--no-password", "-d", conninfo, "-f", "/dev/null"],
                              capture_output=True, text=True)
    host = world.hosts["new"]
    async with asyncssh.connect(host.address, host.port, username="root",
                                client_keys=[str(world.client_key)],
                                known_hosts=str(world.known_hosts)) as conn:
        standin = await conn.run(f"pg_dump --no-password -d {shlex.quote(conninfo)}")
    assert expected.returncode == standin.exit_status == 1
    assert standin.stderr == expected.stderr
