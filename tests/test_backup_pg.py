"""The backup step against a real PostgreSQL cluster, reached through a real SSH server on
loopback (the rehearsal host, with the real pg_dump instead of its stand-in)."""

import re
import secrets
import subprocess
import threading

import pytest

from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from cutover_tui.steps.backup import backup_gate

from . import pgcluster
from .helpers import RecordingOperator, backup_book

pytestmark = pytest.mark.postgres

UNAVAILABLE = pgcluster.why_unavailable()
if UNAVAILABLE:
    pytest.skip(f"skipped: {UNAVAILABLE} (CI installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def cluster():
    c = pgcluster.start(password="pw-" + secrets.token_hex(12))
    pgcluster.load_air_demand(c)
    c.psql(f"CREATE DATABASE scratch OWNER {c.user}")
    yield c
    c.stop()


@pytest.fixture
async def pg_world(world, cluster):
    # The host runs the real pg_dump: take the stand-in off its PATH.
    (world.bin_dir / "pg_dump").unlink()
    env = world.app_dir("new") / ".env"
    text = re.sub(r"^DATABASE_URL=.*$", f"DATABASE_URL={cluster.url()}", env.read_text(),
                  flags=re.MULTILINE)
    env.write_text(text)
    return world


def session_for(world, tmp_path, fmt):
    path = tmp_path / "backup.toml"
    path.write_text(backup_book(fmt, roles=(740, 750)))
    return open_session(load_runbook(path, world.overrides(["new"])), RecordingOperator(),
                        state=tmp_path / "run.toml", clock=world.clock, workdir=tmp_path)


@pytest.mark.parametrize("fmt", ["custom", "sql.gz"])
async def test_backup_is_verified_and_restored(pg_world, cluster, tmp_path, monkeypatch, fmt):
    monkeypatch.setenv("CUTOVER_SCRATCH_DATABASE_URL", cluster.url("scratch"))
    session = session_for(pg_world, tmp_path, fmt)
    verdict = await session.engine.run_step("2.1")
    assert verdict.ok, verdict.summary
    evidence = session.checklist.step("2.1")["evidence"]
    assert evidence["tables"] == 9 and evidence["verified"] is True
    assert evidence["restore_check"] == "passed"
    assert evidence["restored_row_counts"] == {"roles": 747}
    local = evidence["local_path"]
    assert local.endswith(".dump" if fmt == "custom" else ".sql.gz")
    assert not list((pg_world.backup_dir).glob("*.partial"))
    assert backup_gate(session.checklist.read(), session.book, recheck_file=True) is None
    await session.aclose()


async def test_one_corrupt_byte_fails_verification_and_keeps_the_gate_shut(
        pg_world, cluster, tmp_path, monkeypatch):
    from cutover_tui.steps import backup

    real_download = backup.download

    async def corrupting_download(ctx, host, remote_path, local, size):
        await real_download(ctx, host, remote_path, local, size)
        data = bytearray(local.read_bytes())
        data[len(data) // 2] ^= 0x01
        local.write_bytes(bytes(data))

    monkeypatch.setattr(backup, "download", corrupting_download)
    session = session_for(pg_world, tmp_path, "custom")
    verdict = await session.engine.run_step("2.1")
    assert not verdict.ok and "sha256 mismatch" in verdict.summary
    assert list(pg_world.backup_dir.glob("*.rejected"))
    assert not list(pg_world.backup_dir.glob("*.dump"))
    assert "has not produced a verified backup" in backup_gate(session.checklist.read(),
                                                               session.book, True)
    await session.aclose()


async def test_the_password_is_in_no_process_argument_log_or_checklist(pg_world, cluster,
                                                                       tmp_path):
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            seen.append(out)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        session = session_for(pg_world, tmp_path, "custom")
        verdict = await session.engine.run_step("2.1")
    finally:
        stop.set()
        watcher.join()
    assert verdict.ok, verdict.summary
    assert any("pg_dump" in snapshot for snapshot in seen), "the watcher saw pg_dump run"
    assert not any(cluster.password in snapshot for snapshot in seen)
    for written in (tmp_path / "run.toml", tmp_path / "run.journal"):
        assert cluster.password not in written.read_text()
    record = session.checklist.step("2.1")
    assert "IFS= read -r PGPASSWORD" in record["command"]
    await session.aclose()


async def test_a_wrong_password_fails_with_a_sentence(pg_world, cluster, tmp_path):
    env = pg_world.app_dir("new") / ".env"
    env.write_text(env.read_text().replace(cluster.password, "not-the-password"))
    session = session_for(pg_world, tmp_path, "custom")
    verdict = await session.engine.run_step("2.1")
    assert not verdict.ok and "pg_dump on new failed" in verdict.summary
    assert "password authentication failed" in verdict.output
    await session.aclose()


# ---------------------------------------------------------------------------- issue 16, item 12


@pytest.fixture(scope="module")
def tls_cluster():
    c = pgcluster.start(password="pw-" + secrets.token_hex(12), tls=True)
    pgcluster.load_air_demand(c)
    yield c
    c.stop()


def point_database_url(world, url: str) -> None:
    env = world.app_dir("new") / ".env"
    env.write_text(re.sub(r"^DATABASE_URL=.*$", f"DATABASE_URL={url}", env.read_text(),
                          flags=re.MULTILINE))


async def test_item12_real_pg_dump_keeps_the_urls_sslmode(pg_world, cluster, tmp_path):
    """This cluster has no SSL: a URL that requires it must fail as pg_dump fails (before the
    fix the query string was dropped, and the dump went through unencrypted)."""
    point_database_url(pg_world, cluster.url() + "?sslmode=require")
    session = session_for(pg_world, tmp_path, "custom")
    verdict = await session.engine.run_step("2.1")
    await session.aclose()
    assert not verdict.ok
    assert "server does not support SSL, but SSL was required" in verdict.summary
    point_database_url(pg_world, cluster.url() + "?sslmode=disable&application_name=cutover"
                                                 "&connect_timeout=10")
    session = session_for(pg_world, tmp_path, "custom")
    verdict = await session.engine.run_step("2.1")
    await session.aclose()
    assert verdict.ok, verdict.summary
    assert cluster.password not in session.checklist.step("2.1")["command"]


async def test_item12_real_pg_dump_verifies_the_server_against_sslrootcert(world, tls_cluster,
                                                                           tmp_path):
    (world.bin_dir / "pg_dump").unlink()
    own_ca = tls_cluster.directory / "ca.crt"
    point_database_url(world, tls_cluster.url() + f"?sslmode=verify-full&sslrootcert={own_ca}")
    session = session_for(world, tmp_path, "custom")
    verdict = await session.engine.run_step("2.1")
    await session.aclose()
    assert verdict.ok, verdict.summary
    (tmp_path / "other").mkdir()
    other_ca, _, _ = pgcluster.make_tls(tmp_path / "other", ca_name="another CA")
    point_database_url(world, tls_cluster.url() + f"?sslmode=verify-full&sslrootcert={other_ca}")
    session = session_for(world, tmp_path, "custom")
    verdict = await session.engine.run_step("2.1")
    await session.aclose()
    assert not verdict.ok and "certificate verify failed" in verdict.summary
