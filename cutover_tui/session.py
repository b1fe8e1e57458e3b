"""One factory that builds a run — runbook, checklist, transports, engine — for the CLI, the
wizard and the tests alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checklist import Checklist, ResumeReport
from .clock import Clock
from .engine import Engine
from .events import StepEvent
from .masking import Masker
from .operator import Operator
from .runbook import Overrides, Runbook, load_runbook


@dataclass
class Session:
    book: Runbook
    checklist: Checklist
    engine: Engine
    report: ResumeReport

    async def aclose(self) -> None:
        await self.engine.aclose()


def default_state_path(book: Runbook) -> Path:
    return Path(book.path).resolve().parent / "runs" / f"{book.runbook.id}.toml"


@dataclass
class Transports:
    """The connections a run talks through: SSH (one pool), HTTP, and the masker for output."""

    ssh: Any  # remote.ssh.SSHPool
    web: Any  # remote.web.Web
    masker: Masker

    async def aclose(self) -> None:
        await self.ssh.close()
        await self.web.close()


def open_transports(book: Runbook, operator: Operator) -> Transports:
    """The transports for ``book``'s hosts; unknown host keys are put to ``operator``."""
    from .remote.ssh import SSHPool, SSHTarget
    from .remote.web import Web

    targets = {
        name: SSHTarget(name, h.address, h.port, h.user, h.ssh_key, h.known_hosts)
        for name, h in book.hosts.items()
    }
    return Transports(SSHPool(targets, trust_host_key=operator.trust_host_key), Web(), Masker())


def open_session(runbook: str | Path | Runbook, operator: Operator, *,
                 overrides: Overrides | None = None, state: str | Path | None = None,
                 clock: Clock | None = None, emit: Callable[[StepEvent], None] | None = None,
                 droplets: Callable[[], Any] | None = None,
                 workdir: Path | None = None) -> Session:
    book = runbook if isinstance(runbook, Runbook) else load_runbook(runbook, overrides)
    clock = clock or Clock()
    state_path = Path(state) if state else default_state_path(book)
    checklist = Checklist(state_path, clock)
    transports = open_transports(book, operator)
    engine = Engine(book, checklist, operator, ssh=transports.ssh, web=transports.web,
                    clock=clock, masker=transports.masker,
                    emit=emit, droplets=droplets, workdir=workdir,
                    event_log=state_path.with_suffix(".log"))
    hosts = {name: f"{h.user}@{h.address}:{h.port}" for name, h in book.hosts.items()}
    report = checklist.open_for(book, operator.name, engine.plans(), hosts)
    return Session(book, checklist, engine, report)
