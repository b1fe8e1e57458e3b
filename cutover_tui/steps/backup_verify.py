"""How a downloaded dump is verified before it counts: its sha256, a structural read
(``pg_restore --list`` or the gzip stream read in full, its tables, the rows of each COPY) and,
when a scratch database is named, a restore into it. Blocking (subprocesses, hashing): the
backup step runs these in a worker thread."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..credentials import local_env
from ..errors import GateClosed, cause_of
from ..runbook import BackupStep

# psql and pg_restore here: a restore of a large dump may take long; a query or a listing not.
PG_TIMEOUT = 3600
PG_QUERY_TIMEOUT = 300
PG_CONNECT_TIMEOUT = "30"  # libpq's own: a database that does not answer the connection


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_run(command: list[str], timeout: float | None = None,
            **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` for psql and pg_restore, with a time limit (``PG_TIMEOUT`` unless
    given; then it is killed): a database that takes the connection and never answers must
    not hold the step for ever."""
    timeout = PG_TIMEOUT if timeout is None else timeout
    if kwargs.get("env") is not None:
        kwargs["env"].setdefault("PGCONNECT_TIMEOUT", PG_CONNECT_TIMEOUT)
    kwargs["timeout"] = timeout  # guard: pg-timeout
    try:
        return subprocess.run(command, **kwargs)
    except subprocess.TimeoutExpired:
        raise GateClosed(f"{os.path.basename(command[0])} did not finish within {timeout:g}s; "
                         "stopped") from None


def inspect_dump(path: Path, fmt: str) -> dict[str, Any]:
    """Structural check of a dump: readable in full, its tables and the rows of each COPY."""
    if fmt == "custom":
        binary = shutil.which("pg_restore")
        if binary is None:
            raise GateClosed("pg_restore is not installed here, so the custom-format dump "
                             "cannot be checked; install postgresql-client")
        result = _pg_run([binary, "--list", str(path)], PG_QUERY_TIMEOUT, capture_output=True,
                         text=True)
        if result.returncode != 0:
            raise GateClosed(f"pg_restore --list rejects the dump: "
                             f"{cause_of(result.stderr)}")
        listed = sorted({m.group(1) for m in re.finditer(
            r"^\d+; \d+ \d+ TABLE (?!DATA )\S+ (\S+) ", result.stdout, re.MULTILINE)})
        return {"tables": listed, "rows": {}}
    tables: list[str] = []
    rows: dict[str, int] = {}
    copying: str | None = None
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if copying is not None:
                    if line.startswith("\\."):
                        copying = None
                    else:
                        rows[copying] += 1
                    continue
                created = re.match(r"CREATE TABLE (?:\w+\.)?\"?(\w+)\"? ", line)
                if created:
                    tables.append(created.group(1))
                copy = re.match(r"COPY (?:\w+\.)?\"?(\w+)\"? .* FROM stdin;", line)
                if copy:
                    copying = copy.group(1)
                    rows[copying] = 0
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise GateClosed(f"gzip -t fails: the dump is damaged ({exc})") from None
    if copying is not None:
        raise GateClosed(f"the dump ends inside the data of table {copying}: it is truncated")
    return {"tables": sorted(tables), "rows": rows}


def verify_local(path: Path, expected_sha: str, step: BackupStep,
                 actual: str | None = None) -> dict[str, Any]:
    """Raise ``GateClosed`` with the reason unless the local file is a whole, valid dump.
    ``actual``: its sha256 as the download computed it (else it is read again to hash it)."""
    actual = actual or sha256_file(path)
    if actual != expected_sha:  # guard: backup-sha256-compared
        raise GateClosed(f"sha256 mismatch: the host computed {expected_sha[:16]}…, the local "
                         f"file {path.name} has {actual[:16]}…")
    found = inspect_dump(path, step.format)
    if step.expect_tables is not None and len(found["tables"]) != step.expect_tables:
        raise GateClosed(f"the dump holds {len(found['tables'])} tables "
                         f"({', '.join(found['tables'])}), expected {step.expect_tables}")
    for table, wanted in step.row_counts.items():
        if table not in found["rows"]:
            continue  # custom format: counted by the scratch restore instead
        count = found["rows"][table]
        if count < wanted.min or (wanted.max is not None and count > wanted.max):
            raise GateClosed(f"table {table} has {count} rows in the dump, expected "
                             f"{wanted.min}–{wanted.max}")
    return {"sha256": actual, "tables": len(found["tables"]), "table_names": found["tables"],
            "row_counts": found["rows"]}


def scratch_restore(path: Path, step: BackupStep, scratch_url: str) -> dict[str, int]:
    """Restore into a scratch database and count rows of the named tables. Its password goes
    in the environment, not on the command line."""
    parts = urlsplit(scratch_url)
    env = local_env(extra={"PGPASSWORD": unquote(parts.password or "")})
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", "@")
        scratch_url = parts._replace(netloc=netloc).geturl()
    # A scratch database is emptied first, so a restore never meets an earlier one's tables.
    reset = _pg_run(["psql", "-v", "ON_ERROR_STOP=1", "-q", "-c",
                     "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;",
                     scratch_url], PG_QUERY_TIMEOUT, capture_output=True, text=True, env=env)
    if reset.returncode != 0:
        raise GateClosed(f"cannot empty the scratch database: {cause_of(reset.stderr)}")
    if step.format == "custom":
        command = ["pg_restore", "--no-owner", "-d", scratch_url, str(path)]
        result = _pg_run(command, capture_output=True, text=True, env=env)
    else:
        with gzip.open(path, "rb") as handle:
            result = _pg_run(["psql", "-v", "ON_ERROR_STOP=1", "-q", scratch_url],
                             input=handle.read(), capture_output=True, env=env)
    if result.returncode != 0:
        err = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
        raise GateClosed(f"the scratch restore failed: {cause_of(err)}")
    counts = {}
    for table, wanted in step.row_counts.items():
        query = _pg_run(["psql", "-tAc", f'SELECT count(*) FROM "{table}"', scratch_url],
                        PG_QUERY_TIMEOUT, capture_output=True, text=True, env=env)
        if query.returncode != 0:
            raise GateClosed(f"counting {table} in the scratch restore failed: "
                              f"{cause_of(query.stderr)}")
        counts[table] = int(query.stdout.strip())
        if counts[table] < wanted.min or (wanted.max is not None and counts[table] > wanted.max):
            raise GateClosed(f"the restored {table} has {counts[table]} rows, expected "
                             f"{wanted.min}–{wanted.max}")
    return counts
