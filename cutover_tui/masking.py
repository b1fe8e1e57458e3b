"""Secret masking for everything the tool shows, logs or records.

Every line of text goes through these layers, in order:

1. values the run has learnt are secret (read from a ``.env``, the tool's own credentials),
   wherever they appear — with their URL-decoded, URL-encoded and JSON-escaped forms, and
   each line of a multi-line value (a private key in a ``.env``);
2. passwords inside URLs (``postgresql://user:secret@host/db``);
3. ``Authorization:`` headers and ``Bearer`` tokens;
4. values of secret-looking keys: ``DB_PASSWORD=…``, ``SMTP_PASS: …``, ``"OPENAI_API_KEY":
   "…"``, quoted values with spaces;
5. after a resume, values an earlier session learnt (see *Resume* below).

Some secrets span lines: the body of a ``-----BEGIN … PRIVATE KEY-----`` block, a ``.env``
value whose quote closes on a later line, a YAML block scalar (``private_key: |``) under a
secret key. A masker called on a whole text follows them across its lines; for text that
arrives a line at a time, ``Masker.stream()`` gives a masker that remembers where it is.

Fingerprints. A secret that changed is shown as ``•••••• (sha256:1a2b3c4d)``: HMAC-SHA256 of
the value keyed by the run's random salt (kept in the checklist, so fingerprints stay the same
across a resume of one run, and differ between runs: no precomputed table, no correlating two
runs' secrets).

Resume. The checklist never holds a learnt value. It holds, per value, its length and a 64-bit
salted fingerprint (``"12:0123456789abcdef"``). A resumed session matches every candidate
token — a substring of one of those lengths that starts and ends where a word does — against
them, masks a match and learns it again. A value is re-learnt the moment its source is read
again too (``.env`` files are read by the steps that need them). What this cannot see: a
learnt value glued inside a longer word, before it has been read again in this session.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_plus

MASK = "••••••"
MIN_SECRET = 4  # shorter learnt values would mask ordinary words
SECRET_KEY = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|PRIVATE|APIKEY|COOKIE"
    r"|(^|[_.-])KEY($|[_.-])|(^|[_.-])DSN$|[_.-](PASS|PAT|PWD|AUTH)$)",
    re.IGNORECASE,
)
# scheme://user:PASSWORD@host — the password runs to the last '@' before the host.
URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^\s/]+)(?=@)")
# KEY=value, KEY: value, "KEY": "value", KEY="quoted value" (an unclosed quote runs to the end).
ASSIGNMENT = re.compile(
    r"""(?P<key>(?<![\w.])[A-Za-z_][A-Za-z0-9_.-]*)(?P<kq>["']?)(?P<sep>[ \t]*[=:][ \t]*)"""
    r"""(?:(?P<q>["'])(?P<qval>(?:\\.|(?!(?P=q))[^\\])*)(?P<qend>(?P=q)|$)"""
    r"""|(?P<val>[^\s'",;}\])]+))"""
)
AUTH_HEADER = re.compile(
    r"""(?P<head>\b(?:Proxy-)?Authorization["']?[ \t]*[:=][ \t]*["']?"""
    r"""(?:(?:Bearer|Basic|Token|Digest|Bot|Negotiate|NTLM|ApiKey|Key)[ \t]+)?)"""
    r"""(?P<cred>[^"'\s][^"'\n]*)""",
    re.IGNORECASE,
)
BEARER = re.compile(r"(?P<head>\bBearer[ \t]+)(?P<cred>[A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)
PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
# A .env line whose quoted value goes on past the end of the line.
ENV_OPEN = re.compile(r"""^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(?P<q>["'])""")
YAML_BLOCK = re.compile(
    r"""^(?P<indent>\s*)["']?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)["']?\s*:\s*[|>][-+0-9]*\s*$""")
_LEADING = re.compile(r"^\s*")  # the indentation of a key in a YAML or a code block
# Where a candidate token may start or end: anywhere but between two letters or digits.
_EDGE = re.compile(r"(?<![A-Za-z0-9])|(?![A-Za-z0-9])")

_run_salt = os.urandom(16)  # the process's until a session sets the run's (session.py)


def new_salt() -> bytes:
    return os.urandom(16)


def use_salt(salt: bytes) -> None:
    """Fingerprints shown from now on are keyed by ``salt`` (the run's, from its checklist)."""
    global _run_salt
    _run_salt = salt


def _digest(salt: bytes, value: str) -> str:
    return hmac.digest(salt, value.encode(), "sha256").hex()


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY.search(key))


def fingerprint(value: str) -> str:
    """A short salted hash that shows *that* a secret changed without showing it."""
    return _digest(_run_salt, value)[:8]


def mask_url_passwords(text: str) -> str:
    return URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def mask_value(key: str, value: str) -> str:
    """How a ``.env`` value is shown: masked whole for secret keys, URL passwords always."""
    if is_secret_key(key) and value:
        return f"{MASK} (sha256:{fingerprint(value)})"
    return mask_url_passwords(value)


def secret_forms(value: str) -> set[str]:
    """The texts under which a secret value may show up: itself, the password of a URL in it,
    each line of a multi-line value, and their URL-decoded, URL-encoded and JSON-escaped forms."""
    base = {value}
    base.update(m.group("pw") for m in URL_PASSWORD.finditer(value))
    if "\n" in value:
        base.update(line.strip() for line in value.splitlines())
    forms: set[str] = set()
    for text in base:
        forms.update((text, unquote(text), unquote_plus(text), quote(text, safe=""),
                      json.dumps(text)[1:-1]))
    return {text for text in forms if len(text.strip()) >= MIN_SECRET}


def holds_secret(key: str, value: str) -> bool:
    """Whether a ``.env`` entry is a secret: its key says so, or its value holds a URL password
    or a private key."""
    return bool(value) and (is_secret_key(key) or bool(URL_PASSWORD.search(value))
                            or bool(PEM_BEGIN.search(value)))


@dataclass
class _Lines:
    """Where a masker is between lines: inside a private key, a quoted value or a YAML block."""

    block: bool = False
    quote: str = ""
    indent: int = -1


class Masker:
    """Masks known secret values and secret-looking patterns in free text."""

    def __init__(self, salt: bytes | None = None) -> None:
        self.salt = salt or new_salt()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._known: dict[int, set[str]] = {}  # restored fingerprints, by length
        # Called with the fingerprint entries of newly learnt values (session.py records them).
        self.on_learn: Callable[[list[str]], None] | None = None

    # ------------------------------------------------------------------ learning

    def learn(self, value: str, remember: bool = True) -> None:
        """From now on mask ``value`` and its other forms (``secret_forms``); unless
        ``remember`` is false, hand their fingerprints to ``on_learn`` for the checklist."""
        if not value or len(value.strip()) < MIN_SECRET:
            return
        new = secret_forms(value) - self._secrets
        if not new:
            return
        self._secrets |= new  # guard: masking-learnt-values
        self._pattern = None
        if remember and self.on_learn is not None:
            self.on_learn(self.entries(new))

    def learn_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            if holds_secret(key, value or ""):
                self.learn(value)

    def entry(self, value: str) -> str:
        """What the checklist keeps of a learnt value: its length and a salted fingerprint."""
        return f"{len(value)}:{_digest(self.salt, value)[:16]}"

    def entries(self, values: Iterable[str]) -> list[str]:
        return sorted(self.entry(value) for value in values)

    def restore(self, salt: bytes, entries: Iterable[str]) -> None:
        """Take the run's salt and the fingerprints an earlier session recorded."""
        self.salt = salt
        self._known = {}
        for item in entries:
            length, _, digest = str(item).partition(":")
            if length.isdigit() and int(length) >= MIN_SECRET and len(digest) == 16:
                self._known.setdefault(int(length), set()).add(digest)

    # ------------------------------------------------------------------ masking

    def __call__(self, text: str) -> str:
        if not text:
            return text
        state = _Lines()
        return "\n".join(self._line(line, state) for line in text.split("\n"))

    def stream(self) -> Callable[[str], str]:
        """A masker for text that arrives a line at a time: it remembers, from one line to the
        next, that it is inside a private key or a multi-line value."""
        state = _Lines()

        def mask(text: str) -> str:
            if not text:
                return text
            return "\n".join(self._line(line, state) for line in text.split("\n"))

        return mask

    def _line(self, line: str, state: _Lines) -> str:
        if state.quote:
            end = line.find(state.quote)
            if end < 0:
                return MASK
            state.quote = ""
            return MASK + self._mask(line[end:])
        if state.indent >= 0:
            indent = len(line) - len(line.lstrip())
            if not line.strip() or indent > state.indent:
                return line[:indent] + MASK if line.strip() else line
            state.indent = -1
        if state.block:
            if PEM_END.search(line):
                state.block = False
                return self._mask(line)
            return _LEADING.match(line).group(0) + MASK  # type: ignore[union-attr]
        masked = self._mask(line)
        opened = ENV_OPEN.match(line)
        if opened and is_secret_key(opened.group("key")) and \
                opened.group("q") not in _unescaped(line[opened.end():]):
            state.quote = opened.group("q")
        elif (begin := PEM_BEGIN.search(line)) and not PEM_END.search(line, begin.end()):
            state.block = True
        elif (block := YAML_BLOCK.match(line)) and is_secret_key(block.group("key")):
            state.indent = len(block.group("indent"))
        return masked

    def _mask(self, text: str) -> str:
        """One line, no state: learnt values, then the patterns."""
        text = self._replace_learnt(text)
        text = mask_url_passwords(text)  # guard: masking-url-passwords
        text = AUTH_HEADER.sub(lambda m: m.group("head") + MASK, text)
        text = BEARER.sub(lambda m: m.group("head") + MASK, text)
        text = ASSIGNMENT.sub(_assignment, text)
        if self._known:
            text = self._match_known(text)
        return text

    def _match_known(self, text: str) -> str:
        """Mask (and learn again) the tokens whose salted fingerprint an earlier session of
        this run recorded."""
        edges = [m.start() for m in _EDGE.finditer(text)]
        ends = set(edges)
        found: list[tuple[int, int]] = []
        for start in edges:
            if start >= len(text) or text[start].isspace():
                continue
            for length, digests in self._known.items():
                end = start + length
                if end in ends and not text[end - 1].isspace() and \
                        _digest(self.salt, text[start:end])[:16] in digests:
                    found.append((start, end))
        for start, end in found:
            self.learn(text[start:end], remember=False)
        return self._replace_learnt(text) if found else text

    def _replace_learnt(self, text: str) -> str:
        if not self._secrets:
            return text
        if self._pattern is None:
            self._pattern = re.compile("|".join(
                re.escape(s) for s in sorted(self._secrets, key=len, reverse=True)))
        return self._pattern.sub(MASK, text)


def _unescaped(text: str) -> str:
    return re.sub(r"\\.", "", text)


def _assignment(m: re.Match[str]) -> str:
    if not is_secret_key(m.group("key")):
        return m.group(0)
    head = f"{m.group('key')}{m.group('kq')}{m.group('sep')}"
    if m.group("q"):
        if m.group("qval") in ("", MASK) or m.group("qval").startswith(MASK):
            return m.group(0)
        return f"{head}{m.group('q')}{MASK}{m.group('qend')}"
    if m.group("val").startswith(MASK):
        return m.group(0)
    return f"{head}{MASK}"
