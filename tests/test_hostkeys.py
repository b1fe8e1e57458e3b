"""Host keys: an unknown key is shown by fingerprint and asked about; a changed key is refused."""

import pytest

from cutover_tui.errors import HostKeyError
from cutover_tui.remote.ssh import SSHPool, SSHTarget


def target(world, name="new"):
    host = world.hosts[name]
    return SSHTarget(name, host.address, host.port, "root", str(world.client_key),
                     str(world.known_hosts))


async def test_unknown_key_is_asked_about_and_then_remembered(world):
    world.known_hosts.write_text("")
    asked = []

    async def trust(label, fingerprint):
        asked.append((label, fingerprint))
        return True

    pool = SSHPool({"new": target(world)}, trust_host_key=trust)
    result = await pool.run("new", "echo hi")
    await pool.close()
    assert result.output == "hi"
    assert len(asked) == 1 and asked[0][1].startswith("SHA256:")
    expected = world.hosts["new"].host_key.get_fingerprint("sha256")
    assert asked[0][1] == expected
    assert f"[127.0.0.3]:{world.hosts['new'].port}" in world.known_hosts.read_text()
    # Remembered: no second question.
    pool = SSHPool({"new": target(world)}, trust_host_key=trust)
    await pool.run("new", "true")
    await pool.close()
    assert len(asked) == 1


async def test_unknown_key_declined_is_refused(world):
    world.known_hosts.write_text("")

    async def decline(label, fingerprint):
        return False

    pool = SSHPool({"new": target(world)}, trust_host_key=decline)
    with pytest.raises(HostKeyError, match="was not accepted"):
        await pool.run("new", "true")
    assert world.known_hosts.read_text() == ""


async def test_changed_key_is_refused_without_asking(world):
    old = world.hosts["old"]
    new = world.hosts["new"]
    # Record the OLD host's key under the new host's address: as if its key changed.
    algorithm, blob = old.host_key.export_public_key().decode().split()[:2]
    world.known_hosts.write_text(f"[{new.address}]:{new.port} {algorithm} {blob}\n")

    async def must_not_ask(label, fingerprint):
        raise AssertionError("a changed key must not be offered for trust")

    pool = SSHPool({"new": target(world)}, trust_host_key=must_not_ask)
    with pytest.raises(HostKeyError, match="CHANGED"):
        await pool.run("new", "true")
