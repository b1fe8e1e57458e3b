"""Where a rehearsal host's processes live.

On a droplet, ``ps`` and ``pgrep`` list that machine's processes, the shell that runs them
included (``bash -c "pgrep -af 'uvicorn' || …"`` matches its own pattern). Every rehearsal host
runs on this one machine, so each gets its own PID namespace with its own ``/proc`` where the
machine allows one (root, or ``CUTOVER_SANDBOX_PIDNS=0`` to refuse): the real ``ps`` and
``pgrep`` then see exactly that host. Elsewhere the host shares the machine's process table and
the ``ps``/``pgrep`` stand-ins list the processes tagged with the host's directory in their
environment — the calling shell included, as on a droplet.

A namespace is held by a small init (PID 1, reaping orphans, as systemd does for services whose
starter exited); killing it is a power cut: the kernel kills everything inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

TAG = "SANDBOX_HOST_DIR"


@functools.cache
def namespaces_available() -> bool:
    if os.environ.get("CUTOVER_SANDBOX_PIDNS", "1") == "0" or sys.platform != "linux":
        return False
    try:
        probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                               capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


class ProcessSpace:
    """One host's processes: ``argv(...)`` runs a program inside; ``power_cut()`` ends them all."""

    def __init__(self, host_dir: Path):
        self.host_dir = host_dir
        self.use_namespace = namespaces_available()
        self._holder: subprocess.Popen[bytes] | None = None
        self._init_pid: int | None = None

    @property
    def isolated(self) -> bool:
        return self.use_namespace

    def start(self) -> None:
        if not self.use_namespace or self._holder is not None:
            return
        # --kill-child: if the holder dies, so does the namespace (and so every process in it).
        # setpriv --pdeathsig: the holder dies with the process that started it, so a world whose
        # owner was killed (SIGKILL, a test timeout) leaves nothing running. The death signal
        # follows the starting *thread*: start() runs on the event loop's thread, not a worker.
        guard = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
        self._holder = subprocess.Popen(
            [*guard, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
             sys.executable, "-m", "cutover_tui.sandbox.procinit"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while self._init_pid is None:
            children = Path(f"/proc/{self._holder.pid}/task/{self._holder.pid}/children")
            with contextlib.suppress(OSError, ValueError, IndexError):
                self._init_pid = int(children.read_text().split()[0])
            if self._init_pid is None:
                if self._holder.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("could not start the rehearsal host's PID namespace")
                time.sleep(0.01)

    def argv(self, *program: str) -> list[str]:
        """``program`` run inside the host, as the leader of a new session (as sshd does)."""
        if not self.use_namespace:
            return ["setsid", *program] if program[:1] != ("setsid",) else list(program)
        if self._init_pid is None:
            raise RuntimeError("the rehearsal host is powered off")
        return ["nsenter", "-t", str(self._init_pid), "-p", "-m", "--", "setsid", *program]

    def power_cut(self) -> None:
        """Every process of the host ends now (SIGKILL), as when a machine loses power."""
        if self.use_namespace:
            holder, self._holder, self._init_pid = self._holder, None, None
            if holder is not None:
                with contextlib.suppress(ProcessLookupError):
                    holder.kill()
                holder.wait()
            return
        for pid in tagged_processes(self.host_dir):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    async def wait_empty(self, timeout: float = 5.0) -> None:
        if self.use_namespace:
            return  # the kernel has killed the namespace's processes with its init
        deadline = time.monotonic() + timeout
        while tagged_processes(self.host_dir) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def pids(self) -> list[int]:
        """This host's processes as the machine (outside any namespace) numbers them."""
        if not self.use_namespace:
            return tagged_processes(self.host_dir)
        if self._init_pid is None:
            return []
        own = _namespace_of(self._init_pid)
        return [pid for pid in _all_pids() if pid != self._init_pid and _namespace_of(pid) == own]


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _namespace_of(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def tagged_processes(host_dir: Path) -> list[int]:
    """Processes whose environment names ``host_dir`` (how a shared process table tells hosts
    apart), zombies excluded."""
    needle = f"{TAG}={host_dir}\0".encode()
    found = []
    for pid in _all_pids():
        try:
            if needle not in Path(f"/proc/{pid}/environ").read_bytes() + b"\0":
                continue
            if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] == "Z":
                continue
        except (OSError, IndexError):
            continue
        found.append(pid)
    return found
