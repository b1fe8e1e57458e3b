"""The run record's file (``checklist.py`` decides what is in it; this module how it is read and
written): read again only when it changed, changed under an exclusive lock, written atomically,
re-serialising only what changed.

- Every writer takes an exclusive ``flock`` on the sidecar ``<name>.lock`` for its whole
  read-change-write, so two operators never lose each other's updates.
- A write goes to a temporary file in the same folder, which is fsynced, renamed over the record
  and the folder fsynced: a crash leaves the old or the new file, never half of one.
- What was last read or written here is kept with the file's (device, inode, size, mtime) at
  that moment. While the file still has them it is that version, so it is not parsed again. A
  write by another cutover renames a new inode into place; an edit in place changes the mtime
  (to the nanosecond on kernels from 6.13, once the file has been looked at; older kernels
  count in clock ticks, so an edit by hand within a tick of our write that keeps the size would
  go unseen until the next change).
- ``tomltables.render`` re-uses the text of every table that did not change.
- The record and its lock keep the record's mode; a new record gets its folder's (``0660`` in
  a run folder shared by a group, ``0600`` elsewhere: ``sharing.py``), never the world's.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import ChecklistError
from .sharing import mode_for, open_lock
from .tomltables import Version, render

Parse = Callable[[bytes], dict[str, Any]]  # the file's bytes → the record, checked (or raise)
Signature = tuple[int, int, int, int]


def signature(stat: os.stat_result) -> Signature:
    """What tells one version of the file from another without reading it."""
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


class RecordFile:
    """One record file, as one process sees it. Not thread-safe (neither is the checklist)."""

    def __init__(self, path: Path, lock_path: Path) -> None:
        self.path = path
        self.lock_path = lock_path
        self._version: Version | None = None  # the file as last read or written here
        self._seen: Signature | None = None  # and its signature then

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock."""
        with contextlib.ExitStack() as stack:
            try:
                # The record's mode: a run shared by a group (``sharing.py``) has a lock every
                # teammate's account can take.
                lock = stack.enter_context(open_lock(self.lock_path, mode_for(self.path)))
            except OSError as exc:
                raise ChecklistError(f"cannot lock the checklist {self.path}: "
                                     f"{exc.strerror}") from None
            fcntl.flock(lock, fcntl.LOCK_EX)  # guard: checklist-lock
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _unchanged(self, stat: os.stat_result) -> bool:
        """Whether the file is still the version last read or written here."""
        if self._version is None:
            return False
        if signature(stat) != self._seen:  # guard: checklist-reparse-when-changed
            return False
        return True

    def _current(self, parse: Parse) -> Version | None:
        """The file as it is now (None when there is none), parsed only if it changed since it
        was last read or written here."""
        try:
            stat = os.stat(self.path)
            if self._unchanged(stat):
                return self._version
            with self.path.open("rb") as handle:
                seen = signature(os.fstat(handle.fileno()))  # the version these bytes are
                raw = handle.read()
        except FileNotFoundError:
            self._version = self._seen = None
            return None
        except OSError as exc:
            raise ChecklistError(f"cannot read the checklist {self.path}: {exc.strerror}") from None
        data = parse(raw)
        self._version, self._seen = Version.parsed(data, self._version), seen
        return self._version

    def read(self, parse: Parse) -> dict[str, Any]:
        """The record as the file holds it now: the object every reader here shares until the
        file changes, so not to be changed (a transaction changes the record)."""
        version = self._current(parse)
        if version is None:
            raise ChecklistError(f"no checklist at {self.path}")
        return version.public

    def working_copy(self, parse: Parse, empty: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Under the lock: the record as the file holds it now (``empty()`` when there is no
        file), for the caller to change. A copy: if the change or the write fails, this object
        still holds what the file holds."""
        version = self._current(parse)
        if version is None:
            return empty()
        data = version.data
        data = version.working_copy()  # guard: checklist-memory-equals-file
        return data

    def write(self, data: dict[str, Any]) -> dict[str, Any]:
        """Under the lock: write ``data`` atomically; the record as a reader of the file now gets
        it. Raises OSError, with the file and this object as they were."""
        payload, version = render(data, self._version or Version())
        stat = atomic_write(self.path, payload)
        self._version, self._seen = version, signature(stat)
        return version.public


def atomic_write(path: Path, payload: bytes) -> os.stat_result:
    """Replace ``path`` with ``payload``: a temporary file beside it, fsynced, renamed over it,
    the folder fsynced. The stat of the file written (a rename keeps its inode and mtime)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = mode_for(path)  # the record's own, or the shared folder's (``sharing.py``)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
            stat = os.fstat(handle.fileno())
        os.replace(tmp, path)  # guard: checklist-atomic-rename
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return stat
