"""Reading a run's journal (``journal.py``) back: ``cutover review RECORD --verify`` walks the
chain and compares the record with the last hash the journal recorded of it; ``--journal``
prints the entries for a person.

``verify`` names the first entry that does not match, in the order a reader meets them: a line
that is no entry (not JSON, fields missing), an entry edited (its hash), an entry removed or
inserted before it (its ``seq``, then its ``prev``), and last the record itself changed outside
the tool (its sha256 is not the one of the journal's last ``checklist`` entry). The record and
the journal are read under shared locks (the checklist's and the journal's), so a writer
between the two reads cannot make a live run look tampered with.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import ChecklistError
from .journal import FIELDS, Entry, encode, journal_path, sha256

TEXT_FIELDS = ("at", "kind", "step", "operator", "account", "text", "prev", "hash")


@dataclass(frozen=True)
class JournalCheck:
    """What ``verify`` found: intact, or the first thing that does not match."""

    ok: bool
    entries: int
    problem: str = ""

    def sentence(self) -> str:
        if self.ok:
            return f"intact: {self.entries} entries, chain and record match"
        return f"not intact: {self.problem}"


@contextlib.contextmanager
def _shared_lock(path: Path) -> Iterator[IO[bytes] | None]:
    """A shared ``flock`` on ``path`` while the caller reads (None when there is no such file:
    nobody has written under that lock, or it cannot be opened here)."""
    try:
        handle = path.open("rb")
    except OSError:
        yield None
        return
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        try:
            yield handle
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_run(record: Path) -> tuple[bytes, bytes | None]:
    """The record's bytes and its journal's (None when it has none), read consistently."""
    lock = record.with_name(record.name + ".lock")
    try:
        with _shared_lock(lock), _shared_lock(journal_path(record)) as journal:
            raw_journal = journal.read() if journal is not None else None
            raw_record = record.read_bytes()
    except FileNotFoundError:
        raise ChecklistError(f"no checklist at {record}") from None
    except OSError as exc:
        raise ChecklistError(f"cannot read {record} or its journal: {exc.strerror}") from None
    return raw_record, raw_journal


def _not_an_entry(line: bytes) -> str:
    """Why ``line`` is not a journal entry, or "" when it is one (by its shape)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return "not JSON"
    if not isinstance(entry, dict):
        return "not a JSON object"
    if list(entry) != list(FIELDS):
        return f"its fields are {', '.join(map(str, entry)) or 'none'}, not {', '.join(FIELDS)}"
    seq = entry["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not all(
            isinstance(entry[name], str) for name in TEXT_FIELDS):
        return "a field of the wrong type"
    return ""


def check_chain(raw: bytes) -> tuple[list[Entry], str]:
    """The journal's entries, and the first problem of its chain ("" when there is none)."""
    lines = raw.split(b"\n")
    entries: list[Entry] = []
    previous: bytes | None = None
    for number, line in enumerate(lines[:-1], start=1):
        why = _not_an_entry(line)
        if why:
            return entries, f"line {number} is not a journal entry: {why}"
        entry: dict[str, Any] = json.loads(line)
        seq = entry["seq"]
        content = {key: value for key, value in entry.items() if key != "hash"}
        if sha256(encode(content)) != entry["hash"]:  # guard: journal-entry-hash
            return entries, (f"entry {seq} (line {number}) was edited: its content does not "
                             "match its hash")
        expected = entries[-1]["seq"] + 1 if entries else 1
        if seq != expected:  # guard: journal-seq
            what = (f"{seq - expected} entr{'y' if seq - expected == 1 else 'ies'} removed"
                    if seq > expected else "a line inserted")
            return entries, (f"entry {seq} (line {number}) should be entry {expected}: "
                             f"{what} before it")
        if entry["prev"] != (sha256(previous) if previous is not None else ""):  # guard: journal-prev
            return entries, (f"entry {seq} (line {number}) does not follow the line before "
                             "it (its prev is not that line's sha256): the line before was "
                             "edited, or a line was removed or inserted")
        entries.append(entry)
        previous = line
    if lines[-1]:
        return entries, (f"line {len(lines)} is cut short (it does not end a line): written "
                         "partly, or edited")
    return entries, ""


def verify(record: str | Path) -> JournalCheck:
    """Check the run record ``record`` against its journal."""
    record = Path(record)
    raw_record, raw_journal = read_run(record)
    if raw_journal is None:
        return JournalCheck(False, 0, f"no journal at {journal_path(record)}: the run was "
                                      "recorded without one, or it was removed")
    entries, problem = check_chain(raw_journal)
    if problem:
        return JournalCheck(False, len(entries), problem)
    written = [entry for entry in entries if entry["kind"] == "checklist"]
    if not written:
        return JournalCheck(False, len(entries), "the record was changed outside the tool: the "
                                                 "journal records no write of it")
    last = written[-1]
    actual = sha256(raw_record)
    if actual != last["text"]:  # guard: journal-record-hash
        return JournalCheck(False, len(entries), (
            f"the record was changed outside the tool: its sha256 is {actual[:16]}…, the "
            f"journal's last write of it (entry {last['seq']}, {last['at']}, "
            f"{last['operator']}) recorded {last['text'][:16]}… (or the journal's last "
            "entries were removed)"))
    missing = _unjournalled_steps(raw_record, entries)
    if missing:  # guard: journal-started-with-record
        return JournalCheck(False, len(entries), (
            f"the record holds step {missing[0]} as run, but the journal never saw it start"
            + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ": the journal was removed and started again, or the step was recorded by hand"))
    return JournalCheck(True, len(entries))


def _unjournalled_steps(raw_record: bytes, entries: list[Entry]) -> list[str]:
    """Steps the record (archived attempts too) shows as run or skipped that have no
    ``started`` / ``skip`` entry in the journal."""
    import tomllib

    try:
        data = tomllib.loads(raw_record.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    tables = list((data.get("steps") or {}).items())
    for attempt in (data.get("attempts") or {}).values():
        if isinstance(attempt, dict):
            tables += list((attempt.get("steps") or {}).items())
    seen = {entry["step"] for entry in entries if entry["kind"] in ("started", "skip")}
    ran = ("done", "failed", "interrupted", "running", "skipped")
    return sorted({step for step, table in tables
                   if isinstance(table, dict) and table.get("state") in ran and step not in seen})


def render_journal(record: str | Path) -> str:
    """The journal for a person: one line per entry, an entry's further lines indented."""
    _, raw = read_run(Path(record))
    if raw is None:
        raise ChecklistError(f"no journal at {journal_path(record)}")
    out = []
    for number, line in enumerate(raw.split(b"\n")[:-1], start=1):
        if _not_an_entry(line):
            out.append(f"{'?':>6} line {number} is not a journal entry: "
                       f"{line[:120].decode('utf-8', 'replace')}")
            continue
        entry = json.loads(line)
        text = entry["text"].split("\n")
        if entry["kind"] == "checklist":
            text = [f"record written, sha256 {entry['text']}"]
        who = entry["operator"] + (f" ({entry['account']})"
                                   if entry["account"] != entry["operator"] else "")
        step = f" {entry['step']}" if entry["step"] else ""
        out.append(f"{entry['seq']:>6} {entry['at']} {who} {entry['kind']}{step}: {text[0]}")
        out += [f"{'':>8}{rest}" for rest in text[1:]]
    return "\n".join(out)
