"""Small helpers shared by tests: a recording operator and a session on the rehearsal world."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cutover_tui.operator import Answers, HeadlessOperator


class RecordingOperator(HeadlessOperator):
    """A headless operator that keeps what it was asked."""

    def __init__(self, name: str = "tester", answers: Answers | None = None, yes: bool = True):
        self.asked: list[tuple[str, str]] = []
        self.diffs: list[Any] = []
        self.preconditions: list[Any] = []
        super().__init__(name, yes=yes, answers=answers,
                         say=lambda text: self.asked.append(("say", text)))

    async def review_diff(self, step_id: str, title: str, diff: Any) -> bool:
        self.diffs.append(diff)
        return await super().review_diff(step_id, title, diff)

    async def confirm_typed(self, step_id, prompt, expected, detail="", preconditions=()):
        self.preconditions.append(list(preconditions))
        return await super().confirm_typed(step_id, prompt, expected, detail, preconditions)


def session_on(world, path: Path, state: Path, operator=None, **kwargs):
    from cutover_tui.runbook import load_runbook
    from cutover_tui.session import open_session

    book = load_runbook(path, world.overrides())
    return open_session(book, operator or RecordingOperator(), state=state, clock=world.clock,
                        droplets=world.droplet_api, workdir=state.parent, **kwargs)


# A runbook with one .env edit on the rehearsal world's new host, and its rollback restore.
ENV_EDIT_BOOK = """
[runbook]
id = "env"
title = "env"
[variables]
app_dir = "/nonexistent"
[hosts.new]
address = "127.0.0.3"
[[phases]]
id = "3"
title = "Configuration"
[[phases.steps]]
id = "3.1"
kind = "env_edit"
title = "production"
host = "new"
path = "{app_dir}/.env"
set = { ENVIRONMENT = "production", SCRAPE_HOURS = "5,17" }
[rollback]
id = "R"
title = "Rollback"
[[rollback.steps]]
id = "R3-env"
kind = "env_restore"
title = "restore"
host = "new"
path = "{app_dir}/.env"
from_step = "3.1"
"""


def backup_book(fmt: str = "sql.gz", restore: str = "auto", roles: tuple[int, int] = (700, 800),
                host: str = "new", address: str = "127.0.0.3") -> str:
    """A runbook with one backup step on the rehearsal world's host (paths from overrides)."""
    return f"""
[runbook]
id = "backup"
title = "backup"
[variables]
app_dir = "/nonexistent"
remote_backup_dir = "/nonexistent"
local_backup_dir = "/nonexistent"
[hosts.{host}]
address = "{address}"
[[phases]]
id = "2"
title = "Backup"
[[phases.steps]]
id = "2.1"
kind = "backup"
title = "backup"
host = "{host}"
env_file = "{{app_dir}}/.env"
format = "{fmt}"
remote_dir = "{{remote_backup_dir}}"
local_dir = "{{local_backup_dir}}"
expect_tables = 9
row_counts = {{ roles = {{ min = {roles[0]}, max = {roles[1]} }} }}
restore_check = "{restore}"
"""


def file_mode(path: Path) -> int:
    import stat

    return stat.S_IMODE(path.stat().st_mode)


def fake_private_key(lines: int = 6) -> tuple[str, list[str]]:
    """A PEM private key block of random base64 lines, and those lines."""
    import base64
    import secrets

    body = [base64.b64encode(secrets.token_bytes(48)).decode() for _ in range(lines)]
    return ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body) +
            "\n-----END OPENSSH PRIVATE KEY-----\n"), body


def git_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at ``path`` with ``files`` committed."""
    import subprocess

    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "."], check=True)
    subprocess.run(["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-qm", "init"], check=True)
    return path
