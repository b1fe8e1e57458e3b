"""The engine: runs one step at a time, records every transition in the checklist, and emits
typed events. It asks the injected Operator for every confirmation and never touches a widget.

Gates: a phase starts only when the phase before it passed (every gating step done or skipped)
or an operator recorded a reason to go on anyway; a phase marked ``requires_backup`` also needs
a verified backup. Rollback steps are never gated: they are for when things went wrong.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .checklist import Checklist, tail
from .clock import Clock, iso
from .errors import CutoverError, GateClosed
from .events import OutputLine, PlanItem, StepEvent, StepFinished, StepStarted, Verdict
from .gcpause import resume
from .journal import Journal, unix_account
from .masking import Masker
from .operator import Operator
from .pairing import holder_of
from .records import FINISHED, StepRecord, StepState
from .remote.protocols import DropletsAPI, SSHRunner, WebClient
from .runbook import Phase, Runbook
from .steps import kind_module, plan_step
from .steps.base import StepContext


def day_of(step_id: str) -> int | None:
    """The day of a step of a repeated phase (``7.1-health.d3`` → 3), None for the others."""
    match = re.search(r"\.d(\d+)$", step_id)
    return int(match.group(1)) if match else None


def mask_tree(value: Any, masker: Masker) -> Any:
    if isinstance(value, str):
        return masker(value)
    if isinstance(value, dict):
        return {k: mask_tree(v, masker) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_tree(v, masker) for v in value]
    return value


class Engine:
    def __init__(self, book: Runbook, checklist: Checklist, operator: Operator, *,
                 ssh: SSHRunner, web: WebClient, clock: Clock, masker: Masker | None = None,
                 emit: Callable[[StepEvent], None] | None = None,
                 droplets: Callable[[], DropletsAPI] | None = None, workdir: Path | None = None,
                 journal: Journal | None = None):
        self.book = book
        self.checklist = checklist
        self.operator = operator
        self.ssh = ssh
        self.web = web
        self.clock = clock
        self.masker = masker or Masker()
        self.listeners: list[Callable[[StepEvent], None]] = [emit] if emit else []
        self._droplets_factory = droplets
        self._droplets: DropletsAPI | None = None
        self.workdir = workdir or Path.cwd()
        self.journal = journal  # the run's journal (``journal.py``): what happened, chained
        # The step this engine runs now, None between steps: the one owner of "running" in
        # this process (the wizard reads it and keeps no copy). The checklist's ``running``
        # state is the shared claim, which another operator's process can hold too.
        self.running: str | None = None

    # ------------------------------------------------------------------ events

    def emit(self, event: StepEvent) -> None:
        if self.journal is not None:
            self._journal_event(self.journal, event)
        for listener in list(self.listeners):
            listener(event)

    def _journal_event(self, journal: Journal, event: StepEvent) -> None:
        """Steps started and finished, and their output as the wizard shows it, in the run's
        journal; masked again here (a step kind's own masking is not relied on)."""
        if isinstance(event, OutputLine):
            prefix = f"{event.host}: " if event.host and event.stream != "info" else ""
            journal.output(event.step_id, self.masker(f"{prefix}{event.text}"))
        elif isinstance(event, StepStarted):
            journal.append("started", self.masker(event.title), event.step_id)
        elif isinstance(event, StepFinished):
            summary = self.masker(event.verdict.summary)
            if event.state == StepState.SKIPPED:  # its summary says "skipped: <reason>"
                journal.append("skip", summary, event.step_id)
            else:
                journal.append("finished", f"{event.state}: {summary}", event.step_id)

    def _journal(self, kind: str, text: str, step_id: str = "") -> None:
        if self.journal is not None:
            self.journal.append(kind, self.masker(text), step_id)

    def droplets(self) -> DropletsAPI:
        if self._droplets is None:
            if self._droplets_factory is None:
                from .remote.droplets import DropletAPI

                self._droplets_factory = DropletAPI.from_env
            self._droplets = self._droplets_factory()
        return self._droplets

    # ------------------------------------------------------------------ reading state

    def plan(self, step: Any) -> list[PlanItem]:
        return plan_step(self.book, step)

    def plans(self) -> dict[str, list[str]]:
        return {step.id: [f"{i.where}: {self.masker(i.action)}" for i in self.plan(step)]
                for _, step in self.book.steps()}

    def state(self, step_id: str) -> StepState:
        return self.checklist.record(step_id).state

    def phase_counts(self, phase: Phase) -> dict[str, int]:
        counts: dict[str, int] = {}
        for step in phase.steps:
            state = self.state(step.id)
            counts[state] = counts.get(state, 0) + 1
        return counts

    def phase_passed(self, phase: Phase) -> bool:
        return all(self.state(s.id) in FINISHED for s in phase.steps if s.gate)

    def phase_gate(self, phase: Phase) -> str | None:
        """Why ``phase`` may not start now, or None."""
        if phase is self.book.rollback:
            return None
        records = self.checklist.records  # run_step re-reads the file first; the UI on a change
        index = self.book.phases.index(phase)
        for earlier in self.book.phases[:index]:
            if not self.phase_passed(earlier) and not records.override_reason(earlier.id):
                return (f"phase {earlier.id} ({earlier.title}) has not passed its success "
                        "criteria; finish it, or go on with a recorded reason")
        if phase.requires_backup:
            from .steps.backup import backup_gate

            reason = backup_gate(records, self.book, recheck_file=False)
            if reason:  # guard: requires-backup-gate
                return f"phase {phase.id} needs a verified backup first: {reason}"
        return None

    def day_gate(self, phase: Phase, step: Any) -> str | None:
        """In a repeated phase (the monitoring week), day N's steps wait until day N has been
        reached: every wait step of days up to N finished. Steps run ``once`` come after the
        last day. So a day-7 check cannot be run on day 1."""
        if not phase.repeat:
            return None
        day = day_of(step.id)
        last = phase.repeat if day is None else day
        for other in phase.steps:
            other_day = day_of(other.id)
            if other.kind != "wait" or other is step or other_day is None or other_day > last:
                continue
            if self.state(other.id) not in FINISHED:  # guard: day-order
                return (f"day {other_day} of phase {phase.id} has not been reached: its wait "
                        f"{other.id} has not finished")
        return None

    def next_step(self, include_rollback: bool = False) -> Any | None:
        phases = self.book.all_phases if include_rollback else self.book.phases
        for phase in phases:
            for step in phase.steps:
                if self.state(step.id) not in FINISHED:
                    return step
        return None

    # ------------------------------------------------------------------ acting

    async def run_step(self, step_id: str) -> Verdict:
        # The cyclic collector, paused while cutover started, runs again by now (gcpause.py).
        resume()  # guard: gc-resumed-by-a-step
        self.running = step_id
        try:
            return await self._run_step(step_id)
        finally:
            self.running = None

    async def _run_step(self, step_id: str) -> Verdict:
        step = self.book.step(step_id)
        phase = self.book.phase_of(step_id)
        self.checklist.read()  # another operator may have moved on since we last looked
        reason = self.phase_gate(phase) or self.day_gate(phase, step)
        if reason:
            raise GateClosed(reason)
        plan = self.plan(step)
        self.checklist.claim(step_id, self.operator.name)
        self.checklist.update_step(step_id, plan=[f"{i.where}: {self.masker(i.action)}"
                                                  for i in plan])
        self.emit(StepStarted(step_id, step.title, tuple(plan), self.operator.name))
        ctx = StepContext(self.book, self.checklist, self.operator, self.ssh, self.web,
                          self.clock, self.masker, self.emit, self.droplets, self.workdir,
                          step_id)
        try:
            verdict = await kind_module(step.kind).run(ctx, step)
        except CutoverError as exc:
            verdict = Verdict(False, str(exc))
        except asyncio.CancelledError:
            verdict = Verdict(False, "stopped by the operator before it finished",
                              state=StepState.INTERRUPTED)
            self._record(step_id, verdict)
            raise
        except Exception as exc:  # a bug in a step kind must not take the run down with it
            # A step kind's bug: the traceback for developers in the journal, off screen.
            self._journal("internal_error", traceback.format_exc(), step_id)
            verdict = Verdict(False, f"internal error in the {step.kind} step "
                                     f"({type(exc).__name__}: {exc}); the run record is intact")
        # Callers (the headless runner, the wizard) only ever see the masked verdict.
        return self._record(step_id, verdict)

    def _record(self, step_id: str, verdict: Verdict) -> Verdict:
        masked = Verdict(
            ok=verdict.ok, summary=self.masker(verdict.summary),
            command=self.masker(verdict.command), exit_status=verdict.exit_status,
            output=tail(self.masker(verdict.output)),  # whole: a tail may start inside a key
            evidence=mask_tree(verdict.evidence, self.masker), state=verdict.state,
            checks=[dataclasses.replace(c, problem=self.masker(c.problem))
                    for c in verdict.checks],
        )
        self.checklist.update_step(
            step_id, state=masked.final_state, finished_at=iso(self.clock.time()),
            summary=masked.summary, command=masked.command, exit_status=masked.exit_status,
            output=masked.output, evidence=masked.evidence, runner=None,
        )
        self.running = None  # before StepFinished: a listener sees the step over
        self.emit(StepFinished(step_id, masked.final_state, masked))
        return masked

    def skip(self, step_id: str, reason: str) -> None:
        if not reason.strip():
            raise GateClosed("skipping a step needs a reason")

        def skipped(record: StepRecord) -> StepRecord:
            holder = holder_of(step_id, record, self.running)  # read under the record's lock
            if holder is not None:  # guard: skip-held-step
                raise GateClosed(f"{holder.sentence()}: it cannot be skipped while it runs")
            return record.changed(state=StepState.SKIPPED, operator=self.operator.name,
                                  account=unix_account(), finished_at=iso(self.clock.time()),
                                  summary=f"skipped: {self.masker(reason)}")

        self.checklist.update_record(step_id, skipped)
        self.checklist.add_note(step_id, self.operator.name, f"skipped: {self.masker(reason)}")
        self.emit(StepFinished(step_id, StepState.SKIPPED,
                               Verdict(True, f"skipped: {self.masker(reason)}",
                                       state=StepState.SKIPPED)))

    def override_phase(self, phase_id: str, reason: str) -> None:
        if not reason.strip():
            raise GateClosed("going on past a phase that has not passed needs a reason")
        self.checklist.update_phase(phase_id, override_reason=self.masker(reason),
                                    override_by=self.operator.name,
                                    override_at=iso(self.clock.time()))
        self._journal("override", f"phase {phase_id} went on without passing: {reason}")

    def add_note(self, step_id: str, text: str) -> None:
        self.checklist.add_note(step_id, self.operator.name, self.masker(text))
        self._journal("note", text, step_id)

    def raise_red_flag(self, text: str) -> None:
        with self.checklist.transaction() as data:
            data["run"].setdefault("red_flags", []).append(
                f"{iso(self.clock.time())} {self.operator.name}: {self.masker(text)}")
        self._journal("red_flag", text)

    async def aclose(self) -> None:
        released = self.checklist.release_running(f"{self.operator.name} quit while it ran")
        for step_id in released:
            self.emit(StepFinished(step_id, StepState.INTERRUPTED,
                                   Verdict(False, "quit while running", state=StepState.INTERRUPTED)))
        if self.journal is not None:
            self.journal.close()
        await self.ssh.close()
        await self.web.close()
