"""What the core asks of each outside system, as small Protocols: the step kinds, the engine and
``open_session`` are typed with these, never with the classes that implement them, so a test
(or a rehearsal) can inject anything that answers the same calls.

| Protocol | implemented by | used by |
|---|---|---|
| ``SSHRunner`` | ``ssh.SSHPool`` (asyncssh) | ssh, services, backup, env_edit, droplet steps; preflight |
| ``WebClient`` | ``web.Web`` (httpx; takes an httpx transport) | http step, destroy preconditions |
| ``DropletsAPI`` | ``droplets.DropletAPI`` (pydo, blocking: call it from a thread) | droplet steps |

Nothing is imported at run time: the result types are only named in annotations, so this
module loads neither asyncssh, httpx nor pydo."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .commands import RunResult
    from .droplets import Droplet
    from .web import WebResult


class SSHRunner(Protocol):
    """Commands and files on the runbook's hosts, by host name."""

    async def run(self, name: str, command: str, *, on_line: Callable[[str], None] | None = None,
                  timeout: float = 120, stdin: str | None = None,
                  follow_seconds: float | None = None) -> RunResult:
        """Run ``command`` (stderr merged into stdout), streaming lines to ``on_line``; stop it
        after ``follow_seconds`` (not a failure) or ``timeout`` (``timed_out``)."""
        ...

    def sftp(self, name: str) -> AbstractAsyncContextManager[Any]:
        """An SFTP client (asyncssh's calls, each bounded in time) for ``async with``."""
        ...

    async def connection(self, name: str) -> object:
        """Connect now (or reuse the connection); ``SSHError`` when the host cannot be
        reached."""
        ...

    async def drop(self, name: str) -> None:
        """Forget the host's connection (after a power-off, or when it broke)."""
        ...

    async def close(self) -> None: ...


class WebClient(Protocol):
    """HTTP requests with a total deadline each."""

    async def request(self, method: str, url: str, timeout: float | None = None) -> WebResult:
        """The answer, whatever its status; ``HTTPError`` when there is none."""
        ...

    async def close(self) -> None: ...


class DropletsAPI(Protocol):
    """The DigitalOcean calls the droplet steps make. Blocking: the steps call them in a
    thread. Reads may be retried; actions and destroy are sent once."""

    def get(self, droplet_id: int) -> Droplet: ...

    def find(self, name: str | None = None, ip: str | None = None) -> Droplet: ...

    def action_status(self, action_id: int) -> dict[str, Any]: ...

    def actions(self, droplet_id: int) -> tuple[list[dict[str, Any]], float | None]:
        """The droplet's action history and DigitalOcean's time when it was read (or None)."""
        ...

    def post_action(self, droplet_id: int, action: str, **extra: Any) -> dict[str, Any]: ...

    def destroy(self, droplet_id: int) -> None: ...
