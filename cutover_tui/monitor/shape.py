"""The monitoring week's part of the run record's shape: ``[red_flags."<rule>"]`` tables and
``[[silences]]`` entries, checked when the checklist is read so a hand edit of the wrong type is
a sentence naming its place, never a crash in the watcher, the destroy or review."""

from __future__ import annotations

from typing import Any

from ..records import toml_type

Loc = tuple[str, ...]
TEXT_FIELDS = ("state", "description", "first_seen", "fired_at", "resolved_at")
LIST_FIELDS = ("values", "transitions", "notifications")
SILENCE_FIELDS = ("rule", "from", "until", "reason", "by")


def monitor_shape_problems(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    rules = data.get("red_flags", {})
    if not isinstance(rules, dict):
        problems.append((("red_flags",), f"expected a table, got {toml_type(rules)}"))
        rules = {}
    for rule, table in rules.items():
        loc = ("red_flags", str(rule))
        if not isinstance(table, dict):
            problems.append((loc, f"expected a table, got {toml_type(table)}"))
            continue
        for key in TEXT_FIELDS:
            if key in table and not isinstance(table[key], str):
                problems.append(((*loc, key), f"expected text, got {toml_type(table[key])}"))
        for key in LIST_FIELDS:
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(((*loc, key), f"expected a list of text, got {toml_type(value)}"))
    silences = data.get("silences", [])
    if not isinstance(silences, list):
        problems.append((("silences",), f"expected an array of tables, got {toml_type(silences)}"))
        silences = []
    for index, entry in enumerate(silences):
        loc = ("silences", str(index))
        if not isinstance(entry, dict):
            problems.append((loc, f"expected a table, got {toml_type(entry)}"))
            continue
        for key in SILENCE_FIELDS:
            if not isinstance(entry.get(key), str):
                problems.append(((*loc, key), f"expected text, got {toml_type(entry.get(key))}"))
    return problems
