"""What each step kind will do, as ``PlanItem``s, before it runs: every kind's ``plan(book,
step)`` lives here, apart from the kinds' run-time modules (asyncio, the checklist, the ``.env``
parser, the SSH and DigitalOcean clients …), so that showing a plan — ``cutover validate``, the
wizard's first screen, the checklist's recorded plans — imports none of them. Each kind's module
exposes its planner as ``plan`` too (``steps.kind_module(kind).plan``).

``PLANS`` maps a kind's step module (``runbook/kinds.py``: ``StepBase.step_module``) to it."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from ..events import PlanItem
from ..masking import mask_value
from ..runbook import (
    BackupStep,
    DropletDestroyStep,
    DropletPowerStep,
    EnvEditStep,
    EnvRestoreStep,
    HttpStep,
    LocalStep,
    ManualStep,
    RepoEditStep,
    Runbook,
    ServicesStep,
    SshStep,
    WaitStep,
)

# The free space a backup needs on both ends before it starts (checked by backup.py).
MIN_FREE = 64 * 1024 * 1024


def where(book: Runbook, host_name: str) -> str:
    host = book.hosts[host_name]
    return f"{host_name} ({host.user}@{host.address}:{host.port})"


def ssh_item(book: Runbook, host_name: str, command: str) -> PlanItem:
    return PlanItem(where(book, host_name), command)


def approval_item(step: Any, when: str) -> PlanItem:
    """The plan's line for a ``cosign = true`` step: whose approval it needs, and when."""
    what = "plan, droplet and preconditions" if step.kind == "droplet_destroy" else \
        "plan and droplet"
    return PlanItem("approval", f"by an operator other than the one who runs it, of this {what}, "
                                "at most 15 minutes old and no red flag since; checked "
                                f"{when} (waits up to {step.cosign_wait})")


def plan_ssh(book: Runbook, step: SshStep) -> list[PlanItem]:
    items = [ssh_item(book, step.host, step.command)]
    if step.follow_seconds:
        items.append(PlanItem("engine", f"watch for {step.follow_seconds:g}s, then stop"))
    checks = [f"output matches /{pattern}/" for pattern in step.expect_regex]
    checks += [f"output has no /{pattern}/" for pattern in step.reject_regex]
    if step.number is not None:
        bounds = [f"≥ {step.number.min:g}" if step.number.min is not None else "",
                  f"≤ {step.number.max:g}" if step.number.max is not None else ""]
        checks.append(f"{step.number.label} from /{step.number.regex}/ "
                      f"{' and '.join(b for b in bounds if b)}".rstrip())
    items += [PlanItem("check", check) for check in checks]
    return items


def plan_http(book: Runbook, step: HttpStep) -> list[PlanItem]:
    checks = [f"status {step.expect_status}"]
    checks += [f"{k} = {json.dumps(v)}" for k, v in step.expect_json.items()]
    checks += [f"body contains {c!r}" for c in step.expect_contains]
    if step.max_latency_ms:
        checks.append(f"latency ≤ {step.max_latency_ms:g} ms")
    return [PlanItem("local", f"{step.method} {step.url}  (expect {', '.join(checks)})")]


def expected_state(step: ServicesStep) -> str:
    wanted = step.expect or ("inactive" if step.action == "stop" else "active")
    return "active (running)" if wanted == "active" else "inactive (dead)"


def service_commands(step: ServicesStep) -> list[str]:
    """The commands a ``services`` step runs, in order (the step runs exactly these)."""
    out = []
    if step.action != "status":
        for unit in step.units:
            out.append(f"systemctl {step.action} {shlex.quote(unit)}")
            if step.pause_after.get(unit):
                out.append(f"sleep {step.pause_after[unit]:g}")
    if step.settle_seconds:
        out.append(f"sleep {step.settle_seconds:g}")
    out += [f"systemctl status {shlex.quote(u)} --no-pager" for u in step.units]
    return out


def plan_services(book: Runbook, step: ServicesStep) -> list[PlanItem]:
    items = [ssh_item(book, step.host, c) for c in service_commands(step)]
    items.append(PlanItem("check", f"each unit is {expected_state(step)}"))
    return items


def plan_local(book: Runbook, step: LocalStep) -> list[PlanItem]:
    env = " ".join(f"{k}={v}" for k, v in step.env.items())
    place = f"local (in {step.cwd})" if step.cwd else "local"
    items = [PlanItem(place, f"{env + ' ' if env else ''}{step.command}")]
    if step.pass_env:
        items.append(PlanItem(place, f"the command sees the tool's {', '.join(step.pass_env)} "
                                     "(pass_env)"))
    if step.threshold:
        total = f" of {step.threshold.of}" if step.threshold.of else ""
        items.append(PlanItem("check", f"at least {step.threshold.min_passed}{total} pass"))
    return items


def plan_manual(book: Runbook, step: ManualStep) -> list[PlanItem]:
    note = " and leaves a note" if step.require_note else ""
    items = [PlanItem("operator", f"{step.instructions.strip()}  (confirms it is done{note})")]
    if step.show_evidence_of:
        items.insert(0, PlanItem("run record", f"show what step {step.show_evidence_of} "
                                               "recorded (its evidence), and keep a copy"))
    return items


def plan_wait(book: Runbook, step: WaitStep) -> list[PlanItem]:
    if step.since_step:
        text = f"wait until {step.after} after step {step.since_step} finished"
    elif step.until_utc:
        text = f"wait until the next {' or '.join(step.until_utc)} UTC"
    else:
        text = f"wait {step.duration}"
    return [PlanItem("clock", text)]


def plan_env_edit(book: Runbook, step: EnvEditStep | EnvRestoreStep) -> list[PlanItem]:
    host = where(book, step.host)
    if isinstance(step, EnvRestoreStep):
        return [PlanItem(host, f"restore {step.path} from the backup step {step.from_step} made "
                               "(diff shown first; the current file is backed up too)")]
    items = [PlanItem(host, f"edit {step.path}: {key}={mask_value(key, value)}")
             for key, value in step.set.items()]
    items += [PlanItem(host, f"edit {step.path}: remove {key}") for key in step.unset]
    items.append(PlanItem(host, f"back up {step.path} to {step.path}.bak-<UTC time>, write the "
                                "new file atomically, verify its sha256"))
    return items


def plan_backup(book: Runbook, step: BackupStep) -> list[PlanItem]:
    host = where(book, step.host)
    ext = ".dump" if step.format == "custom" else ".sql.gz"
    dump = "pg_dump -Fc" if step.format == "custom" else "pg_dump | gzip"
    checks = ["sha256 on both ends", "pg_restore --list" if step.format == "custom" else "gzip -t"]
    if step.expect_tables is not None:
        checks.append(f"{step.expect_tables} tables")
    checks += [f"{t} rows in [{r.min}, {r.max if r.max is not None else '∞'}]"
               for t, r in step.row_counts.items()]
    return [
        PlanItem("check", f"at least {MIN_FREE // 2**20} MiB free in {step.remote_dir} on "
                          f"{step.host} and in {step.local_dir} here"),
        PlanItem(host, f"read {step.database_url_key} from {step.env_file} (masked)"),
        PlanItem(host, f"{dump} → {step.remote_dir}/{step.name_prefix}<UTC time>{ext} "
                       "(password via stdin, never argv)"),
        PlanItem("local", f"download over SFTP to {step.local_dir}/, then verify: "
                          f"{', '.join(checks)}"),
        PlanItem("local", f"scratch restore: {step.restore_check}"),
    ]


def plan_droplet_power(book: Runbook, step: DropletPowerStep) -> list[PlanItem]:
    host = book.hosts[step.host]
    api = "DigitalOcean API"
    items: list[PlanItem] = []
    if step.action == "off":
        items.append(PlanItem("operator", f"confirm powering off {host.droplet} (asked before "
                                          "anything is stopped)"))
        for i, unit in enumerate(step.stop_services):
            items.append(PlanItem(where(book, step.host), f"systemctl stop {unit}"))
            if i == 0 and len(step.stop_services) > 1 and step.stop_pause_seconds:
                items.append(PlanItem(where(book, step.host), f"sleep {step.stop_pause_seconds:g}"))
        items.append(PlanItem(api, f"POST /v2/droplets/<id of {host.droplet}>/actions "
                                   f"type=shutdown; type=power_off if not off within "
                                   f"{step.shutdown_timeout:g}s"))
        items.append(PlanItem("check", f"{host.address}:{host.port} stops answering"))
        if step.cosign:
            items.insert(1, approval_item(step, "before anything is stopped"))
    else:
        items.append(PlanItem(api, f"POST /v2/droplets/<id of {host.droplet}>/actions "
                                   "type=power_on"))
        items.append(PlanItem("check", f"{host.address}:{host.port} answers SSH again"))
        if step.cosign:
            items.insert(0, approval_item(step, "before the power_on is sent"))
    return items


def plan_droplet_destroy(book: Runbook, step: DropletDestroyStep) -> list[PlanItem]:
    host = book.hosts[step.host]
    api = "DigitalOcean API"
    items = [PlanItem("check", "preconditions, live: verified backup with its checksum; "
                               f"{step.monitoring_days}-day monitoring over, its daily "
                               "checks on distinct days, no red flag; droplet off ≥ "
                               f"{step.min_powered_off} by its action history (GET "
                               "/v2/droplets/<id>/actions); "
                               f"{step.healthy_host} healthy now; the checklist's times "
                               "sane")]
    items.append(PlanItem(api, f"re-identify droplet {host.droplet} ({host.address}) by id, "
                               "name and IP"))
    items.append(PlanItem("operator", f"type the droplet name {host.droplet!r} exactly"))
    if step.snapshot_first:
        items.append(PlanItem(api, "POST /v2/droplets/<id>/actions type=snapshot"))
    items.append(PlanItem("check", "every precondition again, and the droplet re-identified "
                                   "(id, name, IP, status off): any change stops here"))
    if step.cosign:
        items.append(approval_item(step, "then, against the droplet and preconditions as "
                                         "just read"))
    items.append(PlanItem("checklist", "record 'destroy of droplet <id> sent at <time> by "
                                       "<operator>' (fsynced)"))
    items.append(PlanItem(api, "DELETE /v2/droplets/<id>  (sent once, never retried)"))
    return items


def plan_repo_edit(book: Runbook, step: RepoEditStep) -> list[PlanItem]:
    items = [PlanItem(f"local repo {step.repo}", f"replace {step.find!r} with {step.replace!r} in "
                                                 f"{', '.join(step.files)}")]
    if step.commit_message:
        items.append(PlanItem(f"local repo {step.repo}",
                              f"git add {' '.join(step.files)} && git commit -m "
                              f"{shlex.quote(step.commit_message)}"))
    if step.push:
        items.append(PlanItem(f"local repo {step.repo}", "git push"))
    return items


# A kind's step module (``StepBase.step_module``) → its planner.
PLANS: dict[str, Callable[[Runbook, Any], list[PlanItem]]] = {
    "ssh": plan_ssh, "http": plan_http, "services": plan_services, "local": plan_local,
    "manual": plan_manual, "wait": plan_wait, "env_edit": plan_env_edit, "backup": plan_backup,
    "droplet_power": plan_droplet_power, "droplet_destroy": plan_droplet_destroy,
    "repo_edit": plan_repo_edit,
}
