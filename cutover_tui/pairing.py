"""Two operators on one run: who holds a step. A step another session runs (the record's
``running`` state, its operator and start, claimed by a process still alive) is theirs: the
wizard shows it as theirs ("▶ 6.4 running by ops-a since 02:25") and its keys say so ("6.4 is
being run by ops-a (since 02:25)") instead of acting on it."""

from __future__ import annotations

from dataclasses import dataclass

from .checklist import _runner_alive  # the claim's own test of a runner, not a copy of it
from .records import RunRecords, StepRecord, StepState


@dataclass(frozen=True)
class Holder:
    """A step being run by another session."""

    step_id: str
    operator: str
    account: str
    since: str  # "HH:MM" (UTC, as the header's clock), "" when the record has no start

    def sentence(self) -> str:
        """What a key that would act on the step says."""
        since = f" (since {self.since})" if self.since else ""
        return f"{self.step_id} is being run by {self.operator}{since}"

    def banner(self) -> str:
        """How the header shows it."""
        since = f" since {self.since}" if self.since else ""
        return f"▶ {self.step_id} running by {self.operator}{since}"


def clock_time(iso_time: str) -> str:
    """``2025-12-19T02:25:00Z`` → ``02:25``; "" for anything else."""
    _, sep, rest = iso_time.partition("T")
    return rest[:5] if sep and len(rest) >= 5 and rest[2] == ":" else ""


def holder_of(step_id: str, record: StepRecord, own_running: str | None) -> Holder | None:
    """Who else runs ``step_id`` now, or None: not running, run by this session (its engine's
    ``running``), or claimed by a process that is gone (the next claim takes it over)."""
    if record.state is not StepState.RUNNING or step_id == own_running:
        return None
    if record.runner and not _runner_alive(record.runner):
        return None
    return Holder(step_id, record.operator or "another operator", record.account,
                  clock_time(record.started_at))


def held_elsewhere(records: RunRecords, step_ids: list[str],
                   own_running: str | None) -> list[Holder]:
    """The steps of ``step_ids`` other sessions run now, in that order."""
    return [holder for step_id in step_ids
            if (holder := holder_of(step_id, records[step_id], own_running)) is not None]
