"""``{var}`` templating for runbook strings. ``${SHELL_VAR}`` is left alone for the shell, and
``{{`` / ``}}`` write literal braces."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


# Where a value stands in the runbook: its keys and array indexes from the top.
TreePath = tuple[str | int, ...]


def render_tree(value: Any, variables: Mapping[str, str],
                on_unknown: Callable[[TreePath, str], None], path: TreePath = ()) -> Any:
    """Render every string inside dicts and lists; report unknown names with their path."""
    if isinstance(value, str):
        return render(value, variables, lambda name: on_unknown(path, name))
    if isinstance(value, dict):
        return {k: render_tree(v, variables, on_unknown, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(v, variables, on_unknown, (*path, i)) for i, v in enumerate(value)]
    return value


# ---------------------------------------------------------------------------- shell commands
#
# A ``{var}`` inside a shell command (the ``command`` of an ``ssh`` or ``local`` step) is
# inserted as data: quoted for the place in the command where it stands, so that whatever the
# value holds (``$(…)``, ``;``, quotes, spaces) reaches the program as one literal word or part
# of one. A variable the runbook lists in ``shell_variables`` is shell text (``npm test``) and
# goes in as written. Where a ``{var}`` stands is found by following the shell's quoting through
# the command: unquoted, inside '…', "…", $'…', $(…) and `…`.

_SAFE_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")

PLAIN, SINGLE, DOUBLE, ANSI_C, SUBST, BACKTICK = (
    "plain", "single", "double", "ansi-c", "subst", "backtick")


def quote_word(value: str) -> str:
    """``value`` as shell words that the shell turns back into exactly ``value``; a leading
    ``~/`` (a path in the home directory) is kept outside the quotes so that it still expands."""
    if value in ("~", "~/"):
        return value
    if value.startswith("~/"):
        return "~/" + quote_word(value[2:])
    if _SAFE_WORD.fullmatch(value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def quote_for(context: str, value: str) -> str:
    """``value`` written so that, at a place of the command in ``context``, the shell reads it
    back as the literal text ``value``."""
    if context == SINGLE:
        return value.replace("'", "'\\''")
    if context == DOUBLE:
        return re.sub(r'([\\"$`])', r"\\\1", value)
    if context == ANSI_C:
        return value.replace("\\", "\\\\").replace("'", "\\'")
    return quote_word(value)


@dataclass
class _Frame:
    """One level of quoting: its context, and (inside a $(…)) the parentheses open in it."""

    context: str
    depth: int = 0


class ShellContext:
    """Follows the shell's quoting, one piece of command text at a time."""

    def __init__(self) -> None:
        self.stack: list[_Frame] = [_Frame(PLAIN)]
        self.escaped = False

    @property
    def context(self) -> str:
        return self.stack[-1].context

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            char, after = text[i], text[i + 1:i + 2]
            frame = self.stack[-1]
            context = frame.context
            i += 1
            if self.escaped:
                self.escaped = False
                continue
            if context == SINGLE:
                if char == "'":
                    self.stack.pop()
                continue
            if char == "\\":
                self.escaped = True
                continue
            if context == ANSI_C:
                if char == "'":
                    self.stack.pop()
                continue
            if char == "$" and after == "(":
                self.stack.append(_Frame(SUBST))
                i += 1
            elif char == "`":
                if context == BACKTICK:
                    self.stack.pop()
                else:
                    self.stack.append(_Frame(BACKTICK))
            elif context == DOUBLE:
                if char == '"':
                    self.stack.pop()
            elif char == "$" and after == "'":
                self.stack.append(_Frame(ANSI_C))
                i += 1
            elif char == "'":
                self.stack.append(_Frame(SINGLE))
            elif char == '"':
                self.stack.append(_Frame(DOUBLE))
            elif context == SUBST and char == "(":
                frame.depth += 1
            elif context == SUBST and char == ")":
                if frame.depth:
                    frame.depth -= 1
                else:
                    self.stack.pop()


def render_shell(text: str, variables: Mapping[str, str], on_unknown: Callable[[str], None],
                 shell_text: frozenset[str] | set[str] = frozenset()) -> str:
    """Render a shell command: each value quoted for where it stands, except the names in
    ``shell_text``, which are inserted as written (and followed as part of the command)."""
    out: list[str] = []
    shell = ShellContext()
    position = 0
    for m in _TOKEN.finditer(text):
        literal = text[position:m.start()]
        shell.feed(literal)
        out.append(literal)
        position = m.end()
        token, name = m.group(0), m.group(1)
        if token in ("{{", "}}"):
            out.append(token[0])
            shell.feed(token[0])
            continue
        if name not in variables:
            on_unknown(name)
            out.append(token)
            continue
        value = str(variables[name])
        if name in shell_text:
            shell.feed(value)
        else:
            value = quote_for(shell.context, value)  # guard: template-quoting
        out.append(value)
    out.append(text[position:])
    return "".join(out)
