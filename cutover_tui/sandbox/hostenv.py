"""What a rehearsal host's processes (stand-ins and services) know about their host: paths and
settings passed in the environment by the host's SSH server, and the shared journal and clock.
Kept free of heavy imports: every stand-in call starts a Python process that loads this."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

UNITS = {
    "air-demand-api": "Air Demand API",
    "air-demand-scheduler": "Air Demand scheduler",
    "air-demand-dashboard": "Air Demand dashboard",
}


@dataclass(frozen=True)
class HostEnv:
    name: str
    address: str
    host_dir: Path
    world_dir: Path
    app_dir: Path
    api_port: int
    dashboard_port: int

    @classmethod
    def from_environ(cls) -> HostEnv:
        env = os.environ
        return cls(
            name=env["SANDBOX_HOST"], address=env["SANDBOX_ADDRESS"],
            host_dir=Path(env["SANDBOX_HOST_DIR"]), world_dir=Path(env["SANDBOX_WORLD_DIR"]),
            app_dir=Path(env["SANDBOX_APP_DIR"]), api_port=int(env["SANDBOX_API_PORT"]),
            dashboard_port=int(env["SANDBOX_DASHBOARD_PORT"]),
        )

    def environ(self) -> dict[str, str]:
        return {
            "SANDBOX_HOST": self.name, "SANDBOX_ADDRESS": self.address,
            "SANDBOX_HOST_DIR": str(self.host_dir), "SANDBOX_WORLD_DIR": str(self.world_dir),
            "SANDBOX_APP_DIR": str(self.app_dir), "SANDBOX_API_PORT": str(self.api_port),
            "SANDBOX_DASHBOARD_PORT": str(self.dashboard_port),
        }

    @property
    def state_dir(self) -> Path:
        return self.host_dir / "state"

    def pidfile(self, unit: str) -> Path:
        return self.state_dir / "services" / f"{unit}.pid"

    def journal(self, unit: str) -> Path:
        return self.state_dir / "journal" / f"{unit}.log"

    @property
    def crontab(self) -> Path:
        return self.state_dir / "crontab"

    @property
    def scheduler_state(self) -> Path:
        return self.state_dir / "scheduler.json"

    @property
    def faults_file(self) -> Path:
        """The incidents given to this host (``sandbox.faults``), read by its services."""
        return self.state_dir / "faults.json"

    def open_database(self) -> sqlite3.Connection:
        """The app's production database (the world's SQLite file)."""
        import sqlite3  # here, not at the top: only the services need it

        return sqlite3.connect(self.world_dir / "db" / "production.sqlite3", timeout=5)

    def now(self) -> float:
        """The world's (movable) clock."""
        offset: float  # clock.json holds the seconds the world's clock is moved by
        try:
            offset = json.loads((self.world_dir / "clock.json").read_text())["offset"]
        except (OSError, ValueError, KeyError):
            offset = 0.0
        return time.time() + offset

    def log(self, unit: str, message: str, pid: int | None = None,
            at: float | None = None) -> None:
        """A journal entry for ``unit``, stamped now or at ``at`` (a job's scheduled time); each
        line of ``message`` an entry of its own, as journald keeps a service's output."""
        path = self.journal(unit)
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = self.now() if at is None else at
        prefix = f"{stamp:.3f}\t{unit}\t{pid or os.getpid()}\t"
        with path.open("a") as handle:
            handle.write("".join(f"{prefix}{line}\n" for line in message.split("\n")))

    def read_env_file(self) -> dict[str, str]:
        """The app's .env, read the simple way the rehearsal services need."""
        values: dict[str, str] = {}
        try:
            text = (self.app_dir / ".env").read_text()
        except OSError:
            return values
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.removeprefix("export ").partition("=")
            value = value.strip()
            if value[:1] in "\"'" and value[-1:] == value[:1]:
                value = value[1:-1]
            values[key.strip()] = value
        return values


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not running
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def running_pid(env: HostEnv, unit: str) -> int | None:
    try:
        pid = int(env.pidfile(unit).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None
