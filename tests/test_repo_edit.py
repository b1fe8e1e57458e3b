"""repo_edit: in a real git repository on this machine (no network)."""

import subprocess

from cutover_tui.operator import Answers
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session

from .helpers import RecordingOperator

BOOK = """
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
find = "10.9.9.1"
replace = "10.9.9.2"
commit_message = "chore: new production IP"
"""


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def make_repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "app").mkdir()
    (repo / "scripts" / "deploy.sh").write_text("PROD_HOST=10.9.9.1\n")
    (repo / "app" / "config.py").write_text('origins = ["http://10.9.9.1:3000"]\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "init")
    return repo


def run(tmp_path, repo, operator):
    from cutover_tui.runbook import Overrides

    path = tmp_path / "repo.toml"
    path.write_text(BOOK)
    book = load_runbook(path, Overrides(variables={"repo": str(repo)}))
    return open_session(book, operator, state=tmp_path / "run.toml", workdir=tmp_path)


async def test_edits_show_a_diff_and_commit_without_pushing(tmp_path):
    repo = make_repo(tmp_path)
    operator = RecordingOperator()
    session = run(tmp_path, repo, operator)
    verdict = await session.engine.run_step("3.3")
    assert verdict.ok, verdict.summary
    assert "PROD_HOST=10.9.9.2" in (repo / "scripts" / "deploy.sh").read_text()
    assert any(line.startswith("+PROD_HOST=10.9.9.2") for line in operator.diffs[0].unified_lines())
    assert git(repo, "log", "-1", "--format=%s").strip() == "chore: new production IP"
    assert "pushed" not in verdict.evidence
    again = await session.engine.run_step("3.3")
    assert again.ok and again.evidence["files_changed"] == []


async def test_a_dirty_tree_is_named_first_and_declining_touches_nothing(tmp_path):
    repo = make_repo(tmp_path)
    (repo / "scripts" / "deploy.sh").write_text("PROD_HOST=10.9.9.1\n# local edit\n")
    operator = RecordingOperator(answers=Answers(confirm={"3.3": False}), yes=False)
    session = run(tmp_path, repo, operator)
    verdict = await session.engine.run_step("3.3")
    assert not verdict.ok and "uncommitted changes" in verdict.summary
    assert (repo / "scripts" / "deploy.sh").read_text() == "PROD_HOST=10.9.9.1\n# local edit\n"
    assert (repo / "app" / "config.py").read_text() == 'origins = ["http://10.9.9.1:3000"]\n'


def push_book(tmp_path, repo):
    from cutover_tui.runbook import Overrides

    path = tmp_path / "push.toml"
    path.write_text(BOOK + "push = true\n")
    return load_runbook(path, Overrides(variables={"repo": str(repo)}))


async def test_a_rejected_push_names_gits_error_lines_not_its_advice(tmp_path):
    repo = make_repo(tmp_path)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "-u", "origin", "main")
    hook = origin / "hooks" / "pre-receive"  # from now on the remote refuses every push
    hook.write_text("#!/bin/sh\necho 'error: pushes to main are frozen during the cutover' >&2\n"
                    "exit 1\n")
    hook.chmod(0o755)
    session = open_session(push_book(tmp_path, repo), RecordingOperator(),
                           state=tmp_path / "run.toml", workdir=tmp_path)
    verdict = await session.engine.run_step("3.3")
    assert not verdict.ok
    assert verdict.summary.startswith(
        "git push failed: remote: error: pushes to main are frozen during the cutover")
    assert "error: failed to push some refs" in verdict.summary
    assert session.checklist.step("3.3")["summary"] == verdict.summary
    await session.aclose()


async def test_a_push_with_nowhere_to_go_names_gits_fatal_line(tmp_path):
    # The case: git ends its output with advice ("    git push <name>").
    repo = make_repo(tmp_path)
    session = open_session(push_book(tmp_path, repo), RecordingOperator(),
                           state=tmp_path / "run.toml", workdir=tmp_path)
    verdict = await session.engine.run_step("3.3")
    assert not verdict.ok
    assert verdict.summary == "git push failed: fatal: No configured push destination."
    await session.aclose()


def test_the_m11_commit_message_names_the_new_ip_it_was_given(m11_path):
    from cutover_tui.runbook import Overrides

    book = load_runbook(m11_path, Overrides.from_cli([], ["new_public_ip=203.0.113.7"]))
    assert book.step("3.3").commit_message == \
        "chore: update production IP to 203.0.113.7 for M11 cutover"


async def test_a_retry_after_a_refused_push_says_it_only_pushed_then_that_it_was_pushed(
        tmp_path):
    # Issue 15 item 9: the retry used to report "0 file(s) changed, committed and pushed".
    repo = make_repo(tmp_path)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "-u", "origin", "main")
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'error: frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    session = open_session(push_book(tmp_path, repo), RecordingOperator(),
                           state=tmp_path / "run.toml", workdir=tmp_path)
    first = await session.engine.run_step("3.3")
    assert not first.ok and first.summary.startswith("git push failed")
    commit = git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "log", "-1", "--format=%s").strip() == "chore: new production IP"
    hook.unlink()  # the freeze is over: the operator retries

    retry = await session.engine.run_step("3.3")
    assert retry.ok, retry.summary
    assert retry.summary == (f"nothing to change: the change was already committed "
                             f"({commit[:12]}); pushed the commit {commit[:12]} to origin/main")
    assert git(origin, "rev-parse", "main").strip() == commit  # it really went
    assert session.checklist.step("3.3")["summary"] == retry.summary

    again = await session.engine.run_step("3.3")
    assert again.ok
    assert again.summary == (f"nothing to change: the change was already committed "
                             f"({commit[:12]}); already pushed")
    await session.aclose()


async def test_a_first_run_still_says_how_many_files_it_changed_committed_and_pushed(tmp_path):
    repo = make_repo(tmp_path)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "-u", "origin", "main")
    session = open_session(push_book(tmp_path, repo), RecordingOperator(),
                           state=tmp_path / "run.toml", workdir=tmp_path)
    verdict = await session.engine.run_step("3.3")
    assert verdict.ok, verdict.summary
    assert verdict.summary == f"2 file(s) changed in {repo}, committed and pushed"
    assert git(origin, "rev-parse", "main") == git(repo, "rev-parse", "HEAD")
    await session.aclose()


async def test_nothing_to_change_and_no_commit_of_it_says_so(tmp_path):
    repo = make_repo(tmp_path)
    for name in ("scripts/deploy.sh", "app/config.py"):  # changed by hand, committed otherwise
        (repo / name).write_text((repo / name).read_text().replace("10.9.9.1", "10.9.9.2"))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", "by hand")
    session = run(tmp_path, repo, RecordingOperator())
    verdict = await session.engine.run_step("3.3")
    assert verdict.ok
    assert verdict.summary == (f"nothing to change: no file in {repo} still contains "
                               "'10.9.9.1'; nothing to commit")
    await session.aclose()
