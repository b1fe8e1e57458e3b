"""Loading a runbook: read TOML → apply command-line overrides → expand repeated phases → render ``{var}``
templates (an unknown name is a load error) → validate (``msgspec``) → cross-check references.
Every problem is reported as ``file:line: field.path: what was expected`` in one
``RunbookError``; nothing here lets a traceback reach the user.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import msgspec

from ..errors import RunbookError
from ..tomlerrors import toml_error
from .checks import cross_check
from .fields import convert
from .locate import LineLocator
from .models import Runbook
from .overrides import Overrides, apply_overrides
from .render import expand_repeats, render_templates
from .shape import shape_problems


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
    data = {**data, "path": str(path), "sha256": hashlib.sha256(raw_bytes).hexdigest(),
            "overrides": (overrides or Overrides()).recordable()}
    try:
        book: Runbook = convert(data, Runbook)
    except msgspec.ValidationError:
        from .problems import runbook_problems  # only a runbook with a problem needs it

        raise RunbookError(str(path), runbook_problems(data, locator, path)) from None
    problems = cross_check(book, locator, path)
    if problems:
        raise RunbookError(str(path), problems)
    return book
