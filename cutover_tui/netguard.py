"""The loopback-only switch. With ``CUTOVER_LOOPBACK_ONLY=1`` (the test suite, the demo and the
benchmarks set it) every transport calls ``ensure_allowed`` before it opens a connection, so a
runbook that still points at a real address fails loudly before a packet is sent."""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

from .errors import NetworkPolicyError

ENV_SWITCH = "CUTOVER_LOOPBACK_ONLY"


def loopback_only() -> bool:
    return os.environ.get(ENV_SWITCH, "") not in ("", "0", "false", "no")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def ensure_allowed(host: str, what: str) -> None:
    """Raise if the loopback-only switch is on and ``host`` is not a loopback address."""
    if loopback_only() and not _is_loopback(host):  # guard: loopback-guard
        raise NetworkPolicyError(
            f"refusing to connect to {host} for {what}: {ENV_SWITCH} is set and "
            "only loopback addresses (127.0.0.0/8, ::1) are allowed"
        )


def ensure_url_allowed(url: str, what: str) -> None:
    ensure_allowed(urlsplit(url).hostname or "", what)
