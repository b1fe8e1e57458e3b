"""Issue 15, item 1: two people, two Unix accounts. ``cutover run --group GROUP`` makes the run's
folder the group's (setgid, 2770) and its record, lock and journal 0660 (a presence file 0640),
never readable by the world whatever the umask; each step record names the account that wrote
it as well as the operator. As root (CI), a second account really writes the run: ``nobody``
(whose group is ``nogroup``) runs phase 2 of a run root started, through ``setpriv``."""

from __future__ import annotations

import contextlib
import grp
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

from cutover_tui.errors import ConfigError
from cutover_tui.journal import journal_path, unix_account
from cutover_tui.operator import HeadlessOperator
from cutover_tui.presence import Announcer, presence_dir
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from cutover_tui.sharing import share_folder

ROOT = Path(__file__).resolve().parents[1]
GROUP = "nogroup"  # nobody's own group on Debian and Ubuntu: no group is created for the test
BOOK = """
[runbook]
id = "shared"
title = "Shared"
[hosts.x]
address = "127.0.0.1"
[[phases]]
id = "1"
title = "Root's"
[[phases.steps]]
id = "1.1"
kind = "local"
title = "say hello"
command = "echo hello"
[[phases]]
id = "2"
title = "The teammate's"
[[phases.steps]]
id = "2.1"
kind = "local"
title = "say hello again"
command = "echo hello again"
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_files(record: Path) -> list[Path]:
    return [record, record.with_name(record.name + ".lock"), journal_path(record)]


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


async def run_one_step(record: Path, book: Path, name: str = "ops-a") -> None:
    session = open_session(load_runbook(book), HeadlessOperator(name), state=record,
                           workdir=record.parent)
    try:
        assert (await session.engine.run_step("1.1")).ok
    finally:
        await session.aclose()


async def test_a_private_run_is_the_owners_alone_even_with_umask_zero(tmp_path):
    book = tmp_path / "book.toml"
    book.write_text(BOOK)
    record = tmp_path / "runs" / "run.toml"
    with umask(0):
        await run_one_step(record, book)
        Announcer(record, "ops-a", "operator").beat("1")
    assert [mode(path) for path in run_files(record)] == [0o600, 0o600, 0o600]
    assert mode(presence_dir(record)) == 0o700
    assert [mode(p) for p in presence_dir(record).iterdir()] == [0o600]


async def test_a_group_shared_run_gives_the_group_every_file_and_the_world_none(tmp_path):
    gid = grp.getgrnam(GROUP).gr_gid
    book = tmp_path / "book.toml"
    book.write_text(BOOK)
    folder = tmp_path / "runs"
    record = folder / "run.toml"
    share_folder(folder, GROUP)
    assert folder.stat().st_mode & 0o7777 == 0o2770 and folder.stat().st_gid == gid
    with umask(0o022):  # the usual umask takes the group's write bit: the tool gives it back
        await run_one_step(record, book)
        Announcer(record, "ops-a", "operator").beat("1")
    for path in run_files(record):
        assert (mode(path), path.stat().st_gid) == (0o660, gid), path
    presence = presence_dir(record)
    assert presence.stat().st_mode & 0o7777 == 0o2770 and presence.stat().st_gid == gid
    assert [(mode(p), p.stat().st_gid) for p in presence.iterdir()] == [(0o640, gid)]
    step = tomllib.loads(record.read_text())["steps"]["1.1"]
    assert (step["operator"], step["account"]) == ("ops-a", unix_account())


async def test_sharing_a_run_already_started_gives_its_files_to_the_group(tmp_path):
    book = tmp_path / "book.toml"
    book.write_text(BOOK)
    record = tmp_path / "runs" / "run.toml"
    await run_one_step(record, book)
    share_folder(record.parent, GROUP, run_files(record))
    assert [mode(path) for path in run_files(record)] == [0o660, 0o660, 0o660]
    await run_one_step(record, book)  # written again: it stays shared
    assert [mode(path) for path in run_files(record)] == [0o660, 0o660, 0o660]


def test_an_unknown_group_is_a_sentence(tmp_path):
    with pytest.raises(ConfigError, match="no Unix group named 'no-such-team'"):
        share_folder(tmp_path / "runs", "no-such-team")
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------- two accounts


def _second_account_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to run a process as nobody (setpriv --reuid); CI runs as root"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        return f"no group {GROUP!r} on this machine"
    return None


def cutover(*args: str, cwd: Path, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if as_nobody \
        else []
    env = {**os.environ, "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    return subprocess.run([*prefix, sys.executable, "-m", "cutover_tui.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def jump_host_folder():
    """A folder both accounts can reach (pytest's tmp_path is root's alone)."""
    reason = _second_account_reason()
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="cutover-shared-"))
    os.chmod(base, 0o711)  # others may pass through, not list
    (base / "book.toml").write_text(BOOK)
    os.chmod(base / "book.toml", 0o644)
    probe = cutover("--version", cwd=base, as_nobody=True)
    if probe.returncode != 0:
        shutil.rmtree(base)
        pytest.skip(f"nobody cannot run this checkout's Python: {probe.stderr.strip()[-200:]}")
    try:
        yield base
    finally:
        shutil.rmtree(base)


@pytest.mark.world  # the CLI as subprocesses, as two accounts
def test_a_teammate_on_another_account_runs_the_shared_run(jump_host_folder):
    base = jump_host_folder
    record = base / "runs" / "run.toml"
    first = cutover("run", "book.toml", "--headless", "--state", str(record), "--group", GROUP,
                    "--operator", "ops-a", "--phase", "1", cwd=base)
    assert first.returncode == 0, first.stderr
    second = cutover("run", "book.toml", "--headless", "--state", str(record), "--operator",
                     "ops-b", "--phase", "2", cwd=base, as_nobody=True)
    assert second.returncode == 0, second.stdout + second.stderr
    steps = tomllib.loads(record.read_text())["steps"]
    assert (steps["1.1"]["state"], steps["1.1"]["operator"], steps["1.1"]["account"]) == (
        "done", "ops-a", "root")
    assert (steps["2.1"]["state"], steps["2.1"]["operator"], steps["2.1"]["account"]) == (
        "done", "ops-b", "nobody")
    journal = journal_path(record).read_text()
    assert '"account":"nobody"' in journal and '"account":"root"' in journal
    gid = grp.getgrnam(GROUP).gr_gid
    for path in run_files(record):
        assert (mode(path), path.stat().st_gid) == (0o660, gid), path
    assert record.stat().st_uid == 65534  # nobody wrote it last, and root can still write it
    verify = cutover("review", str(record), "--verify", cwd=base)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.world  # the CLI as subprocesses, as two accounts
def test_a_private_run_refuses_the_other_account_in_a_sentence(jump_host_folder):
    base = jump_host_folder
    record = base / "runs" / "run.toml"
    first = cutover("run", "book.toml", "--headless", "--state", str(record), "--operator",
                    "ops-a", "--phase", "1", cwd=base)
    assert first.returncode == 0, first.stderr
    os.chmod(record.parent, 0o755)  # even where the folder can be listed
    before = record.read_bytes()
    second = cutover("run", "book.toml", "--headless", "--state", str(record), "--operator",
                     "ops-b", "--phase", "2", cwd=base, as_nobody=True)
    assert second.returncode != 0
    assert "is not readable" in second.stderr  # said before anything starts
    assert "Traceback" not in second.stderr
    assert record.read_bytes() == before


def test_the_watchers_store_is_the_groups_in_a_shared_run_and_private_elsewhere(tmp_path):
    """A teammate's destroy reads the week's probes (the "week watched" precondition): in a
    `--group` run the watcher's SQLite store is the group's, never the world's."""
    from cutover_tui.monitor.store import WatchStore, store_path

    gid = grp.getgrnam(GROUP).gr_gid
    shared = tmp_path / "runs"
    share_folder(shared, GROUP)
    with umask(0o022), WatchStore(store_path(shared / "run.toml")) as store:
        store.beat(1, "h", 0.0, 0.0)
    made = store_path(shared / "run.toml")
    assert (mode(made), made.stat().st_gid) == (0o660, gid)
    private = tmp_path / "alone"
    private.mkdir()
    with umask(0o000), WatchStore(store_path(private / "run.toml")):
        pass
    assert mode(store_path(private / "run.toml")) == 0o600
