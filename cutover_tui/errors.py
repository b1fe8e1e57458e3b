"""The one exception tree of the core. The CLI and the UI catch ``CutoverError`` and show its
message as a sentence; anything else escaping is a bug.

    CutoverError
    ├── RunbookError            the runbook file cannot be read or is invalid (carries every problem)
    ├── ChecklistError          the run record cannot be read, written or locked
    ├── ConfigError             bad command-line input: overrides, answers file, missing token
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


class NetworkPolicyError(CutoverError):
    pass


class TransportError(CutoverError):
    pass


class SSHError(TransportError):
    pass


class HostKeyError(SSHError):
    pass


class HTTPError(TransportError):
    pass


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
