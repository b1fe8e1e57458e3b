"""The runbook: what people write (``checklists/*.toml``) and how it is loaded.

One purpose per module:

- ``fields.py``     the strict base model and checked field types (regex, duration, host, user)
- ``steps.py``      the step kinds' models and the checks they carry
- ``kinds.py``      the one registry of step kinds (model, step module, flags)
- ``models.py``     hosts, health endpoints, red flags, phases, the ``Runbook``
- ``overrides.py``  ``--host`` / ``--var``, parsed and applied
- ``shape.py``      the raw TOML's tables and arrays, checked before anything walks them
- ``render.py``     repeated phases expanded, ``{var}`` templates rendered
- ``load.py``       ``load_runbook``: read → shape → overrides → render → validate → cross-check
- ``checks.py``     the cross-checks of a validated runbook
- ``locate.py``     ``file:line`` of a field path (``LineLocator``)
- ``plan.py``       the plan as text (``cutover validate``)

Everything the rest of the code uses is imported from here (``from cutover_tui.runbook import
Runbook, load_runbook``).
"""

from __future__ import annotations

from .fields import MAX_REPEAT, Duration, Model, Regex, valid_address, valid_user
from .kinds import (
    ALWAYS_CHANGES,
    KINDS,
    SHELL_KINDS,
    STEP_KINDS,
    Step,
    StepModel,
    always_changes,
    step_module,
)
from .load import load_runbook
from .locate import LineLocator
from .models import HealthEndpoint, Host, Meta, Phase, RedFlag, Runbook
from .overrides import Overrides
from .plan import runbook_plan_lines
from .steps import (
    BackupStep,
    DropletDestroyStep,
    DropletPowerStep,
    EnvEditStep,
    EnvRestoreStep,
    HttpStep,
    LocalStep,
    ManualStep,
    NumberCheck,
    PassThreshold,
    RepoEditStep,
    RowCount,
    ServicesStep,
    SshStep,
    StepBase,
    WaitStep,
)

__all__ = [
    "ALWAYS_CHANGES", "KINDS", "MAX_REPEAT", "SHELL_KINDS", "STEP_KINDS",
    "BackupStep", "DropletDestroyStep", "DropletPowerStep", "Duration", "EnvEditStep",
    "EnvRestoreStep", "HealthEndpoint", "Host", "HttpStep", "LineLocator", "LocalStep",
    "ManualStep", "Meta", "Model", "NumberCheck", "Overrides", "PassThreshold", "Phase",
    "RedFlag", "Regex", "RepoEditStep", "RowCount", "Runbook", "ServicesStep", "SshStep", "Step",
    "StepBase", "StepModel", "WaitStep",
    "always_changes", "load_runbook", "runbook_plan_lines", "step_module", "valid_address",
    "valid_user",
]
