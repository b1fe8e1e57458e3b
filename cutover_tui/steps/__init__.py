"""Step kinds: one module each, behind ``plan(book, step)`` and ``async run(ctx, step)``.
Which module runs which kind is said once, in the registry ``runbook/kinds.py``; a kind's module
is imported when a step of its kind first runs. Plans come from ``plans.py`` without it: showing
what a step will do imports none of the kinds' run-time modules."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ..runbook.kinds import KINDS, step_module


def kind_module(kind: str) -> ModuleType:
    return importlib.import_module(step_module(kind))


def plan_step(book: Any, step: Any) -> list[Any]:
    """What the step will do, then where its expectations come from (``source``)."""
    from .plans import PLANS

    items: list[Any] = PLANS[KINDS[step.kind].step_module](book, step)
    if getattr(step, "source", ""):
        from ..events import PlanItem

        items = [*items, PlanItem("checks from", step.source)]
    return items


def describe_step(book: Any, step: Any) -> list[str]:
    return [f"{item.where}: {item.action}" for item in plan_step(book, step)]
