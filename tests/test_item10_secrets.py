"""Issue 16, item 10: secrets are masked wherever they can appear — the headless terminal,
the checklist, the run's log (0600), output as it streams, notes, diffs, exceptions — in every
shape (JSON and YAML keys, bearer headers, *_PASS / *_PAT / *_PASSWD, quoted values with
spaces, URL-decoded passwords, every line of a multi-line value), and after a resume."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
import sys
import tomllib
from pathlib import Path

from cutover_tui.masking import MASK, Masker
from cutover_tui.runbook import Overrides, load_runbook
from cutover_tui.session import open_session

from .helpers import RecordingOperator, fake_private_key, file_mode, git_repo

ROOT = Path(__file__).resolve().parents[1]
CLI_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # this tree's code, wherever the CLI runs


HEADLESS_BOOK = """
[runbook]
id = "secrets"
title = "Secrets in output"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "Steps that print secrets"
[[phases.steps]]
id = "1.url"
kind = "local"
title = "a database URL"
command = "echo 'connecting to postgresql://app:{url_pw}@db.internal:5432/app?sslmode=require'"
[[phases.steps]]
id = "1.json"
kind = "local"
title = "a JSON key"
command = "printf '%s\\\\n' '{{\\"OPENAI_API_KEY\\": \\"{json_key}\\", \\"model\\": \\"x\\"}}'"
[[phases.steps]]
id = "1.bearer"
kind = "local"
title = "a bearer header"
command = "cat headers.txt"
[[phases.steps]]
id = "1.pem"
kind = "local"
title = "a private key"
command = "echo start; cat key.pem; echo end"
[[phases.steps]]
id = "1.env"
kind = "local"
title = "a .env with a multi-line key and other secret shapes"
command = "cat app.env"
[[phases.steps]]
id = "1.fails"
kind = "local"
title = "fails, naming the URL"
gate = false
command = "echo 'FATAL: cannot reach postgresql://app:{fail_pw}@db.internal/app' >&2; exit 2"
"""


def test_item10_headless_summary_is_masked(tmp_path):
    """A headless --verbose run of steps that print a database URL, a JSON key, a bearer header
    and multi-line private keys: none of the values in stdout, the checklist or the journal, and
    both files 0600 (a journal left 0644, by a copy or by hand, too)."""
    values = {name: f"{name}-{secrets.token_hex(8)}" for name in (
        "url_pw", "json_key", "bearer", "fail_pw", "smtp", "pat", "passwd", "spaced")}
    values["spaced"] = f"correct horse {secrets.token_hex(4)} staple"
    (tmp_path / "book.toml").write_text(HEADLESS_BOOK.replace("{url_pw}", values["url_pw"])
                                        .replace("{json_key}", values["json_key"])
                                        .replace("{fail_pw}", values["fail_pw"]))
    (tmp_path / "headers.txt").write_text(
        f"HTTP/1.1 200 OK\nAuthorization: Bearer {values['bearer']}\nX-Other: 1\n")
    pem, pem_lines = fake_private_key()
    (tmp_path / "key.pem").write_text(pem)
    env_key, env_key_lines = fake_private_key()
    (tmp_path / "app.env").write_text(
        f'APP_NAME="Air Demand"\nDEPLOY_KEY="{env_key.strip()}"\n'
        f"SMTP_PASS={values['smtp']}\nGITHUB_PAT={values['pat']}\n"
        f"DB_PASSWD={values['passwd']}\nADMIN_PASSWORD=\"{values['spaced']}\"\n")
    log = tmp_path / "run.journal"
    log.write_text("")
    log.chmod(0o644)
    result = subprocess.run([sys.executable, "-m", "cutover_tui.cli", "run", "book.toml",
                             "--headless", "--yes", "--verbose", "--state", "run.toml"],
                            capture_output=True, text=True, cwd=tmp_path, env=CLI_ENV)
    out = result.stdout + result.stderr
    assert "Traceback" not in out
    assert "✗ 1.fails" in out and "postgresql://app:••••••@db.internal/app" in out, out
    assert "Authorization: Bearer ••••••" in out and "-----BEGIN OPENSSH PRIVATE KEY-----" in out
    assert "start" in out and "end" in out and "APP_NAME=" in out  # the rest is still shown
    checklist = (tmp_path / "run.toml").read_text()
    logged = log.read_text()
    for where, text in (("stdout", out), ("checklist", checklist), ("log", logged)):
        for name, value in values.items():
            assert value not in text, f"{name} in {where}"
        for line in pem_lines + env_key_lines:
            assert line not in text, f"a private key line in {where}"
    assert file_mode(tmp_path / "run.toml") == 0o600
    assert file_mode(log) == 0o600, "the journal keeps its old mode"


def test_item10_masker_catches_every_shape_of_secret():
    m = Masker()
    shapes = {
        '"OPENAI_API_KEY": "sk-proj-abc123"': "sk-proj-abc123",
        "openai_api_key: sk-yaml-abc123": "sk-yaml-abc123",
        "curl -H 'Authorization: Bearer tok.en-123' https://api": "tok.en-123",
        '{"headers": {"Authorization": "Basic dXNlcjpwYXNz"}}': "dXNlcjpwYXNz",
        "using Bearer eyJhbGciOi.J9 in a log line": "eyJhbGciOi",
        "SMTP_PASS=pass-value-1": "pass-value-1",
        "export GITHUB_PAT=ghp_value2": "ghp_value2",
        "MYSQL_PASSWD=value-3": "value-3",
        'DB_PASSWORD="correct horse battery"': "horse battery",
        "ADMIN_TOKEN='it is secret'": "is secret",
        "postgresql://app:p%40ss%2Fword@db/x": "p%40ss",
    }
    for text, secret in shapes.items():
        assert secret not in m(text), text
        assert MASK in m(text)
    assert m("PWD=/root pass: 40 monkey=3") == "PWD=/root pass: 40 monkey=3"
    # The decoded form of a URL-encoded password, once learnt from its URL.
    m.learn("postgresql://app:p%40ss%2Fw0rd@db/x")
    assert m("the password is p@ss/w0rd.") == f"the password is {MASK}."
    # Every line of a multi-line value (a private key in a .env), wherever it shows up alone.
    key, lines = fake_private_key()
    m.learn_env({"DEPLOY_KEY": key.strip(), "APP_NAME": "Air Demand"})
    for line in lines:
        assert line not in m(f"echo {line}")
    assert m("Air Demand") == "Air Demand"


def test_item10_private_key_lines_are_masked_as_they_stream():
    key, lines = fake_private_key()
    stream = Masker().stream()
    shown = [stream(line) for line in ("before", *key.splitlines(), "after")]
    assert shown[0] == "before" and shown[-1] == "after"
    assert shown[1].startswith("-----BEGIN") and shown[-2].startswith("-----END")
    assert shown[2:-2] == [MASK] * len(lines)
    # A .env value whose quote closes lines later, and a YAML block scalar.
    env_stream = Masker().stream()
    env_lines = [f'PRIVATE_KEY="{key.splitlines()[0]}', *key.splitlines()[1:], 'NEXT=1"x']
    assert not any(line in " ".join(map(env_stream, env_lines)) for line in lines)
    yaml = Masker()("db:\n  private_key: |\n    aaaa-line-1\n    bbbb-line-2\n  port: 5432")
    assert "line-1" not in yaml and "line-2" not in yaml and "port: 5432" in yaml


LEARN_BOOK = """
[runbook]
id = "learn"
title = "learn"
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
set = { ENVIRONMENT = "production" }
[[phases.steps]]
id = "3.2"
kind = "ssh"
title = "print the bare database password"
host = "new"
command = "grep -o 'doadmin:[^@]*' {app_dir}/.env | cut -d: -f2"
"""


def learn_session(world, tmp_path):
    return open_session(load_runbook(tmp_path / "book.toml", world.overrides(["new"])),
                        RecordingOperator(), state=tmp_path / "run.toml", clock=world.clock,
                        workdir=tmp_path)


def _secrets_absent(state: Path, password: str, verdict) -> None:
    assert password not in verdict.output and MASK in verdict.output
    assert password not in state.read_text()
    assert password not in state.with_suffix(".journal").read_text()


async def test_item10_learnt_values_are_masked_in_later_output(world, tmp_path):
    """The .env read by 3.1 teaches the masker the database password; 3.2 prints it bare."""
    (tmp_path / "book.toml").write_text(LEARN_BOOK)
    state = tmp_path / "run.toml"
    session = learn_session(world, tmp_path)
    assert (await session.engine.run_step("3.1")).ok
    verdict = await session.engine.run_step("3.2")
    await session.aclose()
    assert verdict.ok, verdict.summary
    _secrets_absent(state, world.db_password, verdict)


async def test_item10_secrets_learnt_before_a_resume_stay_masked(world, tmp_path):
    """A new session (as after a quit and a resume) masks what the first one learnt; the
    checklist keeps a salt and fingerprints, never the value."""
    (tmp_path / "book.toml").write_text(LEARN_BOOK)
    state = tmp_path / "run.toml"
    first = learn_session(world, tmp_path)
    assert (await first.engine.run_step("3.1")).ok
    await first.aclose()
    record = tomllib.loads(state.read_text())["run"]["masking"]
    assert len(bytes.fromhex(record["salt"])) == 16
    assert f"{len(world.db_password)}:" in " ".join(record["learnt"])
    second = learn_session(world, tmp_path)
    verdict = await second.engine.run_step("3.2")
    await second.aclose()
    assert verdict.ok, verdict.summary
    _secrets_absent(state, world.db_password, verdict)
    assert hashlib.sha256(world.db_password.encode()).hexdigest()[:16] not in state.read_text()


SALT_BOOK = """
[runbook]
id = "salt"
title = "salt"
[hosts.new]
address = "127.0.0.3"
[[phases]]
id = "3"
title = "Configuration"
[[phases.steps]]
id = "3.1"
kind = "env_edit"
title = "rotate"
host = "new"
path = "/srv/app/.env"
set = { SECRET_KEY = "the-same-secret-value" }
"""


def test_item10_fingerprints_use_a_per_run_salt(tmp_path):
    (tmp_path / "book.toml").write_text(SALT_BOOK)

    def fingerprint_in(state: Path) -> str:
        session = open_session(load_runbook(tmp_path / "book.toml"), RecordingOperator(),
                               state=state)
        plan = " ".join(session.checklist.step("3.1")["plan"])
        return re.search(r"sha256:([0-9a-f]{8})", plan).group(1)

    one, two = fingerprint_in(tmp_path / "one.toml"), fingerprint_in(tmp_path / "two.toml")
    bare = hashlib.sha256(b"the-same-secret-value").hexdigest()[:8]
    assert one != two and bare not in (one, two)
    assert fingerprint_in(tmp_path / "one.toml") == one  # a resume keeps the run's salt
    assert "the-same-secret-value" not in (tmp_path / "one.toml").read_text()


NOTES_BOOK = """
[runbook]
id = "notes"
title = "notes"
[variables]
repo = "/nonexistent"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "3"
title = "Repository"
[[phases.steps]]
id = "3.3"
kind = "repo_edit"
title = "point at the new database"
repo = "{repo}"
files = ["config/settings.env"]
find = "10.9.9.1"
replace = "10.9.9.2"
"""


async def test_item10_notes_diffs_and_exceptions_are_masked(tmp_path):
    key, key_lines = fake_private_key()
    repo = git_repo(tmp_path / "repo", {"config/settings.env": (
        "DATABASE_URL=postgresql://app:diff-pw-123@10.9.9.1/app\nSMTP_PASS=diff-smtp-456\n"
        f"# the deploy key\n{key}")})
    (tmp_path / "book.toml").write_text(NOTES_BOOK)
    book = load_runbook(tmp_path / "book.toml", Overrides(variables={"repo": str(repo)}))
    operator = RecordingOperator()
    session = open_session(book, operator, state=tmp_path / "run.toml", workdir=tmp_path)
    verdict = await session.engine.run_step("3.3")
    assert verdict.ok, verdict.summary
    shown = "\n".join(operator.diffs[0].unified_lines()) + "\n".join(t for _, t in operator.asked)
    session.engine.add_note("3.3", "rotated: the old one was SMTP_PASS=note-pass-789")
    session.engine.raise_red_flag("Authorization: Bearer flag-token-000 leaked in a log")
    await session.aclose()
    written = (tmp_path / "run.toml").read_text() + (tmp_path / "run.journal").read_text()
    for text in (shown, verdict.output, written):
        for secret in ("diff-pw-123", "diff-smtp-456", "note-pass-789", "flag-token-000",
                       *key_lines):
            assert secret not in text
    assert "10.9.9.2" in shown  # the change itself is shown
    # An exception's text is masked before the CLI prints it.
    result = subprocess.run([sys.executable, "-m", "cutover_tui.cli", "review",
                             str(tmp_path / "missing" / "DB_PASSWORD=exc-pw-321")],
                            capture_output=True, text=True, env=CLI_ENV)
    assert result.returncode == 1 and "exc-pw-321" not in result.stdout + result.stderr
