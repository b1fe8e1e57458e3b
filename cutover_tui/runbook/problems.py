"""A runbook that does not validate, described: ``msgspec``'s message for the first problem it
met (``Expected `int` <= 65535 - at `$.hosts[...].port```) as a sentence at its field's path and
line (``book.toml:11: hosts.web.port: expected a whole number of at most 65535 (got 70000)``).

``msgspec`` stops at the first problem, so ``runbook_problems`` validates the runbook's tables
one by one (the metadata, each host, health endpoint, red flag, phase and step, then the top
level), and a table that fails field by field: a runbook with three wrong steps, or a step with
three wrong fields, gets a sentence for each, as people fixing it expect.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from .fields import CHECKED, convert
from .kinds import STEP_KINDS, StepModel
from .locate import LineLocator, Loc, dotted
from .models import HealthEndpoint, Host, Meta, Phase, RedFlag, Runbook
from .shape import Table

_AT = re.compile(r"(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.S)
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")
_BOUND = re.compile(r"Expected `(\w+)` (<=|>=|<|>) (\S+)")
_LENGTH = re.compile(r"Expected `(\w+)` of length >= (\d+)")
_TYPES = re.compile(r"Expected `([^`]+)`, got `(\w+)`")
_BOUND_WORDS = {"<=": "at most", ">=": "at least", "<": "below", ">": "above"}
UNKNOWN = "unknown field (check the spelling; docs/runbook-format.md lists the fields)"
_NOUNS = {"int": "a whole number", "float": "a number", "str": "a string", "bool": "true or false",
          "array": "an array", "object": "a table", "null": "nothing"}


def runbook_problems(data: Table, locator: LineLocator, path: Path) -> list[str]:
    """Every table of ``data`` that does not validate, as ``file:line: field: sentence``."""
    problems: list[str] = []
    for loc, model, table in [*_tables(data), ((), Runbook, data)]:
        if not isinstance(table, dict):
            continue  # missing, or not a table: the whole runbook's validation says so
        for problem in _table_problems(table, model, loc, locator, path, data):
            if problem not in problems:  # a nested table's problem is met twice
                problems.append(problem)
    return problems


def _table_problems(table: Table, model: Any, loc: Loc, locator: LineLocator, path: Path,
                    data: Table) -> list[str]:
    """The problems of one table: each field's on its own, else (a check of the whole table,
    an unknown step kind) the table's first."""
    try:
        convert(table, model)
    except msgspec.ValidationError as first:
        kind = _narrow(model, table)
        if _is_step(kind) and table.get("kind") not in STEP_KINDS:
            return [describe(first, locator, path, data, model, loc)]  # no kind to check by
        found = []
        fields = {info.encode_name: info for info in msgspec.structs.fields(kind)}
        for key, value in table.items():
            info = fields.get(key)
            if info is None and not (key == "kind" and _is_step(kind)):
                found.append(_sentence_at(locator, path, (*loc, key), UNKNOWN))
            elif info is not None:
                try:
                    convert(value, info.type)
                except msgspec.ValidationError as exc:
                    found.append(describe(exc, locator, path, data, info.type, (*loc, key)))
        found += [_sentence_at(locator, path, (*loc, name), "missing required field")
                  for name, info in fields.items() if info.required and name not in table]
        return found or [describe(first, locator, path, data, model, loc)]
    return []


def _sentence_at(locator: LineLocator, path: Path, loc: Loc, text: str) -> str:
    return f"{path}:{locator.line_of(loc)}: {dotted(loc) or 'the runbook'}: {text}"


def _tables(data: Table) -> Iterator[tuple[Loc, Any, Any]]:
    """The runbook's tables validated on their own, each with its path and model."""
    yield ("runbook",), Meta, data.get("runbook")
    groups: list[tuple[str, Any]] = [("health", HealthEndpoint), ("red_flags", RedFlag)]
    hosts = data.get("hosts")
    for name, host in (hosts.items() if isinstance(hosts, dict) else ()):
        yield ("hosts", name), Host, host
    for key, model in groups:
        for index, table in enumerate(_list(data.get(key))):
            yield (key, index), model, table
    phases: list[tuple[Loc, Any]] = [(("phases", i), p) for i, p in enumerate(_list(
        data.get("phases")))]
    if isinstance(data.get("rollback"), dict):
        phases.append((("rollback",), data["rollback"]))
    for loc, phase in phases:
        if isinstance(phase, dict):
            yield loc, Phase, {**phase, "steps": []}
        steps = phase.get("steps") if isinstance(phase, dict) else None
        for index, step in enumerate(_list(steps)):
            yield (*loc, "steps", index), StepModel, step


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def describe(exc: msgspec.ValidationError, locator: LineLocator, path: Path, data: Table,
             model: Any, prefix: Loc) -> str:
    """``exc`` (from validating the table at ``prefix`` as ``model``) as one located sentence."""
    found = _AT.fullmatch(str(exc))
    message, at = (found["message"], found["path"] or "") if found else (str(exc), "")
    loc, kind = _locate(at, _get(data, prefix), model)
    loc = (*prefix, *loc)
    where = loc
    if m := re.fullmatch(r"Object missing required field `(\w+)`", message):
        if m[1] == "kind" and _is_step(kind):
            text = f"missing field 'kind'; expected one of: {', '.join(STEP_KINDS)}"
        else:
            loc, text = (*loc, m[1]), "missing required field"
        where = loc
    elif m := re.fullmatch(r"Object contains unknown field `([^`]+)`", message):
        loc = where = (*loc, m[1])
        text = UNKNOWN
    elif m := re.fullmatch(r"Invalid value (.*)", message):
        text = f"unknown step kind {m[1]}; expected one of: {', '.join(STEP_KINDS)}"
        loc = loc[:-1] if loc and loc[-1] == "kind" else loc
    elif m := re.fullmatch(r"Invalid enum value (.*)", message):
        options = ", ".join(repr(o) for o in typing.get_args(_bare(kind)))
        text = f"got {m[1]}; expected one of {options}" if options else f"got {m[1]}"
    else:
        text, field = _sentence(message, kind, _get(data, loc))
        if field:
            loc = where = (*loc, field)
            text += _got(_get(data, loc))
    return f"{path}:{locator.line_of(where)}: {dotted(loc) or 'the runbook'}: {text}"


def _sentence(message: str, kind: Any, value: Any) -> tuple[str, str | None]:
    """A message of msgspec's (a type or bound) or of our checks, in words; the field it names
    when a check of the whole table (``FieldProblem``) says which."""
    got = _got(value)
    if m := _BOUND.fullmatch(message):
        return f"expected {_noun(m[1])} {_BOUND_WORDS[m[2]]} {m[3]}{got}", None
    if m := _LENGTH.fullmatch(message):
        return f"expected at least {m[2]} entr{'y' if m[2] == '1' else 'ies'}", None
    if m := re.fullmatch(r"Expected `str` matching regex (.*)", message):
        return f"expected a string matching {m[1]}{got}", None
    if m := _TYPES.fullmatch(message):
        names = [name.strip() for name in m[1].split("|")]
        names = [n for n in names if not (n == "int" and "float" in names)]  # "a number"
        wanted = " or ".join(_noun(name) for name in names)
        shown = f" {value!r}" if got else ""
        return f"expected {wanted}, got {_noun(m[2])}{shown}", None
    field, sep, rest = message.partition(": ")
    if sep and field in _field_names(kind):
        return rest, field
    return message + got, None


def _got(value: Any) -> str:
    """The value, after a sentence about a scalar one (not a table, list or true/false)."""
    shown = value is not None and not isinstance(value, dict | list | bool)
    return f" (got {value!r})" if shown else ""


def _noun(name: str) -> str:
    return _NOUNS.get(name, "a " + ("string" if name in {c.__name__ for c in CHECKED} else name))


def _locate(at: str, table: Any, model: Any) -> tuple[Loc, Any]:
    """msgspec's path (``.phases[0].steps[1].port``; a table's key is ``[...]``) as a field
    path, with the type found there. A key msgspec leaves out is the one whose value does not
    validate on its own."""
    loc: list[str | int] = []
    kind, node = model, table
    for m in _SEGMENT.finditer(at):
        kind = _narrow(kind, node)
        if m[1] is not None:
            key: str | int = m[1]
            kind = _field_type(kind, m[1])
        elif m[2] is not None:
            key = int(m[2])
            kind = _item_type(kind)
        else:
            kind = _item_type(kind)
            key = _failing_key(node, kind)
        loc.append(key)
        node = _get(node, (key,))
    return tuple(loc), _narrow(kind, node)


def _failing_key(node: Any, kind: Any) -> str:
    if not isinstance(node, dict) or not node:
        return "..."
    for key, value in node.items():
        try:
            convert(value, kind)
        except (msgspec.ValidationError, TypeError):
            return str(key)
    return str(next(iter(node)))


def _bare(kind: Any) -> Any:
    while typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    return kind


def _narrow(kind: Any, node: Any) -> Any:
    """Of a union, the member ``node`` is meant as: a step's by its kind, else the one of its
    shape (a table, a list)."""
    kind = _bare(kind)
    if typing.get_origin(kind) not in (typing.Union, types.UnionType):
        return kind
    members = [_bare(m) for m in typing.get_args(kind) if m is not type(None)]
    if isinstance(node, dict) and isinstance(node.get("kind"), str):
        for member in members:
            if getattr(getattr(member, "__struct_config__", None), "tag", None) == node["kind"]:
                return member
    for member in members:
        origin = typing.get_origin(member) or member
        if isinstance(origin, type) and (issubclass(origin, msgspec.Struct | dict) and
                                         isinstance(node, dict) or origin is list and
                                         isinstance(node, list)):
            return member
    return members[0] if len(members) == 1 else kind


def _field_type(kind: Any, name: str) -> Any:
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        for info in msgspec.structs.fields(kind):
            if info.encode_name == name:
                return info.type
    return Any


def _field_names(kind: Any) -> set[str]:
    kind = _bare(kind)
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return {info.encode_name for info in msgspec.structs.fields(kind)}
    return set()


def _item_type(kind: Any) -> Any:
    args = typing.get_args(_bare(kind))
    return args[-1] if args else Any


def _is_step(kind: Any) -> bool:
    members = typing.get_args(_bare(kind)) or (kind,)
    return any(getattr(getattr(m, "__struct_config__", None), "tag_field", None) == "kind"
               for m in members)


def _get(node: Any, loc: Loc) -> Any:
    for key in loc:
        if isinstance(node, dict) and isinstance(key, str):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return None
    return node
