"""Download the same 1 GiB file from OpenSSH's sshd on loopback: our transport (asyncssh SFTP,
tuned, then sha256) against `scp` (then sha256sum), both including the checksum. Prints the
ratio. Needs /usr/sbin/sshd and root."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cutover_tui.remote.ssh import SSHPool, SSHTarget  # noqa: E402
from tests import sshd  # noqa: E402

SIZE = int(os.environ.get("BENCH_BYTES", 1 << 30))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def ours(server: sshd.Sshd, source: Path, target: Path, block: int, requests: int,
               cipher: str | None) -> float:
    pool = SSHPool({"box": SSHTarget("box", "127.0.0.1", server.port, server.user,
                                     str(server.client_key), str(server.known_hosts))},
                   ciphers=[cipher] if cipher else None)
    started = time.perf_counter()
    async with pool.sftp("box") as sftp:
        await sftp.get(str(source), str(target), block_size=block, max_requests=requests)
    await asyncio.to_thread(sha256, target)
    elapsed = time.perf_counter() - started
    await pool.close()
    target.unlink()
    return elapsed


def scp(server: sshd.Sshd, source: Path, target: Path, cipher: str | None = None) -> float:
    started = time.perf_counter()
    extra = ["-c", cipher] if cipher else []
    subprocess.run(["scp", "-q", *extra, "-P", str(server.port), "-i", str(server.client_key),
                    "-o", f"UserKnownHostsFile={server.known_hosts}", "-o", "BatchMode=yes",
                    f"root@127.0.0.1:{source}", str(target)], check=True)
    subprocess.run(["sha256sum", str(target)], check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def main() -> None:
    reason = sshd.why_unavailable()
    if reason:
        sys.exit(f"cannot run: {reason}")
    os.environ["CUTOVER_LOOPBACK_ONLY"] = "1"
    server = sshd.start()
    try:
        source = server.directory / "big.bin"
        with source.open("wb") as handle:
            for _ in range(SIZE // (1 << 20)):
                handle.write(os.urandom(1 << 20))
        target = server.directory / "copy.bin"
        mib = SIZE / (1 << 20)
        anchor = min(scp(server, source, target) for _ in range(2))
        print(f"scp + sha256sum                          {anchor:6.2f} s  "
              f"{mib / anchor:7.1f} MiB/s  (anchor)")
        aes = min(scp(server, source, target, "aes128-gcm@openssh.com") for _ in range(2))
        print(f"scp -c aes128-gcm + sha256sum            {aes:6.2f} s  "
              f"{mib / aes:7.1f} MiB/s  ratio {aes / anchor:4.2f}x")
        for cipher in ("chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"):
            for block, requests in ((16384, 128), (262144, 64), (262144, 16)):
                elapsed = asyncio.run(ours(server, source, target, block, requests, cipher))
                print(f"ours {cipher or 'default':<30} {block // 1024:>4} KiB x {requests:<3} "
                      f"{elapsed:6.2f} s  {mib / elapsed:7.1f} MiB/s  "
                      f"ratio {elapsed / anchor:4.2f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
