"""The OpenSSH client config, as ``ssh`` applies it: known hosts from ``UserKnownHostsFile`` (a
runbook's own known_hosts file still wins), ``ProxyJump`` through a jump host, and the
loopback-only switch on every address of the route. The config is a file in tmp, named by
``CUTOVER_SSH_CONFIG`` or passed to the pool; HOME is a tmp directory, so ~/.ssh is never read
or written."""

import asyncio

import asyncssh
import pytest

from cutover_tui.errors import HostKeyError, NetworkPolicyError
from cutover_tui.remote.ssh import SSHPool, SSHTarget, _CheckedTunnel
from cutover_tui.remote.sshconfig import parse_jump, route

OUTSIDE = "192.0.2.10"  # TEST-NET-1: never routed
JUMP_ADDRESS = "127.0.0.7"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


def key_line(name, port, key):
    algorithm, blob = key.export_public_key().decode().split()[:2]
    return f"[{name}]:{port} {algorithm} {blob}\n"


def target(world, known_hosts=None, name="new"):
    host = world.hosts[name]
    return SSHTarget(name, host.address, host.port, "root", str(world.client_key), known_hosts)


async def never_asked(label, fingerprint):
    raise AssertionError(f"asked about {label} {fingerprint}")


async def test_known_hosts_come_from_the_configs_user_known_hosts_file(world, tmp_path,
                                                                       monkeypatch, home):
    new = world.hosts["new"]
    from_config = tmp_path / "config_known_hosts"
    from_config.write_text(key_line(new.address, new.port, new.host_key))
    config = tmp_path / "ssh_config"
    config.write_text(f"Host {new.address}\n    UserKnownHostsFile {from_config}\n")
    monkeypatch.setenv("CUTOVER_SSH_CONFIG", str(config))
    pool = SSHPool({"new": target(world)}, trust_host_key=never_asked)
    result = await pool.run("new", "echo hi")
    await pool.close()
    assert result.output == "hi"
    assert not (home / ".ssh" / "known_hosts").exists()

    # An unknown key is asked about and kept in the config's file, as ssh does.
    from_config.write_text("")
    asked = []

    async def trust(label, fingerprint):
        asked.append((label, fingerprint))
        return True

    pool = SSHPool({"new": target(world)}, trust_host_key=trust)
    await pool.run("new", "true")
    await pool.close()
    assert asked == [(target(world).label, new.host_key.get_fingerprint("sha256"))]
    assert from_config.read_text() == key_line(new.address, new.port, new.host_key)
    assert not (home / ".ssh" / "known_hosts").exists()

    # A changed key there is refused without a question.
    from_config.write_text(key_line(new.address, new.port, world.hosts["old"].host_key))
    pool = SSHPool({"new": target(world)}, trust_host_key=never_asked)
    with pytest.raises(HostKeyError, match=f"CHANGED since it was recorded in {from_config}"):
        await pool.run("new", "true")


async def test_without_a_config_entry_the_default_is_home_ssh_known_hosts(world, tmp_path, home):
    new = world.hosts["new"]
    (home / ".ssh" / "known_hosts").write_text(key_line(new.address, new.port, new.host_key))
    config = tmp_path / "ssh_config"
    config.write_text("Host some-other-host\n    UserKnownHostsFile /nonexistent\n")
    pool = SSHPool({"new": target(world)}, trust_host_key=never_asked, ssh_config=config)
    assert (await pool.run("new", "echo ok")).output == "ok"
    await pool.close()


async def test_a_runbooks_known_hosts_file_wins_over_the_config(world, tmp_path):
    new = world.hosts["new"]
    wrong = tmp_path / "config_known_hosts"
    wrong.write_text(key_line(new.address, new.port, world.hosts["old"].host_key))
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n    UserKnownHostsFile {wrong}\n")
    # world.known_hosts (the runbook's file, as the overrides set it) holds the right key.
    pool = SSHPool({"new": target(world, str(world.known_hosts))}, trust_host_key=never_asked,
                   ssh_config=config)
    assert (await pool.run("new", "echo ok")).output == "ok"
    await pool.close()


class JumpServer(asyncssh.SSHServer):
    """A jump host that forwards direct-tcpip requests (what ProxyJump asks of it)."""

    requests: list = []
    connections: list = []

    def connection_made(self, conn):
        JumpServer.connections.append(conn)

    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        JumpServer.requests.append((dest_host, dest_port))
        return True


@pytest.fixture
async def jump(world):
    JumpServer.requests, JumpServer.connections = [], []
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = asyncssh.read_private_key(str(world.client_key)).export_public_key().decode()
    listener = await asyncssh.listen(
        JUMP_ADDRESS, 0, server_factory=JumpServer, server_host_keys=[key],
        authorized_client_keys=asyncssh.import_authorized_keys(public))
    listener.key = key
    listener.port = listener.sockets[0].getsockname()[1]
    try:
        yield listener
    finally:
        listener.close()
        await listener.wait_closed()


def jump_config(tmp_path, world, jump, target_lines=""):
    new = world.hosts["new"]
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host {new.address}\n    ProxyJump jumper\n{target_lines}"
        f"Host jumper\n    Hostname {JUMP_ADDRESS}\n    Port {jump.port}\n    User hop\n"
        f"    IdentityFile {world.client_key}\n")
    return config


async def test_proxyjump_goes_through_the_jump_host_and_asks_about_its_key(world, jump,
                                                                           tmp_path):
    new = world.hosts["new"]
    config = jump_config(tmp_path, world, jump)
    asked = []

    async def trust(label, fingerprint):
        asked.append((label, fingerprint))
        return True

    pool = SSHPool({"new": target(world, str(world.known_hosts))}, trust_host_key=trust,
                   ssh_config=config)
    result = await pool.run("new", "echo through the jump host")
    assert result.output == "through the jump host"
    assert JumpServer.requests == [(new.address, new.port)]
    # Only the jump host's key was new; it was shown and then kept with the others.
    assert asked == [(f"jump host jumper (hop@{JUMP_ADDRESS}:{jump.port}) for new",
                      jump.key.get_fingerprint("sha256"))]
    assert f"[{JUMP_ADDRESS}]:{jump.port} " in world.known_hosts.read_text()
    await pool.close()
    # Closing the host's connection closes the hop under it.
    await asyncio.wait_for(JumpServer.connections[0].wait_closed(), 5)


async def test_loopback_only_refuses_a_non_loopback_jump_host_before_any_packet(world, jump,
                                                                               tmp_path):
    new = world.hosts["new"]
    config = tmp_path / "ssh_config"
    config.write_text(f"Host {new.address}\n    ProxyJump root@{OUTSIDE}:2222\n")
    pool = SSHPool({"new": target(world, str(world.known_hosts))}, trust_host_key=never_asked,
                   ssh_config=config)
    with pytest.raises(NetworkPolicyError, match=f"refusing to connect to {OUTSIDE} for SSH to "
                                                 "host new \\(through ProxyJump"):
        await pool.run("new", "true")


async def test_loopback_only_refuses_a_config_hostname_outside_before_the_jump_host(world, jump,
                                                                                   tmp_path):
    # The runbook says 127.0.0.3, the config sends it elsewhere: refused, and the (loopback)
    # jump host in front of it is not contacted either.
    config = jump_config(tmp_path, world, jump, f"    Hostname {OUTSIDE}\n")
    pool = SSHPool({"new": target(world, str(world.known_hosts))}, trust_host_key=never_asked,
                   ssh_config=config)
    with pytest.raises(NetworkPolicyError, match=f"refusing to connect to {OUTSIDE}"):
        await pool.run("new", "true")
    assert JumpServer.connections == []


async def test_loopback_only_refuses_a_proxy_command(world, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(f"Host {world.hosts['new'].address}\n    ProxyCommand nc {OUTSIDE} 22\n")
    pool = SSHPool({"new": target(world, str(world.known_hosts))}, ssh_config=config)
    with pytest.raises(NetworkPolicyError, match="ProxyCommand"):
        await pool.run("new", "true")


async def test_the_dialled_address_itself_is_checked():
    with pytest.raises(NetworkPolicyError, match=OUTSIDE):
        await _CheckedTunnel(None, "x").create_connection(None, OUTSIDE, 22)


def test_route_and_jump_specs(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host app\n    Hostname 127.0.0.3\n    ProxyJump a,ops@b:2200\n"
                      "Host a\n    Hostname 127.0.0.5\n    ProxyJump c\n"
                      "Host c\n    HostKeyAlias bastion\n"
                      "    UserKnownHostsFile %d/kh_%h ~/kh2\n")
    hops = route("app", 22, "root", [config])
    assert [(h.host, h.hostname, h.port, h.user) for h in hops] == [
        ("c", "c", 22, None), ("a", "127.0.0.5", 22, None), ("b", "b", 2200, "ops"),
        ("app", "127.0.0.3", 22, "root")]
    assert hops[0].key_name == "bastion"
    assert [p.name for p in hops[0].known_hosts] == ["kh_c", "kh2"]
    assert parse_jump("ssh://u@h:7") == ("u", "h", 7)
    assert parse_jump("[::1]:2222") == (None, "::1", 2222)
