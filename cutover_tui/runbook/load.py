"""Loading a runbook: read TOML → apply command-line overrides → expand repeated phases → render ``{var}``
templates (an unknown name is a load error) → validate with pydantic → cross-check references.
Every problem is reported as ``file:line: field.path: what was expected`` in one
``RunbookError``; nothing here lets a traceback reach the user.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import RunbookError
from ..tomlerrors import toml_error
from .checks import cross_check
from .kinds import STEP_KINDS
from .locate import LineLocator, Loc, dotted
from .models import Runbook
from .overrides import Overrides, apply_overrides
from .render import expand_repeats, render_templates
from .shape import Table, shape_problems


def load_runbook(path: str | Path, overrides: Overrides | None = None) -> Runbook:
    """Load, template and validate a runbook; raise ``RunbookError`` listing every problem."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise RunbookError(str(path), [f"{path}: cannot read the runbook: {exc.strerror}"]) from None
    try:
        text = raw_bytes.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise RunbookError(str(path), [f"{path}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise RunbookError(str(path), [toml_error(path, text, exc, "the runbook")]) from None
    locator = LineLocator(text)
    problems = shape_problems(data, locator, path)
    if problems:
        raise RunbookError(str(path), problems)
    data = apply_overrides(data, overrides or Overrides(), problems, path)
    data = expand_repeats(data)
    data = render_templates(data, locator, problems, path)
    if problems:
        raise RunbookError(str(path), problems)
    try:
        book = Runbook.model_validate(
            {**data, "path": str(path), "sha256": hashlib.sha256(raw_bytes).hexdigest(),
             "overrides": (overrides or Overrides()).recordable()}
        )
    except ValidationError as exc:
        raise RunbookError(str(path), _describe(exc, locator, path, data)) from None
    problems = cross_check(book, locator, path)
    if problems:
        raise RunbookError(str(path), problems)
    return book


def _clean_loc(loc: Loc) -> Loc:
    """Drop the discriminator tags pydantic inserts (``steps.0.ssh.command`` → ``steps.0.command``)."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if part in STEP_KINDS and i >= 2 and loc[i - 2] == "steps":
            continue
        if isinstance(part, str) and part.startswith("function-"):
            continue
        out.append(part)
    return tuple(out)


def _describe(exc: ValidationError, locator: LineLocator, path: Path, data: Table) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = _clean_loc(tuple(error["loc"]))
        kind = error["type"]
        if kind == "missing":
            message = "missing required field"
        elif kind == "extra_forbidden":
            message = "unknown field (check the spelling; docs/runbook-format.md lists the fields)"
        elif kind == "union_tag_invalid":
            message = (f"unknown step kind {error['input'].get('kind')!r}; expected one of: "
                       f"{', '.join(STEP_KINDS)}")
        elif kind == "union_tag_not_found":
            message = f"missing field 'kind'; expected one of: {', '.join(STEP_KINDS)}"
        elif kind == "literal_error":
            message = f"got {error['input']!r}; {error['msg'].lower()}"
        else:
            message = error["msg"].removeprefix("Value error, ")
            if "input" in error and not isinstance(error["input"], dict | list):
                message += f" (got {error['input']!r})"
        where = (*loc, "kind") if kind == "union_tag_invalid" else loc
        problems.append(f"{path}:{locator.line_of(where)}: {dotted(loc)}: {message}")
    return problems
