"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb as the ``postgres`` user (initdb
refuses root) into a temporary directory, a free port on 127.0.0.1, password auth over TCP."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def server_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return Path(candidate)
    return None


def why_unavailable() -> str | None:
    if server_bin() is None:
        return "PostgreSQL server binaries (initdb) are not installed"
    if shutil.which("pg_dump") is None or shutil.which("psql") is None:
        return "the PostgreSQL client (pg_dump, psql) is not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run initdb as"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    directory: Path
    port: int
    user: str
    password: str
    dbname: str

    def url(self, dbname: str | None = None, password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql://{self.user}{secret}@127.0.0.1:{self.port}/{dbname or self.dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        return _as_postgres([str(server_bin() / "psql"), "-h",
                             str(self.directory), "-p", str(self.port), "-U", "postgres", "-d",
                             dbname, "-v", "ON_ERROR_STOP=1", "-tAq", "-c", sql])

    def stop(self) -> None:
        _as_postgres([str(server_bin() / "pg_ctl"), "-D", str(self.directory / "data"), "-m",
                      "immediate", "stop"], check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def _as_postgres(command: list[str], check: bool = True) -> str:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{command[-1] if len(command) < 4 else command}: {result.stderr}")
    return result.stdout


def start(password: str, user: str = "app", dbname: str = "air_demand") -> Cluster:
    binaries = server_bin()
    assert binaries is not None
    directory = Path(tempfile.mkdtemp(prefix="cutover-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    port = _free_port()
    _as_postgres([str(binaries / "initdb"), "-D", str(directory / "data"), "-U", "postgres",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"])
    _as_postgres([str(binaries / "pg_ctl"), "-D", str(directory / "data"), "-w", "-l",
                  str(directory / "log"), "-o",
                  f"-p {port} -k {directory} -c listen_addresses=127.0.0.1", "start"])
    cluster = Cluster(directory, port, user, password, dbname)
    cluster.psql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
    cluster.psql(f"CREATE DATABASE {dbname} OWNER {user}")
    return cluster


AIR_DEMAND_SCHEMA = """
CREATE TABLE companies (id serial PRIMARY KEY, name text NOT NULL, domain text);
CREATE TABLE roles (id serial PRIMARY KEY, title text, company_id int REFERENCES companies,
                    location text, seniority text, posted_at timestamptz, is_active boolean);
CREATE TABLE role_briefings (id serial PRIMARY KEY, role_id int REFERENCES roles, summary text);
CREATE TABLE skills (id serial PRIMARY KEY, name text);
CREATE TABLE role_skills (role_id int REFERENCES roles, skill_id int REFERENCES skills);
CREATE TABLE scrape_runs (id serial PRIMARY KEY, started_at timestamptz, status text,
                          new_roles int);
CREATE TABLE digests (id serial PRIMARY KEY, sent_at timestamptz, recipient text);
CREATE TABLE users (id serial PRIMARY KEY, email text, is_admin boolean);
CREATE TABLE alembic_version (version_num text);
INSERT INTO companies (name, domain) SELECT 'Company ' || i, 'c' || i || '.example'
    FROM generate_series(1, 180) i;
INSERT INTO roles (title, company_id, location, seniority, posted_at, is_active)
    SELECT 'Role ' || i, 1 + i % 180, 'Remote', 'senior', now(), true
    FROM generate_series(1, 747) i;
INSERT INTO role_briefings (role_id, summary) SELECT i, 'b' FROM generate_series(1, 300) i;
INSERT INTO skills (name) SELECT 's' || i FROM generate_series(1, 8) i;
INSERT INTO role_skills SELECT i, 1 + i % 8 FROM generate_series(1, 747) i;
INSERT INTO alembic_version VALUES ('c0ffee011');
"""


def load_air_demand(cluster: Cluster, rows: int | None = None) -> None:
    schema = AIR_DEMAND_SCHEMA
    if rows is not None:  # a bigger database for benchmarks
        schema = schema.replace("generate_series(1, 300) i", f"generate_series(1, {rows}) i")
        noise = " || ".join(["md5(random()::text)"] * 8)  # 256 hex characters, not too compressible
        schema = schema.replace("SELECT i, 'b'", f"SELECT 1 + i % 747, {noise}")
    cluster.psql(f"SET ROLE {cluster.user};" + schema, dbname=cluster.dbname)
