"""Following the run's journal (``journal.py``) live: what another operator's process started,
printed and finished, for a wizard or an observer that did not run it.

``JournalFollower.read`` takes the entries appended since the last call (from the start of the
file the first time, a chunk at a time; a line still being written waits for the next call);
``judge`` keeps what this process did not write itself; ``poll`` is both. ``own_started`` is
told, synchronously, of every step this process's engine starts, so the journal's ``started``
entry of such a step — and the output that follows it — is recognised as ours and left out,
even when two sessions of one process (the tests) or of one person share an operator name and
an account. Text is as the journal holds it: masked by the engine that wrote it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .journal import unix_account

CHUNK = 1024 * 1024  # read at most this much per step of a poll
FOLLOWED = ("started", "output", "finished", "skip")


@dataclass(frozen=True)
class Followed:
    """One thing another process did to a step, as its journal entry says."""

    kind: str  # "started", "output", "finished" or "skip"
    step: str
    operator: str
    account: str
    text: str  # the title (started), the lines (output), "<state>: <summary>" (finished)
    at: str

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


class JournalFollower:
    """One process's reader of one run's journal."""

    def __init__(self, path: str | Path, operator: str, account: str | None = None) -> None:
        self.path = Path(path)
        self.operator = operator
        self.account = unix_account() if account is None else account
        self.offset = 0
        self._inode: int | None = None
        self._own_starts: Counter[str] = Counter()  # steps this process's engine started
        self._matched: Counter[str] = Counter()  # … and whose ``started`` entry was read
        self._ours: set[str] = set()  # steps whose latest start was this process's

    def own_started(self, step_id: str) -> None:
        """This process's engine started ``step_id`` (its ``started`` entry is written)."""
        self._own_starts[step_id] += 1

    def poll(self) -> list[Followed]:
        """What other processes did since the last poll, oldest first."""
        return self.judge(self.read())

    def judge(self, entries: list[dict[str, Any]]) -> list[Followed]:
        """Of ``entries`` (``read``), what other processes did. Called on the thread that runs
        the engine (a wizard reads in a worker thread and judges on its event loop), so every
        ``own_started`` of an entry read is already counted."""
        return [item for entry in entries if (item := self._judge(entry)) is not None]

    def read(self) -> list[dict[str, Any]]:
        """The complete entries appended since the last read (a journal replaced by another
        file, or cut shorter, is read again from its start)."""
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return []
        entries: list[dict[str, Any]] = []
        with handle:
            info = os.fstat(handle.fileno())
            if info.st_ino != self._inode or info.st_size < self.offset:
                self._inode, self.offset = info.st_ino, 0
            while True:
                handle.seek(self.offset)
                raw = handle.read(CHUNK)
                complete = raw.rfind(b"\n") + 1
                if complete == 0:
                    break  # nothing new, or a line still being written: next time
                for line in raw[:complete].split(b"\n")[:-1]:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue  # not an entry: ``--verify`` names it
                    if isinstance(entry, dict):
                        entries.append(entry)
                self.offset += complete
                if len(raw) < CHUNK:
                    break
        return entries

    def _judge(self, entry: dict[str, Any]) -> Followed | None:
        kind, step = entry.get("kind"), entry.get("step")
        if kind not in FOLLOWED or not isinstance(step, str) or not step:
            return None
        operator, account = str(entry.get("operator", "")), str(entry.get("account", ""))
        if kind == "started":
            mine = (operator, account) == (self.operator, self.account) and \
                self._matched[step] < self._own_starts[step]
            if mine:
                self._matched[step] += 1
                self._ours.add(step)
                return None
            self._ours.discard(step)
        elif step in self._ours:
            return None
        return Followed(str(kind), step, operator, account, str(entry.get("text", "")),
                        str(entry.get("at", "")))
