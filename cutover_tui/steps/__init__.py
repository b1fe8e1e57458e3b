"""Step kinds: one module each, behind ``plan(book, step)`` and ``async run(ctx, step)``.
Modules are imported when a step of their kind is first planned or run."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

MODULES = {
    "ssh": "ssh", "http": "http", "services": "services", "local": "local",
    "manual": "manual", "wait": "wait", "env_edit": "env_edit", "env_restore": "env_edit",
    "backup": "backup", "droplet_power": "droplet", "droplet_destroy": "droplet",
    "repo_edit": "repo_edit",
}


def kind_module(kind: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{MODULES[kind]}")


def plan_step(book: Any, step: Any) -> list[Any]:
    """What the step will do, then where its expectations come from (``source``)."""
    items = kind_module(step.kind).plan(book, step)
    if getattr(step, "source", ""):
        from ..events import PlanItem

        items = [*items, PlanItem("checks from", step.source)]
    return items


def describe_step(book: Any, step: Any) -> list[str]:
    return [f"{item.where}: {item.action}" for item in plan_step(book, step)]
