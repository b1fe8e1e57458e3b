"""Step kinds through the engine against OpenSSH's sshd (each rehearsal host served by the
machine's sshd, as `cutover demo --sshd` does): the .env edit and its restore, and a host key
that changed since it was recorded."""

from __future__ import annotations

import asyncssh
import pytest

from cutover_tui.clock import MovableClock
from cutover_tui.envfile import EnvFile
from cutover_tui.sandbox.sshhost import sshd_available
from cutover_tui.sandbox.world import World

from .helpers import ENV_EDIT_BOOK, session_on

pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(sshd_available() is not None,
                       reason=f"skipped: {sshd_available()} (CI installs it)"),
]


@pytest.fixture
async def sshd_world(tmp_path):
    w = World(tmp_path / "world", MovableClock(state_file=tmp_path / "world" / "clock.json"),
              hosts=("new",), action_seconds=0.05, server="sshd")
    await w.start()
    w.trust_host_keys()
    try:
        yield w
        assert await w.wait_no_leftovers() == {}
    finally:
        await w.stop()


async def test_env_edit_and_restore_through_the_engine_against_sshd(sshd_world, tmp_path):
    book = tmp_path / "env.toml"
    book.write_text(ENV_EDIT_BOOK)
    env_path = sshd_world.app_dir("new") / ".env"
    before = env_path.read_text()
    session = session_on(sshd_world, book, tmp_path / "run.toml")
    try:
        verdict = await session.engine.run_step("3.1")
        assert verdict.ok, verdict.summary
        values = EnvFile.parse(env_path.read_text()).values()
        assert values["ENVIRONMENT"] == "production" and values["SCRAPE_HOURS"] == "5,17"
        backups = list(env_path.parent.glob(".env.bak-*"))
        assert len(backups) == 1 and backups[0].read_text() == before
        restored = await session.engine.run_step("R3-env")
        assert restored.ok, restored.summary
        assert env_path.read_text() == before
    finally:
        await session.aclose()


async def test_a_changed_host_key_is_refused_through_the_engine_against_sshd(sshd_world,
                                                                             tmp_path):
    host = sshd_world.hosts["new"]
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    sshd_world.known_hosts.write_text(f"[{host.address}]:{host.port} {other[0]} {other[1]}\n")
    book = tmp_path / "env.toml"
    book.write_text(ENV_EDIT_BOOK)
    before = (sshd_world.app_dir("new") / ".env").read_text()
    session = session_on(sshd_world, book, tmp_path / "run.toml")
    try:
        verdict = await session.engine.run_step("3.1")
    finally:
        await session.aclose()
    assert not verdict.ok
    assert "has CHANGED" in verdict.summary
    assert (sshd_world.app_dir("new") / ".env").read_text() == before
