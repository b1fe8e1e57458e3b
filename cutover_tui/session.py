"""One factory that builds a run — runbook, checklist, transports, engine — for the CLI, the
wizard and the tests alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import credentials
from .checklist import Checklist, ResumeReport
from .clock import Clock
from .engine import Engine
from .errors import ChecklistError
from .events import StepEvent
from .masking import Masker, new_salt, use_salt
from .operator import Operator
from .remote.protocols import DropletsAPI, SSHRunner, WebClient
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

    ssh: SSHRunner
    web: WebClient
    masker: Masker

    async def aclose(self) -> None:
        await self.ssh.close()
        await self.web.close()


def open_transports(book: Runbook, operator: Operator, *, ssh: SSHRunner | None = None,
                    web: WebClient | None = None) -> Transports:
    """The transports for ``book``'s hosts: ``ssh`` and ``web`` as given, else an ``SSHPool``
    (unknown host keys put to ``operator``) and a ``Web`` on the network."""
    if ssh is None:
        from .remote.ssh import SSHPool, SSHTarget

        targets = {
            name: SSHTarget(name, h.address, h.port, h.user, h.ssh_key, h.known_hosts)
            for name, h in book.hosts.items()
        }
        ssh = SSHPool(targets, trust_host_key=operator.trust_host_key)
    if web is None:
        from .remote.web import Web

        web = Web()
    masker = Masker()
    for value in credentials.held().values():  # the tool's own credentials are secrets too
        masker.learn(value, remember=False)
    return Transports(ssh, web, masker)


def _recorded_masking(checklist: Checklist) -> dict[str, Any]:
    """The ``[run.masking]`` table of an existing checklist (its salt and the fingerprints of
    learnt values), or an empty one."""
    if not checklist.path.exists():
        return {}
    try:
        masking = checklist.read().get("run", {}).get("masking", {})
    except ChecklistError:
        return {}  # open_for says what is wrong with the file
    return masking if isinstance(masking, dict) else {}


def _record_masking(checklist: Checklist, masker: Masker, entries: list[str]) -> None:
    """Keep the run's salt and the fingerprints of newly learnt values (never the values)."""
    with checklist.transaction() as data:
        masking = data["run"].get("masking")
        if not isinstance(masking, dict) or not isinstance(masking.get("learnt", []), list):
            masking = data["run"]["masking"] = {}  # a hand-damaged table: start it again
        recorded = _masking_salt(masking, default=masker.salt)
        if recorded != masker.salt:
            # Another operator created the run at the same moment: take its salt. Values
            # learnt until now stay masked in this session; their fingerprints are dropped.
            masker.salt = recorded
            use_salt(recorded)
            return
        masking["salt"] = masker.salt.hex()
        learnt = masking.setdefault("learnt", [])
        learnt.extend(entry for entry in entries if entry not in learnt)


def _masking_salt(recorded: dict[str, Any], default: bytes | None = None) -> bytes:
    """The run's salt as recorded, else ``default`` (else a new one)."""
    try:
        salt = bytes.fromhex(str(recorded.get("salt", "")))
    except ValueError:
        salt = b""
    return salt if len(salt) >= 16 else (default or new_salt())


def open_session(runbook: str | Path | Runbook, operator: Operator, *,
                 overrides: Overrides | None = None, state: str | Path | None = None,
                 clock: Clock | None = None, emit: Callable[[StepEvent], None] | None = None,
                 droplets: Callable[[], DropletsAPI] | None = None,
                 ssh: SSHRunner | None = None, web: WebClient | None = None,
                 workdir: Path | None = None) -> Session:
    """A run of ``runbook``: its checklist opened (or resumed) for ``operator``, and an engine
    that talks through ``ssh``, ``web`` and ``droplets()`` — injected (fakes, a rehearsal,
    ``Web(transport=httpx.MockTransport(...))``), else the real ones (``open_transports``;
    the DigitalOcean API from the environment, on first use)."""
    book = runbook if isinstance(runbook, Runbook) else load_runbook(runbook, overrides)
    clock = clock or Clock()
    state_path = Path(state) if state else default_state_path(book)
    checklist = Checklist(state_path, clock)
    transports = open_transports(book, operator, ssh=ssh, web=web)
    # One salt per run, kept in its checklist: masked fingerprints (in plans too) stay the same
    # across a resume; values learnt before it are recognised by their salted fingerprints.
    recorded = _recorded_masking(checklist)
    learnt = recorded.get("learnt", [])
    transports.masker.restore(_masking_salt(recorded), learnt if isinstance(learnt, list) else [])
    use_salt(transports.masker.salt)
    engine = Engine(book, checklist, operator, ssh=transports.ssh, web=transports.web,
                    clock=clock, masker=transports.masker,
                    emit=emit, droplets=droplets, workdir=workdir,
                    event_log=state_path.with_suffix(".log"))
    hosts = {name: f"{h.user}@{h.address}:{h.port}" for name, h in book.hosts.items()}
    report = checklist.open_for(book, operator.name, engine.plans(), hosts)
    engine.check_log()
    masker = transports.masker
    _record_masking(checklist, masker, [])
    masker.on_learn = lambda entries: _record_masking(checklist, masker, entries)
    return Session(book, checklist, engine, report)
