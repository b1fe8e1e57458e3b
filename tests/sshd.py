"""OpenSSH's sshd on loopback for tests and benchmarks: a temporary config, host key and
authorized key, a free port. Needs /usr/sbin/sshd. As root it logs in as root; as anyone else it
is a user-level sshd on a high port that logs in as that user (so laptops run these tests)."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def why_unavailable() -> str | None:
    if not os.path.exists(SSHD):
        return "OpenSSH's sshd is not installed (apt-get install openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is not installed"
    return None


@dataclass
class Sshd:
    directory: Path
    port: int
    client_key: Path
    known_hosts: Path
    process: subprocess.Popen
    user: str = "root"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def start(max_sessions: int = 10) -> Sshd:
    directory = Path(tempfile.mkdtemp(prefix="cutover-sshd-"))
    host_key = directory / "host_ed25519"
    client_key = directory / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
    (directory / "authorized_keys").write_text((directory / "client_ed25519.pub").read_text())
    os.chmod(directory / "authorized_keys", 0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = directory / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {directory}/sshd.pid
AuthorizedKeysFile {directory}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
{"PermitRootLogin prohibit-password" if os.geteuid() == 0 else ""}
StrictModes no
UsePAM no
MaxSessions {max_sessions}
Subsystem sftp internal-sftp
""")
    with contextlib.suppress(OSError):  # privilege separation directory; root only
        os.makedirs("/run/sshd", exist_ok=True)
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"sshd exited: {process.stderr.read().decode()}") from None
            time.sleep(0.05)
    algorithm, blob = (directory / "host_ed25519.pub").read_text().split()[:2]
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {algorithm} {blob}\n")
    return Sshd(directory, port, client_key, known_hosts, process, getpass.getuser())
