"""The one exception tree of the core. The CLI and the UI catch ``CutoverError`` and show its
message as a sentence; anything else escaping is a bug. ``cause_of`` turns a failed command's
stderr into the line of such a sentence that names the cause.

    CutoverError
    ├── RunbookError            the runbook file cannot be read or is invalid (carries every problem)
    ├── ChecklistError          the run record cannot be read, written or locked
    ├── ConfigError             bad command-line input: overrides, answers file, missing token
    │   └── NoWizard            no wizard (UI) is installed to show a run: use --headless
    ├── NetworkPolicyError      a connection to a non-loopback address while CUTOVER_LOOPBACK_ONLY=1
    ├── TransportError          a remote system could not be reached or misbehaved
    │   ├── SSHError            connect, authentication, host key, channel failures
    │   │   └── HostKeyError    unknown key refused by the operator, or a changed key
    │   ├── HTTPError           an HTTP request could not be made (refused, timeout)
    │   └── DropletAPIError     the DigitalOcean API refused or failed a call
    │       └── DropletNotFound the droplet does not exist (any more)
    ├── EnvFileError            a .env file cannot be edited safely (drift, hash mismatch)
    ├── GateClosed              a phase or step precondition does not hold (backup, monitoring, ...)
    └── OperatorAborted         the operator declined or cancelled a confirmation
"""

from __future__ import annotations

import re


class CutoverError(Exception):
    """Base of every error the core raises on purpose; its message is a sentence for the user."""


class RunbookError(CutoverError):
    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


class ChecklistError(CutoverError):
    pass


class ConfigError(CutoverError):
    pass


class NoWizard(ConfigError):
    """Nothing declares the ``cutover.ui`` entry point, or what does cannot be imported."""


class NetworkPolicyError(CutoverError):
    pass


class TransportError(CutoverError):
    pass


class SSHError(TransportError):
    pass


class HostKeyError(SSHError):
    pass


class HTTPError(TransportError):
    """No HTTP answer. ``connected``: the server took the connection and then said nothing in
    time (a hung handler), as opposed to refused, unreachable or timed out connecting."""

    def __init__(self, message: str, connected: bool = False) -> None:
        super().__init__(message)
        self.connected = connected


class DropletAPIError(TransportError):
    pass


class DropletNotFound(DropletAPIError):
    pass


class EnvFileError(CutoverError):
    pass


class GateClosed(CutoverError):
    pass


class OperatorAborted(CutoverError):
    pass


# A line that names an error: "fatal: …", "error: …", "remote: error: …", "pg_restore: error: …",
# "psql:<stdin>:12: ERROR: …" — the word after at most three "prefix:" parts.
_CAUSE_LINE = re.compile(r"^(?:[^\s:]+:\s*){0,3}(?:fatal|error|panic)\s*:", re.IGNORECASE)


def cause_of(output: str, limit: int = 3, width: int = 300) -> str:
    """What a failed command's stderr (or merged output) says went wrong, as one line: its first
    ``fatal:`` / ``error:`` lines, else its first and last lines (``hint:`` advice left out when
    there is anything else) — never a lone line of advice from the end."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    named = [line for line in lines if _CAUSE_LINE.match(line)]
    if named:
        return " / ".join(_clip(line, width) for line in dict.fromkeys(named[:limit]))
    useful = [line for line in lines if not line.lower().startswith("hint:")] or lines
    if not useful:
        return "no output"
    if len(useful) == 1:
        return _clip(useful[0], width)
    return f"{_clip(useful[0], width)} … {_clip(useful[-1], width)}"


def _clip(line: str, width: int) -> str:
    return line if len(line) <= width else line[:width - 1] + "…"
