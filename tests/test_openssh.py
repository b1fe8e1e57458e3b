"""Our SSH transport against OpenSSH's sshd (installed by .ci/run): commands, the channel limit
that sshd's MaxSessions enforces, and SFTP. The step kinds themselves (the .env edit through
the engine, a changed host key) run against sshd in test_openssh_steps.py."""

import asyncio

import pytest

from cutover_tui.remote.ssh import SSHPool, SSHTarget

from . import sshd

pytestmark = pytest.mark.sshd

UNAVAILABLE = sshd.why_unavailable()
if UNAVAILABLE:
    pytest.skip(f"skipped: {UNAVAILABLE} (CI installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    s = sshd.start(max_sessions=10)
    yield s
    s.stop()


def pool_for(server):
    return SSHPool({"box": SSHTarget("box", "127.0.0.1", server.port, server.user,
                                     str(server.client_key), str(server.known_hosts))})


async def test_commands_stream_and_report_exit_status(server):
    pool = pool_for(server)
    lines = []
    result = await pool.run("box", "echo one; echo two >&2; exit 4", on_line=lines.append)
    await pool.close()
    assert result.exit_status == 4
    assert sorted(lines) == ["one", "two"]


async def test_thirty_concurrent_commands_share_one_connection_within_max_sessions(server):
    pool = pool_for(server)
    results = await asyncio.gather(*[pool.run("box", f"sleep 0.2; echo {i}")
                                     for i in range(30)])
    # The last line: root's ~/.bashrc on this machine (pyenv) may print to stderr first, as a
    # droplet's shell start-up files may; that is not what this test is about.
    assert [r.output.splitlines()[-1] for r in results] == [str(i) for i in range(30)]
    assert all(r.exit_status == 0 for r in results)
    assert len(pool._connections) == 1
    await pool.close()


async def test_sftp_round_trip_and_atomic_rename(server, tmp_path):
    target = tmp_path / "app.env"
    target.write_text("A=1\n")
    pool = pool_for(server)
    async with pool.sftp("box") as sftp:
        async with sftp.open(str(target) + ".tmp", "wb") as handle:
            await handle.write(b"A=2\n")
        await sftp.posix_rename(str(target) + ".tmp", str(target))
    await pool.close()
    assert target.read_text() == "A=2\n"
