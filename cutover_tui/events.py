"""Typed, frozen events the engine emits. The headless runner prints them; the UI turns them
into Textual messages. The engine never touches a widget."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlanItem:
    """One thing a step will do, shown before it runs."""

    where: str  # "new (root@127.0.0.3:2222)", "local", "DigitalOcean API", "operator"
    action: str  # the exact command, request or change


@dataclass
class Verdict:
    ok: bool
    summary: str
    command: str = ""
    exit_status: int | None = None
    output: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    state: str = ""  # "done" / "failed" / "skipped"; derived from ok when empty
    # How each expectation fared (steps.base.Check), for `cutover preflight`; not recorded.
    checks: list[Any] = field(default_factory=list)

    @property
    def final_state(self) -> str:
        return self.state or ("done" if self.ok else "failed")


@dataclass(frozen=True)
class StepStarted:
    step_id: str
    title: str
    plan: tuple[PlanItem, ...]
    operator: str


@dataclass(frozen=True)
class OutputLine:
    step_id: str
    text: str
    stream: str = "stdout"  # stdout, stderr, info
    host: str = ""


@dataclass(frozen=True)
class Progress:
    step_id: str
    done: float
    total: float | None
    label: str = ""


@dataclass(frozen=True)
class StepFinished:
    step_id: str
    state: str
    verdict: Verdict


StepEvent = StepStarted | OutputLine | Progress | StepFinished
