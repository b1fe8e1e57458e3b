"""The vendored DigitalOcean spec subset (tests/data/) is what the official description says."""

import json

import pytest

from . import do_spec
from .data.make_do_spec_subset import load_full, subset


def test_vendored_subset_matches_the_official_description():
    if not do_spec.FULL_SPEC.exists():
        pytest.skip(f"no {do_spec.FULL_SPEC} here to compare the vendored copy with")
    vendored = json.loads(do_spec.SPEC.read_text())
    assert vendored == json.loads(json.dumps(subset(load_full(do_spec.FULL_SPEC))))
    assert "/v2/droplets/{droplet_id}/actions" in vendored["paths"]
