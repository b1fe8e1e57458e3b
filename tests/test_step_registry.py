"""The step kinds are listed once, in ``cutover_tui/runbook/kinds.py``; the loader, the step
modules, the format reference and the preflight read that registry."""

import importlib
import typing

import msgspec
import pytest

from cutover_tui.reference import render
from cutover_tui.runbook import ALWAYS_CHANGES, KINDS, SHELL_KINDS, STEP_KINDS, Phase, step_module
from cutover_tui.runbook.fields import convert
from cutover_tui.steps import kind_module


def test_every_kind_has_its_model_and_a_module_that_plans_and_runs_it():
    assert STEP_KINDS == tuple(KINDS)
    for kind, model in KINDS.items():
        assert model.__struct_config__.tag == kind
        step = convert({"kind": kind, "id": "1", "title": "t", **_required(model)}, model)
        assert step.kind == kind
        module = importlib.import_module(step_module(kind))
        assert module is kind_module(kind)
        assert callable(module.plan) and callable(module.run), kind


def test_a_phase_accepts_exactly_the_registered_kinds():
    unknown = r"Invalid value 'nope' - at `\$.steps\[0\].kind`"
    with pytest.raises(msgspec.ValidationError, match=unknown):
        convert({"id": "1", "title": "p", "steps": [{"kind": "nope"}]}, Phase)
    for kind in STEP_KINDS:  # each registered kind is read as its model
        try:
            phase = convert({"id": "1", "title": "p", "steps": [{"kind": kind, "id": "1",
                                                                 "title": "t"}]}, Phase)
        except msgspec.ValidationError as exc:
            assert "missing required field" in str(exc), kind
        else:
            assert phase.steps[0].kind == kind


def _required(model):
    """A value of the right type for each of ``model``'s required fields."""
    def value(kind):
        kind = typing.get_args(kind)[0] if typing.get_origin(kind) is typing.Annotated else kind
        if typing.get_origin(kind) is typing.Literal:
            return typing.get_args(kind)[0]
        return ["x"] if typing.get_origin(kind) is list else "x"

    return {info.encode_name: value(info.type) for info in msgspec.structs.fields(model)
            if info.required and info.encode_name not in ("id", "title")}
def test_the_reference_documents_every_kind_and_the_flags():
    text = render()
    for kind in STEP_KINDS:
        assert f'### kind = "{kind}"' in text
    assert "".join(f"`{kind}`, " for kind in ALWAYS_CHANGES) in text
    assert SHELL_KINDS == ("ssh", "local")
