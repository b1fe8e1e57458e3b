"""``repo_edit``: replace the old production address in files of the operator's local
repository, show each file's diff, apply on confirmation, optionally commit (and push only when
the step says so). A dirty working tree is named before anything is touched."""

from __future__ import annotations

import asyncio
import difflib
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import cause_of
from ..events import PlanItem, Verdict
from ..runbook import RepoEditStep, Runbook
from .base import StepContext


@dataclass
class RepoDiff:
    files: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.files)

    def unified_lines(self) -> list[str]:
        return [line for lines in self.files.values() for line in lines] or ["(no changes)"]


def plan(book: Runbook, step: RepoEditStep) -> list[PlanItem]:
    items = [PlanItem(f"local repo {step.repo}", f"replace {step.find!r} with {step.replace!r} in "
                                                 f"{', '.join(step.files)}")]
    if step.commit_message:
        items.append(PlanItem(f"local repo {step.repo}",
                              f"git add {' '.join(step.files)} && git commit -m "
                              f"{shlex.quote(step.commit_message)}"))
    if step.push:
        items.append(PlanItem(f"local repo {step.repo}", "git push"))
    return items


async def git(repo: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "git", *args, cwd=repo, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL)
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace").strip()


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
        old = (repo / name).read_text()
        new = old.replace(step.find, step.replace)
        if new != old:
            new_texts[name] = new
            shown.files[name] = list(difflib.unified_diff(
                old.splitlines(), new.splitlines(), f"a/{name}", f"b/{name}", lineterm=""))
    evidence: dict = {"files_changed": sorted(new_texts)}
    if new_texts:
        if not await ctx.operator.review_diff(step.id, title, shown):
            return Verdict(False, "the repository change was not confirmed; nothing written",
                           command=title)
        for name, text in new_texts.items():
            target = repo / name
            tmp = target.with_name(f".{target.name}.cutover.tmp")
            tmp.write_text(text)
            os.replace(tmp, target)
            ctx.say(f"updated {name}")
    else:
        ctx.say(f"no file still contains {step.find!r}")
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
        _, head = await git(repo, "rev-parse", "HEAD")
        evidence["commit"] = head
    if step.push:
        code, out = await git(repo, "push")
        ctx.say(out)
        if code != 0:
            return Verdict(False, f"git push failed: {cause_of(out)}", command=title,
                           evidence=evidence)
        evidence["pushed"] = True
    return Verdict(True, f"{len(new_texts)} file(s) changed in {repo}" +
                   (", committed" if step.commit_message else "") +
                   (" and pushed" if step.push else ""), command=title,
                   output="\n".join(shown.unified_lines()), evidence=evidence)
