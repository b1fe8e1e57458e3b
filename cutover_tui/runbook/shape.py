"""The shape of the raw TOML data: the containers the loader walks before validation must be
tables and arrays where the format says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .locate import LineLocator, Loc, dotted

# A TOML table as tomllib reads it, before validation.
Table = dict[str, Any]

_TABLE = "a table"
_ARRAY_OF_TABLES = "an array of tables"


def shape_problems(data: Table, locator: LineLocator, path: Path) -> list[str]:
    """The containers the loader walks before validation (to apply overrides, expand repeats
    and render templates) must be what they say: a scalar where a table or an array belongs is
    reported here, with its line, not met later as a crash or silently ignored."""
    problems: list[str] = []

    def expect(loc: Loc, value: Any, kind: type, what: str) -> bool:
        if isinstance(value, kind):
            return True
        problems.append(f"{path}:{locator.line_of(loc)}: {dotted(loc)}: expected {what}, "
                        f"got {_toml_type(value)} {value!r}")
        return False

    if "variables" in data and not isinstance(data["variables"], dict):  # guard: variables-table
        expect(("variables",), data["variables"], dict, "a table of name = value ([variables])")
    if "shell_variables" in data:
        expect(("shell_variables",), data["shell_variables"], list,
               "an array of variable names, e.g. [\"test_command\"]")
    if "hosts" in data and expect(("hosts",), data["hosts"], dict, "a table of [hosts.NAME]"):
        for name, host in data["hosts"].items():
            if expect(("hosts", name), host, dict, f"a table [hosts.{name}]") and "vars" in host:
                expect(("hosts", name, "vars"), host["vars"], dict, "a table of name = value")
    phases: list[tuple[Loc, Any]] = [
        (("phases", i), phase) for i, phase in enumerate(data.get("phases") or [])
    ] if expect(("phases",), data.get("phases", []), list, f"{_ARRAY_OF_TABLES} [[phases]]") \
        else []
    if "rollback" in data and expect(("rollback",), data["rollback"], dict, "a table [rollback]"):
        phases.append((("rollback",), data["rollback"]))
    for loc, phase in phases:
        if not expect(loc, phase, dict, _TABLE) or "steps" not in phase:
            continue
        if expect((*loc, "steps"), phase["steps"], list,  # guard: steps-array
                  f"{_ARRAY_OF_TABLES} [[{dotted(loc[:1])}.steps]]"):
            for index, step in enumerate(phase["steps"]):
                expect((*loc, "steps", index), step, dict, _TABLE)
    return problems


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def as_table(value: Any) -> Table:
    """The value if it is a table, else an empty one (its shape is reported elsewhere)."""
    return value if isinstance(value, dict) else {}
