""".env files: parse, edit and render without disturbing anything we did not change.

Parsing is python-dotenv's own parser (``dotenv.parser.parse_stream``), so values are read the
way the application reads them. Each binding keeps its original text; only a line we set is
rewritten, keeping its ``export`` prefix, quoting style and trailing comment. Malformed lines
are kept verbatim and reported. Diffs are computed on the rendered text and masked line by line.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from dotenv.parser import parse_stream

from .masking import fingerprint, is_secret_key, mask_value

_ASSIGN = re.compile(r"\A(?P<lead>\s*)(?P<export>export\s+)?(?P<key>[^=\s]+)(?P<sep>[ \t]*=[ \t]*)"
                     r"(?P<rest>[^\r\n]*?)(?P<nl>\r?\n?)\Z", re.DOTALL)


@dataclass(frozen=True)
class EnvEntry:
    text: str  # the exact original text, newlines included
    key: str | None
    value: str | None
    error: bool
    line: int


@dataclass(frozen=True)
class EnvFile:
    entries: tuple[EnvEntry, ...]

    @classmethod
    def parse(cls, text: str) -> EnvFile:
        entries = [
            EnvEntry(b.original.string, b.key, b.value, b.error, b.original.line)
            for b in parse_stream(io.StringIO(text))
        ]
        return cls(tuple(entries))

    def render(self) -> str:
        return "".join(entry.text for entry in self.entries)

    def sha256(self) -> str:
        return hashlib.sha256(self.render().encode()).hexdigest()

    @property
    def malformed(self) -> list[tuple[int, str]]:
        return [(e.line, e.text.strip("\n")) for e in self.entries if e.error]

    def values(self) -> dict[str, str]:
        """Key → value as python-dotenv's ``dotenv_values`` gives them (the last one wins)."""
        out: dict[str, str] = {}
        for entry in self.entries:
            if entry.key is not None and not entry.error:
                out[entry.key] = entry.value if entry.value is not None else ""
        return out

    def get(self, key: str) -> str | None:
        return self.values().get(key)

    def set(self, key: str, value: str) -> EnvFile:
        """Set ``key`` (its last binding, as that is the one that counts) or append it."""
        index = max((i for i, e in enumerate(self.entries) if e.key == key and not e.error),
                    default=None)
        entries = list(self.entries)
        if index is None:
            text = self.render()
            newline = "\n"
            newline = _line_ending(text) or newline  # guard: env-keep-eol
            prefix = "" if not text or text.endswith("\n") else newline
            new_text = f"{prefix}{key}={_quote(value, None)}{newline}"
            line = (entries[-1].line + entries[-1].text.count("\n")) if entries else 1
            entries.append(EnvEntry(new_text, key, value, False, line))
        else:
            old = entries[index]
            entries[index] = EnvEntry(_rewrite(old.text, key, value), key, value, False, old.line)
        return EnvFile(tuple(entries))

    def unset(self, key: str) -> EnvFile:
        kept = []
        for entry in self.entries:
            if entry.key == key and not entry.error:
                # Keep blank lines that python-dotenv attached in front of the binding.
                match = _ASSIGN.match(entry.text)
                lead = match.group("lead") if match else ""
                if lead:
                    kept.append(EnvEntry(lead, None, None, False, entry.line))
                continue
            kept.append(entry)
        return EnvFile(tuple(kept))


def _split_rest(rest: str) -> tuple[str | None, str, str]:
    """Split what follows ``=`` into (quote char or None, raw value, trailing text)."""
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        i = 1
        while i < len(rest):
            if rest[i] == "\\" and quote == '"':
                i += 2
                continue
            if rest[i] == quote:
                return quote, rest[1:i], rest[i + 1:]
            i += 1
        return quote, rest[1:], ""
    match = re.match(r"(.*?)(\s+#.*)?\Z", rest, re.DOTALL)
    assert match is not None
    return None, match.group(1), match.group(2) or ""


def _quote(value: str, quote: str | None) -> str:
    if quote == "'" and "'" not in value:
        return f"'{value}'"
    if quote is None and re.fullmatch(r"[^\s#'\"\\]*", value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _line_ending(text: str) -> str | None:
    """The file's line ending: CRLF where most lines end so, LF otherwise; None without any."""
    crlf, lf = text.count("\r\n"), text.count("\n")
    if not lf:
        return None
    return "\r\n" if crlf > lf - crlf else "\n"


def _rewrite(text: str, key: str, value: str) -> str:
    match = _ASSIGN.match(text)
    if not match:
        ending = text[len(text.rstrip("\r\n")):] or "\n"  # the line's own ending, kept
        return f"{key}={_quote(value, None)}{ending}"
    quote, _, trailing = _split_rest(match.group("rest"))
    return (f"{match.group('lead')}{match.group('export') or ''}{key}{match.group('sep')}"
            f"{_quote(value, quote)}{trailing}{match.group('nl') or ''}")


# ---------------------------------------------------------------------------- masked diffs


def masked_line(line: str) -> str:
    """One line of a .env as it may be shown: secret values replaced by a mask and a short hash."""
    match = _ASSIGN.match(line)
    if not match or line.lstrip().startswith("#"):
        return mask_value("", line)
    quote, raw, trailing = _split_rest(match.group("rest"))
    key = match.group("key")
    shown = mask_value(key, raw)
    if is_secret_key(key) and raw:
        shown = f"•••••• (sha256:{fingerprint(raw)})"
    q = quote or ""
    return (f"{match.group('lead').lstrip(chr(10))}{match.group('export') or ''}{key}"
            f"{match.group('sep')}{q}{shown}{q}{trailing}").rstrip("\n")


@dataclass(frozen=True)
class DiffRow:
    tag: str  # equal, changed, added, removed
    left_no: int | None
    left: str
    right_no: int | None
    right: str


@dataclass
class EnvDiff:
    path: str
    rows: list[DiffRow] = field(default_factory=list)
    old_sha256: str = ""
    new_sha256: str = ""
    # Unmasked, for an explicit reveal on screen only; never logged or recorded.
    raw_rows: list[DiffRow] = field(default_factory=list, repr=False)

    @property
    def changed(self) -> bool:
        return any(row.tag != "equal" for row in self.rows)

    def mask(self, masker: Callable[[str], str]) -> None:
        """Apply the run's masker (values it learnt: each line of a multi-line secret too) to
        every shown line, on top of the per-line masking."""
        self.rows = [replace(row, left=masker(row.left), right=masker(row.right))
                     for row in self.rows]

    def unified_lines(self) -> list[str]:
        out = []
        for row in self.rows:
            if row.tag in ("changed", "removed"):
                out.append(f"- {row.left}")
            if row.tag in ("changed", "added"):
                out.append(f"+ {row.right}")
        return out or ["(no changes)"]


def diff(path: str, old: str, new: str) -> EnvDiff:
    """A side-by-side diff of two .env texts, every line masked."""
    left, right = old.splitlines(), new.splitlines()
    result = EnvDiff(path, old_sha256=hashlib.sha256(old.encode()).hexdigest(),
                     new_sha256=hashlib.sha256(new.encode()).hexdigest())
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                result.rows.append(DiffRow("equal", i + 1, masked_line(left[i]), j + 1,
                                           masked_line(right[j])))
                result.raw_rows.append(DiffRow("equal", i + 1, left[i], j + 1, right[j]))
            continue
        pairs = max(a1 - a0, b1 - b0)
        for k in range(pairs):
            i, j = a0 + k, b0 + k
            has_left, has_right = i < a1, j < b1
            tag = "changed" if has_left and has_right else ("removed" if has_left else "added")
            result.rows.append(DiffRow(
                tag,
                i + 1 if has_left else None, masked_line(left[i]) if has_left else "",
                j + 1 if has_right else None, masked_line(right[j]) if has_right else "",
            ))
            result.raw_rows.append(DiffRow(
                tag, i + 1 if has_left else None, left[i] if has_left else "",
                j + 1 if has_right else None, right[j] if has_right else ""))
    return result
