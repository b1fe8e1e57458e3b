"""Cross-checks of a validated runbook: what one field names must exist elsewhere (hosts, step
ids, phases, variables), and what a kind cannot be (a wait with nothing to wait for, a step that
always changes something marked ``changes = false``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .kinds import always_changes
from .locate import LineLocator, Loc, dotted
from .models import Runbook


def cross_check(book: Runbook, locator: LineLocator, path: Path) -> list[str]:
    problems: list[str] = []
    seen: dict[str, Loc] = {}
    phase_ids = {p.id for p in book.all_phases}

    def problem(loc: Loc, message: str) -> None:
        problems.append(f"{path}:{locator.line_of(loc)}: {dotted(loc)}: {message}")

    located: list[tuple[Loc, Any]] = []
    for pi, phase in enumerate(book.phases):
        template_ids: list[str] = []
        for step in phase.steps:
            base = re.sub(r"\.d\d+$", "", step.id) if phase.repeat else step.id
            if base not in template_ids:
                template_ids.append(base)
        for si, step in enumerate(phase.steps):
            if phase.repeat:
                si = template_ids.index(re.sub(r"\.d\d+$", "", step.id))
            located.append((("phases", pi, "steps", si), step))
    if book.rollback:
        for si, step in enumerate(book.rollback.steps):
            located.append((("rollback", "steps", si), step))
    for pi, phase in enumerate(book.phases):
        if phase.reattempt_from is not None:
            problem(("phases", pi, "reattempt_from"), "only [rollback] says where a re-attempt "
                    "starts")
    main_ids = [p.id for p in book.phases]
    if book.rollback and book.rollback.reattempt_from not in (None, *main_ids):
        problem(("rollback", "reattempt_from"), f"no phase with id "
                f"{book.rollback.reattempt_from!r}; phases: {', '.join(main_ids)}")
    defined = set(book.variables) | {name for host in book.hosts.values() for name in host.vars}
    for index, name in enumerate(book.shell_variables):
        if name not in defined:
            problem(("shell_variables", index), f"expected the name of a variable; {name!r} is "
                    "not in [variables] nor in any host's vars")
    for loc, step in located:
        if step.id in seen:
            problem((*loc, "id"), f"step id {step.id!r} is used twice")
        seen[step.id] = loc
    for loc, step in located:
        for field in ("host", "healthy_host"):
            host_name = getattr(step, field, None)
            if host_name is not None and host_name not in book.hosts:
                problem((*loc, field), f"no host named {host_name!r}; hosts: "
                        f"{', '.join(book.hosts)}")
        for field in ("since_step", "from_step", "backup_step", "cutover_step", "power_off_step",
                      "show_evidence_of"):
            ref = getattr(step, field, None)
            if ref is not None and ref not in seen:
                problem((*loc, field), f"no step with id {ref!r}")
        ref_phase = getattr(step, "monitoring_phase", None)
        if ref_phase is not None and ref_phase not in phase_ids:
            problem((*loc, "monitoring_phase"), f"no phase with id {ref_phase!r}")
        if step.kind in ("droplet_power", "droplet_destroy"):
            host = book.hosts.get(step.host)
            if host is not None and not host.droplet:
                problem((*loc, "host"), f"host {step.host!r} has no 'droplet' name to act on")
        if step.kind == "wait" and not (step.duration or step.until_utc or step.since_step):
            problem(loc, "a wait step needs 'duration', 'until_utc' or 'since_step' with 'after'")
        if step.kind == "wait" and bool(step.since_step) != bool(step.after):
            problem(loc, "'since_step' and 'after' go together")
        if step.changes is False and always_changes(step):
            action = f" (action {step.action})" if step.kind == "services" else ""
            problem((*loc, "changes"), f"a step of kind {step.kind}{action} always changes "
                    "something; it cannot be marked 'changes = false' (only steps that just "
                    "read may be, so that `cutover preflight` can run them)")
    problems += [f"{path}:{locator.line_of(loc)}: {dotted(loc)}: {message}"
                 for loc, message in red_flag_problems(book)]
    return problems


def red_flag_problems(book: Runbook) -> list[tuple[Loc, str]]:
    """A rule's probe must exist and change nothing: the watcher runs it unattended all week."""
    problems: list[tuple[Loc, str]] = []
    endpoints = {endpoint.name for endpoint in book.health}
    steps = {step.id: step for _, step in book.steps()}
    for index, flag in enumerate(book.red_flags):
        loc: Loc = ("red_flags", index)
        if flag.health is not None and flag.health not in endpoints:
            problems.append(((*loc, "health"), f"no [[health]] endpoint named {flag.health!r}; "
                             f"endpoints: {', '.join(sorted(endpoints)) or 'none'}"))
        if flag.host is not None and flag.host not in book.hosts:
            problems.append(((*loc, "host"), f"no host named {flag.host!r}"))
        if flag.step is None:
            continue
        step = steps.get(flag.step)
        if step is None:
            problems.append(((*loc, "step"), f"no step with id {flag.step!r}"))
        elif not _reads_only(step):  # guard: probe-changes-nothing
            problems.append(((*loc, "step"), f"step {flag.step!r} is a {step.kind} step"
                             + (" that may change something" if step.kind == "ssh" else "")
                             + "; a probe must be an http step or an ssh step marked "
                             "'changes = false' (the watcher runs it unattended)"))
    return problems


def _reads_only(step: Any) -> bool:
    return bool(step.kind == "http" or (step.kind == "ssh" and step.changes is False))
