"""One rehearsal host: a real asyncssh server on the host's own loopback address, running each
command as a real process (``bash -c``) in the host's tree with the stand-ins first on PATH,
and SFTP on the same connection. Powering it off closes the listener and every connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

import asyncssh

from .hostenv import UNITS, HostEnv, pid_alive, running_pid

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
                 client_public_key: str, port: int = 0):
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

    @property
    def address(self) -> str:
        return self.env.address

    def environ(self) -> dict[str, str]:
        path = f"{self.bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        home = self.env.host_dir / "fs" / "root"
        log = self.env.host_dir / "fs" / "var" / "log" / "air-demand-health.log"
        return {"PATH": path, "HOME": str(home), "USER": "root", "LOGNAME": "root",
                "LANG": "C.UTF-8", "SHELL": "/bin/bash", "HEALTH_LOG": str(log),
                **self.env.environ()}

    async def power_on(self) -> None:
        if self.destroyed:
            raise RuntimeError(f"host {self.env.name} was destroyed")
        if self.powered:
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

    async def power_off(self) -> None:
        if not self.powered:
            return
        self.powered = False
        running = [u for u in UNITS if running_pid(self.env, u)]
        (self.env.state_dir / "running-at-power-off").write_text("\n".join(running))
        if self.listener is not None:
            self.listener.close()
            with contextlib.suppress(Exception):
                await self.listener.wait_closed()
        for conn in list(self.connections):
            conn.abort()
        for process in list(self.processes):
            _kill_group(process.pid)
        await self.stop_services()

    async def destroy(self) -> None:
        await self.power_off()
        self.destroyed = True

    def kill_services(self) -> None:
        for unit in UNITS:
            pid = running_pid(self.env, unit)
            if pid:
                _kill_group(pid)
            self.env.pidfile(unit).unlink(missing_ok=True)

    async def stop_services(self, timeout: float = 5.0) -> None:
        """Like a machine going down: SIGTERM every service, wait until they are gone (then
        SIGKILL), so nothing still answers once the droplet reports off."""
        pids = [pid for unit in UNITS if (pid := running_pid(self.env, unit))]
        self.kill_services()
        deadline = asyncio.get_running_loop().time() + timeout
        while any(pid_alive(pid) for pid in pids):
            if asyncio.get_running_loop().time() > deadline:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
                break
            await asyncio.sleep(0.02)

    def _units_to_restore(self) -> list[str]:
        marker = self.env.state_dir / "running-at-power-off"
        if not marker.exists():
            return []
        units = [u for u in marker.read_text().split() if u in UNITS]
        marker.unlink()
        return units

    async def _start_units(self, units: list[str]) -> None:
        if units:
            process = await asyncio.create_subprocess_exec(
                str(self.bin_dir / "systemctl"), "start", *units, env=self.environ(),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await process.wait()

    async def _handle(self, process: asyncssh.SSHServerProcess) -> None:
        # asyncssh closes the connection silently when a handler raises: log it instead.
        try:
            await self._run(process)
        except Exception:
            log.exception("rehearsal host %s: command %r failed", self.env.name,
                          process.command)
            with contextlib.suppress(Exception):
                process.exit(255)

    async def _run(self, process: asyncssh.SSHServerProcess) -> None:
        command = process.command
        if not command:
            process.stderr.write(b"this rehearsal host runs commands, not interactive shells\n")
            process.exit(1)
            return
        child = await asyncio.create_subprocess_exec(
            "bash", "-c", command, cwd=self.env.host_dir / "fs" / "root", env=self.environ(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )
        self.processes.add(child)

        async def copy_out(source: asyncio.StreamReader, sink: asyncssh.SSHWriter) -> None:
            while chunk := await source.read(65536):
                sink.write(chunk)

        async def copy_in() -> None:
            assert child.stdin is not None
            try:
                while chunk := await process.stdin.read(65536):
                    child.stdin.write(chunk)
                    await child.stdin.drain()
            except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, OSError):
                pass
            finally:
                with contextlib.suppress(OSError):
                    child.stdin.close()

        async def watch_channel() -> None:
            # The client closed the channel (e.g. it stopped following `journalctl -f`).
            await process.channel.wait_closed()
            _kill_group(child.pid)

        watcher = asyncio.create_task(watch_channel())
        feeder = asyncio.create_task(copy_in())
        try:
            assert child.stdout is not None and child.stderr is not None
            await asyncio.gather(copy_out(child.stdout, process.stdout),
                                 copy_out(child.stderr, process.stderr))
            code = await child.wait()
        finally:
            watcher.cancel()
            feeder.cancel()
            self.processes.discard(child)
        if not process.channel.is_closing():
            process.exit(code if code >= 0 else 128 - code)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
