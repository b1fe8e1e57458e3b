"""Stand-ins for what a laptop cannot have, put first on each rehearsal host's PATH: systemctl,
journalctl, crontab, pg_dump and uv. Each behaves like the real program for the calls runbooks
make, with the real output formats. The real curl, jq, ps and pgrep are used where the machine
has them (and a PID namespace per host); these stand-ins for them are the fallback."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from .hostenv import UNITS, HostEnv, running_pid


def main(name: str) -> None:
    try:
        code = COMMANDS[name](sys.argv[1:])
    except BrokenPipeError:
        code = 141
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.exit(code)


# ---------------------------------------------------------------------------- systemctl


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%a %Y-%m-%d %H:%M:%S UTC")


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return f"{seconds}s ago"


def _unit_name(arg: str) -> str:
    return arg.removesuffix(".service")


def _spawn(env: HostEnv, unit: str) -> subprocess.Popen | None:
    if running_pid(env, unit):
        return None
    env.pidfile(unit).parent.mkdir(parents=True, exist_ok=True)
    journal = env.journal(unit)
    journal.parent.mkdir(parents=True, exist_ok=True)
    with open(os.devnull, "rb") as devnull, journal.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cutover_tui.sandbox.service", unit, str(env.host_dir)],
            stdin=devnull, stdout=log, stderr=log, cwd=env.app_dir, start_new_session=True,
            env={**os.environ},
        )
    env.pidfile(unit).write_text(f"{process.pid} {env.now():.3f}\n")
    env.log(unit, f"Started {UNITS[unit]}.", pid=1)
    return process


def _await_ready(env: HostEnv, unit: str, process: subprocess.Popen | None) -> int:
    """Like systemd's notify: wait until a serving unit answers on its port."""
    port = {"air-demand-api": env.api_port, "air-demand-dashboard": env.dashboard_port}.get(unit)
    deadline = time.monotonic() + 10
    while process is not None and port and time.monotonic() < deadline:
        if process.poll() is not None:
            env.log(unit, f"{unit}.service: Main process exited, code=exited, "
                          f"status={process.returncode}/FAILURE", pid=1)
            return 1
        try:
            socket.create_connection((env.address, port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    return 0


def _start(env: HostEnv, units: list[str]) -> int:
    """Start every unit first, then wait for each: they come up side by side."""
    processes = [(unit, _spawn(env, unit)) for unit in units]
    return max((_await_ready(env, unit, process) for unit, process in processes), default=0)


def _stop(env: HostEnv, unit: str) -> int:
    pid = running_pid(env, unit)
    if pid is None:
        env.pidfile(unit).unlink(missing_ok=True)
        return 0
    env.log(unit, f"Stopping {UNITS[unit]}...", pid=1)
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while running_pid(env, unit) and time.monotonic() < deadline:
        time.sleep(0.02)
    if running_pid(env, unit):
        os.killpg(pid, signal.SIGKILL)
    env.pidfile(unit).unlink(missing_ok=True)
    (env.state_dir / "services" / f"{unit}.stopped").write_text(f"{env.now():.3f}\n")
    env.log(unit, f"{unit}.service: Deactivated successfully.", pid=1)
    env.log(unit, f"Stopped {UNITS[unit]}.", pid=1)
    return 0


def _status(env: HostEnv, unit: str) -> int:
    pid = running_pid(env, unit)
    desc = UNITS[unit]
    print(f"{'●' if pid else '○'} {unit}.service - {desc}")
    print(f"     Loaded: loaded (/etc/systemd/system/{unit}.service; enabled; "
          "vendor preset: enabled)")
    now = env.now()
    if pid:
        since = float(env.pidfile(unit).read_text().split()[1])
        print(f"     Active: active (running) since {_stamp(since)}; {_ago(now - since)}")
        print(f"   Main PID: {pid} (python3)")
        print("      Tasks: 3 (limit: 1131)")
        print(f"     CGroup: /system.slice/{unit}.service")
        print(f"             └─{pid} {sys.executable} -m cutover_tui.sandbox.service {unit}")
    else:
        stopped_file = env.state_dir / "services" / f"{unit}.stopped"
        try:
            since = float(stopped_file.read_text())
            print(f"     Active: inactive (dead) since {_stamp(since)}; {_ago(now - since)}")
        except (OSError, ValueError):
            print("     Active: inactive (dead)")
    print()
    for line in _journal_lines(env, [unit], since=None, lines=5):
        print(line)
    return 0 if pid else 3


def systemctl(args: list[str]) -> int:
    env = HostEnv.from_environ()
    args = [a for a in args if a not in ("--no-pager", "-l", "--full", "-q", "--quiet")]
    if not args:
        print("usage: systemctl status|start|stop|restart|is-active UNIT...", file=sys.stderr)
        return 1
    action, units = args[0], [_unit_name(a) for a in args[1:]]
    for unit in units:
        if unit not in UNITS:
            print(f"Unit {unit}.service could not be found.", file=sys.stderr)
            return 4 if action == "status" else 5
    if action == "start":
        return _start(env, units)
    code = 0
    for unit in units:
        if action == "status":
            code = max(code, _status(env, unit))
        elif action == "is-active":
            active = running_pid(env, unit) is not None
            print("active" if active else "inactive")
            code = max(code, 0 if active else 3)
        elif action == "stop":
            code = max(code, _stop(env, unit))
        elif action == "restart":
            _stop(env, unit)
            code = max(code, _start(env, [unit]))
        else:
            print(f"Unknown command verb {action}.", file=sys.stderr)
            return 1
    return code


# ---------------------------------------------------------------------------- journalctl


def _parse_since(text: str, now: float) -> float:
    m = re.fullmatch(r"\s*(\d+)\s*(second|minute|min|hour|day)s?\s+ago\s*", text)
    if m:
        size = {"second": 1, "minute": 60, "min": 60, "hour": 3600, "day": 86400}[m.group(2)]
        return now - int(m.group(1)) * size
    if text == "today":
        return datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0).timestamp()
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise SystemExit(f'Failed to parse timestamp: {text}') from None


def _format(env: HostEnv, record: tuple[float, str, str, str], cat: bool) -> str:
    ts, unit, pid, message = record
    if cat:
        return message
    stamp = datetime.fromtimestamp(ts, UTC).strftime("%b %d %H:%M:%S")
    process = "systemd" if pid == "1" else unit
    return f"{stamp} {env.name} {process}[{pid}]: {message}"


def _records(env: HostEnv, units: list[str]) -> list[tuple[float, str, str, str]]:
    records = []
    for unit in units:
        try:
            text = env.journal(unit).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split("\t", 3)
            if len(parts) == 4:
                try:
                    records.append((float(parts[0]), parts[1], parts[2], parts[3]))
                except ValueError:
                    continue
    records.sort(key=lambda r: r[0])
    return records


def _journal_lines(env: HostEnv, units: list[str], since: float | None,
                   lines: int | None, cat: bool = False) -> list[str]:
    records = [r for r in _records(env, units) if since is None or r[0] >= since]
    if lines is not None:
        records = records[-lines:] if lines else []
    return [_format(env, r, cat) for r in records]


def journalctl(args: list[str]) -> int:
    env = HostEnv.from_environ()
    units: list[str] = []
    since = None
    lines = None
    follow = cat = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-u", "--unit"):
            units.append(_unit_name(args[i + 1]))
            i += 1
        elif arg.startswith("--unit="):
            units.append(_unit_name(arg.split("=", 1)[1]))
        elif arg in ("-n", "--lines"):
            lines = int(args[i + 1])
            i += 1
        elif arg == "--since" or arg == "-S":
            since = _parse_since(args[i + 1], env.now())
            i += 1
        elif arg in ("-f", "--follow"):
            follow = True
        elif arg in ("-o", "--output"):
            cat = args[i + 1] == "cat"
            i += 1
        elif arg in ("--no-pager", "-q", "--quiet", "-x", "-e"):
            pass
        else:
            print(f"journalctl: unsupported option {arg}", file=sys.stderr)
            return 1
        i += 1
    units = units or list(UNITS)
    if follow and lines is None:
        lines = 10
    # One read for both the lines shown and where following starts: nothing falls in between.
    records = _records(env, units)
    shown = [r for r in records if since is None or r[0] >= since]
    if lines is not None:
        shown = shown[-lines:] if lines else []
    for record in shown:
        print(_format(env, record, cat))
    if not follow:
        if not shown and lines is None:
            print("-- No entries --")
        return 0
    sys.stdout.flush()
    seen = len(records)
    while True:
        time.sleep(0.1)
        records = _records(env, units)
        for record in records[seen:]:
            print(_format(env, record, cat), flush=True)
        seen = len(records)


# ---------------------------------------------------------------------------- crontab


def crontab(args: list[str]) -> int:
    env = HostEnv.from_environ()
    user = os.environ.get("USER", "root")
    if args == ["-l"]:
        if not env.crontab.exists():
            print(f"no crontab for {user}", file=sys.stderr)
            return 1
        sys.stdout.write(env.crontab.read_text())
        return 0
    if args == ["-r"]:
        env.crontab.unlink(missing_ok=True)
        return 0
    if len(args) == 1:
        text = sys.stdin.read() if args[0] == "-" else Path(args[0]).read_text()
        for n, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if line.strip() and not line.lstrip().startswith("#") and "=" not in fields[0] \
                    and len(fields) < 6:
                print(f'"-":{n}: bad minute\nerrors in crontab file, can\'t install.',
                      file=sys.stderr)
                return 1
        tmp = env.crontab.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, env.crontab)
        return 0
    print("usage: crontab [-l | -r | FILE | -]", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------- pg_dump


# libpq 15's connection options: anything else in a connection string is refused, as there.
LIBPQ_OPTIONS = frozenset("""host hostaddr port dbname user password passfile channel_binding
    connect_timeout client_encoding options application_name fallback_application_name keepalives
    keepalives_idle keepalives_interval keepalives_count tcp_user_timeout replication gssencmode
    sslmode requiressl sslcompression sslcert sslkey sslpassword sslrootcert sslcrl sslcrldir
    sslsni requirepeer ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib
    service target_session_attrs""".split())
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
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


def _tls_refusal(options: dict[str, str], server: dict) -> str | None:
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
    from .data import dump_sql

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
    if fmt not in ("p", "plain"):
        print("pg_dump: error: the rehearsal world's pg_dump writes plain SQL only (-Fp)",
              file=sys.stderr)
        return 1
    text = dump_sql(env.world_dir / "db" / "production.sqlite3", config["dbname"])
    if output:
        Path(output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


# ---------------------------------------------------------------------------- curl and jq


def curl(args: list[str]) -> int:
    env = HostEnv.from_environ()
    silent = show_error = fail = False
    url = None
    output = None
    for i, arg in enumerate(args):
        if arg.startswith("-") and not arg.startswith("--") and i and args[i - 1] == "-o":
            continue
        if arg == "-o":
            output = args[i + 1]
        elif arg.startswith("--"):
            silent |= arg == "--silent"
            show_error |= arg == "--show-error"
            fail |= arg == "--fail"
        elif arg.startswith("-"):
            silent |= "s" in arg
            show_error |= "S" in arg
            fail |= "f" in arg
        elif url is None and (i == 0 or args[i - 1] != "-o"):
            url = arg
    if url is None:
        print("curl: no URL specified", file=sys.stderr)
        return 2
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    # On the real host, localhost is the host itself; here that is the host's loopback address.
    host = env.address if parts.hostname in ("localhost", "127.0.0.1") else parts.hostname
    netloc = f"{host}:{parts.port}" if parts.port else host
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    try:
        with urllib.request.urlopen(target, timeout=10) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    except (urllib.error.URLError, OSError):
        if not silent or show_error:
            print(f"curl: (7) Failed to connect to {parts.hostname} port {parts.port or 80}: "
                  "Connection refused", file=sys.stderr)
        return 7
    if fail and status >= 400:
        if not silent or show_error:
            print(f"curl: (22) The requested URL returned error: {status}", file=sys.stderr)
        return 22
    if output:
        Path(output).write_bytes(body)
    else:
        sys.stdout.buffer.write(body)
    return 0


def jq(args: list[str]) -> int:
    flags = [a for a in args if a.startswith("-")]
    program = next((a for a in args if not a.startswith("-")), ".")
    raw = "-r" in flags
    text = sys.stdin.read()
    try:
        value = json.loads(text)
    except ValueError:
        print("jq: error (at <stdin>:1): Cannot parse input as JSON", file=sys.stderr)
        return 5
    if program != ".":
        for part in program.strip(".").split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if raw and isinstance(value, str):
        print(value)
    else:
        print(json.dumps(value, indent=2, ensure_ascii=False))
    return 0


# ---------------------------------------------------------------------------- pgrep and uv


def _host_processes(env: HostEnv) -> list[tuple[int, str]]:
    """This host's processes when it shares the machine's process table (no PID namespace):
    those whose environment names the host's tree — the calling shell included."""
    from .procspace import tagged_processes

    found = []
    for pid in sorted(tagged_processes(env.host_dir)):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        found.append((pid, raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")))
    return found


def pgrep(args: list[str]) -> int:
    """procps pgrep for the calls runbooks make (-f, -a, -l, -x); like the real one it never
    lists itself, but does list the shell that called it."""
    flags = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
    patterns = [a for a in args if not a.startswith("-")]
    if len(patterns) != 1:
        print("pgrep: only one pattern can be provided", file=sys.stderr)
        return 2
    pattern = re.compile(patterns[0])
    found = 0
    for pid, cmdline in _host_processes(HostEnv.from_environ()):
        if pid == os.getpid():
            continue
        name = Path(cmdline.split(" ")[0]).name[:15]
        haystack = cmdline if "f" in flags else name
        hit = pattern.fullmatch(haystack) if "x" in flags else pattern.search(haystack)
        if hit:
            found += 1
            if "a" in flags:
                print(f"{pid} {cmdline}")
            elif "l" in flags:
                print(f"{pid} {name}")
            else:
                print(pid)
    return 0 if found else 1


def ps(args: list[str]) -> int:
    """procps ps for ``ps aux`` and ``ps -ef``: this host's processes, ps itself included."""
    rows = _host_processes(HostEnv.from_environ())
    bsd = not any(a.startswith("-") for a in args)
    if bsd:
        print("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND")
        start = datetime.now().strftime("%H:%M")
        for pid, cmdline in rows:
            print(f"root     {pid:>7}  0.0  0.1  10000  5000 ?        S    {start}   0:00 "
                  f"{cmdline}")
    else:
        print("UID          PID    PPID  C STIME TTY          TIME CMD")
        for pid, cmdline in rows:
            try:
                ppid = int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                ppid = 0
            print(f"root     {pid:>7} {ppid:>7}  0 00:00 ?        00:00:00 {cmdline}")
    return 0


def uv(args: list[str]) -> int:
    if len(args) >= 2 and args[0] == "run" and args[1] in ("python", "python3"):
        os.execv(sys.executable, [sys.executable, *args[2:]])
    print("uv (rehearsal stand-in): only `uv run python ...` is supported", file=sys.stderr)
    return 2


COMMANDS = {
    "systemctl": systemctl, "journalctl": journalctl, "crontab": crontab, "pg_dump": pg_dump,
    "curl": curl, "jq": jq, "pgrep": pgrep, "ps": ps, "uv": uv,
}
