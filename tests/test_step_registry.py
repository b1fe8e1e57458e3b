"""The step kinds are listed once, in ``cutover_tui/runbook/kinds.py``; the loader, the step
modules, the format reference and the preflight read that registry."""

import importlib
import typing

import pytest
from pydantic import ValidationError

from cutover_tui.reference import render
from cutover_tui.runbook import ALWAYS_CHANGES, KINDS, SHELL_KINDS, STEP_KINDS, Phase, step_module
from cutover_tui.steps import kind_module


def test_every_kind_has_its_model_and_a_module_that_plans_and_runs_it():
    assert STEP_KINDS == tuple(KINDS)
    for kind, model in KINDS.items():
        assert typing.get_args(model.model_fields["kind"].annotation) == (kind,)
        module = importlib.import_module(step_module(kind))
        assert module is kind_module(kind)
        assert callable(module.plan) and callable(module.run), kind


def test_a_phase_accepts_exactly_the_registered_kinds():
    with pytest.raises(ValidationError) as info:
        Phase.model_validate({"id": "1", "title": "p", "steps": [{"kind": "nope"}]})
    error = info.value.errors()[0]
    assert error["type"] == "union_tag_invalid"
    assert error["ctx"]["expected_tags"] == ", ".join(f"'{kind}'" for kind in STEP_KINDS)


def test_the_reference_documents_every_kind_and_the_flags():
    text = render()
    for kind in STEP_KINDS:
        assert f'### kind = "{kind}"' in text
    assert "".join(f"`{kind}`, " for kind in ALWAYS_CHANGES) in text
    assert SHELL_KINDS == ("ssh", "local")
