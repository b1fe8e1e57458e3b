"""A download's blocks, arriving in any order, written to the local file and hashed in order: the
one pass over the bytes that replaces a download followed by a second read to hash the file.

SFTP reads go out several at a time and come back in any order. ``InOrder.add`` keeps a block
until the bytes before it have come (at most the reads in flight wait: bounded memory), then
writes and hashes the run of blocks now in order. It does so on the event loop's thread: on
loopback the loop spends a good part of a download waiting for the server, and hashing there
measured faster than handing the blocks to a worker thread (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any


class InOrder:
    """Write and hash a file's blocks in order, whatever order they arrive in: ``add`` each
    block, then ``sha256``."""

    def __init__(self, out: Any, progress: Callable[[int, int], None] | None = None,
                 size: int | None = None) -> None:
        self.out = out  # a binary file, written from the start
        self.progress = progress
        self.size = size
        self.done = 0  # bytes written and hashed, from the start
        self.digest = hashlib.sha256()
        self.early: dict[int, bytes] = {}  # offset → a block that came before the ones ahead

    def add(self, offset: int, data: bytes) -> None:
        self.early[offset] = data
        while self.done in self.early:
            block = self.early.pop(self.done)
            self.out.write(block)
            self.digest.update(block)
            self.done += len(block)
        if self.progress is not None:
            self.progress(self.done, max(self.size or 0, self.done))

    def sha256(self, name: str) -> str:
        """The hash of everything, once it has all come."""
        if self.early:
            raise OSError(f"the download of {name} has a gap at byte {self.done}")
        return self.digest.hexdigest()
