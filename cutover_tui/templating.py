"""``{var}`` templating for runbook strings. ``${SHELL_VAR}`` is left alone for the shell, and
``{{`` / ``}}`` write literal braces."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_TOKEN = re.compile(r"\{\{|\}\}|(?<!\$)\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def render(text: str, variables: Mapping[str, str], on_unknown: Callable[[str], None]) -> str:
    def replace(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        if name not in variables:
            on_unknown(name)
            return token
        return str(variables[name])

    return _TOKEN.sub(replace, text)


def render_tree(value: Any, variables: Mapping[str, str],
                on_unknown: Callable[[tuple, str], None], path: tuple = ()) -> Any:
    """Render every string inside dicts and lists; report unknown names with their path."""
    if isinstance(value, str):
        return render(value, variables, lambda name: on_unknown(path, name))
    if isinstance(value, dict):
        return {k: render_tree(v, variables, on_unknown, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(v, variables, on_unknown, (*path, i)) for i, v in enumerate(value)]
    return value
