"""The rehearsal world: the M11 runbook's hosts, services, database and DigitalOcean account,
all real servers on loopback, in one directory.

    world = World(tmp_path)
    await world.start()
    book = load_runbook(M11, world.overrides())
    ...
    await world.stop()

Each host ("old" 127.0.0.2, "new" 127.0.0.3) is an SSH server on a free port running commands
as real processes in its own tree, with its services running as processes. ``stop`` leaves no
process or listening port behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import MovableClock
from ..runbook import Overrides
from . import appfiles
from .data import create_database
from .hostenv import UNITS, HostEnv

if TYPE_CHECKING:
    from .doapi import DOApiStandIn
    from .sshhost import SandboxHost

HOST_ADDRESSES = {"old": "127.0.0.2", "new": "127.0.0.3"}
DROPLET_NAMES = {"old": "air-demand-prod", "new": "air-demand-staging"}
DROPLET_IDS = {"old": 318829101, "new": 402113377}
# What a laptop cannot have: always stand-ins.
STANDINS = ("systemctl", "journalctl", "crontab", "pg_dump", "uv")
# Real tools when the machine has them; the stand-ins are the fallback.
REAL_IF_PRESENT = ("curl", "jq")
# The real ones see only the host's processes inside its own PID namespace.
PROCESS_TOOLS = ("ps", "pgrep")
GIT_ENV = {"GIT_AUTHOR_NAME": "air-demand", "GIT_AUTHOR_EMAIL": "dev@air-demand.example",
           "GIT_COMMITTER_NAME": "air-demand", "GIT_COMMITTER_EMAIL": "dev@air-demand.example"}


def free_port(addresses: list[str]) -> int:
    """A port free on every one of ``addresses``."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port: int = probe.getsockname()[1]  # an IPv4 socket's name is (address, port)
        try:
            for address in addresses:
                with socket.socket() as check:
                    check.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    check.bind((address, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port found on the rehearsal addresses")


def _is_sshd(cmdline: str) -> bool:
    return cmdline.startswith(("sshd:", "/usr/sbin/sshd "))


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})


class World:
    def __init__(self, root: Path, clock: MovableClock | None = None,
                 hosts: tuple[str, ...] = ("old", "new"), action_seconds: float = 0.2,
                 server: str = "asyncssh"):
        self.root = Path(root).resolve()
        self.clock = clock or MovableClock(state_file=self.root / "clock.json")
        if self.clock.state_file is None:
            self.clock.state_file = self.root / "clock.json"
        self.host_names = hosts
        self.server = server
        self.action_seconds = action_seconds
        self.hosts: dict[str, SandboxHost] = {}  # built by start()
        self.planned: dict[str, tuple[HostEnv, int]] = {}  # by prepare(): each host's env, port
        self.api: DOApiStandIn | None = None
        self.token = "dop_v1_" + secrets.token_hex(32)
        self.db_password = secrets.token_urlsafe(18)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = False

    # ------------------------------------------------------------------ paths

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def operator_dir(self) -> Path:
        return self.root / "operator"

    @property
    def client_key(self) -> Path:
        return self.operator_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.operator_dir / "known_hosts"

    @property
    def local_repo(self) -> Path:
        return self.operator_dir / "air-demand"

    @property
    def backup_dir(self) -> Path:
        return self.operator_dir / "air-demand-backups"

    def app_dir(self, host: str) -> Path:
        return self.root / "hosts" / host / "fs" / "root" / "air-demand"

    # ------------------------------------------------------------------ life cycle

    def prepare(self) -> World:
        """Pick ports and paths, so ``overrides()`` works before ``start()``: the wizard can
        show the runbook at once while the world comes up. The keys and SSH servers (and
        asyncssh, ~0.1 s to import) come with ``start``, after the first paint."""
        if self.planned:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        self.operator_dir.mkdir(parents=True, exist_ok=True)
        addresses = [HOST_ADDRESSES[h] for h in self.host_names]
        api_port = free_port(addresses)
        dashboard_port = free_port(addresses)
        for name in self.host_names:
            env = HostEnv(name, HOST_ADDRESSES[name], self.root / "hosts" / name, self.root,
                          self.app_dir(name), api_port, dashboard_port)
            self.planned[name] = (env, free_port([HOST_ADDRESSES[name]]))
        return self

    def _build_hosts(self) -> None:
        """The planned hosts' keys and SSH servers (not listening yet); run in a thread."""
        import asyncssh

        from .sshhost import SandboxHost

        if self.hosts:
            return
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key.write_private_key(str(self.client_key))
        public = client_key.export_public_key().decode()
        self.known_hosts.touch()
        for name, (env, port) in self.planned.items():
            self.hosts[name] = SandboxHost(env, self.bin_dir,
                                           asyncssh.generate_private_key("ssh-ed25519"), public,
                                           port=port, server=self.server)

    async def start(self) -> World:
        self.loop = asyncio.get_running_loop()
        self.prepare()
        self.clock.advance(0)
        await asyncio.to_thread(self._build_hosts)
        await asyncio.to_thread(self._build_files)
        try:
            from .doapi import DOApiStandIn, DropletRecord

            hosts = list(self.hosts.values())
            await asyncio.gather(*(host.power_on() for host in hosts))
            await asyncio.gather(*(host._start_units(list(UNITS)) for host in hosts))
            self.api = DOApiStandIn(self.token, self._effect, self.action_seconds,
                                    clock=self.clock.time)
            for name in self.host_names:
                self.api.add_droplet(DropletRecord(DROPLET_IDS[name], DROPLET_NAMES[name],
                                                   HOST_ADDRESSES[name], name))
            self.api.start()
        except BaseException:
            await self.stop()
            raise
        self.started = True
        return self

    async def stop(self) -> None:
        for host in self.hosts.values():
            await host.power_off()
            await host.stop_services()
        if self.api is not None:
            self.api.stop()
        self.started = False

    async def __aenter__(self) -> World:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def _effect(self, host_name: str, effect: str) -> None:
        """Called from the API stand-in's thread when an action completes."""
        host = self.hosts[host_name]
        coroutine = {"power_off": host.power_off, "power_on": host.power_on,
                     "destroy": host.destroy}[effect]()
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    # ------------------------------------------------------------------ building the tree

    def standins(self) -> list[str]:
        """The programs this machine needs stand-ins for on the hosts."""
        isolated = all(host.space.isolated for host in self.hosts.values())
        return [*STANDINS, *(n for n in REAL_IF_PRESENT if shutil.which(n) is None),
                *(() if isolated else PROCESS_TOOLS)]

    def _build_files(self) -> None:
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        wanted = self.standins()
        for name in (*STANDINS, *REAL_IF_PRESENT, *PROCESS_TOOLS):
            script = self.bin_dir / name
            if name not in wanted:
                script.unlink(missing_ok=True)
                continue
            script.write_text(f"#!{sys.executable}\nfrom cutover_tui.sandbox.standins import main\n"
                              f"main({name!r})\n")
            script.chmod(0o755)
        db_dir = self.root / "db"
        db_dir.mkdir(exist_ok=True)
        if not (db_dir / "production.sqlite3").exists():
            create_database(db_dir / "production.sqlite3")
        # A managed database: SSL only, its certificate signed by this CA (DigitalOcean's
        # "ca-certificate.crt"), for these names. pg_dump's stand-in checks sslmode against it.
        ca = db_dir / "ca-certificate.crt"
        if not ca.exists():
            ca.write_text("-----BEGIN CERTIFICATE-----\n" + secrets.token_urlsafe(48) +
                          "\n-----END CERTIFICATE-----\n")
        config = {"host": "127.0.0.1", "port": 25060, "user": "doadmin",
                  "password": self.db_password, "dbname": "air_demand",
                  "ssl": {"ca": str(ca), "names": ["127.0.0.1", "localhost"]}}
        (db_dir / "database.json").write_text(json.dumps(config))
        database_url = (f"postgresql://doadmin:{self.db_password}@127.0.0.1:25060/air_demand"
                        "?sslmode=require")
        self._build_origin()
        self.operator_dir.mkdir(parents=True, exist_ok=True)
        if not self.local_repo.exists():
            _git(self.operator_dir, "clone", "-q", str(self.root / "git" / "air-demand.git"),
                 "air-demand")
        for name in self.host_names:
            fs = self.root / "hosts" / name / "fs"
            (fs / "root" / "backups").mkdir(parents=True, exist_ok=True)
            (fs / "var" / "log").mkdir(parents=True, exist_ok=True)
            # On a droplet, localhost is the droplet; here it is the host's own loopback
            # address. The real curl reads this from $CURL_HOME/.curlrc.
            address = HOST_ADDRESSES[name]
            (fs / "root" / ".curlrc").write_text(
                f"connect-to = localhost::{address}:\nconnect-to = 127.0.0.1::{address}:\n")
            state = self.root / "hosts" / name / "state"
            (state / "services").mkdir(parents=True, exist_ok=True)
            (state / "journal").mkdir(parents=True, exist_ok=True)
            app_dir = self.app_dir(name)
            if not app_dir.exists():
                _git(fs / "root", "clone", "-q", str(self.root / "git" / "air-demand.git"),
                     "air-demand")
            secret_key, api_token = secrets.token_hex(24), secrets.token_urlsafe(24)
            env_path = app_dir / ".env"
            env_path.write_text(appfiles.env_file("staging" if name == "new" else "production",
                                                  database_url, secret_key, api_token))
            env_path.chmod(0o600)
            (state / "crontab").write_text(
                "# m h dom mon dow command\n"
                "0 2 * * * /root/air-demand/scripts/rotate_logs.sh\n")

    def _build_origin(self) -> None:
        origin = self.root / "git" / "air-demand.git"
        if origin.exists():
            return
        work = self.root / "git" / "seed"
        for path, text in appfiles.FILES.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            if path in appfiles.EXECUTABLE:
                target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        _git(work, "init", "-q", "-b", "main")
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "-m", "air-demand as of M10")
        _git(self.root / "git", "clone", "-q", "--bare", str(work), str(origin))
        shutil.rmtree(work)

    # ------------------------------------------------------------------ pointing a runbook here

    def overrides(self, hosts_in_runbook: list[str] | None = None) -> Overrides:
        """Overrides that point a runbook's hosts (all of the world's, or the ones named) here."""
        hosts: dict[str, dict[str, Any]] = {}
        host_vars: dict[str, dict[str, str]] = {}
        self.prepare()
        for name, (env, port) in self.planned.items():
            if hosts_in_runbook is not None and name not in hosts_in_runbook:
                continue
            hosts[name] = {"address": env.address, "port": port, "user": "root",
                           "ssh_key": str(self.client_key), "known_hosts": str(self.known_hosts)}
            fs = self.root / "hosts" / name / "fs"
            host_vars[name] = {"app_dir": str(self.app_dir(name)),
                               "remote_backup_dir": str(fs / "root" / "backups"),
                               "health_log": str(fs / "var" / "log" / "air-demand-health.log")}
        first, _ = next(iter(self.planned.values()))
        python = sys.executable
        variables = {
            "api_port": str(first.api_port),
            "dashboard_port": str(first.dashboard_port),
            "local_backup_dir": str(self.backup_dir),
            "local_repo": str(self.local_repo),
            "dashboard_dir": str(self.local_repo / "dashboard"),
            "test_command": f"{python} tests/run_suite.py",
            "smoke_command": f"{python} tests/run_suite.py --smoke",
        }
        return Overrides(hosts=hosts, variables=variables, host_vars=host_vars)

    def leftovers(self) -> dict[str, list[str]]:
        """Per host, the processes that are neither the app's services nor sshd: what a run
        left behind (a followed log, a command that outlived its step)."""
        found: dict[str, list[str]] = {}
        for name, host in self.hosts.items():
            for pid in host.space.pids():
                try:
                    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                line = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
                if not line or "cutover_tui.sandbox.service " in line or _is_sshd(line):
                    continue
                found.setdefault(name, []).append(f"{pid} {line}")
        return found

    async def wait_no_leftovers(self, timeout: float = 3.0) -> dict[str, list[str]]:
        """``leftovers()`` once the sessions just closed have had a moment to end."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (found := self.leftovers()) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return found

    def inject(self, host_name: str, fault: str, start: float, duration: float,
               **params: Any) -> None:
        """Give host ``host_name`` an incident from ``start`` (on the world's clock, so it can be
        set before the clock gets there) for ``duration`` seconds: one of ``faults.KINDS``
        (``api-down``, ``scrape-fail``, ``db-down``, ``dashboard-down``, ``errors`` with
        ``count``). Its services read it from the host's faults file; it ends by itself."""
        from ..errors import ConfigError
        from .faults import add_fault, make_fault

        if host_name not in self.hosts:
            raise ConfigError(f"the world has no host {host_name!r}: it has "
                              f"{', '.join(self.hosts) or 'none yet'}")
        add_fault(self.hosts[host_name].env.faults_file,
                  make_fault(fault, start, duration, params))

    def droplet_api(self, **kwargs: Any) -> Any:
        from ..remote.droplets import DropletAPI

        assert self.api is not None
        return DropletAPI(self.token, self.api.url, **kwargs)

    def trust_host_keys(self) -> None:
        """Record every host's key in the operator's known_hosts (no prompt on first use)."""
        lines = []
        for host in self.hosts.values():
            algorithm, blob = host.host_key.export_public_key().decode().split()[:2]
            lines.append(f"[{host.address}]:{host.port} {algorithm} {blob}\n")
        self.known_hosts.write_text("".join(lines))
