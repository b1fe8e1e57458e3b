"""``droplet_destroy``: a droplet destroyed behind live preconditions (``preconditions.py``), a
re-identification of the droplet by id, name and IP just before the call, its name typed
exactly and, on a ``cosign = true`` step, another operator's approval of exactly that
(``cosign.require_approval``). The intent is recorded (fsynced) before the DELETE is sent; it
is sent once, never retried, and a run that stopped after recording it re-reads the droplet
instead of sending again.
"""

from __future__ import annotations

from typing import Any

from ..clock import iso
from ..cosign import live_facts, require_approval
from ..errors import CutoverError, DropletNotFound
from ..events import Verdict
from ..evidence import INTENT_KEYS, DestroyIntent
from ..records import StepState
from ..runbook import DropletDestroyStep
from .base import StepContext
from .droplet_base import api_call, follow_action, identity, resolve
from .plans import plan_droplet_destroy
from .preconditions import preconditions

plan = plan_droplet_destroy  # what the kind will do (plans.py: planning imports no run-time module)


def _powered_off_identity(ctx: StepContext, host_name: str) -> dict[str, Any]:
    """The droplet's id, name and IP as the last finished power step of ``host_name`` recorded
    them ({} when none did)."""
    latest = None
    for _, other in ctx.book.steps():
        if other.kind == "droplet_power" and other.host == host_name:
            record = ctx.record(other.id)
            if record.state is StepState.DONE and record.finished_at:
                if latest is None or record.finished_at >= latest.finished_at:
                    latest = record
    return {} if latest is None else latest.power.identity


def _retire_intent(ctx: StepContext, step_id: str, note: str) -> None:
    """The recorded intent did not take effect: keep it as a note, drop it from the evidence."""
    text = f"{iso(ctx.clock.time())} {ctx.operator.name}: {ctx.masker(note)}"
    ctx.checklist.update_record(
        step_id, lambda record: record.without_evidence(INTENT_KEYS).with_note(text))


async def _resume_intent(ctx: StepContext, step: DropletDestroyStep,
                         command: str) -> Verdict | None:
    """A destroy intent in the record (the run stopped after writing it): re-read the droplet.
    Gone: the destroy took effect, done. Still there: it was not sent (or not done); the intent
    is retired and the whole guard runs again. Never a second DELETE without the guard."""
    recorded = ctx.record(step.id).destroy_intent
    intent, droplet_id = recorded.destroy_intent, recorded.destroy_intent_droplet_id
    if not intent or droplet_id is None:
        return None
    ctx.say(f"the checklist records: {intent}; re-reading droplet {droplet_id}")
    try:
        still = await api_call(ctx, ctx.droplets().get, droplet_id)
    except DropletNotFound:
        still = None
    now = iso(ctx.clock.time())
    if still is not None:
        ctx.say(f"{still.describe()} still exists: that destroy did not take effect; asking "
                "again with every check")
        _retire_intent(ctx, step.id, f"{intent}; {still.name} (id {still.id}) still existed at "
                                     f"{now}: not sent or not done, asked again")
        return None
    gone = f"droplet {droplet_id} is gone: {intent}, and DigitalOcean no longer has it ({now})"
    return Verdict(True, f"{gone}; nothing sent again", command=command,  # guard: destroy-sent-once
                   evidence={"outcome": "destroyed (confirmed by re-reading it after the run "
                                        "stopped)", "destroy_intent": intent,
                             "confirmed_gone_at": now})

async def run(ctx: StepContext, step: DropletDestroyStep) -> Verdict:
    host = ctx.book.hosts[step.host]
    api = ctx.droplets()
    command = f"DELETE /v2/droplets/<id of {host.droplet}>"
    resumed = await _resume_intent(ctx, step, command)
    if resumed is not None:
        return resumed
    try:
        droplet = await resolve(ctx, step.host)
    except DropletNotFound as exc:
        return Verdict(False, f"{exc}; nothing to destroy (already gone?)", command=command)
    recorded_identity = _powered_off_identity(ctx, step.host)
    evidence: dict[str, Any] = identity(droplet)
    mismatch = [f"{key} is {evidence[key]!r}, recorded {recorded_identity[key]!r}"
                for key in ("droplet_id", "droplet_name", "droplet_ip")
                if key in recorded_identity and recorded_identity[key] != evidence[key]]
    if mismatch:
        return Verdict(False, "the droplet does not match the one recorded when it was powered "
                              f"off ({'; '.join(mismatch)}): refusing", command=command,
                       evidence=evidence)
    checks = await preconditions(ctx, step, droplet)
    evidence["preconditions"] = {c.name: f"{'ok' if c.ok else 'NOT MET'}: {c.detail}"
                                 for c in checks}
    for check in checks:
        ctx.say(f"{'✓' if check.ok else '✗'} {check.name}: {check.detail}")
    confirmed = await ctx.operator.confirm_typed(
        step.id, f"Type the droplet name to destroy {droplet.describe()}", droplet.name,
        detail=droplet.describe(), preconditions=checks)
    failing = [c for c in checks if not c.ok]
    if failing:
        return Verdict(False, "not destroyed: " + "; ".join(f"{c.name}: {c.detail}"
                                                            for c in failing),
                       command=command, evidence=evidence)
    if not confirmed:  # guard: destroy-typed-name
        return Verdict(False, "not destroyed: the droplet name was not typed exactly",
                       command=command, evidence=evidence)
    if step.snapshot_first:
        action = await api_call(ctx, api.post_action, droplet.id, "snapshot",
                                name=f"{droplet.name}-before-destroy-{int(ctx.clock.time())}")
        status = await follow_action(ctx, action, 3600)
        evidence["snapshot_action"] = action["id"]
        if status != "completed":
            return Verdict(False, f"the snapshot before destroy is {status}; not destroyed",
                           command=command, evidence=evidence)
    # Everything again now that the name is typed: the dialog may have stayed open for long.
    try:
        fresh = await resolve(ctx, step.host)
    except CutoverError as exc:
        return Verdict(False, "not destroyed: the droplet could not be identified again after "
                              f"the name was typed ({exc})", command=command, evidence=evidence)
    checks = await preconditions(ctx, step, fresh)
    evidence["preconditions_after_typing"] = {c.name: f"{'ok' if c.ok else 'NOT MET'}: "
                                                      f"{c.detail}" for c in checks}
    failing = [c for c in checks if not c.ok]
    if failing:  # guard: destroy-preconditions
        return Verdict(False, "not destroyed: changed while the name was typed: " + "; ".join(
            f"{c.name}: {c.detail}" for c in failing), command=command, evidence=evidence)
    # And the droplet itself, by id, name, IP and status, immediately before the call.
    try:
        again = await resolve(ctx, step.host)
    except CutoverError as exc:
        return Verdict(False, "not destroyed: the droplet could not be identified again just "
                              f"before the call ({exc})", command=command, evidence=evidence)
    changed = [f"{what} is {now!r}, was {then!r}" for what, now, then in (
        ("id", again.id, droplet.id), ("name", again.name, droplet.name),
        ("IP", again.ip, droplet.ip), ("status", again.status, "off")) if now != then]
    if changed:  # guard: destroy-identity
        return Verdict(False, "not destroyed: the droplet changed while the name was typed ("
                              f"{'; '.join(changed)})", command=command, evidence=evidence)
    if step.cosign:  # four eyes: another operator approved this droplet and these checks
        refusal = await require_approval(ctx, step, await live_facts(ctx, step, again, checks))
        if refusal is not None:  # guard: cosign-destroy
            return Verdict(False, f"not destroyed: {refusal}", command=command,
                           evidence=evidence)
    # The intent, on disk (the checklist's write is fsynced) before the DELETE goes out.
    sent_at = iso(ctx.clock.time())
    intent = f"destroy of droplet {droplet.id} sent at {sent_at} by {ctx.operator.name}"
    record = DestroyIntent(intent, droplet.id, sent_at).as_evidence()
    ctx.checklist.update_step(step.id, evidence=record)  # guard: destroy-intent-recorded
    ctx.say(f"recorded: {intent}")
    evidence.update(record, destroyed_by=ctx.operator.name, requested_at=sent_at)
    try:
        await api_call(ctx, api.destroy, droplet.id)
    except CutoverError as exc:
        ctx.say(f"the destroy call failed: {exc}; re-reading the droplet (it is not retried)")
        try:
            after = await api_call(ctx, api.get, droplet.id)
        except DropletNotFound:
            evidence["outcome"] = "destroyed (confirmed by re-reading after an error)"
            return Verdict(True, f"{droplet.name} is gone (the call reported an error, but "
                                 "re-reading shows it no longer exists)", command=command,
                           evidence=evidence)
        except CutoverError as again_exc:
            evidence["outcome"] = "unknown"
            return Verdict(False, f"the destroy call failed ({exc}) and the droplet could not "
                                  f"be re-read ({again_exc}): check the console; not retried",
                           command=command, evidence=evidence)
        evidence["outcome"] = f"still exists ({after.status})"
        return Verdict(False, f"the destroy call failed ({exc}); {after.describe()} still "
                              "exists; not retried", command=command, evidence=evidence)
    evidence["outcome"] = "destroyed"
    return Verdict(True, f"{droplet.name} (id {droplet.id}, {droplet.ip}) destroyed by "
                         f"{ctx.operator.name}", command=command, evidence=evidence)
