"""From TOML data to what the models validate: repeated phases expanded (``{day}``) and every
``{var}`` template rendered, a shell command's values quoted for where they stand."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..templating import render_shell, render_tree
from .fields import MAX_REPEAT
from .kinds import SHELL_KINDS
from .locate import LineLocator, Loc, dotted
from .shape import Table, as_table


def expand_repeats(data: Table) -> Table:
    """A phase with ``repeat = N`` gets its steps N times, ids suffixed ``.dK``, ``{day}`` = K."""
    phases: list[Any] = data["phases"] if isinstance(data.get("phases"), list) else []
    for phase in phases:
        if not isinstance(phase, dict) or not isinstance(phase.get("repeat"), int):
            continue
        # Past the bound, one day is rendered (so that {day} is known): validation refuses it.
        days = phase["repeat"] if phase["repeat"] <= MAX_REPEAT else 1
        template: list[Any] = phase["steps"] if isinstance(phase.get("steps"), list) else []
        expanded = []
        for day in range(1, days + 1):
            for template_index, step in enumerate(template):
                if isinstance(step, dict) and step.get("once"):
                    continue
                if not isinstance(step, dict):
                    expanded.append(step)
                    continue
                copy_ = copy.deepcopy(step)
                copy_["id"] = f"{step.get('id')}.d{day}"
                copy_["_day"] = day
                copy_["_template_index"] = template_index
                expanded.append(copy_)
        for template_index, step in enumerate(template):
            if isinstance(step, dict) and step.get("once"):
                expanded.append({**step, "_template_index": template_index})
        phase["steps"] = expanded
    return data


def _host_variables(data: Table, host_name: str | None) -> dict[str, str]:
    variables = {k: str(v) for k, v in as_table(data.get("variables")).items()}
    hosts = as_table(data.get("hosts"))
    for name, host in hosts.items():
        if not isinstance(host, dict):
            continue
        for key in ("address", "user", "port", "droplet"):
            if key in host:
                variables[f"hosts.{name}.{key}"] = str(host[key])
        variables.setdefault(f"hosts.{name}.port", "22")
        variables.setdefault(f"hosts.{name}.user", "root")
        for key, value in as_table(host.get("vars")).items():
            variables[f"hosts.{name}.{key}"] = str(value)
    if host_name and isinstance(hosts.get(host_name), dict):
        for key, value in as_table(hosts[host_name].get("vars")).items():
            variables[key] = str(value)
        variables["host"] = str(hosts[host_name].get("address", ""))
    return variables


def render_templates(data: Table, locator: LineLocator, problems: list[str], path: Path) -> Table:
    def unknown(where: Loc, name: str, known: dict[str, str]) -> None:
        shown = ", ".join(sorted(k for k in known if "." not in k)) or "none"
        problems.append(
            f"{path}:{locator.line_of(where)}: {dotted(where)}: unknown variable {{{name}}}; "
            f"define it under [variables] or the host's vars (variables: {shown})"
        )

    shell_text = frozenset(name for name in data.get("shell_variables") or []
                           if isinstance(name, str))

    def render_step(step: Table, known: dict[str, str], where: Loc) -> Table:
        """Every string rendered; a shell command's values quoted for where they stand."""
        out = {}
        for key, value in step.items():
            if key == "command" and step.get("kind") in SHELL_KINDS and isinstance(value, str):
                out[key] = render_shell(value, known, lambda n: unknown((*where, "command"), n,
                                                                        known), shell_text)
            else:
                out[key] = render_tree(value, known, lambda w, n: unknown(w, n, known),
                                       (*where, key))
        return out

    def render_phase(phase: Any, where: Loc) -> Any:
        if not isinstance(phase, dict):
            return phase
        out = {k: v for k, v in phase.items() if k != "steps"}
        steps = []
        for index, step in enumerate(phase.get("steps") or []):
            if not isinstance(step, dict):
                steps.append(step)
                continue
            host = step.get("host") if isinstance(step.get("host"), str) else None
            known = _host_variables(data, host)
            if "_day" in step:
                known["day"] = str(step["_day"])
            source_index = step.pop("_template_index", index)
            step.pop("_day", None)
            steps.append(render_step(step, known, (*where, "steps", source_index)))
        if "steps" in phase:
            out["steps"] = steps
        return out

    data = dict(data)
    top_known = _host_variables(data, None)
    for key in ("health", "hosts"):
        if key in data:
            data[key] = render_tree(data[key], top_known,
                                    lambda w, n: unknown(w, n, top_known), (key,))
    if isinstance(data.get("phases"), list):
        data["phases"] = [render_phase(p, ("phases", i)) for i, p in enumerate(data["phases"])]
    if "rollback" in data:
        data["rollback"] = render_phase(data["rollback"], ("rollback",))
    return data
