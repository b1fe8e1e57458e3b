"""Who else has the run open: every wizard and observer announces itself through a small file
in the run record's folder, ``<record>.presence/<account>-<pid>.json`` (its operator name, Unix
account, role, what it looks at, and a heartbeat), written again every ``BEAT_SECONDS`` and
removed when it closes. Reading the folder tells each of them who else is here.

- Heartbeats are wall-clock time (``time.time``), not the run's clock: a rehearsal moves its
  clock days ahead, and presence is about who is at a keyboard now.
- Someone whose heartbeat is older than ``AWAY_SECONDS`` is shown as away; a file older than
  ``FORGET_SECONDS``, or one whose process is gone from this host, is not shown at all (a
  wizard killed with SIGKILL cannot remove its file).
- A presence file is written by its owner only: ``0640`` in a folder shared by a group,
  ``0600`` elsewhere (``sharing.py``). It is written whole (a temporary file renamed over it),
  so a reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .journal import unix_account
from .sharing import OWNER_WRITES_MODE, SHARED_DIR_MODE, is_shared

BEAT_SECONDS = 5.0  # how often an open wizard writes its heartbeat
AWAY_SECONDS = 30.0  # quiet longer than this: shown as away
FORGET_SECONDS = 600.0  # quiet longer than this: not shown (a machine that went away)
ROLES = ("operator", "observer")


def presence_dir(record: str | Path) -> Path:
    """The presence folder of the run record ``record``: ``run.toml`` → ``run.toml.presence``."""
    record = Path(record)
    return record.with_name(record.name + ".presence")


@dataclass(frozen=True)
class Presence:
    """One open wizard or observer, as its file says."""

    operator: str
    account: str
    role: str  # "operator" or "observer"
    phase: str = ""  # the phase it shows ("" before it shows one)
    step: str = ""  # the step selected there
    heartbeat: float = 0.0  # wall-clock seconds of its last beat
    host: str = ""
    pid: int = 0

    def away(self, now: float) -> bool:
        return now - self.heartbeat > AWAY_SECONDS

    def label(self, now: float) -> str:
        """How the header shows it: ``ops-a · operator · phase 6``, ``ops-b · observer``,
        ``ops-c · operator · away``."""
        parts = [self.operator, self.role]
        if self.away(now):
            parts.append("away")
        elif self.phase:
            parts.append(f"phase {self.phase}")
        return " · ".join(parts)

    @classmethod
    def from_json(cls, raw: bytes) -> Presence | None:
        """The presence a file holds, or None when it is not one (half-written, hand-made)."""
        try:
            data: Any = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        texts = ("operator", "account", "role", "phase", "step", "host")
        if any(not isinstance(data.get(key, ""), str) for key in texts):
            return None
        beat, pid = data.get("heartbeat"), data.get("pid", 0)
        if not isinstance(beat, int | float) or not isinstance(pid, int) or \
                data.get("role") not in ROLES or not data.get("operator"):
            return None
        return cls(**{key: data.get(key, "") for key in texts}, heartbeat=float(beat), pid=pid)


def _process_gone(presence: Presence) -> bool:
    """Whether its process is known to be gone (only a process on this host can be asked)."""
    if presence.host != socket.gethostname() or presence.pid <= 0:
        return False
    try:
        os.kill(presence.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another account's live process
    return False


class Announcer:
    """This process's presence file for one run."""

    def __init__(self, record: str | Path, operator: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"a presence role is one of {ROLES}, not {role!r}")
        self.folder = presence_dir(record)
        self.account = unix_account()
        self.pid = os.getpid()
        self.path = self.folder / f"{self.account}-{self.pid}.json"
        self.me = Presence(operator, self.account, role, host=socket.gethostname(),
                           pid=self.pid)

    def beat(self, phase: str = "", step: str = "", now: float | None = None) -> Presence:
        """Write the heartbeat: what this process looks at, and when it last said so."""
        self.me = Presence(**{**asdict(self.me), "phase": phase, "step": step,
                              "heartbeat": time.time() if now is None else now})
        shared = self._ensure_folder()
        payload = json.dumps(asdict(self.me), separators=(",", ":")).encode()
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), OWNER_WRITES_MODE if shared else 0o600)
                handle.write(payload)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return self.me

    def _ensure_folder(self) -> bool:
        """The presence folder, made like the run's folder: shared by its group or private."""
        shared = is_shared(self.folder.parent)
        try:
            self.folder.mkdir(mode=0o700)
        except FileExistsError:
            return shared
        os.chmod(self.folder, SHARED_DIR_MODE if shared else 0o700)
        return shared

    def leave(self) -> None:
        """Remove the presence file (the wizard closes)."""
        with contextlib.suppress(OSError):
            self.path.unlink()

    def others(self, now: float | None = None) -> list[Presence]:
        """Everyone else who has this run open, by operator name then account."""
        return others_present(self.folder, now, exclude=self.path.name)


def others_present(folder: Path, now: float | None = None,
                   exclude: str = "") -> list[Presence]:
    """The presences in ``folder`` (but the file named ``exclude``) worth showing: not silent
    for longer than ``FORGET_SECONDS`` and not of a process gone from this host."""
    now = time.time() if now is None else now
    found = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    for name in names:
        if not name.endswith(".json") or name == exclude:
            continue
        try:
            presence = Presence.from_json((folder / name).read_bytes())
        except OSError:
            continue  # removed meanwhile, or not ours to read
        if presence is None or now - presence.heartbeat > FORGET_SECONDS:
            continue
        if _process_gone(presence):
            continue
        found.append(presence)
    return sorted(found, key=lambda p: (p.operator, p.account, p.pid))
