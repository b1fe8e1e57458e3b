"""Rehearsal hosts behave like OpenSSH hosts (issue 10): each command is `bash -c` in a real
process that the host's own ps/pgrep see; closing a channel does not kill the command; our
transport stops what it stops watching; nothing of ours is left on a host.

Every test runs against both servers: the in-process asyncssh host, and OpenSSH's sshd serving
the same host (skipped, with the reason, where sshd cannot run here; CI installs it)."""

from __future__ import annotations

import asyncio

import asyncssh
import pytest

from cutover_tui.clock import MovableClock
from cutover_tui.remote.ssh import SSHPool, SSHTarget
from cutover_tui.sandbox.hostenv import UNITS
from cutover_tui.sandbox.procspace import namespaces_available
from cutover_tui.sandbox.sshhost import sshd_available
from cutover_tui.sandbox.world import World

SERVERS = [
    pytest.param("asyncssh", id="asyncssh"),
    pytest.param("sshd", id="sshd", marks=[
        pytest.mark.sshd,
        pytest.mark.skipif(sshd_available() is not None,
                           reason=f"skipped: {sshd_available()} (CI installs it)"),
    ]),
]


@pytest.fixture(params=SERVERS)
async def one_host(request, tmp_path):
    w = World(tmp_path / "world", MovableClock(state_file=tmp_path / "world" / "clock.json"),
              hosts=("old",), action_seconds=0.05, server=request.param)
    await w.start()
    w.trust_host_keys()
    try:
        yield w
        # After every test: nothing of ours left on the host, only its services (and sshd).
        assert await w.wait_no_leftovers() == {}
    finally:
        await w.stop()
        assert not w.hosts["old"].space.pids(), "processes left after the world stopped"


def pool_for(world: World) -> SSHPool:
    host = world.hosts["old"]
    return SSHPool({"old": SSHTarget("old", host.address, host.port, "root",
                                     str(world.client_key), str(world.known_hosts))})


async def raw_run(world: World, command: str) -> asyncssh.SSHCompletedProcess:
    host = world.hosts["old"]
    async with asyncssh.connect(host.address, host.port, username="root",
                                client_keys=[str(world.client_key)],
                                known_hosts=str(world.known_hosts)) as conn:
        return await conn.run(command)


def host_commands(world: World) -> list[str]:
    """Command lines of the host's processes, seen from outside the host."""
    lines = []
    for pid in world.hosts["old"].space.pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                lines.append(handle.read().replace(b"\0", b" ").decode().strip())
        except OSError:
            continue
    return lines


async def test_the_seeds_ps_grep_finds_grep_itself(one_host):
    # Seed 5.1 runs `ps aux | grep -E "(uvicorn|python|air-demand)"`: on a droplet that always
    # prints at least the grep, whatever else runs. The rehearsal must not hide it.
    await raw_run(one_host, "systemctl stop air-demand-scheduler air-demand-api "
                            "air-demand-dashboard")
    result = await raw_run(one_host, 'ps aux | grep -E "(uvicorn|air-demand)"')
    assert result.exit_status == 0
    assert 'grep -E (uvicorn|air-demand)' in result.stdout


async def test_pgrep_sees_the_shell_that_called_it(one_host):
    # What failed 5.1-processes on real hosts: the calling `bash -c` matches its own pattern.
    result = await raw_run(one_host, "pgrep -af 'uvicorn|air-demand' || echo 'no app processes'")
    assert "bash -c pgrep -af 'uvicorn|air-demand'" in result.stdout
    # The bracket idiom does not match itself, and still finds the running services.
    services = await raw_run(one_host, "pgrep -af '[u]vicorn|[a]ir-demand'")
    assert sorted(u for u in UNITS if u in services.stdout) == sorted(UNITS)
    assert "pgrep -af" not in services.stdout


async def test_a_host_sees_only_its_own_processes(tmp_path):
    w = World(tmp_path / "world", MovableClock(state_file=tmp_path / "world" / "clock.json"),
              action_seconds=0.05)
    await w.start()
    w.trust_host_keys()
    try:
        async with asyncssh.connect(w.hosts["old"].address, w.hosts["old"].port,
                                    username="root", client_keys=[str(w.client_key)],
                                    known_hosts=str(w.known_hosts)) as conn:
            await conn.run("systemctl stop air-demand-api")
            result = await conn.run("pgrep -af '[a]ir-demand-api'")
        # The new host's API still runs, but not on this host.
        assert result.exit_status == 1, result.stdout
    finally:
        await w.stop()


async def test_closing_a_channel_does_not_kill_the_command(one_host):
    host = one_host.hosts["old"]
    async with asyncssh.connect(host.address, host.port, username="root",
                                client_keys=[str(one_host.client_key)],
                                known_hosts=str(one_host.known_hosts)) as conn:
        process = await conn.create_process("sleep 987001")
        await asyncio.sleep(0.3)
        process.close()
        await asyncio.sleep(0.5)
        # OpenSSH sends nothing to the command: it runs on after its channel is gone.
        assert any("sleep 987001" in line for line in host_commands(one_host))
        await conn.run("pkill -f 'sleep 98700[1]'")


async def test_seed_tail_f_hangs_as_on_a_droplet(one_host):
    pool = pool_for(one_host)
    try:
        result = await pool.run("old", "tail -f /dev/null", timeout=1)
    finally:
        await pool.close()
    assert result.timed_out


async def test_follow_seconds_stops_the_remote_command(one_host):
    # 4.3's `journalctl -u … -f` watched for a while must not be left running on the host.
    pool = pool_for(one_host)
    lines: list[str] = []
    try:
        result = await pool.run("old", "journalctl -u air-demand-api -f", follow_seconds=1,
                                on_line=lines.append)
    finally:
        await pool.close()
    assert result.exit_status is None and not result.timed_out
    assert lines, "the followed command printed nothing"
    assert not any("journalctl" in line for line in host_commands(one_host))


async def test_a_timed_out_command_is_stopped_even_if_it_ignores_sigterm(one_host):
    pool = pool_for(one_host)
    try:
        result = await pool.run("old", "trap '' TERM; sleep 987002; sleep 987003", timeout=1)
    finally:
        await pool.close()
    assert result.timed_out
    assert not any("98700" in line for line in host_commands(one_host))


async def test_a_cancelled_command_is_stopped(one_host):
    pool = pool_for(one_host)
    task = asyncio.create_task(pool.run("old", "sleep 987004", timeout=60))
    await asyncio.sleep(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await pool.close()
    assert not any("987004" in line for line in host_commands(one_host))


async def test_the_seeds_crontab_pipe_replaces_every_entry(one_host):
    # Seed 6.3: `echo "…" | crontab -` installs a crontab of that one line, as on a droplet.
    before = await raw_run(one_host, "crontab -l")
    assert "rotate_logs.sh" in before.stdout
    await raw_run(one_host, 'echo "*/5 * * * * /root/air-demand/scripts/monitor_health.sh" '
                            '| crontab -')
    after = await raw_run(one_host, "crontab -l")
    assert "rotate_logs.sh" not in after.stdout


def test_the_namespace_is_used_where_the_machine_allows_it():
    import os

    if os.geteuid() == 0:
        assert namespaces_available(), "root on Linux gets a PID namespace per host"
    else:
        pytest.skip("not root: the ps/pgrep stand-ins list the host's tagged processes")


OWNER = r"""
import asyncio, sys
from pathlib import Path
from cutover_tui.sandbox.world import World

async def main():
    world = World(Path(sys.argv[1]), hosts=("old",))
    await world.start()
    host = world.hosts["old"]
    print(host.space._holder.pid, *host.space.pids(), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_a_world_whose_owner_is_killed_leaves_nothing_running(tmp_path):
    # SIGKILL (a test timeout, an OOM kill) gives the world no chance to stop its hosts: the
    # namespace's holder dies with its owner, and every process of the host with it.
    import signal
    import subprocess
    import sys
    import time

    if not namespaces_available():
        pytest.skip("no PID namespace here: the hosts' processes are tagged, not held")
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path / "world")],
                             stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    pids = [int(p) for p in owner.stdout.readline().split()]
    assert len(pids) >= 4, pids  # the holder and the host's three services (at least)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        time.sleep(0.05)
    assert alive == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False
