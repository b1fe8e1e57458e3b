"""How the real app's failures look from outside: the tracebacks its tools log (uvicorn for an
unhandled exception in FastAPI, APScheduler for a job that raised), the database driver's
message for a refused connection, and nginx's page when the dashboard behind it is down.

The rehearsal's services show these during an injected fault (``sandbox.faults``): what an
operator or a monitor reads is what the real stack prints, not a format of our own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SITE = ".venv/lib/python3.11/site-packages"
NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n"
             "<hr><center>nginx/1.18.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n")
NGINX_SERVER = "nginx/1.18.0 (Ubuntu)"


@dataclass(frozen=True)
class Crash:
    """An unhandled exception: its type, its message and the traceback that ends with them."""

    kind: str
    message: str
    traceback: list[str]


def _frame(path: str, line: int, function: str, code: str) -> list[str]:
    return [f'  File "{path}", line {line}, in {function}', f"    {code}"]


def _site(app_dir: Path, module: str) -> str:
    return f"{app_dir}/{SITE}/{module}"


def database_refused(database_url: str) -> str:
    """SQLAlchemy's message (psycopg underneath) when the database refuses the connection."""
    url = urlsplit(database_url)
    host, port = url.hostname or "localhost", url.port or 5432
    return ("(psycopg.OperationalError) connection failed: connection to server at "
            f'"{host}", port {port} failed: Connection refused\n'
            "\tIs the server running on that host and accepting TCP/IP connections?\n"
            "(Background on this error at: https://sqlalche.me/e/20/e3q8)")


def _database_frames(app_dir: Path) -> list[str]:
    return [
        *_frame(_site(app_dir, "sqlalchemy/engine/base.py"), 3293, "raw_connection",
                "return self.pool.connect()"),
        *_frame(_site(app_dir, "sqlalchemy/pool/base.py"), 452, "connect",
                "return _ConnectionFairy._checkout(self)"),
        *_frame(_site(app_dir, "sqlalchemy/pool/base.py"), 896, "__connect",
                "with util.safe_reraise():"),
        *_frame(_site(app_dir, "psycopg/connection.py"), 117, "connect",
                "raise last_ex.with_traceback(None)"),
    ]


def database_crash(app_dir: Path, database_url: str, where: list[str]) -> Crash:
    """The database refusing a connection the app opens from ``where`` (its own frames)."""
    message = database_refused(database_url)
    return Crash("sqlalchemy.exc.OperationalError", message,
                 [*where, *_database_frames(app_dir),
                  f"sqlalchemy.exc.OperationalError: {message}"])


def asgi_lines(app_dir: Path, crash: Crash) -> list[str]:
    """What uvicorn logs for an exception FastAPI did not handle (after the 500 access line)."""
    frames = [
        *_frame(_site(app_dir, "uvicorn/protocols/http/httptools_impl.py"), 419, "run_asgi",
                "result = await app(  # type: ignore[func-returns-value]"),
        *_frame(_site(app_dir, "uvicorn/middleware/proxy_headers.py"), 84, "__call__",
                "return await self.app(scope, receive, send)"),
        *_frame(_site(app_dir, "fastapi/applications.py"), 1054, "__call__",
                "await super().__call__(scope, receive, send)"),
        *_frame(_site(app_dir, "starlette/applications.py"), 123, "__call__",
                "await self.middleware_stack(scope, receive, send)"),
        *_frame(_site(app_dir, "starlette/middleware/errors.py"), 186, "__call__",
                "raise exc"),
        *_frame(_site(app_dir, "starlette/middleware/errors.py"), 164, "__call__",
                "await self.app(scope, receive, _send)"),
        *_frame(_site(app_dir, "starlette/routing.py"), 74, "app",
                "response = await func(request)"),
        *_frame(_site(app_dir, "fastapi/routing.py"), 278, "app",
                "raw_response = await run_endpoint_function("),
        *_frame(_site(app_dir, "fastapi/routing.py"), 191, "run_endpoint_function",
                "return await dependant.call(**values)"),
    ]
    return ["ERROR:    Exception in ASGI application", "Traceback (most recent call last):",
            *frames, *crash.traceback]


def roles_endpoint_frames(app_dir: Path) -> list[str]:
    return _frame(f"{app_dir}/app/api/routes/demand.py", 52, "list_roles",
                  "total = await db.scalar(select(func.count()).select_from(Role))")


def health_db_frames(app_dir: Path) -> list[str]:
    return _frame(f"{app_dir}/app/api/routes/health.py", 31, "health_db",
                  'await conn.execute(text("SELECT 1"))')


def serialization_crash(app_dir: Path) -> Crash:
    """The unhandled exception an ``errors`` fault's requests meet: a role with no posting date
    reaching code that assumed one (a data-dependent bug, the kind a week in production finds)."""
    message = "'NoneType' object has no attribute 'isoformat'"
    route = f"{app_dir}/app/api/routes/demand.py"
    return Crash("AttributeError", message, [
        *_frame(route, 61, "list_roles", "items = [serialize_role(row) for row in rows]"),
        *_frame(route, 61, "<listcomp>", "items = [serialize_role(row) for row in rows]"),
        *_frame(route, 34, "serialize_role", '"posted_at": row.posted_at.isoformat(),'),
        f"AttributeError: {message}",
    ])


def job_failed(app_dir: Path, job: str, crash: Crash) -> list[str]:
    """What APScheduler's executor logs for a job that raised (``job`` as APScheduler shows it)."""
    return [f'ERROR:apscheduler.executors.default:Job "{job}" raised an exception',
            "Traceback (most recent call last):",
            *_frame(_site(app_dir, "apscheduler/executors/base.py"), 125, "run_job",
                    "retval = job.func(*job.args, **job.kwargs)"),
            *crash.traceback]


def paraform_unreachable(app_dir: Path, error: str) -> Crash:
    """The Paraform fetch failing to connect: httpx's ConnectError, raised from httpcore's."""
    scraper = f"{app_dir}/app/scrapers/paraform.py"
    transport = _site(app_dir, "httpx/_transports/default.py")
    return Crash("httpx.ConnectError", error, [
        *_frame(f"{app_dir}/app/scheduler/jobs.py", 31, "scrape_paraform",
                "result = ParaformScraper(settings).run()"),
        *_frame(scraper, 54, "run", 'response = self.client.get(ROLES_URL, params={"page": page})'),
        *_frame(_site(app_dir, "httpx/_client.py"), 1054, "get", "return self.request("),
        *_frame(_site(app_dir, "httpx/_client.py"), 1015, "_send_single_request",
                "response = transport.handle_request(request)"),
        *_frame(transport, 232, "handle_request", "with map_httpcore_exceptions():"),
        *_frame("/usr/lib/python3.11/contextlib.py", 158, "__exit__",
                "self.gen.throw(typ, value, traceback)"),
        *_frame(transport, 86, "map_httpcore_exceptions", "raise mapped_exc(message) from exc"),
        f"httpx.ConnectError: {error}",
    ])


def scrape_save_frames(app_dir: Path) -> list[str]:
    scraper = f"{app_dir}/app/scrapers/paraform.py"
    return [*_frame(f"{app_dir}/app/scheduler/jobs.py", 31, "scrape_paraform",
                    "result = ParaformScraper(settings).run()"),
            *_frame(scraper, 71, "run", "self.save(roles)"),
            *_frame(scraper, 102, "save", "with SessionLocal.begin() as session:")]


def digest_frames(app_dir: Path) -> list[str]:
    return [*_frame(f"{app_dir}/app/scheduler/jobs.py", 44, "send_daily_digest",
                    "digest = build_digest(since=yesterday())"),
            *_frame(f"{app_dir}/app/services/digest.py", 27, "build_digest",
                    "with SessionLocal() as session:")]
