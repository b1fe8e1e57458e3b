"""The one registry of step kinds. Everything that lists the kinds reads it: the loader's
tagged ``Step`` union and its error messages, the step modules (``steps.kind_module``),
the format reference (``reference.py``) and ``always_changes`` (``preflight.py``, the cross-checks).

A new kind is a model in ``steps.py`` (with its ``step_module`` and flags), added to
``StepModel`` below, and its module in ``cutover_tui/steps/`` with ``plan()`` and ``run()``.
"""

from __future__ import annotations

import typing
from typing import Any

from .steps import (
    BackupStep,
    DropletDestroyStep,
    DropletPowerStep,
    EnvEditStep,
    EnvRestoreStep,
    HttpStep,
    LocalStep,
    ManualStep,
    RepoEditStep,
    ServicesStep,
    SshStep,
    StepBase,
    WaitStep,
)

# Every kind's model, in the order the reference documents them and errors list them.
# A step table is read as the model its `kind` names (each model's tag, ``steps.py``).
StepModel = (SshStep | HttpStep | ServicesStep | LocalStep | ManualStep | WaitStep | EnvEditStep
             | EnvRestoreStep | BackupStep | DropletPowerStep | DropletDestroyStep | RepoEditStep)
Step = StepModel


def _kind_of(model: type[StepBase]) -> str:
    return model.kind  # the model's tag too (tests/test_step_registry.py holds them equal)


# kind name → model class.
KINDS: dict[str, type[StepBase]] = {_kind_of(model): model for model in typing.get_args(StepModel)}
STEP_KINDS = tuple(KINDS)

# Kinds whose `command` is shell text: its {var} values are quoted where they stand.
SHELL_KINDS = tuple(kind for kind, model in KINDS.items() if model.shell_command)

# Kinds that change something every time they run; `changes = false` on them is a load error.
ALWAYS_CHANGES = tuple(kind for kind, model in KINDS.items() if model.changes_always)


def always_changes(step: Any) -> bool:
    return step.kind in ALWAYS_CHANGES or (step.kind == "services" and step.action != "status")


def step_module(kind: str) -> str:
    """The dotted name of the module that plans and runs ``kind`` (imported by the caller, when
    it needs it: the registry imports no step module)."""
    return f"cutover_tui.steps.{KINDS[kind].step_module}"
