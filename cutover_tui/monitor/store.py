"""The watcher's memory: SQLite beside the checklist (``<checklist>.watch.sqlite3``).

The checklist records what a person reviews (transitions, daily results) and stays small; the
many samples, each rule's state between restarts, every notification attempt and the
watcher's heartbeat live here. Silences are not here: they are decisions, kept in the checklist.

- WAL mode and a busy timeout: the watcher writes while the wizard or ``cutover check`` read,
  and a reader never fails because a write is under way.
- Created 0600: the run's files are private (a sample's detail may name a host or a path).
- Every method is one short transaction, synchronous; the connection is shared by threads
  under a lock, so the watcher may call it from a worker thread or from the loop.
- A file that is not this store (damaged, another format, a newer version) is a
  ``ChecklistError`` naming the file, never a traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ..errors import ChecklistError
from ..sharing import fit_mode, mode_for
from .rules import Observation, RuleState

SCHEMA_VERSION = 1
KEEP_SECONDS = 14 * 86400.0  # samples older than this are pruned (the week, and a week more)
BUSY_TIMEOUT_MS = 10_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    rule TEXT NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL, value REAL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS samples_rule_at ON samples (rule, at);
CREATE TABLE IF NOT EXISTS rule_state (rule TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notifications (
    rule TEXT NOT NULL, event TEXT NOT NULL, at REAL NOT NULL, target TEXT NOT NULL,
    ok INTEGER NOT NULL, attempts INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, hostname TEXT NOT NULL,
    started_at REAL NOT NULL, beat_at REAL NOT NULL);
"""


def store_path(checklist_path: Path | str) -> Path:
    path = Path(checklist_path)
    return path.with_name(path.name + ".watch.sqlite3")


@dataclass(frozen=True)
class Heartbeat:
    """The last sign of life of the watcher that writes this store."""

    pid: int
    hostname: str
    started_at: float
    beat_at: float

    def alive(self, now: float, stale_after: float = 90.0) -> bool:
        """Whether it beat within ``stale_after`` seconds of ``now`` (the caller's clock)."""
        return now - self.beat_at <= stale_after


@dataclass(frozen=True)
class NotificationRecord:
    """One notification sent (or not) for a rule's transition."""

    rule: str
    event: str  # "firing", "resolved"
    at: float
    target: str  # masked: no token, no password
    ok: bool
    attempts: int
    error: str | None


class WatchStore:
    """The SQLite store of one run's watch; a context manager that closes it."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            # Created with the run's mode before SQLite opens it (private, or the group's in a
            # `--group` run folder, never the world's); the -wal and -shm files SQLite makes
            # take the database file's permissions.
            mode = mode_for(self.path)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, mode)  # guard: watch-store-mode
            try:
                fit_mode(fd, mode)
            finally:
                os.close(fd)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise ChecklistError(f"cannot open the watch store {self.path}: {exc}") from None
        try:
            self._open()
        except ChecklistError:
            self._db.close()
            raise

    def _open(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ChecklistError(
                    f"{self.path} was written by a newer cutover (watch store version {version}; "
                    f"this one reads {SCHEMA_VERSION}): upgrade cutover to read it")
            db.execute("PRAGMA journal_mode = WAL")  # outside a transaction, or it is refused
            if version < SCHEMA_VERSION:  # a new file: a reader opening a made one writes nothing
                db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} "
                                 f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One short transaction (``write``: BEGIN IMMEDIATE, committed at the end); any
        SQLite failure becomes a sentence naming the file."""
        with self._lock:
            try:
                if write:
                    self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                if self._db.in_transaction:
                    self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise ChecklistError(
                    f"the watch store {self.path} cannot be used ({exc}): it is damaged or "
                    "not a watch store; move it aside and the watcher starts a new one"
                ) from None
            except sqlite3.Error as exc:
                self._rollback()
                raise ChecklistError(f"the watch store {self.path} failed: {exc}") from None
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the error being raised says more than a failed rollback would

    # ------------------------------------------------------------------ samples

    def add_sample(self, rule: str, obs: Observation) -> None:
        with self._transaction(write=True) as db:
            db.execute("INSERT INTO samples (rule, at, ok, value, detail) VALUES (?, ?, ?, ?, ?)",
                       (rule, obs.at, int(obs.ok), obs.value, obs.detail))

    def samples(self, rule: str, since: float | None = None,
                limit: int | None = None) -> list[Observation]:
        """A rule's samples at or after ``since``, oldest first; with ``limit``, the newest
        ``limit`` of them (still oldest first)."""
        query = "SELECT at, ok, value, detail FROM samples WHERE rule = ?"
        params: list[object] = [rule]
        if since is not None:
            query += " AND at >= ?"
            params.append(since)
        query += " ORDER BY at DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._transaction() as db:
            rows = db.execute(query, params).fetchall()
        return [Observation(at, bool(ok), value, detail) for at, ok, value, detail in reversed(rows)]

    def prune(self, before: float) -> int:
        """Delete the samples older than ``before``; how many went."""
        with self._transaction(write=True) as db:
            return db.execute("DELETE FROM samples WHERE at < ?", (before,)).rowcount

    # ------------------------------------------------------------------ rule states

    def save_state(self, state: RuleState) -> None:
        with self._transaction(write=True) as db:
            db.execute("INSERT INTO rule_state (rule, json) VALUES (?, ?) "
                       "ON CONFLICT (rule) DO UPDATE SET json = excluded.json",
                       (state.rule, json.dumps(state.to_dict())))

    def load_states(self) -> dict[str, RuleState]:
        with self._transaction() as db:
            rows = db.execute("SELECT rule, json FROM rule_state ORDER BY rule").fetchall()
        states = {}
        for rule, text in rows:
            try:
                states[rule] = RuleState.from_dict(json.loads(text))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError too
                raise ChecklistError(
                    f"the watch store {self.path} holds a damaged state for rule {rule} "
                    f"({exc}): move the file aside and the watcher starts a new one") from None
        return states

    # ------------------------------------------------------------------ notifications

    def add_notification(self, rule: str, event: str, at: float, target: str, ok: bool,
                         attempts: int, error: str | None) -> None:
        with self._transaction(write=True) as db:
            db.execute("INSERT INTO notifications (rule, event, at, target, ok, attempts, error)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (rule, event, at, target, int(ok), attempts, error))

    def notifications(self, rule: str | None = None) -> list[NotificationRecord]:
        """Every notification (of ``rule``), oldest first."""
        query = "SELECT rule, event, at, target, ok, attempts, error FROM notifications"
        params: tuple[str, ...] = ()
        if rule is not None:
            query += " WHERE rule = ?"
            params = (rule,)
        with self._transaction() as db:
            rows = db.execute(query + " ORDER BY at, rowid", params).fetchall()
        return [NotificationRecord(r, e, at, t, bool(ok), n, err)
                for r, e, at, t, ok, n, err in rows]

    # ------------------------------------------------------------------ heartbeat

    def beat(self, pid: int, hostname: str, started_at: float, at: float) -> None:
        with self._transaction(write=True) as db:
            db.execute("INSERT INTO heartbeat (id, pid, hostname, started_at, beat_at) "
                       "VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, "
                       "hostname = excluded.hostname, started_at = excluded.started_at, "
                       "beat_at = excluded.beat_at", (pid, hostname, started_at, at))

    def heartbeat(self) -> Heartbeat | None:
        with self._transaction() as db:
            row = db.execute(
                "SELECT pid, hostname, started_at, beat_at FROM heartbeat WHERE id = 1").fetchone()
        return Heartbeat(*row) if row else None

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> WatchStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
