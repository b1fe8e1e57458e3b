"""``repo_edit``: replace the old production address in files of the operator's local
repository, show each file's diff, apply on confirmation, optionally commit (and push only when
the step says so). A dirty working tree is named before anything is touched.

A file is changed in its bytes and nothing else: its line endings (CRLF stays CRLF), encoding,
mode (0755 stays 0755) and, for a symlink, the link itself (its target is written). Anything
the shown lines do not show — a line ending or a final newline that the replacement changes —
is listed in the diff. Every git command has a time limit; one that overruns is stopped with
its children."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..aio import bounded
from ..credentials import local_env
from ..errors import cause_of
from ..events import Verdict
from ..runbook import RepoEditStep
from .base import StepContext
from .local import stop_group
from .plans import plan_repo_edit

plan = plan_repo_edit  # what the kind will do (plans.py: planning imports no run-time module)

GIT_TIMEOUT = 60  # status, diff, add, commit: local and quick
GIT_PUSH_TIMEOUT = 120  # the network, a remote's hooks


@dataclass
class RepoDiff:
    files: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.files)

    def unified_lines(self) -> list[str]:
        return [line for lines in self.files.values() for line in lines] or ["(no changes)"]


async def git(repo: Path, *args: str, timeout: float = GIT_TIMEOUT) -> tuple[int, str]:
    """Run git; past ``timeout`` it is stopped (with whatever it started: ssh, hooks) and the
    result is a failure that says so. Its own session: it can never prompt on our terminal."""
    process = await asyncio.create_subprocess_exec(
        "git", *args, cwd=repo, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
        env=local_env())  # its hooks see none of the tool's credentials
    chunks: list[bytes] = []

    async def collect() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            chunks.append(chunk)
        await process.wait()

    waiting = collect()
    waiting = bounded(waiting, timeout)  # guard: git-timeout
    try:
        await waiting
    except (TimeoutError, asyncio.CancelledError) as exc:
        await asyncio.shield(stop_group(process))
        if isinstance(exc, asyncio.CancelledError):
            raise
        out = b"".join(chunks).decode(errors="replace").strip()
        return 124, f"{out}\nfatal: git {args[0]} did not finish within {timeout:g}s; stopped"
    return process.returncode or 0, b"".join(chunks).decode(errors="replace").strip()


def _endings(text: str) -> list[str]:
    """Each line's ending ('\r\n', '\n', '\r' or '' for a last line without one)."""
    return [line[len(line.rstrip("\r\n")):] for line in text.splitlines(keepends=True)]


_EOL_NAMES = {"\r\n": "CRLF", "\n": "LF", "\r": "CR"}


def unshown_changes(old: str, new: str) -> list[str]:
    """What differs between ``old`` and ``new`` that a diff of their lines does not show: line
    endings changed on lines that stay, added lines ending unlike the file's, a final newline."""
    a, b = old.splitlines(), new.splitlines()
    ends_a, ends_b = _endings(old), _endings(new)
    usual = Counter(e for e in ends_a if e).most_common(1)
    changed: Counter[tuple[str, str]] = Counter()
    added: Counter[str] = Counter()
    for op, a0, a1, b0, b1 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        for j in range(b0, b1):
            i = a0 + (j - b0)
            before = ends_a[i] if op != "insert" and i < a1 else None
            after = ends_b[j]
            if before is not None:
                if before and after and before != after:
                    changed[(before, after)] += 1
            elif after and usual and after != usual[0][0]:
                added[after] += 1
    notes = [f"line endings change on {count} line(s): {_EOL_NAMES[x]} → {_EOL_NAMES[y]}"
             for (x, y), count in sorted(changed.items())]
    notes += [f"{count} added line(s) end in {_EOL_NAMES[end]}; the file's lines end in "
              f"{_EOL_NAMES[usual[0][0]]}" for end, count in sorted(added.items())]
    had, has = old.endswith(("\n", "\r")), new.endswith(("\n", "\r"))
    if old and new and had != has:
        notes.append("the file " + ("now ends with a newline" if has else
                                    "no longer ends with a newline"))
    return notes


def _write_keeping(path: Path, data: bytes) -> None:
    """Replace the file's bytes, keeping its mode; a symlink stays a link (its target is
    written). Temporary file, fsync, rename: the file is the old one or the new one."""
    target = Path(os.path.realpath(path))
    before = target.stat()
    mode = stat.S_IMODE(before.st_mode)
    tmp = target.with_name(f".{target.name}.cutover.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if (before.st_uid, before.st_gid) != (os.getuid(), os.getgid()):
            with contextlib.suppress(PermissionError):  # only root can give a file away
                os.chown(tmp, before.st_uid, before.st_gid)
        os.chmod(tmp, mode)  # guard: repo-keep-mode
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


async def run(ctx: StepContext, step: RepoEditStep) -> Verdict:
    repo = Path(os.path.expanduser(step.repo))
    title = f"edit {len(step.files)} file(s) in {repo}"
    if not (repo / ".git").exists():
        return Verdict(False, f"{repo} is not a git repository on this machine", command=title)
    missing = [f for f in step.files if not (repo / f).is_file()]
    if missing:
        return Verdict(False, f"missing in {repo}: {', '.join(missing)}", command=title)
    _, dirty = await git(repo, "status", "--porcelain", "--", *step.files)
    if dirty:
        ctx.say(f"uncommitted changes already in: {dirty}")
        if not await ctx.operator.confirm(step.id, f"{repo} has uncommitted changes in these "
                                                   "files; edit them anyway?", dirty):
            return Verdict(False, "the working tree has uncommitted changes in the listed files "
                                  "and the operator chose not to touch it", command=title)
    new_texts: dict[str, str] = {}
    shown = RepoDiff()
    for name in step.files:
        # Bytes, not text mode: reading text would turn CRLF into LF (universal newlines).
        old = (repo / name).read_bytes().decode("utf-8", "surrogateescape")  # guard: repo-keep-eol
        new = old.replace(step.find, step.replace)
        if new != old:
            new_texts[name] = new
            lines = list(difflib.unified_diff(
                old.splitlines(), new.splitlines(), f"a/{name}", f"b/{name}", lineterm=""))
            notes = unshown_changes(old, new)
            if (repo / name).is_symlink():
                notes.append(f"a symlink: written through it, to {os.path.realpath(repo / name)}")
            lines[2:2] = [f"# {name}: {note}" for note in notes]  # guard: repo-show-unshown
            shown.files[name] = list(map(ctx.masker.stream(), lines))  # shown and recorded
    evidence: dict[str, Any] = {"files_changed": sorted(new_texts)}
    if new_texts:
        if not await ctx.operator.review_diff(step.id, title, shown):
            return Verdict(False, "the repository change was not confirmed; nothing written",
                           command=title)
        for name, text in new_texts.items():
            _write_keeping(repo / name, text.encode("utf-8", "surrogateescape"))
            ctx.say(f"updated {name}")
    else:
        ctx.say(f"no file still contains {step.find!r}")
    earlier = ""  # with nothing to change: the commit that made the change before
    committed_now = False
    if step.commit_message:
        code, staged = await git(repo, "diff", "--name-only", "HEAD", "--", *step.files)
        if staged:
            await git(repo, "add", "--", *step.files)
            code, out = await git(repo, "-c", f"user.name={ctx.operator.name}", "-c",
                                  "user.email=cutover@localhost", "commit", "-m",
                                  step.commit_message)
            ctx.say(out)
            if code != 0:
                return Verdict(False, f"git commit failed: {cause_of(out)}",
                               command=title, evidence=evidence)
            committed_now = True
        else:
            earlier = await _earlier_commit(repo, step.commit_message, step.files)
        _, head = await git(repo, "rev-parse", "HEAD")
        evidence["commit"] = head
    pushed = ""  # what the push did, for the summary
    if step.push:
        _, head = await git(repo, "rev-parse", "HEAD")
        # Where the branch pushes to, as this repository last saw it: at HEAD already, the push
        # has nothing to send (a retry after a push that went through).
        _, remote = await git(repo, "rev-parse", "--verify", "--quiet", "@{push}")
        code, out = await git(repo, "push", timeout=GIT_PUSH_TIMEOUT)
        ctx.say(out)
        if code != 0:
            return Verdict(False, f"git push failed: {cause_of(out)}", command=title,
                           evidence=evidence)
        evidence["pushed"] = True
        known, target = await git(repo, "rev-parse", "--abbrev-ref", "@{push}")
        to = f" to {target}" if known == 0 and target else ""
        pushed = "already pushed" if remote == head else f"pushed the commit {head[:12]}{to}"
    return Verdict(True, _summary(repo, step, len(new_texts), committed_now, earlier, pushed),
                   command=title, output="\n".join(shown.unified_lines()), evidence=evidence)


async def _earlier_commit(repo: Path, message: str, files: list[str]) -> str:
    """The commit (abbreviated) that made the change already: the last one of ``files`` with
    the step's commit message; "" when there is none."""
    _, found = await git(repo, "log", "-1", "--format=%H", "--fixed-strings",
                         f"--grep={message.splitlines()[0]}", "--", *files)
    return found[:12]


def _summary(repo: Path, step: RepoEditStep, changed: int, committed_now: bool, earlier: str,
             pushed: str) -> str:
    """What this run did, as it happened: a retry after a failed push says it only pushed,
    never "0 file(s) changed, committed and pushed"."""
    if changed:
        done = f"{changed} file(s) changed in {repo}"
        if committed_now:
            done += ", committed"
        if pushed:
            done += " and pushed" if pushed.startswith("pushed") else f"; {pushed}"
        return done
    if earlier:
        done = f"nothing to change: the change was already committed ({earlier})"
    else:
        done = f"nothing to change: no file in {repo} still contains {step.find!r}"
        if step.commit_message:
            done += "; nothing to commit"
    return f"{done}; {pushed}" if pushed else done
