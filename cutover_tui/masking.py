"""Secret masking for everything the tool shows, logs or records.

Three layers: values of keys that look secret (``DB_PASSWORD=...``), passwords inside URLs
(``postgresql://user:secret@host/db``), and any value the run has learnt is secret (read from a
``.env``), wherever it appears later in output."""

from __future__ import annotations

import hashlib
import re

MASK = "••••••"
SECRET_KEY = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|APIKEY|(^|_)KEY($|_)|(^|_)DSN$)",
    re.IGNORECASE,
)
URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)(?=@)")
ASSIGNMENT = re.compile(
    r"(?P<key>\b[A-Za-z_][A-Za-z0-9_]*)(?P<sep>\s*[=:]\s*)(?P<q>['\"]?)(?P<val>[^\s'\"]+)"
)


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY.search(key))


def fingerprint(value: str) -> str:
    """A short hash that shows *that* a secret changed without showing it."""
    return hashlib.sha256(value.encode()).hexdigest()[:8]


def mask_url_passwords(text: str) -> str:
    return URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def mask_value(key: str, value: str) -> str:
    """How a ``.env`` value is shown: masked whole for secret keys, URL passwords always."""
    if is_secret_key(key) and value:
        return f"{MASK} (sha256:{fingerprint(value)})"
    return mask_url_passwords(value)


class Masker:
    """Masks known secret values and secret-looking patterns in free text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def learn(self, value: str) -> None:
        if value and len(value) >= 4:
            self._secrets.add(value)
            # The password inside a URL is a secret of its own: it may appear alone later.
            for match in URL_PASSWORD.finditer(value):
                self._secrets.add(match.group("pw"))

    def learn_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            if is_secret_key(key) or URL_PASSWORD.search(value or ""):
                self.learn(value)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        text = mask_url_passwords(text)

        def assignment(m: re.Match[str]) -> str:
            if is_secret_key(m.group("key")) and m.group("val") != MASK:
                return f"{m.group('key')}{m.group('sep')}{m.group('q')}{MASK}"
            return m.group(0)

        return ASSIGNMENT.sub(assignment, text)
