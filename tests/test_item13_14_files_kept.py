"""Issue 16, items 13 and 14: files are kept as they were apart from the lines the diff shows —
mode, owner, line endings, a symlink — in the operator's repository (``repo_edit``) and in a
host's ``.env`` over SFTP (``env_edit``). The tests run as root, so a file can belong to
another user, as the app's ``.env`` does on a droplet."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from cutover_tui.runbook import Overrides, load_runbook
from cutover_tui.session import open_session

from .helpers import ENV_EDIT_BOOK, RecordingOperator

# ---------------------------------------------------------------------------- item 13: repo_edit

REPO_BOOK = """
[runbook]
id = "repo"
title = "repo"
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
title = "update IPs"
repo = "{repo}"
files = ["scripts/deploy.sh", "app/config.py"]
find = "FIND"
replace = "REPLACE"
commit_message = "chore: new production IP"
"""

DEPLOY = b"#!/bin/sh\r\n# deploy to production\r\nPROD_HOST=10.9.9.1\r\nrsync -a . root@$PROD_HOST:/srv\r\n"


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def make_repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "app").mkdir()
    deploy = repo / "scripts" / "deploy.sh"
    deploy.write_bytes(DEPLOY)
    deploy.chmod(0o755)
    (repo / "app" / "config.py").write_bytes(b'origins = ["http://10.9.9.1:3000"]\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "core.autocrlf", "false")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "init")
    return repo


def repo_session(tmp_path, repo, find, replace, operator):
    path = tmp_path / "repo.toml"
    path.write_text(REPO_BOOK.replace('"FIND"', find).replace('"REPLACE"', replace))
    book = load_runbook(path, Overrides(variables={"repo": str(repo)}))
    return open_session(book, operator, state=tmp_path / "run.toml", workdir=tmp_path)


async def test_item13_repo_edit_keeps_mode_and_crlf_line_endings(tmp_path):
    repo = make_repo(tmp_path)
    deploy = repo / "scripts" / "deploy.sh"
    operator = RecordingOperator()
    session = repo_session(tmp_path, repo, '"10.9.9.1"', '"10.9.9.2"', operator)
    verdict = await session.engine.run_step("3.3")
    assert verdict.ok, verdict.summary
    # Exactly the shown change, in the file's own bytes: CRLF stays CRLF, 0755 stays 0755.
    assert deploy.read_bytes() == DEPLOY.replace(b"10.9.9.1", b"10.9.9.2")
    assert stat.S_IMODE(deploy.stat().st_mode) == 0o755
    assert "mode change" not in git(repo, "show", "--summary", "--format=", "HEAD")
    assert git(repo, "diff", "--numstat", "HEAD~1", "--", "scripts/deploy.sh").split()[:2] == \
        ["1", "1"]
    # Nothing beyond the shown lines changes, so the diff says nothing more.
    lines = operator.diffs[0].unified_lines()
    assert "+PROD_HOST=10.9.9.2" in lines
    assert not [line for line in lines if line.startswith("# ")]
    await session.aclose()


async def test_item13_a_change_the_lines_do_not_show_is_shown(tmp_path):
    # A replacement that also turns a CRLF line into LF: the line diff looks the same either
    # way, so the diff names the change of line ending before anything is written.
    repo = make_repo(tmp_path)
    operator = RecordingOperator()
    session = repo_session(tmp_path, repo, '"10.9.9.1\\r\\n"', '"10.9.9.2\\n"', operator)
    verdict = await session.engine.run_step("3.3")
    assert verdict.ok, verdict.summary
    lines = operator.diffs[0].unified_lines()
    assert "# scripts/deploy.sh: line endings change on 1 line(s): CRLF → LF" in lines
    assert (repo / "scripts" / "deploy.sh").read_bytes() == \
        DEPLOY.replace(b"10.9.9.1\r\n", b"10.9.9.2\n")
    await session.aclose()


# ---------------------------------------------------------------------------- item 14: env_edit


@pytest.fixture
def shared_env(world, tmp_path):
    """The new host's .env as deployments often have it: a symlink into a shared directory, to
    a CRLF file that belongs to the app (uid/gid 1000), mode 0640."""
    link = world.app_dir("new") / ".env"
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "air-demand.env"
    target.write_bytes(link.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    link.unlink()
    link.symlink_to(target)
    os.chown(target, 1000, 1000)
    os.chmod(target, 0o640)
    return link, target


async def test_item14_env_edit_writes_through_the_symlink_and_keeps_owner_mode_and_crlf(
        world, tmp_path, shared_env):
    link, target = shared_env
    path = tmp_path / "env.toml"
    path.write_text(ENV_EDIT_BOOK.replace('SCRAPE_HOURS = "5,17" }',
                                          'SCRAPE_HOURS = "5,17", ADDED_BY_CUTOVER = "1" }'))
    session = open_session(load_runbook(path, world.overrides(["new"])), RecordingOperator(),
                           state=tmp_path / "run.toml", clock=world.clock, workdir=tmp_path)
    verdict = await session.engine.run_step("3.1")
    assert verdict.ok, verdict.summary
    # The link is still the link, and the shared file it points to has the new values.
    assert link.is_symlink() and os.readlink(link) == str(target)
    data = target.read_bytes()
    assert b"ENVIRONMENT=production\r\n" in data
    assert data.endswith(b"ADDED_BY_CUTOVER=1\r\n")  # an added line ends as the others do
    assert b"\n" not in data.replace(b"\r\n", b"")
    # Still the app's file: owner, group and mode as they were.
    after = os.stat(target)
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (1000, 1000, 0o640)
    # No temporary file left beside it; the backup sits beside the link, the app's too.
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    backup = session.checklist.step("3.1")["evidence"]["backup_path"]
    assert os.stat(backup).st_uid == 1000 and stat.S_IMODE(os.stat(backup).st_mode) == 0o640
    await session.aclose()
