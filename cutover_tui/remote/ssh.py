"""SSH transport: one asyncssh connection per host, reused by every step, with at most
``MAX_CHANNELS`` channels open on it at once (OpenSSH's MaxSessions defaults to 10).

Host keys are checked against known_hosts. An unknown key is shown to the operator by its
fingerprint and added only if they accept it; a key that differs from a known one is refused.
The OpenSSH client config (``~/.ssh/config``, or ``$CUTOVER_SSH_CONFIG``) applies as ``ssh``
applies it — ``Hostname``, ``ProxyJump``, ``UserKnownHostsFile``, ``IdentityFile`` — except that
a runbook's host address, port, user, key and known_hosts file win (see ``sshconfig.py``).
Under the loopback-only switch every address of a route, jump hosts included, is checked
before anything is sent to it.

Every wait is bounded: connecting (``connect_timeout``), waiting for one of the connection's
channels (``slot_timeout``), opening a channel (``channel_timeout``), each SFTP request and a
download that stops moving (``sftp_timeout``), and a host that goes silent mid-command is
noticed by keepalives (``keepalive_interval`` × ``keepalive_count_max``) and the connection
dropped. A connection on which a channel or an SFTP request went unanswered is dropped: the
next use reconnects.

How a command is wrapped on the host is in ``commands.py``; the bounded SFTP client in
``sftp.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from ..aio import bounded
from ..errors import HostKeyError, NetworkPolicyError, SSHError
from ..netguard import ENV_SWITCH, ensure_allowed, loopback_only
from .commands import GROUP_MARK, STOP_GRACE_SECONDS, RunResult, kill_group_command, remote_command
from .sftp import BoundedSFTP
from .sshconfig import Endpoint, config_paths, route

MAX_CHANNELS = 10
# AES-GCM first: with AES-NI it is about twice as fast as chacha20 here (bench/transfer.py).
PREFERRED_CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                     "chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr"]


@dataclass(frozen=True)
class SSHTarget:
    name: str
    address: str
    port: int = 22
    user: str = "root"
    ssh_key: str | None = None
    known_hosts: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.user}@{self.address}:{self.port})"


class SSHPool:
    def __init__(self, targets: dict[str, SSHTarget],
                 trust_host_key: Callable[[str, str], Any] | None = None,
                 connect_timeout: float = 15.0, ciphers: list[str] | None = None,
                 ssh_config: str | Path | None = None, channel_timeout: float = 15.0,
                 slot_timeout: float = 120.0, sftp_timeout: float = 30.0,
                 keepalive_interval: float = 5.0, keepalive_count_max: int = 2):
        self.targets = targets
        self.ciphers = ciphers or PREFERRED_CIPHERS
        self.trust_host_key = trust_host_key
        self.connect_timeout = connect_timeout
        self.channel_timeout = channel_timeout  # the host answers a channel open within this
        self.slot_timeout = slot_timeout  # a free one of the MAX_CHANNELS within this
        self.sftp_timeout = sftp_timeout  # each SFTP request; a transfer that stops moving
        # A silent host is given up on after about interval × (count_max + 1) seconds (15 s).
        self.keepalive_interval = keepalive_interval
        self.keepalive_count_max = keepalive_count_max
        self.ssh_config = ssh_config  # None: $CUTOVER_SSH_CONFIG, else ~/.ssh/config
        self._accepted: list[str] = []  # keys accepted this session (kept if no file takes them)
        self._connections: dict[str, asyncssh.SSHClientConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._channels: dict[str, asyncio.Semaphore] = {}

    def target(self, name: str) -> SSHTarget:
        try:
            return self.targets[name]
        except KeyError:
            raise SSHError(f"no host named {name!r}") from None

    async def connection(self, name: str) -> asyncssh.SSHClientConnection:
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            conn = self._connections.get(name)
            if conn is not None and not conn.is_closed():
                return conn
            conn = await self._connect(self.target(name))
            self._connections[name] = conn
            self._channels[name] = asyncio.Semaphore(MAX_CHANNELS)
            return conn

    async def drop(self, name: str) -> None:
        """Forget a connection (after a power-off, or when it broke)."""
        conn = self._connections.pop(name, None)
        if conn is not None:
            conn.abort()

    async def _connect(self, target: SSHTarget) -> asyncssh.SSHClientConnection:
        """Connect as ``ssh`` would with the client config: through its ProxyJump hosts, each
        checked against its known_hosts files. Every address of the route passes the
        loopback-only check before the first hop is contacted."""
        what = f"SSH to host {target.name}"
        ensure_allowed(target.address, what)
        paths = config_paths(self.ssh_config)
        hops = route(target.address, target.port, target.user, paths, target.known_hosts)
        for hop in hops:
            ensure_allowed(hop.hostname, what if hop is hops[-1] else
                           f"{what} (through ProxyJump {hop.host})")
        if hops[0].proxy_command and loopback_only():
            raise NetworkPolicyError(
                f"refusing {what} through ProxyCommand {hops[0].proxy_command!r}: {ENV_SWITCH} "
                "is set and where a ProxyCommand connects cannot be checked")
        via: asyncssh.SSHClientConnection | None = None
        try:
            for hop in hops[:-1]:
                via = await self._connect_endpoint(
                    hop, via, paths, f"jump host {hop.host} ({hop.label}) for {target.name}")
            return await self._connect_endpoint(hops[-1], via, paths, target.label,
                                                target.ssh_key)
        except BaseException:
            if via is not None:
                via.close()
            raise

    async def _connect_endpoint(self, end: Endpoint, via: asyncssh.SSHClientConnection | None,
                                paths: list[Path], label: str,
                                ssh_key: str | None = None) -> asyncssh.SSHClientConnection:
        options: dict[str, Any] = dict(
            host=end.host, port=end.port, known_hosts=self._known_hosts(end), config=paths,
            connect_timeout=self.connect_timeout, encryption_algs=self.ciphers,
            keepalive_count_max=self.keepalive_count_max,
            # Given explicitly, so asyncssh does not follow the config's ProxyJump itself.
            tunnel=_CheckedTunnel(via, label) if loopback_only() else via,
        )
        options["keepalive_interval"] = self.keepalive_interval  # guard: ssh-keepalive
        if end.user:
            options["username"] = end.user
        if ssh_key:
            options["client_keys"] = [os.path.expanduser(ssh_key)]
            options["agent_path"] = None
        try:
            conn = await asyncssh.connect(**options)
        except asyncssh.HostKeyNotVerifiable:
            await self._handle_unverified_key(end, label, options)
            options["known_hosts"] = self._known_hosts(end)
            conn = await self._connect_or_explain(label, options)
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise SSHError(self._explain(label, exc)) from None
        if via is not None:
            conn.set_tunnel(via)  # closing this connection closes the jump hosts under it
        return conn

    async def _connect_or_explain(self, label: str,
                                  options: dict[str, Any]) -> asyncssh.SSHClientConnection:
        try:
            return await asyncssh.connect(**options)
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise SSHError(self._explain(label, exc)) from None

    @staticmethod
    def _explain(label: str, exc: BaseException) -> str:
        if isinstance(exc, asyncssh.PermissionDenied):
            return f"SSH to {label}: authentication failed (check the key / agent)"
        if isinstance(exc, ConnectionRefusedError):
            return f"SSH to {label}: connection refused (is the host up and sshd running?)"
        if isinstance(exc, asyncio.TimeoutError | TimeoutError):
            return f"SSH to {label}: no answer within the connect timeout"
        detail = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        return f"SSH to {label} failed: {detail or type(exc).__name__}"

    def _known_hosts(self, end: Endpoint) -> asyncssh.SSHKnownHosts:
        texts = []
        for path in end.known_hosts:
            try:
                texts.append(path.read_text())
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise SSHError(f"cannot read the known_hosts file {path}: {exc.strerror}") from None
        return asyncssh.import_known_hosts("\n".join(texts + self._accepted))

    async def _handle_unverified_key(self, end: Endpoint, label: str,
                                     options: dict[str, Any]) -> None:
        files = ", ".join(str(p) for p in end.known_hosts) or "no known_hosts file"
        matches = self._known_hosts(end).match(end.key_name, end.key_name, end.port)
        if matches[0] or matches[1]:
            raise HostKeyError(
                f"the host key of {label} has CHANGED since it was recorded in {files}; "
                "refusing to connect (someone may be intercepting the connection, or the host "
                "was rebuilt: verify, then fix known_hosts by hand)"
            )
        try:
            key = await bounded(asyncssh.get_server_host_key(
                end.host, end.port, tunnel=options["tunnel"], config=options["config"]),
                self.connect_timeout)
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise SSHError(self._explain(label, exc)) from None
        if key is None:
            raise SSHError(f"SSH to {label}: the server sent no host key")
        fingerprint = key.get_fingerprint("sha256")
        trusted = False
        if self.trust_host_key is not None:
            trusted = await self.trust_host_key(label, fingerprint)
        if not trusted:
            raise HostKeyError(
                f"the host key of {label} ({fingerprint}) is not in {files} and was not accepted"
            )
        entry = end.key_name if end.port == 22 else f"[{end.key_name}]:{end.port}"
        algorithm, blob = key.export_public_key("openssh").decode().split()[:2]
        line = f"{entry} {algorithm} {blob}\n"
        self._accepted.append(line)
        if end.known_hosts:  # as ssh does: a new key goes to the first UserKnownHostsFile
            end.known_hosts[0].parent.mkdir(parents=True, exist_ok=True)
            with end.known_hosts[0].open("a") as handle:
                handle.write(line)

    @contextlib.asynccontextmanager
    async def channel(self, name: str) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """The connection, holding one of its ``MAX_CHANNELS`` slots (waiting at most
        ``slot_timeout`` for one)."""
        conn = await self.connection(name)
        slots = self._channels[name]
        await self._take_slot(name, slots)  # guard: ssh-channel-limit
        try:
            yield conn
        finally:
            slots.release()

    async def _take_slot(self, name: str, slots: asyncio.Semaphore) -> None:
        waiting = slots.acquire()
        waiting = bounded(waiting, self.slot_timeout)  # guard: ssh-slot-timeout
        try:
            await waiting
        except TimeoutError:
            raise SSHError(f"{self.target(name).label}: all {MAX_CHANNELS} channels of the "
                           f"connection stayed busy for {self.slot_timeout:g}s") from None

    async def run(self, name: str, command: str, *, on_line: Callable[[str], None] | None = None,
                  timeout: float = 120, stdin: str | None = None,
                  follow_seconds: float | None = None) -> RunResult:
        """Run ``command`` with stderr merged into stdout, streaming lines to ``on_line``.

        With ``follow_seconds`` the command (``journalctl -f``) is watched that long and then
        stopped; that is not a failure. A command we stop watching (followed, timed out or
        cancelled) is killed on the host: OpenSSH does not kill a command when its channel
        closes, and refuses the SSH "signal" request for root logins."""
        started = time.monotonic()
        lines: list[str] = []
        limit = follow_seconds if follow_seconds is not None else timeout
        group: list[int] = []
        try:
            async with self.channel(name) as conn:
                process = await self._open_process(name, conn, remote_command(command, limit))
                if stdin is not None:
                    process.stdin.write(stdin)
                process.stdin.write_eof()
                timed_out = stopped = False

                async def pump() -> None:
                    async for raw in process.stdout:
                        if not raw:
                            continue  # asyncssh yields "" at EOF
                        line = raw.rstrip("\n")
                        if not group and line.startswith(GROUP_MARK):
                            with contextlib.suppress(ValueError):
                                group.append(int(line.removeprefix(GROUP_MARK)))
                                continue
                        lines.append(line)
                        if on_line is not None:
                            on_line(line)

                try:
                    await bounded(pump(), limit)
                    await bounded(process.wait_closed(), 5)
                except TimeoutError:
                    timed_out = follow_seconds is None
                    stopped = True
                    process.close()
                status = None if stopped else process.returncode
            if stopped:
                await self._stop_remote(name, group)
            return RunResult(status, "\n".join(lines), time.monotonic() - started, timed_out)
        except asyncio.CancelledError:
            # The operator quit or the step was cancelled: the command must not outlive us.
            with contextlib.suppress(BaseException):
                await asyncio.shield(bounded(self._stop_remote(name, group), 5))
            raise
        except (OSError, asyncssh.Error) as exc:
            await self.drop(name)
            raise SSHError(f"{self.target(name).label}: the connection failed while running "
                           f"a command: {getattr(exc, 'reason', None) or exc}") from None

    async def _stop_remote(self, name: str, group: list[int]) -> None:
        """Kill a command's process group on the host (TERM, then KILL after a grace period)."""
        if not group or group[0] <= 1:
            return
        with contextlib.suppress(OSError, asyncssh.Error, SSHError, TimeoutError):
            async with self.channel(name) as conn:
                process = await self._open_process(name, conn, kill_group_command(group[0]))
                process.stdin.write_eof()
                await bounded(process.wait_closed(), STOP_GRACE_SECONDS + 5)

    async def _open_process(self, name: str, conn: asyncssh.SSHClientConnection,
                            command: str) -> asyncssh.SSHClientProcess[str]:
        # sshd counts a session until its close is processed, so a channel opened right after
        # another closed can be refused for a moment even within MaxSessions: retry briefly.
        for attempt in range(6):
            opening: Awaitable[asyncssh.SSHClientProcess[str]] = conn.create_process(
                command, stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace")
            opening = bounded(opening, self.channel_timeout)  # guard: ssh-channel-timeout
            try:
                return await opening
            except asyncssh.ChannelOpenError:
                if attempt == 5:
                    raise
                await asyncio.sleep(0.05 * 2 ** attempt)
            except TimeoutError:
                await self.drop(name)  # a host that does not answer this will not answer more
                raise SSHError(f"{self.target(name).label}: no answer to opening a channel "
                               f"within {self.channel_timeout:g}s (the host or the link is down; "
                               "the connection was dropped)") from None
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def sftp(self, name: str) -> AsyncIterator[Any]:
        """An SFTP client whose every request is answered within ``sftp_timeout`` (and whose
        downloads move at least every ``sftp_timeout``), or the connection is dropped."""
        try:
            async with self.channel(name) as conn:
                client = await bounded(conn.start_sftp_client(), self.channel_timeout)
                try:
                    yield BoundedSFTP(client, self.sftp_timeout)
                except BaseException:
                    client.exit()  # no waiting for a goodbye on a link that may be dead
                    raise
                client.exit()
                await bounded(client.wait_closed(), self.sftp_timeout)
        except (OSError, asyncssh.Error) as exc:
            if isinstance(exc, asyncssh.SFTPError):
                raise SSHError(f"{self.target(name).label}: SFTP: {exc.reason}") from None
            await self.drop(name)
            if isinstance(exc, TimeoutError):
                raise SSHError(f"{self.target(name).label}: SFTP: no answer within "
                               f"{max(self.sftp_timeout, self.channel_timeout):g}s (the host or "
                               "the link is down; the connection was dropped)") from None
            raise SSHError(f"{self.target(name).label}: SFTP failed: "
                           f"{getattr(exc, 'reason', None) or exc}") from None

    async def close(self) -> None:
        connections, self._connections = self._connections, {}
        for conn in connections.values():
            conn.close()
        for conn in connections.values():
            with contextlib.suppress(Exception):
                await bounded(conn.wait_closed(), 2)


class _CheckedTunnel:
    """What asyncssh connects through under the loopback-only switch: the check on the address
    it really dials (after the config's ``Hostname``, canonicalisation, ...), then the TCP
    connection — directly, or through the previous jump host."""

    def __init__(self, via: asyncssh.SSHClientConnection | None, label: str):
        self.via = via
        self.label = label

    async def create_connection(self, session_factory: Any, remote_host: str,
                                remote_port: int) -> Any:
        ensure_allowed(remote_host, f"SSH to {self.label}")
        if self.via is not None:
            return await self.via.create_connection(session_factory, remote_host, remote_port)
        return await asyncio.get_running_loop().create_connection(
            session_factory, remote_host, remote_port)

    def close(self) -> None:
        pass
