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


def make_tls(directory: Path, names: tuple[str, ...] = ("127.0.0.1", "localhost"),
             ca_name: str = "cutover test CA") -> tuple[Path, Path, Path]:
    """A CA and a server certificate it signs for ``names``: (ca.crt, server.crt, server.key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, signer, ca: bool):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            alt = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n)
                   for n in names]
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca = certificate(ca_name, ca_key, ca_name, ca_key, True)
    server = certificate(names[0], server_key, ca_name, ca_key, False)
    paths = directory / "ca.crt", directory / "server.crt", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


def start(password: str, user: str = "app", dbname: str = "air_demand",
          tls: bool = False) -> Cluster:
    """A running cluster; with ``tls``, it also accepts SSL connections with a certificate
    signed by ``directory / "ca.crt"``."""
    binaries = server_bin()
    assert binaries is not None
    directory = Path(tempfile.mkdtemp(prefix="cutover-pg-"))
    port = _free_port()
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
    if tls:
        _, cert, key = make_tls(directory)
        options += f" -c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key}"
    if os.geteuid() == 0:
        for path in (directory, *directory.iterdir()):
            shutil.chown(path, "postgres", "postgres")
    _as_postgres([str(binaries / "initdb"), "-D", str(directory / "data"), "-U", "postgres",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"])
    _as_postgres([str(binaries / "pg_ctl"), "-D", str(directory / "data"), "-w", "-l",
                  str(directory / "log"), "-o", options, "start"])
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
