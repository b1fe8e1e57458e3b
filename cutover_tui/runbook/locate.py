"""Where a field is written: a field path (``phases[2].steps[1].command``) as text, and the
line of the runbook's TOML text it is on, for ``file:line: field.path: ...`` messages."""

from __future__ import annotations

import re
from typing import Any

# A field path: ("phases", 2, "steps", 1, "command").
Loc = tuple[str | int, ...]


def dotted(loc: Loc) -> str:
    """``("phases", 2, "steps", 1, "command")`` → ``phases[2].steps[1].command``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class LineLocator:
    """Maps a field path (``phases[2].steps[1].command``) to the line of the TOML text where it
    is written, by following table headers; the nearest enclosing table's line is the fallback."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")

    def __init__(self, text: str):
        self.lines: dict[Loc, int] = {}
        counters: dict[Loc, int] = {}
        current: Loc = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                names = tuple(self._split(header.group(2)))
                current = self._resolve(names, current, counters, header.group(1) == "[[")
                self.lines.setdefault(current, number)
                continue
            key = self._KEY.match(line)
            if key:
                keys = tuple(self._split(key.group(1)))
                self.lines.setdefault((*current, *keys), number)

    @staticmethod
    def _split(dotted: str) -> list[str]:
        return [part.strip().strip("\"'") for part in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+',
                                                                  dotted)]

    def _resolve(self, names: tuple[str, ...], current: Loc, counters: dict[Loc, int],
                 is_array: bool) -> Loc:
        # Rebuild the path with array indices: [[phases.steps]] belongs to the last [[phases]].
        path: list[Any] = []
        for i, name in enumerate(names):
            path.append(name)
            prefix_names = names[: i + 1]
            if i < len(names) - 1 and counters.get(tuple(path)) is not None:
                path.append(counters[tuple(path)])
            elif i == len(names) - 1 and is_array:
                key = tuple(path)
                counters[key] = counters.get(key, -1) + 1
                # A new parent element resets the counters of its children.
                for other in list(counters):
                    if len(other) > len(key) and other[: len(key)] == key:
                        del counters[other]
                path.append(counters[key])
            del prefix_names
        return tuple(path)

    def line_of(self, loc: Loc) -> int:
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return 1
