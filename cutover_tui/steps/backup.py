"""``backup``: a verified database backup, the safety net for every later phase.

On the host: ``pg_dump`` with the credentials from the host's ``.env`` (the password travels on
the SSH channel's stdin into ``PGPASSWORD``, never on a command line), written to a temporary
name and renamed, then hashed there. Downloaded over the same SSH connection by SFTP into a
``.partial`` file and hashed on the way (one pass over the bytes), the two hashes compared,
checked (``pg_restore --list`` or ``gzip -t``, table count, row counts, optionally a scratch
restore) and only then renamed to its final name.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ..checklist import tail
from ..clock import iso
from ..envfile import EnvFile
from ..errors import GateClosed, cause_of
from ..events import Verdict
from ..records import RunRecords, StepState
from ..runbook import BackupStep, Runbook
from .backup_verify import scratch_restore, sha256_file, verify_local
from .base import StepContext
from .env_edit import read_remote
from .plans import MIN_FREE, plan_backup

plan = plan_backup  # what the kind will do (plans.py: planning imports no run-time module)

# SFTP reads of 256 KiB, 16 in flight: the fastest setting measured (docs/benchmarks.md).
BLOCK_SIZE = 256 * 1024
MAX_REQUESTS = 16


# asyncpg's ``ssl`` query parameter, as libpq's sslmode (libpq refuses ``ssl``).
ASYNCPG_SSL = {"true": "require", "false": "disable", **{m: m for m in (
    "disable", "allow", "prefer", "require", "verify-ca", "verify-full")}}


def database_parts(url: str) -> dict[str, str]:
    """What pg_dump needs of a PostgreSQL URL: the password, which goes apart (stdin, then
    PGPASSWORD), and ``conninfo``, the URL as libpq reads it without the password — every other
    option (``sslmode``, ``sslrootcert``, ``connect_timeout``, several hosts …) kept as written.
    The host, port, user and database are for saying what is dumped."""
    parts = urlsplit(url)
    base, _, driver = parts.scheme.partition("+")
    if base not in ("postgres", "postgresql") or driver not in (
            "", "asyncpg", "psycopg", "psycopg2", "pg8000"):
        raise GateClosed(f"the database URL is not a PostgreSQL URL (scheme {parts.scheme!r})")
    userinfo, at, hosts = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    password = unquote(password) if colon else ""
    kept = []
    names = {unquote(item.partition("=")[0]) for item in parts.query.split("&")}
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        key = unquote(key)
        if key == "password":  # libpq takes it in the query too: never into argv
            password = password or unquote(value)
            continue
        if key == "sslpassword":
            raise GateClosed("the database URL has sslpassword, which pg_dump could only be "
                             "given on its command line (visible in ps); use a client key "
                             "without a passphrase for the backup")
        if driver == "asyncpg" and key == "ssl" and "sslmode" not in names:
            if unquote(value).lower() not in ASYNCPG_SSL:
                raise GateClosed(f"the database URL's ssl={unquote(value)!r} is not an sslmode")
            item = f"sslmode={ASYNCPG_SSL[unquote(value).lower()]}"
        kept.append(item)
    conninfo = urlunsplit(("postgresql", f"{user}@{hosts}" if at else hosts, parts.path,
                           "&".join(kept), ""))
    first = re.match(r"^(?:\[(?P<v6>[^\]]*)\]|(?P<name>[^:,]*))(?::(?P<port>\d*))?",
                     hosts.split(",")[0])
    assert first is not None  # the pattern matches any text
    return {
        "host": unquote(first.group("v6") or first.group("name") or "") or "localhost",
        "port": first.group("port") or "5432",
        "user": unquote(user),
        "password": password,
        "dbname": unquote(parts.path.lstrip("/")) or unquote(user) or "postgres",
        "conninfo": conninfo,
    }


def remote_command(step: BackupStep, db: dict[str, str], remote_path: str) -> str:
    q = shlex.quote
    # The URL without its password: libpq applies sslmode, sslrootcert and the rest.
    connection = f"-d {q(db['conninfo'])}"
    if step.format == "custom":
        dump = f"pg_dump -Fc --no-password {connection} -f {q(remote_path + '.partial')}"
    else:
        dump = (f"pg_dump --no-password {connection} | gzip -c > "
                f"{q(remote_path + '.partial')}")
    return (
        f"set -o pipefail; umask 077; "
        "IFS= read -r PGPASSWORD && export PGPASSWORD && "
        f"{dump} && mv {q(remote_path + '.partial')} {q(remote_path)} && "
        f"sha256sum {q(remote_path)} && stat -c 'size=%s' {q(remote_path)}"
    )


async def run(ctx: StepContext, step: BackupStep) -> Verdict:
    started = time.monotonic()
    env_text, _ = await read_remote(ctx, step.host, step.env_file)
    values = EnvFile.parse(env_text).values()
    ctx.masker.learn_env(values)
    url = values.get(step.database_url_key)
    if not url:
        return Verdict(False, f"{step.env_file} on {step.host} has no {step.database_url_key}")
    ctx.masker.learn(url)
    db = database_parts(url)
    if db["password"]:
        ctx.masker.learn(db["password"])
    short = await check_free_space(ctx, step)
    if short:
        return Verdict(False, short, command="df")
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(ctx.clock.time()))
    name = f"{step.name_prefix}{stamp}{'.dump' if step.format == 'custom' else '.sql.gz'}"
    remote_path = f"{step.remote_dir.rstrip('/')}/{name}"
    command = remote_command(step, db, remote_path)
    ctx.say(f"dumping {db['dbname']} on {db['host']}:{db['port']} as {db['user']} "
            f"from {step.host}")
    result = await ctx.ssh.run(step.host, command, on_line=ctx.line_sink(step.host),
                               timeout=3600, stdin=db["password"] + "\n")
    if result.exit_status != 0:
        return Verdict(False, f"pg_dump on {step.host} failed (exit {result.exit_status}): "
                              f"{cause_of(result.output)}",
                       command=command, exit_status=result.exit_status,
                       output=tail(ctx.masker(result.output)))
    remote_sha = re.search(r"^([0-9a-f]{64})\s", result.output, re.MULTILINE)
    size_match = re.search(r"^size=(\d+)", result.output, re.MULTILINE)
    if not remote_sha or not size_match:
        return Verdict(False, "the host did not report the dump's sha256 and size",
                       command=command, output=tail(ctx.masker(result.output)))
    size = int(size_match.group(1))
    local_dir = private_dir(Path(os.path.expanduser(step.local_dir)))
    local_free = shutil.disk_usage(local_dir).free
    if local_free < size * 1.1:
        return Verdict(False, f"only {local_free // 2**20} MiB free in {local_dir}, the dump is "
                              f"{size // 2**20} MiB: free some space and retry", command=command)
    final = local_dir / name
    partial = local_dir / (name + ".partial")
    local_sha = await download(ctx, step.host, remote_path, partial, size)
    try:
        evidence = await asyncio.to_thread(verify_local, partial, remote_sha.group(1), step,
                                           local_sha)
        restore = await restore_if_wanted(ctx, partial, step)
    except GateClosed as exc:
        rejected = partial.with_name(name + ".rejected")
        os.replace(partial, rejected)
        return Verdict(False, f"the backup failed verification: {exc}; kept as {rejected} "
                              "for inspection, not as a backup", command=command)
    os.replace(partial, final)
    evidence.update(restore)
    evidence.update(local_path=str(final), remote_path=remote_path, size=size,
                    format=step.format, verified=True, verified_at=iso(ctx.clock.time()),
                    seconds=round(time.monotonic() - started, 3))
    return Verdict(True, f"backup verified: {final.name}, {size / 2**20:.1f} MiB, "
                         f"{evidence['tables']} tables, sha256 {evidence['sha256'][:12]}",
                   command=command, exit_status=0, output=tail(ctx.masker(result.output)),
                   evidence=evidence)


async def check_free_space(ctx: StepContext, step: BackupStep) -> str | None:
    """Both ends need room before anything starts; the local end is checked again against the
    dump's real size before the download."""
    q = shlex.quote
    result = await ctx.ssh.run(step.host, f"mkdir -p {q(step.remote_dir)} && df -Pk "
                                          f"{q(step.remote_dir)} | tail -n 1", timeout=30)
    free = re.search(r"^\S+\s+\d+\s+\d+\s+(\d+)", result.output, re.MULTILINE)
    if result.exit_status != 0 or not free:
        detail = f": {cause_of(result.output)}" if result.exit_status != 0 else ""
        return f"cannot read the free space of {step.remote_dir} on {step.host}{detail}"
    remote_free = int(free.group(1)) * 1024
    local_dir = private_dir(Path(os.path.expanduser(step.local_dir)))
    local_free = shutil.disk_usage(local_dir).free
    ctx.say(f"free space: {remote_free // 2**20} MiB in {step.remote_dir} on {step.host}, "
            f"{local_free // 2**20} MiB in {local_dir} here")
    for place, room in ((f"{step.remote_dir} on {step.host}", remote_free),
                        (f"{local_dir} on this machine", local_free)):
        if room < MIN_FREE:
            return (f"only {room // 2**20} MiB free in {place}; a backup needs at least "
                    f"{MIN_FREE // 2**20} MiB: free some space and retry")
    return None


def private_dir(path: Path) -> Path:
    """The local backup folder, created or made 0700: dumps are for their owner only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)  # guard: backup-dir-mode
    return path


async def download(ctx: StepContext, host: str, remote_path: str, local: Path,
                   size: int) -> str:
    """Download the dump into ``local`` (a new file, 0600), hashing it on the way: its sha256."""
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        rate = done / max(1e-6, time.monotonic() - started)
        eta = (total - done) / rate if rate else 0
        ctx.progress(done, total, f"{done / 2**20:.1f}/{total / 2**20:.1f} MiB, "
                                  f"{rate / 2**20:.1f} MiB/s, ETA {eta:.0f}s")

    try:
        # The dump is the whole database: only its owner reads it here, as on the host (0600).
        # SFTP then writes into this file, keeping its mode; a leftover of a crash goes first.
        local.unlink(missing_ok=True)
        os.close(os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # guard: backup-file-mode
        async with ctx.ssh.sftp(host) as sftp:
            sha256: str = await sftp.get_hashed(remote_path, local, block_size=BLOCK_SIZE,
                                                max_requests=MAX_REQUESTS, size=size,
                                                progress=progress)
            return sha256
    except BaseException:
        local.unlink(missing_ok=True)
        raise


async def restore_if_wanted(ctx: StepContext, path: Path, step: BackupStep) -> dict[str, Any]:
    # A database this check may empty and fill; never point it at anything that matters.
    scratch = os.environ.get("CUTOVER_SCRATCH_DATABASE_URL", "")
    if step.restore_check == "off" or (step.restore_check == "auto" and not scratch):
        return {"restore_check": "skipped (no scratch database: set "
                                 "CUTOVER_SCRATCH_DATABASE_URL)" if step.restore_check == "auto"
                else "off in the runbook"}
    if not scratch:
        raise GateClosed("the runbook asks for a scratch restore but "
                         "CUTOVER_SCRATCH_DATABASE_URL is not set")
    ctx.say("restoring into the scratch database to count rows")
    counts = await asyncio.to_thread(scratch_restore, path, step, scratch)
    return {"restore_check": "passed", "restored_row_counts": counts}


def backup_gate(records: RunRecords | dict[str, Any], book: Runbook,
                recheck_file: bool) -> str | None:
    """None when a verified backup exists (and, with ``recheck_file``, the local file still
    has its checksum); otherwise the reason the gate is shut. ``records``: the run record's
    (``Checklist.records``, or the data ``Checklist.read()`` returns)."""
    records = records if isinstance(records, RunRecords) else RunRecords(records)
    backups = [s for _, s in book.steps() if s.kind == "backup"]
    if not backups:
        return None
    reasons = []
    for step in backups:
        record = records[step.id]
        evidence = record.backup
        if record.state is not StepState.DONE or not evidence.verified:
            reasons.append(f"backup step {step.id} has not produced a verified backup")
            continue
        if recheck_file:
            path = Path(evidence.local_path)
            if not path.is_file():
                reasons.append(f"the backup file {path} is gone")
                continue
            if sha256_file(path) != evidence.sha256:
                reasons.append(f"the backup file {path} no longer has its recorded sha256")
                continue
        return None
    return "; ".join(reasons)
