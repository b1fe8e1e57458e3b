"""Regenerate ``digitalocean-v2-subset.json`` from the bundled official description:

    uv run python tests/data/make_do_spec_subset.py ../shared/digitalocean/DigitalOcean-public.v2.bundled.yaml

It keeps the paths our droplet code and its stand-in use, and every ``#/components/...``
definition they reach, so the spec tests run on a plain clone. ``tests/test_droplets.py``
checks the copy against the full description where that is present.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PATHS = (
    "/v2/droplets",
    "/v2/droplets/{droplet_id}",
    "/v2/droplets/{droplet_id}/actions",
    "/v2/droplets/{droplet_id}/actions/{action_id}",
    "/v2/droplets/{droplet_id}/snapshots",
    "/v2/actions/{action_id}",
    "/v2/snapshots/{snapshot_id}",
)
OUT = Path(__file__).with_name("digitalocean-v2-subset.json")


def subset(full: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {"openapi": full["openapi"], "info": full["info"],
                            "paths": {p: full["paths"][p] for p in PATHS if p in full["paths"]},
                            "components": {}}
    pending = list(_refs(kept["paths"]))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen or not ref.startswith("#/components/"):
            continue
        seen.add(ref)
        section, name = ref.removeprefix("#/components/").split("/", 1)
        node = full["components"][section][name]
        kept["components"].setdefault(section, {})[name] = node
        pending.extend(_refs(node))
    for section in kept["components"].values():
        for name in sorted(section):
            section[name] = section.pop(name)
    return kept


def _refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def load_full(path: Path) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open() as handle:
        return yaml.load(handle, Loader=loader)


if __name__ == "__main__":
    data = subset(load_full(Path(sys.argv[1])))
    OUT.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUT} ({len(data['paths'])} paths, "
          f"{sum(len(s) for s in data['components'].values())} components)")
