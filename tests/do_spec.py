"""The official DigitalOcean OpenAPI description, for checking the stand-in's shapes and our
request bodies: the subset our code uses, vendored in ``tests/data/`` (see its README) so these
tests run on a plain clone; where ``../shared/digitalocean/`` is present a test checks the copy
against it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parent / "data" / "digitalocean-v2-subset.json"
FULL_SPEC = Path(__file__).resolve().parents[2] / "shared" / "digitalocean" / \
    "DigitalOcean-public.v2.bundled.yaml"


def _nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` is not JSON Schema: turn it into a null type."""
    if isinstance(node, dict):
        out = {k: _nullable_to_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True:
            if "type" in out:
                kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
                out["type"] = [*kinds, "null"]
            else:
                out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable_to_json_schema(v) for v in node]
    return node


@functools.cache
def spec() -> dict[str, Any]:
    import json

    return _nullable_to_json_schema(json.loads(SPEC.read_text()))


def resolve(ref: str) -> Any:
    node: Any = spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """Validate against a schema of the spec (its $refs resolve inside the spec)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    root = Resource.from_contents(spec(), default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:do-spec", root)
    wrapped = _rebase(schema)
    Draft202012Validator(wrapped, registry=registry).validate(instance)


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (f"urn:do-spec{v}" if k == "$ref" and isinstance(v, str) and v.startswith("#")
                    else _rebase(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def response_schema(path: str, method: str, status: str) -> dict[str, Any]:
    response = spec()["paths"][path][method]["responses"][status]
    if "$ref" in response:
        response = resolve(response["$ref"])
    return response["content"]["application/json"]["schema"]


def request_schema(path: str, method: str) -> dict[str, Any]:
    body = spec()["paths"][path][method]["requestBody"]
    if "$ref" in body:
        body = resolve(body["$ref"])
    return body["content"]["application/json"]["schema"]
