"""One rehearsal host: a real asyncssh server on the host's own loopback address that runs each
command the way OpenSSH's sshd does — ``bash -c "<command>"`` as a real process, leader of its
own session, inside the host's process space (see ``procspace``) with the stand-ins first on
PATH — and SFTP on the same connection. As with sshd, closing a channel does not kill its
command: it only closes the command's pipes (its next write gets SIGPIPE). Powering the host
off closes the listener and every connection, stops the services and ends every process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncssh

from .hostenv import UNITS, HostEnv
from .procspace import ProcessSpace

log = logging.getLogger("cutover.sandbox")


class _Server(asyncssh.SSHServer):
    def __init__(self, host: SandboxHost):
        self.host = host
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.host.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.host.connections.discard(self.conn)


class SandboxHost:
    def __init__(self, env: HostEnv, bin_dir: Path, host_key: asyncssh.SSHKey,
                 client_public_key: str, port: int = 0, server: str = "asyncssh"):
        self.env = env
        self.bin_dir = bin_dir
        self.host_key = host_key
        self.client_public_key = client_public_key
        self.port = port
        self.listener: asyncssh.SSHAcceptor | None = None
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self.processes: set[asyncio.subprocess.Process] = set()
        self.powered = False
        self.destroyed = False
        self.space = ProcessSpace(env.host_dir)
        # "asyncssh": this process serves the host; "sshd": OpenSSH's sshd does, inside the
        # host's process space, to prove the rehearsal against the real server.
        self.server = server
        self.sshd: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return self.env.address

    def environ(self) -> dict[str, str]:
        path = f"{self.bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        home = self.env.host_dir / "fs" / "root"
        log = self.env.host_dir / "fs" / "var" / "log" / "air-demand-health.log"
        return {"PATH": path, "HOME": str(home), "CURL_HOME": str(home), "USER": "root",
                "LOGNAME": "root", "LANG": "C.UTF-8", "SHELL": "/bin/bash",
                "HEALTH_LOG": str(log), **self.env.environ()}

    async def power_on(self) -> None:
        if self.destroyed:
            raise RuntimeError(f"host {self.env.name} was destroyed")
        if self.powered:
            return
        await self.boot()
        if self.server == "sshd":
            await asyncio.to_thread(self._start_sshd)
            self.powered = True
            await self._start_units(self._units_to_restore())
            return
        self.listener = await asyncssh.listen(
            self.address, self.port, server_factory=lambda: _Server(self),
            server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(self.client_public_key),
            process_factory=self._handle, sftp_factory=True, encoding=None,
            reuse_address=True, allow_scp=True,
        )
        self.port = self.listener.sockets[0].getsockname()[1]
        self.powered = True
        await self._start_units(self._units_to_restore())

    def _start_sshd(self) -> None:
        config = sshd_config(self)
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        log = (self.env.state_dir / "sshd.log").open("ab")
        self.sshd = subprocess.Popen(self.space.argv(SSHD, "-D", "-e", "-f", str(config)),
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.address, self.port), timeout=0.2).close()
                return
            except OSError:
                if self.sshd.poll() is not None or time.monotonic() > deadline:
                    tail = (self.env.state_dir / "sshd.log").read_text(errors="replace")[-800:]
                    raise RuntimeError(
                        f"sshd for host {self.env.name} did not start: {tail}") from None
                time.sleep(0.02)

    async def boot(self) -> None:
        """Start the host's process space (its PID namespace), before anything runs in it."""
        # On this thread, not a worker's: the namespace's holder dies with the thread that
        # started it (see ProcessSpace.start). Starting it takes milliseconds.
        self.space.start()

    async def power_off(self) -> None:
        if not self.powered:
            return
        self.powered = False
        running = [u for u in UNITS if self.env.pidfile(u).exists()]
        (self.env.state_dir / "running-at-power-off").write_text("\n".join(running))
        if self.listener is not None:
            self.listener.close()
            with contextlib.suppress(Exception):
                await self.listener.wait_closed()
        for conn in list(self.connections):
            conn.abort()
        await self.stop_services()  # in sshd mode this ends sshd with everything else
        if self.sshd is not None:
            await asyncio.to_thread(self.sshd.wait)
            self.sshd = None

    async def destroy(self) -> None:
        await self.power_off()
        self.destroyed = True

    def kill_services(self) -> None:
        """The services crash (SIGKILL), leaving systemd's view stale, as a crash does."""
        for unit in UNITS:
            subprocess.run(self.space.argv("bash", "-c", _KILL_UNIT.format(
                pidfile=shlex.quote(str(self.env.pidfile(unit))))),
                env=self.environ(), capture_output=True, timeout=10)
            self.env.pidfile(unit).unlink(missing_ok=True)

    async def stop_services(self, timeout: float = 5.0) -> None:
        """Like a machine going down: every unit is stopped (SIGTERM, then SIGKILL), then every
        process of the host ends, so nothing still answers once the droplet reports off."""
        with contextlib.suppress(OSError, RuntimeError):  # RuntimeError: already cut
            await self._run_inside("systemctl", "stop", *UNITS, timeout=timeout + 10)
        self.space.power_cut()
        await self.space.wait_empty()
        for unit in UNITS:  # their numbers mean nothing in the next boot's process space
            self.env.pidfile(unit).unlink(missing_ok=True)

    def _units_to_restore(self) -> list[str]:
        marker = self.env.state_dir / "running-at-power-off"
        if not marker.exists():
            return []
        units = [u for u in marker.read_text().split() if u in UNITS]
        marker.unlink()
        return units

    async def _start_units(self, units: list[str]) -> None:
        if units:
            await self._run_inside("systemctl", "start", *units, timeout=60)

    async def _run_inside(self, program: str, *args: str, timeout: float) -> None:
        process = await asyncio.create_subprocess_exec(
            *self.space.argv(str(self.bin_dir / program), *args), env=self.environ(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        # asyncssh closes the connection silently when a handler raises: log it instead.
        try:
            await self._run(process)
        except Exception:
            log.exception("rehearsal host %s: command %r failed", self.env.name,
                          process.command)
            with contextlib.suppress(Exception):
                process.exit(255)

    async def _run(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command
        if not command:
            process.stderr.write(b"this rehearsal host runs commands, not interactive shells\n")
            process.exit(1)
            return
        child = await asyncio.create_subprocess_exec(
            *self.space.argv("bash", "-c", command), cwd=self.env.host_dir / "fs" / "root",
            env=self.environ(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self.processes.add(child)
        reaper = asyncio.create_task(child.wait())
        reaper.add_done_callback(lambda _: self.processes.discard(child))

        async def copy_out(source: asyncio.StreamReader, sink: asyncssh.SSHWriter[bytes]) -> None:
            while chunk := await source.read(65536):
                sink.write(chunk)

        async def copy_in() -> None:
            assert child.stdin is not None
            try:
                while chunk := await process.stdin.read(65536):
                    child.stdin.write(chunk)
                    await child.stdin.drain()
            except (asyncssh.BreakReceived, asyncssh.SignalReceived,
                    asyncssh.TerminalSizeChanged, OSError):
                pass  # sshd ignores a root session's signal requests too
            finally:
                with contextlib.suppress(OSError):
                    child.stdin.close()

        assert child.stdout is not None and child.stderr is not None
        feeder = asyncio.create_task(copy_in())
        copying = asyncio.gather(copy_out(child.stdout, process.stdout),
                                 copy_out(child.stderr, process.stderr))
        closed = asyncio.create_task(process.channel.wait_closed())
        racing: list[asyncio.Future[Any]] = [copying, closed]
        try:
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if not copying.done():
                # The client closed the channel: like sshd, close the command's pipes and leave
                # it running; it meets SIGPIPE when it next writes, or runs on.
                copying.cancel()
                copying.add_done_callback(_retrieve)
                for fd in (1, 2):
                    # Process has no public way to its pipes: its private transport has them.
                    pipe = child._transport.get_pipe_transport(fd)  # type: ignore[attr-defined]
                    if pipe is not None:
                        pipe.close()
                return
            await copying
            code = await asyncio.shield(reaper)
        finally:
            closed.cancel()
            feeder.cancel()
        if not process.channel.is_closing():
            process.exit(code if code >= 0 else 128 - code)


SSHD = "/usr/sbin/sshd"


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a future we gave up on as seen, so asyncio does not log it as lost."""
    if not future.cancelled():
        future.exception()


def sshd_config(host: SandboxHost) -> Path:
    """An sshd_config serving ``host`` as a droplet would: root by key, MaxSessions 10, SFTP;
    the host's environment (stand-ins on PATH, where its tree is) given by SetEnv."""
    state = host.env.state_dir
    state.mkdir(parents=True, exist_ok=True)
    key_file = state / "ssh_host_ed25519_key"
    if not key_file.exists():
        host.host_key.write_private_key(str(key_file))
        key_file.chmod(0o600)
    authorized = state / "authorized_keys"
    authorized.write_text(host.client_public_key.strip() + "\n")
    authorized.chmod(0o600)
    # One SetEnv line: sshd keeps only the first. Values hold no spaces (paths we made).
    setenv = " ".join(f"{k}={v}" for k, v in host.environ().items() if " " not in v)
    config = state / "sshd_config"
    config.write_text(f"""Port {host.port}
ListenAddress {host.address}
HostKey {key_file}
PidFile none
AuthorizedKeysFile {authorized}
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
MaxSessions 10
Subsystem sftp internal-sftp
SetEnv {setenv}
""")
    return config


def sshd_available() -> str | None:
    """Why OpenSSH's sshd cannot serve the rehearsal hosts here, or None."""
    if not os.path.exists(SSHD):
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "sshd serves logins as root only when started by root"
    return None


_KILL_UNIT = ('pid=$(cut -d" " -f1 {pidfile} 2>/dev/null) && [ -n "$pid" ] && '
              'kill -KILL -- -"$pid" 2>/dev/null; true')
