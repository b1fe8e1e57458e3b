"""How a command runs on a host, as shell text sent over SSH, and what comes back.

The login shell prints its own PID (the command's process group: sshd starts each session in a
new session), then becomes ``timeout``, which runs the command in ``bash -c`` and kills the
whole group if we vanish without stopping it ourselves. When we stop watching a command we kill
that group over a second channel with ``kill_group_command``: OpenSSH sends nothing when a
channel closes, and refuses the SSH "signal" request for root logins.

No asyncssh here: the step kinds and the transport Protocols use ``RunResult`` without it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

GROUP_MARK = "cutover-process-group="
STOP_GRACE_SECONDS = 2
REMOTE_DEADLINE_MARGIN = 10


def remote_command(command: str, limit: float) -> str:
    deadline = int(limit) + REMOTE_DEADLINE_MARGIN
    quoted = shlex.quote(command)
    return (f"echo {GROUP_MARK}$$; if command -v timeout >/dev/null 2>&1; then "
            f"exec timeout -k {STOP_GRACE_SECONDS} {deadline} bash -c {quoted}; "
            f"else exec bash -c {quoted}; fi")


def kill_group_command(group: int) -> str:
    polls = int(STOP_GRACE_SECONDS / 0.1)
    return (f"kill -TERM -- -{group} 2>/dev/null || exit 0; i=0; "
            f"while [ $i -lt {polls} ]; do kill -0 -- -{group} 2>/dev/null || exit 0; "
            f"sleep 0.1; i=$((i+1)); done; kill -KILL -- -{group} 2>/dev/null; exit 0")


@dataclass
class RunResult:
    exit_status: int | None
    output: str
    seconds: float
    timed_out: bool = False
