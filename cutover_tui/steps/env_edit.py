"""``env_edit`` and ``env_restore``: a reviewed, reversible change to a remote ``.env``.

Read over SFTP → compute the new text → show the masked side-by-side diff → on confirmation
re-read and refuse if the file drifted → copy the original to ``.env.bak-<UTC>`` → write the new
text to a temporary name, fsync, rename it over the file → read it back and compare hashes. A
connection lost at any moment leaves the old file or the new one, never part of one.

The file stays what it was apart from the shown lines: a symlinked ``.env`` stays a link (the
file it points to is the one replaced, in its own directory), and the new file gets the old
one's owner, group and mode (a 0640 ``app:app`` file must stay readable by the app).
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..envfile import EnvDiff, EnvFile, diff
from ..errors import EnvFileError, SSHError
from ..events import Verdict
from ..runbook import EnvEditStep, EnvRestoreStep
from .base import StepContext
from .plans import plan_env_edit

plan = plan_env_edit  # what the kind will do (plans.py: planning imports no run-time module)

MAX_DRIFT_RETRIES = 3


async def read_remote(ctx: StepContext, host: str, path: str) -> tuple[str, int | None]:
    import asyncssh  # late: `cutover validate` plans steps without loading SSH

    async with ctx.ssh.sftp(host) as sftp:
        try:
            async with sftp.open(path, "rb") as handle:
                data = await handle.read()
            mode = (await sftp.stat(path)).permissions
        except asyncssh.SFTPNoSuchFile:
            raise EnvFileError(f"{path} does not exist on {host}") from None
    try:
        return data.decode("utf-8"), mode
    except UnicodeDecodeError:
        raise EnvFileError(f"{path} on {host} is not UTF-8 text; refusing to edit it") from None


async def write_remote_atomically(ctx: StepContext, host: str, path: str, text: str,
                                  mode: int | None, backup_of: str | None) -> str | None:
    """Back up the current file (if ``backup_of`` is given, its text), then replace ``path``.
    Returns the backup path."""
    import asyncssh

    stamp = datetime.fromtimestamp(ctx.clock.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
    directory, name = posixpath.split(path)
    backup_path = posixpath.join(directory, f"{name}.bak-{stamp}") if backup_of is not None \
        else None
    async with ctx.ssh.sftp(host) as sftp:
        real = path
        real = await _link_target(sftp, path)  # guard: env-write-through-symlink
        owner = await sftp.stat(real)
        real_dir, real_name = posixpath.split(real)
        tmp_path = posixpath.join(real_dir, f".{real_name}.cutover-{stamp}.tmp")
        if backup_path is not None and backup_of is not None:
            await _put(sftp, backup_path + ".tmp", backup_of.encode(), mode)
            await _keep_owner(sftp, backup_path + ".tmp", owner)
            await sftp.posix_rename(backup_path + ".tmp", backup_path)
            ctx.say(f"backed up {path} to {backup_path}", host=host)
        try:
            await _put(sftp, tmp_path, text.encode(), mode)
            await _keep_owner(sftp, tmp_path, owner)  # guard: env-keep-owner-mode
        except asyncssh.SFTPError:
            with contextlib.suppress(asyncssh.Error, OSError):
                await sftp.remove(tmp_path)
            raise
        await sftp.posix_rename(tmp_path, real)
        through = f" (through the symlink {path})" if real != path else ""
        ctx.say(f"wrote {real}{through} ({len(text.encode())} bytes) by renaming {tmp_path}",
                host=host)
    return backup_path


async def _link_target(sftp: Any, path: str) -> str:
    """The file ``path`` names in the end, symlinks followed as the app opening it would
    (a relative link from the link's own directory)."""
    for _hop in range(40):
        attrs = await sftp.lstat(path)
        if attrs.permissions is None or not stat.S_ISLNK(attrs.permissions):
            return path
        link = await sftp.readlink(path)
        path = posixpath.join(posixpath.dirname(path), link)
    raise EnvFileError(f"{path}: too many levels of symbolic links")


async def _keep_owner(sftp: Any, path: str, owner: Any) -> None:
    """Give ``path`` the owner and group in ``owner`` (the file it replaces) if it has others."""
    got = await sftp.stat(path)
    if owner.uid is not None and (got.uid, got.gid) != (owner.uid, owner.gid):
        await sftp.chown(path, owner.uid, owner.gid)


async def _put(sftp: Any, path: str, data: bytes, mode: int | None) -> None:
    import asyncssh

    async with sftp.open(path, "wb", asyncssh.SFTPAttrs(permissions=mode or 0o600)) as handle:
        await handle.write(data)
        try:
            await handle.fsync()
        except asyncssh.SFTPOpUnsupported:
            pass
    if mode is not None:
        await sftp.chmod(path, mode & 0o7777)


async def apply_reviewed(ctx: StepContext, host: str, path: str,
                         compute: Callable[[str], str], title: str) -> Verdict:
    """The shared flow: diff, confirm, drift check, back up, atomic write, verify."""
    current, mode = await read_remote(ctx, host, path)
    for _attempt in range(MAX_DRIFT_RETRIES):
        parsed = EnvFile.parse(current)
        ctx.masker.learn_env(parsed.values())
        for line_no, text in parsed.malformed:
            ctx.say(f"{path}:{line_no}: kept as it is, not a KEY=value line: {ctx.masker(text)}")
        proposed = compute(current)
        ctx.masker.learn_env(EnvFile.parse(proposed).values())
        shown: EnvDiff = diff(path, current, proposed)
        shown.mask(ctx.masker)
        if not shown.changed:
            return Verdict(True, f"{path} on {host} already has these values; nothing to change",
                           command=f"edit {path}", evidence={"sha256": shown.old_sha256,
                                                              "changed": False})
        if not await ctx.operator.review_diff(ctx.step_id, title, shown):
            return Verdict(False, f"the change to {path} on {host} was not confirmed; "
                                  "nothing was written", command=f"edit {path}")
        latest, mode = await read_remote(ctx, host, path)
        if latest != current:
            ctx.say(f"{path} on {host} changed since the diff was shown; showing the new diff")
            current = latest
            continue
        try:
            backup = await write_remote_atomically(ctx, host, path, proposed, mode, current)
        except SSHError as exc:
            raise EnvFileError(f"writing {path} on {host} failed ({exc}); the file is either "
                               "the old or the new version, never a mix: re-run the step to "
                               "see which") from None
        written, _ = await read_remote(ctx, host, path)
        written_sha = hashlib.sha256(written.encode()).hexdigest()
        if written_sha != shown.new_sha256:  # the backup stays on record for the rollback
            return Verdict(False, f"{path} on {host} reads back with sha256 {written_sha[:12]}, "
                                  f"not the {shown.new_sha256[:12]} written: something changed "
                                  f"it after the write; the original is kept at {backup}",
                           command=title,
                           evidence={"changed": True, "backup_path": backup,
                                     "old_sha256": shown.old_sha256,
                                     "read_back_sha256": written_sha})
        return Verdict(True, f"{path} on {host} updated; original kept at {backup}",
                       command=title,
                       output="\n".join(shown.unified_lines()),
                       evidence={"changed": True, "backup_path": backup,
                                 "old_sha256": shown.old_sha256, "new_sha256": written_sha,
                                 "diff": shown.unified_lines()})
    return Verdict(False, f"{path} on {host} kept changing while it was being reviewed; "
                          "nothing was written", command=title)


async def run(ctx: StepContext, step: EnvEditStep | EnvRestoreStep) -> Verdict:
    if isinstance(step, EnvRestoreStep):
        return await _restore(ctx, step)

    def compute(text: str) -> str:
        env = EnvFile.parse(text)
        for key, value in step.set.items():
            env = env.set(key, value)
        for key in step.unset:
            env = env.unset(key)
        return env.render()

    return await apply_reviewed(ctx, step.host, step.path, compute, f"edit {step.path}")


async def _restore(ctx: StepContext, step: EnvRestoreStep) -> Verdict:
    backup = ctx.record(step.from_step).env_edit.backup_path
    if not backup:
        return Verdict(False, f"step {step.from_step} recorded no backup of {step.path} to "
                              "restore", command=f"restore {step.path}")
    original, _ = await read_remote(ctx, step.host, backup)
    verdict = await apply_reviewed(ctx, step.host, step.path, lambda _current: original,
                                   f"restore {step.path} from {backup}")
    verdict.evidence["restored_from"] = backup
    return verdict
