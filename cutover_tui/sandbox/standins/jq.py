"""jq: ``.`` and ``.a.b`` paths, ``-r`` for raw strings."""

from __future__ import annotations

import json
import sys


def jq(args: list[str]) -> int:
    flags = [a for a in args if a.startswith("-")]
    program = next((a for a in args if not a.startswith("-")), ".")
    raw = "-r" in flags
    text = sys.stdin.read()
    try:
        value = json.loads(text)
    except ValueError:
        print("jq: error (at <stdin>:1): Cannot parse input as JSON", file=sys.stderr)
        return 5
    if program != ".":
        for part in program.strip(".").split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if raw and isinstance(value, str):
        print(value)
    else:
        print(json.dumps(value, indent=2, ensure_ascii=False))
    return 0
