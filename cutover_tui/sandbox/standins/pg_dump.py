"""pg_dump: the rehearsal database (SQLite behind a managed PostgreSQL's address) dumped as plain
SQL, after libpq's checks: connection string and environment, address, SSL mode against the
server's certificate, password and database name, each refused with libpq's own message.

A fault for the tests: while the world's ``db/pg_dump_fault`` says ``cut``, the dump written
(exit status 0) is cut short, as damaged storage leaves one: a plain dump ends inside the data
of table roles; a custom-format one (``-Fc``, otherwise refused here) after its header."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..hostenv import HostEnv

# libpq 15's connection options: anything else in a connection string is refused, as there.
LIBPQ_OPTIONS = frozenset("""host hostaddr port dbname user password passfile channel_binding
    connect_timeout client_encoding options application_name fallback_application_name keepalives
    keepalives_idle keepalives_interval keepalives_count tcp_user_timeout replication gssencmode
    sslmode requiressl sslcompression sslcert sslkey sslpassword sslrootcert sslcrl sslcrldir
    sslsni requirepeer ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib
    service target_session_attrs""".split())
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
FAULT_FILE = "pg_dump_fault"
# How a custom-format archive of pg_dump 15 begins: "PGDMP", version 1.14.0, int and offset
# sizes, format 1 (custom).
CUSTOM_HEADER = b"PGDMP\x01\x0e\x00\x04\x08\x01"
# The environment variables libpq reads for the options a connection string leaves out.
LIBPQ_ENV = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "dbname": "PGDATABASE",
             "password": "PGPASSWORD", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
             "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME"}


def _conninfo(text: str) -> dict[str, str]:
    """A libpq connection string (a URI or ``key=value`` pairs) as options; ValueError with
    libpq's own message for what libpq refuses."""
    options: dict[str, str] = {}
    if re.match(r"postgres(ql)?://", text):
        rest = text.split("://", 1)[1]
        rest, _, query = rest.partition("?")
        netloc, _, path = rest.partition("/")
        userinfo, at, hosts = netloc.rpartition("@")
        if at:
            user, colon, password = userinfo.partition(":")
            options["user"] = unquote(user)
            if colon:
                options["password"] = unquote(password)
        first = hosts.split(",")[0]
        bracket = re.match(r"^\[(?P<h>[^\]]*)\](?::(?P<p>\d*))?$", first)
        host, _, port = (bracket.group("h"), "", bracket.group("p") or "") if bracket else \
            first.partition(":")
        if host:
            options["host"] = unquote(host)
        if port:
            options["port"] = port
        if path:
            options["dbname"] = unquote(path)
        for item in filter(None, query.split("&")):
            key, _, value = item.partition("=")
            key, value = unquote(key), unquote(value)
            if key == "ssl" and value == "true":  # libpq's one JDBC compatibility
                key, value = "sslmode", "require"
            if key not in LIBPQ_OPTIONS:
                raise ValueError(f'invalid URI query parameter: "{key}"')
            options[key] = value
    else:
        for match in re.finditer(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)", text):
            key, value = match.group(1), match.group(2)
            if key not in LIBPQ_OPTIONS:
                raise ValueError(f'invalid connection option "{key}"')
            options[key] = re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith("'") \
                else value
    if options.get("sslmode", "prefer") not in SSLMODES:
        raise ValueError(f'invalid sslmode value: "{options["sslmode"]}"')
    return options


def _tls_refusal(options: dict[str, str], server: dict[str, Any]) -> str | None:
    """What libpq says when the connection's SSL settings and the server's do not go together
    (the rehearsal database is a managed one: SSL only, its certificate signed by the world's
    CA for these names), or None."""
    mode = options.get("sslmode", "prefer")
    if mode not in SSLMODES:
        return f'invalid sslmode value: "{mode}"'
    where = f'connection to server at "{options["host"]}", port {options["port"]} failed: '
    if mode == "disable":
        return (f'{where}FATAL:  no pg_hba.conf entry for host "{options["host"]}", user '
                f'"{options["user"]}", database "{options["dbname"]}", no encryption')
    root = options.get("sslrootcert") or os.path.expanduser("~/.postgresql/root.crt")
    if mode in ("allow", "prefer") or (mode == "require" and not os.path.exists(root)):
        return None  # encrypted, not verified
    # verify-ca, verify-full, and require with a root certificate file (libpq then verifies
    # the CA, as verify-ca does).
    if not os.path.exists(root):
        return (f'{where}root certificate file "{root}" does not exist\n'
                "Either provide the file or change sslmode to disable server certificate "
                "verification.")
    if Path(root).read_text(errors="replace") != Path(server["ca"]).read_text():
        return f"{where}SSL error: certificate verify failed"
    if mode == "verify-full" and options["host"] not in server["names"]:
        return (f'{where}server certificate for "{server["names"][0]}" does not match host '
                f'name "{options["host"]}"')
    return None


def pg_dump(args: list[str]) -> int:
    from ..data import dump_sql  # sqlite3: only for a dump

    if "--version" in args or "-V" in args:
        print("pg_dump (PostgreSQL) 15.18")
        return 0
    env = HostEnv.from_environ()
    given: dict[str, str] = {}
    output = None
    fmt = "p"
    i = 0
    try:
        while i < len(args):
            arg = args[i]
            flag = {"-h": "host", "-p": "port", "-U": "user", "-d": "dbname"}.get(arg)
            if flag:
                given[flag] = args[i + 1]
                i += 1
            elif arg == "-f":
                output = args[i + 1]
                i += 1
            elif arg.startswith("-F"):
                fmt = arg[2:] or args[i + 1]
                if not arg[2:]:
                    i += 1
            elif arg in ("--no-password", "-w", "--no-owner", "-O", "--clean"):
                pass
            elif not arg.startswith("-"):
                given["dbname"] = arg
            else:
                print(f"pg_dump: error: unsupported option {arg}", file=sys.stderr)
                return 1
            i += 1
        # A dbname that is a connection string gives every option it names (libpq's rule).
        dbname = given.get("dbname", "")
        if re.match(r"postgres(ql)?://", dbname) or "=" in dbname:
            given = {**{k: v for k, v in given.items() if k != "dbname"}, **_conninfo(dbname)}
    except ValueError as exc:
        print(f"pg_dump: error: {exc}", file=sys.stderr)
        return 1
    if "password" in given:
        print("pg_dump: warning: a password on the command line is visible to every user in "
              "`ps`", file=sys.stderr)
    options = {key: given.get(key) or os.environ.get(variable, "")
               for key, variable in LIBPQ_ENV.items()}
    options["host"] = options["host"] or "localhost"
    options["port"] = options["port"] or "5432"
    options["user"] = options["user"] or "root"
    options["dbname"] = options["dbname"] or options["user"]
    options["sslmode"] = options["sslmode"] or "prefer"
    config = json.loads((env.world_dir / "db" / "database.json").read_text())
    if (options["host"], str(options["port"])) != (config["host"], str(config["port"])):
        print(f'pg_dump: error: connection to server at "{options["host"]}", port '
              f'{options["port"]} failed: Connection refused', file=sys.stderr)
        return 1
    refusal = _tls_refusal(options, config["ssl"])
    if refusal:
        print(f"pg_dump: error: {refusal}", file=sys.stderr)
        return 1
    if options["user"] != config["user"] or options["password"] != config["password"]:
        print(f'pg_dump: error: connection to server at "{options["host"]}", port '
              f'{options["port"]} failed: FATAL:  password authentication failed for user '
              f'"{options["user"]}"', file=sys.stderr)
        return 1
    if options["dbname"] != config["dbname"]:
        print(f'pg_dump: error: FATAL:  database "{options["dbname"]}" does not exist',
              file=sys.stderr)
        return 1
    fault = env.world_dir / "db" / FAULT_FILE
    cut = fault.exists() and fault.read_text().strip() == "cut"
    if fmt in ("c", "custom") and cut and output:
        Path(output).write_bytes(CUSTOM_HEADER)
        return 0
    if fmt not in ("p", "plain"):
        print("pg_dump: error: the rehearsal world's pg_dump writes plain SQL only (-Fp)",
              file=sys.stderr)
        return 1
    text = dump_sql(env.world_dir / "db" / "production.sqlite3", config["dbname"])
    if cut:  # up to the first row of roles' data
        first_row = text.index("\n", text.index("COPY public.roles ")) + 1
        text = text[:text.index("\n", first_row) + 1]
    if output:
        Path(output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0
