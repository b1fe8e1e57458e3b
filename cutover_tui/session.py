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
from .journal import Journal, journal_path
from .masking import Masker, new_salt, use_salt
from .operator import Operator
from .remote.deferred import DeferredSSH, DeferredWeb
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

    async def warm(self) -> None:
        """Build the run's transports now, importing asyncssh and httpx in a worker thread (the
        wizard, after its first frame): the first step then starts without that wait. Injected
        transports are already built."""
        for transport in (self.engine.ssh, self.engine.web):
            if isinstance(transport, DeferredSSH | DeferredWeb):
                await transport.ready()


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


def _ssh_pool(book: Runbook, operator: Operator) -> SSHRunner:
    from .remote.ssh import SSHPool, SSHTarget

    targets = {
        name: SSHTarget(name, h.address, h.port, h.user, h.ssh_key, h.known_hosts)
        for name, h in book.hosts.items()
    }
    return SSHPool(targets, trust_host_key=operator.trust_host_key)


def _web() -> WebClient:
    from .remote.web import Web

    return Web()


def open_transports(book: Runbook, operator: Operator, *, ssh: SSHRunner | None = None,
                    web: WebClient | None = None) -> Transports:
    """The transports for ``book``'s hosts: ``ssh`` and ``web`` as given, else an ``SSHPool``
    (unknown host keys put to ``operator``) and a ``Web`` on the network, each built when first
    used (``remote/deferred.py``: opening a session imports neither asyncssh nor httpx)."""
    if ssh is None:
        ssh = DeferredSSH(lambda: _ssh_pool(book, operator))
    if web is None:
        web = DeferredWeb(_web)
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
                 workdir: Path | None = None, repoint: bool = True) -> Session:
    """A run of ``runbook``: its checklist opened (or resumed) for ``operator``, and an engine
    that talks through ``ssh``, ``web`` and ``droplets()`` — injected (fakes, a rehearsal,
    ``Web(transport=httpx.MockTransport(...))``), else the real ones (``open_transports``;
    the DigitalOcean API from the environment, on first use)."""
    book = runbook if isinstance(runbook, Runbook) else load_runbook(runbook, overrides)
    clock = clock or Clock()
    state_path = Path(state) if state else default_state_path(book)
    # The run's journal: every checklist write's hash, and what the engine does, chained.
    journal = Journal(journal_path(state_path), operator=operator.name, clock=clock,
                      record=state_path)
    checklist = Checklist(state_path, clock, on_write=journal.checklist_written)
    transports = open_transports(book, operator, ssh=ssh, web=web)
    # One salt per run, kept in its checklist: masked fingerprints (in plans too) stay the same
    # across a resume; values learnt before it are recognised by their salted fingerprints.
    recorded = _recorded_masking(checklist)
    learnt = recorded.get("learnt", [])
    transports.masker.restore(_masking_salt(recorded), learnt if isinstance(learnt, list) else [])
    use_salt(transports.masker.salt)
    engine = Engine(book, checklist, operator, ssh=transports.ssh, web=transports.web,
                    clock=clock, masker=transports.masker,
                    emit=emit, droplets=droplets, workdir=workdir, journal=journal)
    hosts = {name: f"{h.user}@{h.address}:{h.port}" for name, h in book.hosts.items()}
    # journals it too
    report = checklist.open_for(book, operator.name, engine.plans(), hosts, repoint=repoint)
    masker = transports.masker
    _record_masking(checklist, masker, [])
    masker.on_learn = lambda entries: _record_masking(checklist, masker, entries)
    return Session(book, checklist, engine, report)
