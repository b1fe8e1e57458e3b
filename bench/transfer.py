"""Download the same file from OpenSSH's sshd on loopback, including its sha256: `scp` then
`sha256sum` (the anchor) against our transport — asyncssh SFTP, tuned — as the backup step does
it now (`get_hashed`: hashed while it downloads, one pass over the bytes) and as it did before
(`get`, then a second pass to hash the file). Best of three rounds (BENCH_ROUNDS), each running
every row once; ratios are time, against the anchor measured in the same run (0.50x: twice as
fast). Needs /usr/sbin/sshd and root.

    uv run python bench/transfer.py           # 256 MiB
    uv run python bench/transfer.py --gib     # 1 GiB (the issue's figure)
    uv run python bench/transfer.py --sweep   # also ciphers and read sizes (asyncssh's defaults)
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cutover_tui.remote.ssh import SSHPool, SSHTarget  # noqa: E402
from cutover_tui.steps.backup import BLOCK_SIZE, MAX_REQUESTS  # noqa: E402
from tests import sshd  # noqa: E402

AES = "aes128-gcm@openssh.com"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def pool_for(server: sshd.Sshd, cipher: str | None) -> SSHPool:
    return SSHPool({"box": SSHTarget("box", "127.0.0.1", server.port, server.user,
                                     str(server.client_key), str(server.known_hosts))},
                   ciphers=[cipher] if cipher else None)


async def ours(server: sshd.Sshd, source: Path, target: Path, block: int, requests: int,
               cipher: str | None, one_pass: bool, expected: str) -> float:
    pool = pool_for(server, cipher)
    target.touch(mode=0o600)
    started = time.perf_counter()  # connecting included, as scp's time includes it
    async with pool.sftp("box") as sftp:
        if one_pass:
            digest = await sftp.get_hashed(str(source), target, block_size=block,
                                           max_requests=requests)
        else:
            await sftp.get(str(source), str(target), block_size=block, max_requests=requests)
    if not one_pass:
        digest = await asyncio.to_thread(sha256, target)
    elapsed = time.perf_counter() - started
    await pool.close()
    target.unlink()
    if digest != expected:
        raise SystemExit("the download's sha256 is wrong")
    return elapsed


def _ours(*args: Any) -> float:
    return asyncio.run(ours(*args))


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", action="store_true", help="1 GiB instead of 256 MiB")
    parser.add_argument("--sweep", action="store_true", help="also other ciphers and read sizes")
    args = parser.parse_args()
    size = int(os.environ.get("BENCH_BYTES", (1 << 30) if args.gib else (256 << 20)))
    reason = sshd.why_unavailable()
    if reason:
        sys.exit(f"cannot run: {reason}")
    os.environ["CUTOVER_LOOPBACK_ONLY"] = "1"
    server = sshd.start()
    try:
        source = server.directory / "big.bin"
        with source.open("wb") as handle:
            for _ in range(size // (1 << 20)):
                handle.write(os.urandom(1 << 20))
        expected = sha256(source)
        target = server.directory / "copy.bin"
        mib = size / (1 << 20)
        print(f"{mib:.0f} MiB from OpenSSH sshd on loopback, including the sha256; best of "
              f"{ROUNDS} rounds, each running every row once (the machine's noise shared)")
        rows: dict[str, Callable[[], float]] = {
            "scp + sha256sum (anchor)": lambda: scp(server, source, target),
            "scp -c aes128-gcm + sha256sum": lambda: scp(server, source, target, AES),
        }
        runs = [(AES, BLOCK_SIZE, MAX_REQUESTS)]
        if args.sweep:
            runs = [(cipher, block, requests) for cipher in ("chacha20-poly1305@openssh.com", AES)
                    for block, requests in ((16384, 128), (262144, 64), (262144, 16))]
        for cipher, block, requests in runs:
            rows[f"ours, get then sha256, {cipher.split('@')[0]}, {block // 1024} KiB x "
                 f"{requests}"] = functools.partial(_ours, server, source, target, block,
                                                    requests, cipher, False, expected)
        hashed_row = (f"ours, hashed while downloading, {BLOCK_SIZE // 1024} KiB x "
                      f"{MAX_REQUESTS}")
        rows[hashed_row] = functools.partial(_ours, server, source, target, BLOCK_SIZE,
                                             MAX_REQUESTS, AES, True, expected)
        best: dict[str, float] = {}
        for _ in range(ROUNDS):
            for label, run in rows.items():
                best[label] = min(best.get(label, float("inf")), run())
        anchor = best["scp + sha256sum (anchor)"]
        for label, seconds in best.items():
            ratio = "" if label.endswith("(anchor)") else f"  ratio {seconds / anchor:4.2f}x"
            print(f"{label:<48} {seconds:6.2f} s  {mib / seconds:7.1f} MiB/s{ratio}")
        hashed = best[hashed_row]
        print(f"backup download + verify, {mib:.0f} MiB: {hashed:.2f} s, "
              f"{mib / hashed:.1f} MiB/s, {anchor / hashed:.2f}x the speed of scp + sha256sum: "
              f"ratio {hashed / anchor:.2f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
