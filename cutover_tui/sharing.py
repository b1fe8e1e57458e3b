"""A run shared by a Unix group (``cutover run --group ops``): on a jump host each teammate logs
in as themselves, so the run's folder, record, lock, journal and presence files must be theirs
to read and write through a group, and nobody else's.

- The folder is given to the group and made setgid (``2770``): every file created in it gets
  the group, whoever creates it; others cannot even list it.
- Files written by several accounts (the record, its lock, its journal) are ``0660``; a file
  only its owner writes (a presence file) ``0640``; in a folder that is not shared, ``0600``.
  Never readable by the world, whatever the umask says.
- A file keeps the mode it has when it is written again (``mode_for``), so a record a teammate
  made shared stays shared, and a private one private.
"""

from __future__ import annotations

import contextlib
import grp
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import ConfigError

SHARED_DIR_MODE = 0o2770  # setgid: new files get the folder's group
SHARED_FILE_MODE = 0o660  # read and written by the group (record, lock, journal)
OWNER_WRITES_MODE = 0o640  # read by the group, written by its owner only (presence)
PRIVATE_FILE_MODE = 0o600


def is_shared(folder: Path) -> bool:
    """Whether ``folder`` is a group-shared run folder: setgid and the group may write it."""
    try:
        mode = os.stat(folder).st_mode
    except OSError:
        return False
    return bool(mode & stat.S_ISGID) and mode & 0o070 == 0o070


def mode_for(path: Path, shared_mode: int = SHARED_FILE_MODE) -> int:
    """The mode to give ``path`` when it is written: the mode it has (never the world's), or
    for a new file ``shared_mode`` in a shared folder and ``0600`` elsewhere."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return shared_mode if is_shared(path.parent) else PRIVATE_FILE_MODE
    mode &= 0o770  # guard: shared-files-never-world-readable
    return mode | 0o600


def fit_mode(fd: int, mode: int) -> None:
    """Give the open file ``mode`` if this account owns it (the umask took bits away, or it is
    an older file); another account's file is left as its owner made it."""
    info = os.fstat(fd)
    if stat.S_IMODE(info.st_mode) != mode and info.st_uid == os.geteuid():
        os.fchmod(fd, mode)


@contextlib.contextmanager
def open_lock(path: Path, mode: int) -> Iterator[int]:
    """The lock file ``path`` opened for ``flock`` (created with ``mode`` if missing). Opened
    read-only: a lock needs no write access, so an account that can read it can take it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        with contextlib.suppress(OSError):
            fit_mode(fd, mode)
        yield fd
    finally:
        os.close(fd)


def group_id(group: str) -> int:
    """The id of the Unix group named ``group``, or a sentence."""
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigError(f"there is no Unix group named {group!r} on this machine "
                          "(getent group lists them; an administrator creates one with "
                          "groupadd)") from None


def share_folder(folder: Path, group: str, files: Iterable[Path] = ()) -> None:
    """Make ``folder`` (created if missing) the group's shared run folder, and the ``files``
    already in it that this account owns the group's too (a run that starts being shared)."""
    gid = group_id(group)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, -1, gid)
        os.chmod(folder, SHARED_DIR_MODE)  # guard: shared-folder-setgid
        for path in files:
            with contextlib.suppress(FileNotFoundError):
                info = os.stat(path)
                if info.st_uid != os.geteuid():
                    continue  # a teammate's file: theirs to change
                os.chown(path, -1, gid)
                wanted = SHARED_DIR_MODE if stat.S_ISDIR(info.st_mode) else SHARED_FILE_MODE
                os.chmod(path, wanted)
    except PermissionError as exc:
        raise ConfigError(f"cannot share {exc.filename or folder} with the group {group!r}: "
                          "you must own it and be a member of the group (id -Gn lists "
                          "yours)") from None
    except OSError as exc:
        raise ConfigError(f"cannot share {folder} with the group {group!r}: "
                          f"{exc.strerror}") from None


def run_files(record: Path) -> list[Path]:
    """The files of the run ``record`` beside it: the record, its lock, its journal, its
    presence folder and the watcher's store."""
    from .journal import journal_path
    from .monitor.store import store_path
    from .presence import presence_dir

    return [record, record.with_name(record.name + ".lock"), journal_path(record),
            presence_dir(record), store_path(record)]
