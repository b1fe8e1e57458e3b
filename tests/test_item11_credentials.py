"""Issue 16, item 11: commands the tool starts on this machine — ``local`` steps, the git of
``repo_edit`` and its hooks — run without the credentials the tool holds (the DigitalOcean
token, the scratch database), unless a ``local`` step names one in ``pass_env``."""

from __future__ import annotations

import secrets

import pytest

from cutover_tui.masking import MASK
from cutover_tui.runbook import Overrides, load_runbook
from cutover_tui.session import open_session

from .helpers import RecordingOperator, git_repo

REPO_BOOK = """
[runbook]
id = "repo"
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



LOCAL_BOOK = """
[runbook]
id = "env"
title = "env"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "Local"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "a test suite"
command = "env | cut -d= -f1 | grep -E '^(DIGITALOCEAN|CUTOVER|SOME_OTHER|PATH$)'"
[[phases.steps]]
id = "1.2"
kind = "local"
title = "a script that needs the token"
command = "env | cut -d= -f1 | grep -E '^(DIGITALOCEAN|CUTOVER)'; echo \\"token: $DIGITALOCEAN_TOKEN\\""
pass_env = ["DIGITALOCEAN_TOKEN"]
"""


async def test_item11_local_steps_get_no_credentials_unless_passed(tmp_path, monkeypatch):
    token = "dop_v1_" + secrets.token_hex(16)
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", token)
    monkeypatch.setenv("DIGITALOCEAN_ACCESS_TOKEN", token)
    monkeypatch.setenv("CUTOVER_SCRATCH_DATABASE_URL", "postgresql://s:scratch-pw@127.0.0.1/s")
    monkeypatch.setenv("SOME_OTHER_SETTING", "kept")
    (tmp_path / "book.toml").write_text(LOCAL_BOOK)
    session = open_session(load_runbook(tmp_path / "book.toml"), RecordingOperator(),
                           state=tmp_path / "run.toml", workdir=tmp_path)
    suite = await session.engine.run_step("1.1")
    script = await session.engine.run_step("1.2")
    await session.aclose()
    names = set(suite.output.split())
    assert "SOME_OTHER_SETTING" in names and "PATH" in names
    assert not names & {"DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN",
                        "CUTOVER_SCRATCH_DATABASE_URL"}
    passed = set(script.output.split())
    assert "DIGITALOCEAN_TOKEN" in passed
    assert not passed & {"DIGITALOCEAN_ACCESS_TOKEN", "CUTOVER_SCRATCH_DATABASE_URL"}
    # The tool's own credentials are secrets the masker knows from the start.
    assert f"token: {MASK}" in script.output
    assert token not in (tmp_path / "run.toml").read_text() + (tmp_path / "run.journal").read_text()
    assert "the command sees the tool's DIGITALOCEAN_TOKEN" in " ".join(
        session.checklist.step("1.2")["plan"])


def test_item11_pass_env_names_only_withheld_credentials(tmp_path):
    from cutover_tui.errors import RunbookError

    (tmp_path / "book.toml").write_text(LOCAL_BOOK.replace('pass_env = ["DIGITALOCEAN_TOKEN"]',
                                                           'pass_env = ["PATH"]'))
    with pytest.raises(RunbookError, match="pass_env.*'PATH' is not a credential the tool"):
        load_runbook(tmp_path / "book.toml")


async def test_item11_repo_edit_git_hooks_get_no_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", "dop_v1_hook")
    monkeypatch.setenv("CUTOVER_SCRATCH_DATABASE_URL", "postgresql://s:pw@127.0.0.1/s")
    repo = git_repo(tmp_path / "repo", {"config/settings.env": "HOST=10.9.9.1\n"})
    seen = tmp_path / "hook-env.txt"
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nenv | cut -d= -f1 > {seen}\n")
    hook.chmod(0o755)
    (tmp_path / "book.toml").write_text(REPO_BOOK + 'commit_message = "new database"\n')
    book = load_runbook(tmp_path / "book.toml", Overrides(variables={"repo": str(repo)}))
    session = open_session(book, RecordingOperator(), state=tmp_path / "run.toml",
                           workdir=tmp_path)
    verdict = await session.engine.run_step("3.3")
    await session.aclose()
    assert verdict.ok, verdict.summary
    names = set(seen.read_text().split())
    assert "PATH" in names
    assert not names & {"DIGITALOCEAN_TOKEN", "CUTOVER_SCRATCH_DATABASE_URL"}
