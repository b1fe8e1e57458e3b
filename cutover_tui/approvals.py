"""Approvals (four eyes): what a second operator's co-signature of a ``cosign = true`` step
names, how it is recorded with the step, and when it counts.

An approval names exactly what it approves, as ``Facts``: the step's plan (its lines, masked, as
the checklist records them), the droplet it acts on (id, name, IP, read from DigitalOcean) and,
for a destroy, the evidence of each precondition. Its ``hash`` is a sha256 over those. It is
recorded in the step's table of the run record::

    [[steps."8.3".approvals]]
    by = "ops-b"                       # the approver's operator name ...
    account = "bob"                    # ... and Unix account
    at = "2026-12-11T09:58:00Z"        # when the facts were read
    for = "ops-a"                      # only when it names who may run the step
    hash = "9f2c…"
    covers = "the plan of 8.3 (7 lines, sha256 41d0…); droplet air-demand-old (id …); …"
    plan_sha256 = "41d0…"
    droplet_id = 318829101
    droplet_name = "air-demand-old"
    droplet_ip = "104.236.56.33"
    preconditions = ["verified backup: ok: …", …]

It counts for the operator who runs the step (``judge``) only if that operator is not the
approver (GitHub's ``prevent_self_review``) and is the one it is ``for`` when it names one; it
is at most ``LIFETIME`` old; no red flag fired (a rule of ``[red_flags]``) or was raised by hand
(``run.red_flags``) since; and the facts read again now hash the same. Time passing alone
changes nothing: durations that grow with the clock ("off for 3d2h") are left out of the
evidence. Without ``for``, any operator other than the approver may run the step.

Reading the facts live and waiting for an approval inside a step is ``cosign.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .checklist import Checklist
from .clock import iso, parse_iso
from .errors import GateClosed
from .journal import Journal, journal_path
from .masking import Masker
from .netguard import loopback_only
from .records import FINISHED, StepRecord, StepState

LIFETIME = 15 * 60  # seconds an approval stays valid
FIELD = "approvals"  # the step table's array of approvals

# A duration as format_duration writes it ("45s", "3d2h"): left out of the evidence, so that
# only the clock moving on ("off for 3d2h" → "off for 3d3h") does not void an approval.
_GROWING = re.compile(r"\b\d+[dhms](?:\d+[dhms])?\b")
_LEADING_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\s")


def this_account() -> str:
    """The Unix account this process runs as (recorded beside the operator's chosen name)."""
    from .journal import unix_account

    return unix_account()


def evidence_line(name: str, ok: bool, detail: str) -> str:
    """One precondition as an approval records it: its name, met or not, its detail without the
    durations that grow with the clock."""
    return f"{name}: {'ok' if ok else 'NOT MET'}: {_GROWING.sub('…', detail)}"


@dataclass(frozen=True)
class Facts:
    """What an approval approves, read live: by the approver, and by the step again just
    before it acts."""

    step_id: str
    plan: tuple[str, ...]  # "<where>: <action>", masked, as the checklist records the plan
    droplet: tuple[int, str, str] | None  # id, name, IP; None for a step without one
    preconditions: tuple[str, ...]  # evidence_line of each, in the order they are checked
    read_at: float

    @property
    def plan_sha256(self) -> str:
        return hashlib.sha256("\n".join(self.plan).encode()).hexdigest()

    @property
    def hash(self) -> str:
        return digest(self.step_id, self.plan_sha256, self.droplet, self.preconditions)

    @property
    def unmet(self) -> list[str]:
        return [line for line in self.preconditions if line.split(": ", 2)[1:2] == ["NOT MET"]]

    def covers(self) -> str:
        """What is approved, in words (recorded with the approval, shown to the approver)."""
        parts = [f"the plan of {self.step_id} ({len(self.plan)} lines, sha256 "
                 f"{self.plan_sha256[:12]})"]
        if self.droplet is not None:
            parts.append(f"droplet {self.droplet[1]} (id {self.droplet[0]}, {self.droplet[2]})")
        if self.preconditions:
            parts.append("preconditions: " + ", ".join(
                " ".join(line.split(": ", 2)[:2]) for line in self.preconditions))
        return "; ".join(parts)

    def lines(self) -> list[str]:
        """Everything approved, for the confirmation (``cutover approve``, the wizard's ``a``)."""
        out = [f"Step {self.step_id}: its plan", *(f"  {line}" for line in self.plan)]
        if self.droplet is not None:
            out.append(f"The droplet: {self.droplet[1]} (id {self.droplet[0]}, IP "
                       f"{self.droplet[2]})")
        if self.preconditions:
            out += ["The preconditions, as read now:", *(f"  {p}" for p in self.preconditions)]
        out.append(f"Valid {LIFETIME // 60} minutes, for an operator other than you; void if "
                   "any of this changes or a red flag fires.")
        return out


def digest(step_id: str, plan_sha256: str, droplet: Sequence[Any] | None,
           preconditions: Sequence[str]) -> str:
    canonical = json.dumps({"step": step_id, "plan": plan_sha256,
                            "droplet": list(droplet) if droplet is not None else None,
                            "preconditions": list(preconditions)},
                           sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Approval:
    """One approval as the step's record holds it."""

    by: str
    account: str
    at: str
    hash: str
    covers: str
    plan_sha256: str
    droplet: tuple[int, str, str] | None
    preconditions: tuple[str, ...]
    for_operator: str = ""

    @classmethod
    def of(cls, table: Any) -> Approval | None:
        """The approval in a recorded table; None for one that cannot be read (a hand edit
        approves nothing)."""
        if not isinstance(table, Mapping):
            return None
        texts = [table.get(key) for key in ("by", "at", "hash", "plan_sha256")]
        if not all(isinstance(text, str) and text for text in texts):
            return None
        droplet = None
        if "droplet_id" in table:
            ident, name, ip = (table.get(k) for k in ("droplet_id", "droplet_name", "droplet_ip"))
            if not (isinstance(ident, int) and isinstance(name, str) and isinstance(ip, str)):
                return None
            droplet = (ident, name, ip)
        preconditions = table.get("preconditions", [])
        if not isinstance(preconditions, list) or not all(isinstance(p, str)
                                                          for p in preconditions):
            return None
        return cls(table["by"], str(table.get("account", "")), table["at"], table["hash"],
                   str(table.get("covers", "")), table["plan_sha256"], droplet,
                   tuple(preconditions), str(table.get("for", "")))

    def to_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {"by": self.by, "account": self.account, "at": self.at}
        if self.for_operator:
            table["for"] = self.for_operator
        table |= {"hash": self.hash, "covers": self.covers, "plan_sha256": self.plan_sha256}
        if self.droplet is not None:
            table |= dict(zip(("droplet_id", "droplet_name", "droplet_ip"), self.droplet,
                              strict=True))
        table["preconditions"] = list(self.preconditions)
        return table


def approvals_of(record: StepRecord) -> list[Approval]:
    """The step's approvals that can be read, oldest first."""
    entries = record.extra.get(FIELD, [])
    found = [Approval.of(entry) for entry in entries] if isinstance(entries, list) else []
    return [approval for approval in found if approval is not None]


# ---------------------------------------------------------------------------- does it count


def _ago(seconds: float) -> str:
    return f"{int(seconds)} s ago" if seconds < 60 else f"{round(seconds / 60)} min ago"


def red_flag_since(data: Mapping[str, Any], since: float) -> str | None:
    """A red flag that fired (a rule of ``[red_flags]``) or was raised by hand at or after
    ``since``, in words; None when there is none."""
    from .monitor.record import flag_tables

    for rule, table in flag_tables(data).items():
        fired = table.get("fired_at") if isinstance(table, Mapping) else None
        if isinstance(fired, str) and _time(fired, since) >= since:
            return f"red flag {rule} fired at {fired}"
    run = data.get("run")
    for entry in (run.get("red_flags") or []) if isinstance(run, Mapping) else []:
        match = _LEADING_TIME.match(entry) if isinstance(entry, str) else None
        # A hand-raised flag whose time cannot be read counts as raised after.
        if match is None or _time(match.group(1), since) >= since:
            return f"a red flag was raised: {entry}"
    return None


def _time(text: str, fallback: float) -> float:
    try:
        return parse_iso(text)
    except ValueError:
        return fallback  # unreadable: as if now, so it voids rather than passes


def _changes(approval: Approval, facts: Facts) -> list[str]:
    """What differs between what was approved and the facts now, in words."""
    changed = []
    if approval.droplet is not None and facts.droplet is not None:
        for label, then, now in zip(("id", "name", "IP"), approval.droplet, facts.droplet,
                                    strict=True):
            if then != now:
                changed.append(f"the droplet's {label} changed ({then} → {now})")
    elif approval.droplet != facts.droplet:
        changed.append("the droplet changed")
    if approval.plan_sha256 != facts.plan_sha256:
        changed.append("the plan changed")
    before = {line.split(": ", 1)[0]: line for line in approval.preconditions}
    now = {line.split(": ", 1)[0]: line for line in facts.preconditions}
    for name in [*before, *(n for n in now if n not in before)]:
        if before.get(name) != now.get(name):
            changed.append(f"precondition {name} changed (now: {now[name].split(': ', 1)[1]})"
                           if name in now else f"precondition {name} is gone")
    return changed


def problem_with(approval: Approval, facts: Facts, runner: str, now: float,
                 data: Mapping[str, Any], runner_account: str | None = None) -> str | None:
    """Why ``approval`` does not let ``runner`` (logged in as ``runner_account``, this
    process's account by default) run the step with ``facts``, or None."""
    runner_account = runner_account if runner_account is not None else this_account()
    if approval.by == runner:  # guard: cosign-not-self
        return f"{runner} cannot approve their own step"
    if approval.account == runner_account and not loopback_only():  # guard: cosign-other-account
        return (f"the approval by {approval.by} was given from the account {runner_account}, "
                "the runner's own: four eyes need a second person's login (the rehearsal, "
                "on loopback only, allows one account)")
    if approval.for_operator and approval.for_operator != runner:
        return f"the approval by {approval.by} is for {approval.for_operator}, not {runner}"
    void = f"approval by {approval.by} void"
    try:
        at = parse_iso(approval.at)
    except ValueError:
        return f"{void}: its time {approval.at!r} cannot be read"
    if at > now + 60:
        return f"{void}: it is dated {approval.at}, in the future"
    if now - at > LIFETIME:  # guard: cosign-expiry
        return f"{void}: expired {_ago(now - at - LIFETIME)}"
    flag = red_flag_since(data, at)
    if flag is not None:  # guard: cosign-red-flag
        return f"{void}: a red flag fired after it ({flag})"
    if approval.hash != facts.hash:  # guard: cosign-hash
        changed = _changes(approval, facts) or [
            "its hash does not match what it names (was the record edited by hand?)"]
        return f"{void}: {'; '.join(changed)}"
    return None


@dataclass(frozen=True)
class Judgement:
    approval: Approval | None  # the approval that counts, if one does
    sentence: str  # what counts, or what is missing


def judge(approvals: Sequence[Approval], facts: Facts, runner: str, now: float,
          data: Mapping[str, Any]) -> Judgement:
    """The newest approval that counts for ``runner`` and ``facts``; else the newest one's
    problem (or that there is none)."""
    problems = []
    for approval in reversed(approvals):
        problem = problem_with(approval, facts, runner, now, data)
        if problem is None:
            return Judgement(approval, f"approved by {approval.by} ({approval.account}) at "
                                       f"{approval.at}: {approval.covers}")
        problems.append(problem)
    if problems:
        return Judgement(None, problems[0])
    return Judgement(None, f"no approval yet: step {facts.step_id} needs one by an operator "
                           f"other than {runner}")


# ---------------------------------------------------------------------------- recording


def refuse(record: StepRecord, step_id: str, by: str) -> None:
    """``GateClosed`` when ``by`` may not approve the step as ``record`` holds it now."""
    running = record.state is StepState.RUNNING
    if running and record.operator == by:  # guard: cosign-approver-not-runner
        raise GateClosed(f"{by} cannot approve their own step: {step_id} is running by {by}")
    if record.state in FINISHED:
        raise GateClosed(f"step {step_id} is {record.state}: there is nothing to approve")


def record_approval(checklist: Checklist, facts: Facts, by: str, *, for_operator: str = "",
                    account: str | None = None, masker: Masker | None = None) -> Approval:
    """Record ``by``'s approval of ``facts`` with the step, in one transaction; ``GateClosed``
    with a sentence when it is refused (their own step, a step already finished, a precondition
    not met)."""
    step_id = facts.step_id
    if for_operator == by:
        raise GateClosed(f"{by} cannot approve their own step (--for names the operator who "
                         "will run it: another one)")
    if facts.unmet:
        raise GateClosed(f"nothing to approve yet: {facts.unmet[0]}")
    mask = masker or Masker()

    def add(record: StepRecord) -> StepRecord:
        refuse(record, step_id, by)
        running = record.state is StepState.RUNNING
        approval = Approval(by, account if account is not None else this_account(),
                            iso(facts.read_at), facts.hash, mask(facts.covers()),
                            facts.plan_sha256, facts.droplet, facts.preconditions,
                            for_operator or (record.operator if running else ""))
        added.append(approval)
        entries = record.extra.get(FIELD, [])
        kept = list(entries) if isinstance(entries, list) else []
        return record.changed(**{FIELD: [*kept, approval.to_table()]})

    added: list[Approval] = []
    checklist.update_record(step_id, add)
    approval = added[0]
    journal = journal_path(checklist.path)
    if journal.exists():  # the chain says who approved what: a hand-added approval has no entry
        writer = Journal(journal, operator=by, record=checklist.path)
        try:
            writer.append("approval", f"approved by {by} ({approval.account}) for "
                                      f"{approval.for_operator or 'anyone else'}: sha256 "
                                      f"{approval.hash}", step_id)
        finally:
            writer.close()
    return approval
