"""When the ``.env`` edit refuses (issue 11), over SFTP to the rehearsal world's new host: a
file that reads back other than written, a file that keeps changing under review, a file that
is not UTF-8. Each a failed verdict with one sentence; nothing written where nothing may be."""

from __future__ import annotations

import shlex

from cutover_tui.operator import Answers
from cutover_tui.steps import env_edit

from .helpers import RecordingOperator
from .test_envfile import backups, env_session


def leftovers(world) -> list[str]:
    """Temporary files of a write (``.env.cutover-*.tmp``) left in the app's folder."""
    return sorted(p.name for p in world.app_dir("new").glob(".*.tmp"))


async def test_a_file_changed_right_after_the_write_fails_the_read_back_and_keeps_the_backup(
        world, tmp_path, monkeypatch):
    env = world.app_dir("new") / ".env"
    original = env.read_text()
    session = env_session(world, tmp_path, RecordingOperator(
        answers=Answers(confirm={"default": True})))
    real_write = env_edit.write_remote_atomically

    async def write_then_someone_edits(ctx, host, path, text, mode, backup_of):
        backup = await real_write(ctx, host, path, text, mode, backup_of)
        # Another process on the host rewrites the file between our rename and our read-back.
        edited = await ctx.ssh.run(host, f"echo EDITED_BY_DEPLOY=1 >> {shlex.quote(path)}",
                                   timeout=30)
        assert edited.exit_status == 0, edited.output
        return backup

    monkeypatch.setattr(env_edit, "write_remote_atomically", write_then_someone_edits)
    verdict = await session.engine.run_step("3.1")
    assert not verdict.ok
    [backup] = backups(world)
    assert verdict.summary.startswith(f"{env} on new reads back with sha256 ")
    assert verdict.summary.endswith(f"written: something changed it after the write; the "
                                    f"original is kept at {backup}")
    assert backup.read_text() == original
    assert "EDITED_BY_DEPLOY=1" in env.read_text()
    # The backup is on record: the rollback's restore finds it.
    monkeypatch.setattr(env_edit, "write_remote_atomically", real_write)
    restored = await session.engine.run_step("R3-env")
    assert restored.ok, restored.summary
    assert env.read_text() == original
    await session.aclose()


class AlwaysDriftingOperator(RecordingOperator):
    """Someone edits the file each time a diff of it is on screen."""

    def __init__(self, env_path):
        super().__init__()
        self.env_path = env_path

    async def review_diff(self, step_id, title, shown):
        self.diffs.append(shown)
        with self.env_path.open("a") as handle:
            handle.write(f"EDIT_{len(self.diffs)}=1\n")
        return True


async def test_a_file_that_keeps_changing_under_review_is_given_up_after_the_retries(
        world, tmp_path):
    env = world.app_dir("new") / ".env"
    operator = AlwaysDriftingOperator(env)
    session = env_session(world, tmp_path, operator)
    verdict = await session.engine.run_step("3.1")
    assert not verdict.ok
    assert verdict.summary == (f"{env} on new kept changing while it was being reviewed; "
                               "nothing was written")
    assert len(operator.diffs) == env_edit.MAX_DRIFT_RETRIES
    # Each new diff showed the latest edit: the operator never confirmed a stale one.
    for n, shown in enumerate(operator.diffs[1:], start=1):
        assert any(f"EDIT_{n}=1" in row.right for row in shown.rows)
    text = env.read_text()
    assert "ENVIRONMENT=staging" in text and "ENVIRONMENT=production" not in text
    assert backups(world) == [] and leftovers(world) == []
    await session.aclose()


async def test_a_env_file_that_is_not_utf8_is_refused_and_left_as_it_is(world, tmp_path):
    env = world.app_dir("new") / ".env"
    raw = env.read_bytes() + b"GREETING=caf\xe9\n"  # Latin-1, as an old editor saved it
    env.write_bytes(raw)
    operator = RecordingOperator()
    session = env_session(world, tmp_path, operator)
    verdict = await session.engine.run_step("3.1")
    assert not verdict.ok
    assert verdict.summary == f"{env} on new is not UTF-8 text; refusing to edit it"
    assert operator.diffs == []
    assert env.read_bytes() == raw
    assert backups(world) == [] and leftovers(world) == []
    await session.aclose()
