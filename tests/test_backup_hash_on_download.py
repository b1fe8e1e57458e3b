"""Issue 14, item 5: the backup hashes the dump while it downloads (one pass over the bytes),
keeps comparing that hash with the one the host computed, and still renames ``.partial`` to the
final name only after the checks. Against the rehearsal world's SSH host (asyncssh) and, when
it is installed, OpenSSH's sshd."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
import time

import pytest

from cutover_tui.errors import SSHError
from cutover_tui.remote.inorder import InOrder
from cutover_tui.remote.ssh import SSHPool, SSHTarget
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from cutover_tui.steps import backup_verify

from . import sshd
from .helpers import RecordingOperator, backup_book
from .test_item15_bounded_waits import HANG, proxied_pool
from .test_item15_bounded_waits import one_host as one_host  # the fixture, for these tests

SIZES = [0, 1, 4095, 4096, 4097, 3 * 4096 + 17, (1 << 20) + 3]


def test_blocks_arriving_in_any_order_are_written_and_hashed_in_order():
    data = os.urandom(100 * 1000 + 7)
    blocks = [(offset, data[offset:offset + 1000]) for offset in range(0, len(data), 1000)]
    random.Random(5).shuffle(blocks)
    out, seen = io.BytesIO(), []
    sink = InOrder(out, lambda done, total: seen.append(done), len(data))
    waiting = []
    for offset, block in blocks:
        sink.add(offset, block)
        waiting.append(len(sink.early))
    assert sink.sha256("dump") == hashlib.sha256(data).hexdigest()
    assert out.getvalue() == data
    assert seen == sorted(seen) and seen[-1] == len(data)
    assert max(waiting) > 1 and waiting[-1] == 0  # blocks waited for those before them


def test_a_block_that_never_came_is_a_gap_not_a_hash():
    sink = InOrder(io.BytesIO(), None, 3000)
    sink.add(0, b"a" * 1000)
    sink.add(2000, b"c" * 1000)
    with pytest.raises(OSError, match="gap at byte 1000"):
        sink.sha256("dump")


async def download_all(pool: SSHPool, name: str, folder, tmp_path) -> None:
    rng = random.Random(14)
    for size in SIZES:
        source = folder / f"dump-{size}.bin"
        source.write_bytes(rng.randbytes(size))
        target = tmp_path / f"copy-{size}.bin"
        target.touch(mode=0o600)
        async with pool.sftp(name) as sftp:
            sha = await sftp.get_hashed(str(source), target, block_size=4096, max_requests=8,
                                        size=size if size % 2 else None)
        assert target.read_bytes() == source.read_bytes(), size
        assert sha == hashlib.sha256(source.read_bytes()).hexdigest(), size
        assert target.stat().st_mode & 0o777 == 0o600  # the mode the caller gave it


async def test_every_size_arrives_whole_with_its_sha256(one_host, tmp_path):
    host = one_host.hosts["old"]
    pool = SSHPool({"old": SSHTarget("old", host.address, host.port, "root",
                                     str(one_host.client_key), str(one_host.known_hosts))})
    try:
        await download_all(pool, "old", one_host.app_dir("old"), tmp_path)
    finally:
        await pool.close()


@pytest.mark.sshd
@pytest.mark.skipif(bool(sshd.why_unavailable()), reason="no sshd here (CI installs it)")
async def test_every_size_arrives_whole_with_its_sha256_from_openssh(tmp_path):
    server = sshd.start()
    pool = SSHPool({"box": SSHTarget("box", "127.0.0.1", server.port, server.user,
                                     str(server.client_key), str(server.known_hosts))})
    try:
        folder = tmp_path / "remote"
        folder.mkdir()
        await download_all(pool, "box", folder, tmp_path)
    finally:
        await pool.close()
        server.stop()


async def test_a_download_that_stops_moving_times_out(one_host, tmp_path):
    source = one_host.app_dir("old") / "big.bin"
    source.write_bytes(os.urandom(4 << 20))
    target = tmp_path / "copy.bin"
    target.touch(mode=0o600)
    async with proxied_pool(one_host, keepalive_interval=0, sftp_timeout=2) as (pool, proxy):
        started = time.monotonic()

        def stall_after_the_first_blocks(done: int, _total: int) -> None:
            if done >= 256 * 1024:
                proxy.stall()

        with pytest.raises(SSHError, match="SFTP"):
            async with pool.sftp("old") as sftp:
                await asyncio.wait_for(sftp.get_hashed(
                    str(source), target, block_size=64 * 1024, max_requests=4,
                    progress=stall_after_the_first_blocks), HANG)
        assert time.monotonic() - started < 30


def session_for(world, tmp_path):
    path = tmp_path / "backup.toml"
    path.write_text(backup_book())
    return open_session(load_runbook(path, world.overrides(["new"])), RecordingOperator(),
                        state=tmp_path / "run.toml", clock=world.clock, workdir=tmp_path)


async def test_the_backup_hashes_while_downloading_and_never_reads_the_dump_to_hash_it(
        world, tmp_path, monkeypatch):
    def no_second_pass(path):
        raise AssertionError(f"{path} was read again to hash it")

    monkeypatch.setattr(backup_verify, "sha256_file", no_second_pass)
    session = session_for(world, tmp_path)
    verdict = await session.engine.run_step("2.1")
    assert verdict.ok, verdict.summary
    evidence = session.checklist.step("2.1")["evidence"]
    final = evidence["local_path"]
    with open(final, "rb") as handle:
        assert evidence["sha256"] == hashlib.sha256(handle.read()).hexdigest()
    assert evidence["sha256"] in session.checklist.step("2.1")["output"]  # the host's sha256sum
    assert not list(world.backup_dir.glob("*.partial"))
    await session.aclose()


async def test_a_byte_changed_on_the_way_is_a_sha256_mismatch_and_no_backup(
        world, tmp_path, monkeypatch):
    real_add = InOrder.add

    def corrupting_add(self, offset, data):
        if offset == 0 and data:
            data = bytes([data[0] ^ 0x01]) + data[1:]
        real_add(self, offset, data)

    monkeypatch.setattr(InOrder, "add", corrupting_add)
    session = session_for(world, tmp_path)
    verdict = await session.engine.run_step("2.1")
    assert not verdict.ok and "sha256 mismatch" in verdict.summary
    assert list(world.backup_dir.glob("*.rejected"))
    assert not [p for p in world.backup_dir.iterdir()
                if p.name.endswith((".sql.gz", ".partial"))]
    await session.aclose()
