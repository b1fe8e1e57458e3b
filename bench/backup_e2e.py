"""The seed's backup procedure (pg_dump to a file on the host, gzip, scp down) against our
verified backup step (pg_dump through stdin-fed PGPASSWORD, sha256 on both ends, SFTP, gzip -t /
pg_restore --list, table and row checks), on the same PostgreSQL database, over OpenSSH's sshd
on loopback. Prints the end-to-end ratio. Needs sshd, PostgreSQL's server binaries and root."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cutover_tui.operator import HeadlessOperator  # noqa: E402
from cutover_tui.runbook import Overrides, load_runbook  # noqa: E402
from cutover_tui.session import open_session  # noqa: E402
from tests import pgcluster, sshd  # noqa: E402
from tests.helpers import backup_book  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", 200_000))

def seed_procedure(server: sshd.Sshd, env_file: Path, remote: Path, local: Path) -> float:
    ssh = ["-i", str(server.client_key), "-o", f"UserKnownHostsFile={server.known_hosts}",
           "-o", "BatchMode=yes"]
    started = time.perf_counter()
    script = (f"export $(grep DATABASE_URL {env_file} | xargs) && "
              f"pg_dump \"$DATABASE_URL\" > {remote}/production_backup_seed.sql && "
              f"gzip -f {remote}/production_backup_seed.sql")
    subprocess.run(["ssh", *ssh, "-p", str(server.port), "root@127.0.0.1", script], check=True)
    subprocess.run(["scp", "-q", *ssh, "-P", str(server.port),
                    f"root@127.0.0.1:{remote}/production_backup_seed.sql.gz", str(local)],
                   check=True)
    return time.perf_counter() - started


async def ours(server: sshd.Sshd, env_file: Path, remote: Path, local: Path, fmt: str,
               work: Path) -> tuple[float, str]:
    path = work / f"bench-{fmt}.toml"
    path.write_text(backup_book(fmt, restore="off", host="db", address="127.0.0.1"))
    overrides = Overrides(
        hosts={"db": {"port": server.port, "ssh_key": str(server.client_key),
                      "known_hosts": str(server.known_hosts)}},
        variables={"app_dir": str(env_file.parent), "remote_backup_dir": str(remote),
                   "local_backup_dir": str(local)})
    session = open_session(load_runbook(path, overrides), HeadlessOperator("bench", yes=True),
                           state=work / f"run-{fmt}.toml", workdir=work)
    started = time.perf_counter()
    verdict = await session.engine.run_step("2.1")
    elapsed = time.perf_counter() - started
    await session.aclose()
    if not verdict.ok:
        raise SystemExit(f"our backup failed: {verdict.summary}")
    return elapsed, verdict.summary


def main() -> None:
    for reason in (sshd.why_unavailable(), pgcluster.why_unavailable()):
        if reason:
            sys.exit(f"cannot run: {reason}")
    os.environ["CUTOVER_LOOPBACK_ONLY"] = "1"
    cluster = pgcluster.start(password="bench-pw-123")
    server = sshd.start()
    work = Path(tempfile.mkdtemp(prefix="cutover-bench-"))
    try:
        pgcluster.load_air_demand(cluster, rows=ROWS)
        env_file = work / ".env"
        env_file.write_text(f"DATABASE_URL={cluster.url()}\n")
        remote, local = work / "remote", work / "local"
        remote.mkdir()
        local.mkdir()
        anchor = min(seed_procedure(server, env_file, remote, local) for _ in range(2))
        size = (local / "production_backup_seed.sql.gz").stat().st_size
        print(f"database: 9 tables, {ROWS} briefing rows; sql.gz {size / 2**20:.1f} MiB")
        print(f"seed: ssh pg_dump > file; gzip; scp     {anchor:6.2f} s  (anchor)")
        for fmt in ("sql.gz", "custom"):
            elapsed, summary = min(asyncio.run(ours(server, env_file, remote, local, fmt, work))
                                   for _ in range(2))
            print(f"ours: verified backup ({fmt:<6})         {elapsed:6.2f} s  "
                  f"ratio {elapsed / anchor:4.2f}x   {summary}")
    finally:
        server.stop()
        cluster.stop()
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
