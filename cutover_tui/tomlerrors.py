"""TOML syntax errors as ``file:line`` sentences. ``tomllib`` names the line of most errors, but
not of something left open at the end of the file (``Invalid value (at end of document)``):
there the line to show is the one where the array, inline table or string was opened."""

from __future__ import annotations

import re
import tomllib

_OPENERS = {"[": "array", "{": "inline table"}


def unclosed_at_end(text: str) -> tuple[str, int] | None:
    """What is still open at the end of ``text``, outermost first: (``array`` / ``inline
    table`` / ``string``, the line where it was opened), or None."""
    stack: list[tuple[str, int]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            line += 1
        elif char == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith(('"""', "'''"), i):
            quote, start = text[i:i + 3], line
            j = i + 3
            while j < n and not text.startswith(quote, j):
                if quote == '"""' and text[j] == "\\":
                    j += 1
                j += 1
            if j >= n:
                return stack[0] if stack else ("string", start)
            line += text.count("\n", i, j)
            i = j + 3
            while i < n and text[i] == quote[0]:  # up to two quotes may end the content
                i += 1
            continue
        elif char in "\"'":
            j = i + 1
            while j < n and text[j] not in (char, "\n"):
                if char == '"' and text[j] == "\\":
                    j += 1
                j += 1
            i = j + 1 if j < n and text[j] == char else j
            continue
        elif char in _OPENERS:
            stack.append((_OPENERS[char], line))
        elif char in "]}" and stack:
            stack.pop()
        i += 1
    return stack[0] if stack else None


def toml_error(path: object, text: str, exc: tomllib.TOMLDecodeError, what: str) -> str:
    """``path:line: <what> is not valid TOML: …``, with the line where the error is."""
    message = str(exc)
    if "end of document" in message:
        unclosed = unclosed_at_end(text)
        if unclosed is not None:  # guard: toml-open-array-line
            kind, line = unclosed
            closer = {"array": "']'", "inline table": "'}'", "string": "its closing quotes"}[kind]
            return (f"{path}:{line}: {what} is not valid TOML: the {kind} opened on line {line} "
                    f"is never closed (expected {closer} before the end of the file)")
    found = re.search(r"line (\d+)", message)
    if not found:
        return f"{path}: {what} is not valid TOML: {message}"
    line = int(found.group(1))
    sentence = f"{path}:{line}: {what} is not valid TOML: {message}"
    unclosed = unclosed_at_end("".join(text.splitlines(keepends=True)[:line - 1]))
    if unclosed is not None:
        sentence += f"; the {unclosed[0]} opened on line {unclosed[1]} is still open there"
    return sentence
