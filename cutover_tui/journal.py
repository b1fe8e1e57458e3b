"""The run's journal: every step started, output, finished, note, skip, red flag and checklist
write of a run, one JSON object a line, each chained to the one before it, in one file beside
the run record (``<record>.journal``). ``cutover review RECORD --verify`` checks the chain
(``journalcheck.py``).

An entry, in this key order (the order its hash is computed in)::

    {"seq": 7, "at": "2025-12-19T10:05:00Z", "kind": "output", "step": "6.4",
     "operator": "ops-a", "account": "alice", "text": "…", "prev": "<sha256>",
     "hash": "<sha256>"}

- ``seq`` counts from 1 with no gap; ``prev`` is the sha256 of the line before (its exact
  bytes, without the newline; "" for the first); ``hash`` is the sha256 of this line as
  written without its ``hash`` key. So an edited line no longer matches its hash, and a removed
  or inserted line breaks the next one's ``seq`` and ``prev``.
- ``kind`` is one of ``KINDS``; ``account`` is the Unix user of the process that wrote it,
  ``operator`` the name the run records; a ``checklist`` entry's ``text`` is the sha256 of the
  record's bytes just written, so a record changed outside the tool no longer matches the last.
- Several processes (two operators, the watcher) append to one journal: each append takes an
  exclusive ``flock`` on the journal, reads the last line again if the file grew since this
  process last appended, writes, and lets go. Output lines are batched — every line received
  within ``BATCH_SECONDS``, at most ``BATCH_LINES`` or ``BATCH_BYTES`` — into one entry, and
  the file is kept open, so a step printing 200,000 lines costs a few hundred appends, not
  200,000. Every entry but output is fsynced; output is fsynced with the next one (the step's
  ``finished``).
- Text is written as the engine masked it; the file gets the record's mode (never readable by
  the world) and is made no more readable than that when it is opened again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import pwd
import stat as stat_module
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clock import Clock, iso
from .errors import ChecklistError

if TYPE_CHECKING:
    import asyncio

KINDS = ("started", "output", "finished", "skip", "note", "red_flag", "override", "approval",
         "internal_error", "checklist")
FIELDS = ("seq", "at", "kind", "step", "operator", "account", "text", "prev", "hash")
BATCH_SECONDS = 0.05
BATCH_LINES = 2000
BATCH_BYTES = 256 * 1024
_TAIL_CHUNK = 64 * 1024

Entry = dict[str, Any]


def journal_path(record: str | Path) -> Path:
    """The journal of the run record ``record``: ``run.toml`` → ``run.journal``."""
    return Path(record).with_suffix(".journal")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode(fields: Entry) -> bytes:
    """The canonical bytes of ``fields`` (no spaces, text as written, keys in their order)."""
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_line(seq: int, at: str, kind: str, step: str, operator: str, account: str,
               text: str, prev: str) -> bytes:
    """One journal line (without its newline), its ``hash`` computed over the rest of it."""
    body: Entry = {"seq": seq, "at": at, "kind": kind, "step": step, "operator": operator,
                   "account": account, "text": text, "prev": prev}
    try:
        content = encode(body)
    except UnicodeEncodeError:  # a lone surrogate from undecodable output: written as U+FFFD
        body = {key: _utf8(value) for key, value in body.items()}
        content = encode(body)
    body["hash"] = sha256(content)
    return encode(body)


def _utf8(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def unix_account() -> str:
    """The Unix user this process runs as, from its effective uid (its uid when it has no
    name) — not ``$USER``/``$LOGNAME``, which anyone can set to another's name."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name  # guard: account-from-uid
    except KeyError:
        return str(os.geteuid())


def mode_like(record: Path) -> int:
    """The mode for files beside ``record``: the record's own, never readable by the world."""
    try:
        mode = stat_module.S_IMODE(os.stat(record).st_mode)
    except OSError:
        mode = 0o600
    return (mode & 0o770) | 0o600


class Journal:
    """One process's writer of one journal. Not shared between threads' event loops: output
    batches are flushed by a timer on the running event loop (at once when there is none)."""

    def __init__(self, path: str | Path, *, operator: str, clock: Clock | None = None,
                 record: str | Path | None = None) -> None:
        self.path = Path(path)
        self.operator = operator
        self.account = unix_account()
        self.clock = clock or Clock()
        self.record = Path(record) if record is not None else self.path.with_suffix(".toml")
        self._fd: int | None = None
        self._end = -1  # the file's size after this process's last append (-1: not known)
        self._seq = 0
        self._prev = ""
        self._pending: list[tuple[str, str]] = []  # (step, line) of output not yet written
        self._pending_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._failure: ChecklistError | None = None  # a timer flush that failed, said next
        self._mutex = threading.Lock()

    # ------------------------------------------------------------------ appending

    def append(self, kind: str, text: str = "", step: str = "") -> None:
        """One entry, after any output still batched; fsynced before this returns."""
        with self._mutex:
            self._raise_failure()
            self._write(self._take_pending() + [(kind, step, text)], durable=True)

    def output(self, step: str, line: str) -> None:
        """A line a step printed, already masked: batched with the lines that follow it."""
        with self._mutex:
            self._raise_failure()
            self._pending.append((step, line))
            self._pending_bytes += len(line) + 1
            full = len(self._pending) >= BATCH_LINES or self._pending_bytes >= BATCH_BYTES
        if full:
            self.flush()
        elif self._timer is None:
            import asyncio  # here: ``review`` and ``silence`` import this module, and never batch

            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()  # no event loop to batch on: written at once
                return
            self._timer = loop.call_later(BATCH_SECONDS, self._flush_on_timer)

    def checklist_written(self, payload: bytes) -> None:
        """The record was just written with ``payload`` (``Checklist(on_write=…)``)."""
        self.append("checklist", sha256(payload))

    def flush(self) -> None:
        """Write the batched output now (not fsynced: the next entry is)."""
        with self._mutex:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            entries = self._take_pending()
            if entries:
                self._write(entries, durable=False)

    def close(self) -> None:
        """Write what is batched, fsync, close the file. Appending again opens it again."""
        try:
            self.flush()
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
        finally:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
            self._fd, self._end = None, -1

    def _flush_on_timer(self) -> None:
        self._timer = None
        try:
            self.flush()
        except ChecklistError as exc:
            self._failure = exc  # said by the next append: a timer has no one to tell

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _take_pending(self) -> list[tuple[str, str, str]]:
        """The batched output as entries: one per run of lines of the same step."""
        entries = [("output", step, "\n".join(line for _, line in lines))
                   for step, lines in itertools.groupby(self._pending, key=lambda p: p[0])]
        self._pending, self._pending_bytes = [], 0
        return entries

    # ------------------------------------------------------------------ the file

    def _write(self, entries: list[tuple[str, str, str]], durable: bool) -> None:
        """Append ``entries`` (kind, step, text) under the journal's lock, chained to whatever
        the file ends with now; a sentence (``ChecklistError``) when it cannot be written."""
        try:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)  # guard: journal-lock
            try:
                size = os.fstat(fd).st_size
                lead = b""
                if size != self._end:  # another process appended: chain to its last line
                    lead = self._chain_to_tail(fd, size)
                at = iso(self.clock.time())
                lines = []
                for kind, step, text in entries:
                    self._seq += 1
                    line = entry_line(self._seq, at, kind, step, self.operator, self.account,
                                      text, self._prev)
                    self._prev = sha256(line)
                    lines.append(line + b"\n")
                data = lead + b"".join(lines)
                _write_all(fd, data)
                self._end = size + len(data)
                if durable:
                    os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            self.close_quietly()
            raise ChecklistError(  # guard: journal-write-sentence
                f"cannot write the run's journal {self.path}: {exc.strerror or exc}; the run "
                "stops here (the checklist keeps every step recorded so far)") from None

    def close_quietly(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd, self._end = None, -1

    def _open(self) -> int:
        """The journal's file, kept open; opened again if it was renamed or removed since."""
        if self._fd is not None:
            try:
                if os.fstat(self._fd).st_ino == os.stat(self.path).st_ino:
                    return self._fd
            except FileNotFoundError:
                pass
            self.close_quietly()
        mode = mode_like(self.record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, mode)
        try:
            info = os.fstat(fd)
            # The record's mode, whatever the umask made of it or an older file had; another
            # account's journal (a shared run) is left as its owner made it.
            if stat_module.S_IMODE(info.st_mode) != mode and info.st_uid == os.geteuid():
                os.fchmod(fd, mode)  # guard: journal-file-mode
        except OSError:
            os.close(fd)
            raise
        self._fd, self._end = fd, -1
        return fd

    def _chain_to_tail(self, fd: int, size: int) -> bytes:
        """Take ``seq`` and ``prev`` from the file's last line; what to write first (a newline
        when the last line was cut short, so it stays a line of its own)."""
        if size == 0:
            self._seq, self._prev = 0, ""
            return b""
        last, complete = last_line(fd, size)
        self._prev = sha256(last)
        try:
            seq = json.loads(last)["seq"]
            if isinstance(seq, int) and not isinstance(seq, bool):
                self._seq = seq
        except (ValueError, TypeError, KeyError):
            pass  # a damaged last line: ``--verify`` names it; the chain goes on from it
        return b"" if complete else b"\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def last_line(fd: int, size: int) -> tuple[bytes, bool]:
    """The file's last line (without its newline), and whether it ended with one."""
    complete = os.pread(fd, 1, size - 1) == b"\n"
    end = size - 1 if complete else size
    start, tail = end, b""
    while start > 0:
        start = max(0, start - _TAIL_CHUNK)
        tail = os.pread(fd, end - start, start)
        newline = tail.rfind(b"\n")
        if newline >= 0:
            return tail[newline + 1:], complete
    return tail, complete


def read_new(path: str | Path, offset: int = 0) -> tuple[list[Entry], int]:
    """The entries written to the journal from byte ``offset`` on, and the offset to read from
    next time: for a view that follows the run live (a line still being written waits for the
    next call). Lines that are not entries are left out (``--verify`` names them)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            raw = handle.read()
    except FileNotFoundError:
        return [], offset
    complete = raw.rfind(b"\n") + 1
    entries = []
    for line in raw[:complete].split(b"\n")[:-1]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries, offset + complete


def record_written(record: Path, on_write: Callable[[bytes], None] | None) -> None:
    """The checklist ``record`` was just written (under its lock, after the rename): its bytes
    to ``on_write`` (a session's ``Journal.checklist_written``), or, for a checklist written
    without a session (``cutover silence``, ``reattempt``, a script), to the run's journal when
    the run has one. Read back from the file: they are what ``--verify`` hashes."""
    if on_write is None and not journal_path(record).exists():
        return
    try:
        payload = record.read_bytes()
    except OSError as exc:
        raise ChecklistError(f"cannot read back the checklist {record}: {exc.strerror}") from None
    if on_write is not None:
        on_write(payload)
        return
    operator = os.environ.get("CUTOVER_OPERATOR") or unix_account()
    path = journal_path(record)
    journal = Journal(path, operator=operator, record=record)
    try:
        journal.checklist_written(payload)
    finally:
        journal.close()
