"""The credentials this tool holds in its environment, and the environment the commands it
starts on this machine get without them.

The tool reads a DigitalOcean token (``DIGITALOCEAN_TOKEN``, or doctl's
``DIGITALOCEAN_ACCESS_TOKEN``) and a scratch database it may empty
(``CUTOVER_SCRATCH_DATABASE_URL``). A ``local`` step (a test suite, a script) and the ``git``
of a ``repo_edit`` step run without them: a test runner, or any package it loads, has no use for
a token that can destroy droplets. A ``local`` step that does need one names it in ``pass_env``.
Everything else in the operator's environment is passed as it is (``PATH``, ``HOME``,
``SSH_AUTH_SOCK`` for a ``git push`` over SSH, …)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

TOOL_CREDENTIALS = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN",
                    "CUTOVER_SCRATCH_DATABASE_URL")


def held() -> dict[str, str]:
    """The tool's credentials that are set in this process's environment."""
    return {name: os.environ[name] for name in TOOL_CREDENTIALS if os.environ.get(name)}


def local_env(pass_env: Iterable[str] = (), extra: Mapping[str, str] | None = None
              ) -> dict[str, str]:
    """This process's environment without the tool's credentials (except those in
    ``pass_env``), plus ``extra``."""
    passed = set(pass_env)
    env = dict(os.environ)
    for name in TOOL_CREDENTIALS:
        if name not in passed:
            env.pop(name, None)  # guard: local-env-scrubbed
    env.update(extra or {})
    return env
