"""curl: a GET of one URL (``-s``, ``-S``, ``-f``, ``-o``) with curl's exit statuses; localhost is
the host's own loopback address, as on the real host."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..hostenv import HostEnv


def curl(args: list[str]) -> int:
    env = HostEnv.from_environ()
    silent = show_error = fail = False
    url = None
    output = None
    for i, arg in enumerate(args):
        if arg.startswith("-") and not arg.startswith("--") and i and args[i - 1] == "-o":
            continue
        if arg == "-o":
            output = args[i + 1]
        elif arg.startswith("--"):
            silent |= arg == "--silent"
            show_error |= arg == "--show-error"
            fail |= arg == "--fail"
        elif arg.startswith("-"):
            silent |= "s" in arg
            show_error |= "S" in arg
            fail |= "f" in arg
        elif url is None and (i == 0 or args[i - 1] != "-o"):
            url = arg
    if url is None:
        print("curl: no URL specified", file=sys.stderr)
        return 2
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    # On the real host, localhost is the host itself; here that is the host's loopback address.
    host = env.address if parts.hostname in ("localhost", "127.0.0.1") else parts.hostname
    netloc = f"{host}:{parts.port}" if parts.port else host
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    try:
        with urllib.request.urlopen(target, timeout=10) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    except (urllib.error.URLError, OSError):
        if not silent or show_error:
            print(f"curl: (7) Failed to connect to {parts.hostname} port {parts.port or 80}: "
                  "Connection refused", file=sys.stderr)
        return 7
    if fail and status >= 400:
        if not silent or show_error:
            print(f"curl: (22) The requested URL returned error: {status}", file=sys.stderr)
        return 22
    if output:
        Path(output).write_bytes(body)
    else:
        sys.stdout.buffer.write(body)
    return 0
