"""The OpenSSH client config, applied to one connection as ``ssh`` would apply it: where the TCP
connection really goes (``Hostname``), through which jump hosts (``ProxyJump``), and which
known_hosts files hold its key (``UserKnownHostsFile``, ``GlobalKnownHostsFile``,
``HostKeyAlias``).

The file is ``~/.ssh/config``, or the one named by ``CUTOVER_SSH_CONFIG`` (``none``: no file,
like ``ssh -F none``). asyncssh parses it (the same parser its ``connect`` uses); resolving it
here, before connecting, lets the transport check every address of a route against the
loopback-only switch and apply its own host-key policy to each hop.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from asyncssh import ConfigParseError
from asyncssh.config import SSHClientConfig

from ..errors import SSHError

CONFIG_ENV = "CUTOVER_SSH_CONFIG"
DEFAULT_CONFIG = "~/.ssh/config"
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
MAX_JUMPS = 8  # a ProxyJump loop in a config must end somewhere


@dataclass(frozen=True)
class Endpoint:
    """One SSH connection of a route, with the config applied."""

    host: str  # as asked for (an alias or an address); Host patterns match this
    hostname: str  # where the connection goes
    port: int
    user: str | None
    key_name: str  # the name its key has in known_hosts: HostKeyAlias, else hostname
    known_hosts: tuple[Path, ...]  # all are read; an accepted new key goes to the first
    proxy_jump: tuple[str, ...] = ()
    proxy_command: str | None = None

    @property
    def label(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.hostname}:{self.port}"


def config_paths(path: str | Path | None = None) -> list[Path]:
    """The client config files to read: ``path``, else ``$CUTOVER_SSH_CONFIG``, else
    ``~/.ssh/config`` when it exists."""
    value = str(path) if path is not None else os.environ.get(CONFIG_ENV)
    if value is None:
        default = Path(os.path.expanduser(DEFAULT_CONFIG))
        return [default] if os.access(default, os.R_OK) else []
    if value.strip().lower() in ("", "none"):
        return []
    chosen = Path(os.path.expanduser(value))
    if not chosen.is_file():
        raise SSHError(f"the SSH client config {chosen} (from {CONFIG_ENV}) does not exist")
    return [chosen]


def resolve(host: str, port: int | None, user: str | None, paths: list[Path],
            known_hosts: str | None = None) -> Endpoint:
    """``host`` with the config applied. An explicit ``port``/``user`` (the runbook's) wins over
    the config, and so does an explicit ``known_hosts`` file."""
    try:
        # Positional arguments: last_config, paths, reload, canonical, final, local user,
        # user, host, port (``()`` = not given), as asyncssh's own connect calls it.
        config = SSHClientConfig.load(None, paths, False, False, False, getpass.getuser(),
                                      user if user else (), host, port if port else ())
    except (ConfigParseError, OSError) as exc:
        raise SSHError(f"cannot read the SSH client config: {exc}") from None
    # ``get`` answers ``object``; the types below are the ones asyncssh's config parser stores
    # for these options (Port: _set_int, User: _set_string, *KnownHostsFile: _set_string_list).
    hostname = str(config.get("Hostname", host))
    resolved_port = int(port or cast(int, config.get("Port", 22)))
    resolved_user = user or cast("str | None", config.get("User"))
    tokens = {"%h": hostname, "%n": host, "%p": str(resolved_port), "%r": resolved_user or "",
              "%u": getpass.getuser(), "%d": os.path.expanduser("~")}
    if known_hosts:
        files = [known_hosts]
    else:
        user_files = cast("list[str] | None", config.get("UserKnownHostsFile"))
        files = [DEFAULT_KNOWN_HOSTS] if user_files is None else list(user_files)
        files += list(cast("list[str] | None", config.get("GlobalKnownHostsFile")) or [])
    jump = config.get("ProxyJump")
    return Endpoint(
        host=host, hostname=hostname, port=resolved_port,
        user=str(resolved_user) if resolved_user else None,
        key_name=str(config.get("HostKeyAlias") or hostname),
        known_hosts=tuple(Path(os.path.expanduser(_expand(f, tokens))) for f in files),
        proxy_jump=tuple(h.strip() for h in str(jump).split(",") if h.strip()) if jump else (),
        proxy_command=str(config.get("ProxyCommand")) if config.get("ProxyCommand") else None,
    )


def route(host: str, port: int | None, user: str | None, paths: list[Path],
          known_hosts: str | None = None, depth: int = 0) -> list[Endpoint]:
    """The connections to make, first hop first, ``host`` last. ``ProxyJump a,b`` means: to a
    (through a's own ProxyJump, if it has one), then b through a, then ``host`` through b."""
    if depth > MAX_JUMPS:
        raise SSHError(f"ProxyJump for {host} goes through more than {MAX_JUMPS} hosts "
                       "(a loop in the SSH client config?)")
    end = resolve(host, port, user, paths, known_hosts)
    if not end.proxy_jump:
        return [end]
    hops: list[Endpoint] = []
    for i, spec in enumerate(end.proxy_jump):
        jump_user, jump_host, jump_port = parse_jump(spec)
        if i == 0:
            hops.extend(route(jump_host, jump_port, jump_user, paths, known_hosts, depth + 1))
        else:  # a later hop is reached through the one before it, not its own ProxyJump
            hops.append(resolve(jump_host, jump_port, jump_user, paths, known_hosts))
    return [*hops, end]


def parse_jump(spec: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` or ``ssh://[user@]host[:port]`` → (user, host, port)."""
    text = spec.removeprefix("ssh://")
    user, _, hostport = text.rpartition("@")
    host, port = hostport, None
    if hostport.startswith("[") and "]" in hostport:  # [v6 address]:port
        host, _, rest = hostport[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    elif hostport.count(":") == 1:
        name, _, number = hostport.partition(":")
        if not number.isdigit():
            raise SSHError(f"ProxyJump {spec!r}: the port is not a number")
        host, port = name, int(number)
    if not host:
        raise SSHError(f"ProxyJump {spec!r} names no host")
    return user or None, host, port


def _expand(value: str, tokens: dict[str, str]) -> str:
    out, i = [], 0
    while i < len(value):
        pair = value[i:i + 2]
        if pair == "%%":
            out.append("%")
        elif pair in tokens:
            out.append(tokens[pair])
        else:
            out.append(value[i])
            i += 1
            continue
        i += 2
    return "".join(out)
