"""What the command line changes in a runbook (``--host``, ``--var``), parsed, and applied to
the TOML data before templates are rendered."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import msgspec

from .fields import Model, convert, valid_address, valid_user
from .shape import Table, as_table


class Overrides(Model, frozen=True, kw_only=True):
    """What the command line changes: ``--host NAME=[user@]ADDRESS[:PORT]`` and
    ``--var [HOST.]KEY=VALUE``, plus extra host fields the rehearsal world sets."""

    hosts: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    variables: dict[str, str] = msgspec.field(default_factory=dict)
    host_vars: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> Overrides:
        """As a run record keeps them (``run.overrides``); ValueError if the table is not
        that shape."""
        overrides: Overrides = convert(table, cls)
        return overrides

    def recordable(self) -> dict[str, Any]:
        """What a run record keeps of these (``run.overrides``): all but a variable whose name
        says it is a secret (that one is given again on the command line)."""
        from ..masking import is_secret_key

        out: dict[str, Any] = {}
        if self.hosts:
            out["hosts"] = {name: dict(fields) for name, fields in self.hosts.items()}
        variables = {k: v for k, v in self.variables.items() if not is_secret_key(k)}
        if variables:
            out["variables"] = variables
        scoped = {host: {k: v for k, v in values.items() if not is_secret_key(k)}
                  for host, values in self.host_vars.items()}
        if any(scoped.values()):
            out["host_vars"] = {host: values for host, values in scoped.items() if values}
        return out

    def under(self, other: Overrides) -> Overrides:
        """These overrides with ``other``'s on top (``other`` wins, field by field)."""
        hosts = {name: dict(fields) for name, fields in self.hosts.items()}
        for name, fields in other.hosts.items():
            hosts.setdefault(name, {}).update(fields)
        host_vars = {host: dict(values) for host, values in self.host_vars.items()}
        for host, values in other.host_vars.items():
            host_vars.setdefault(host, {}).update(values)
        return Overrides(hosts=hosts, variables={**self.variables, **other.variables},
                         host_vars=host_vars)

    @staticmethod
    def parse_host(text: str) -> tuple[str, dict[str, Any]]:
        m = re.fullmatch(r"([A-Za-z0-9_-]+)=(?:([^@\s]+)@)?(?:\[([^\]\s]+)\]|([^:@\s]+))"
                         r"(?::(\d+))?", text)
        if not m:
            raise ValueError(f"--host {text!r}: write NAME=[user@]ADDRESS[:PORT] "
                             "(an IPv6 address in brackets: NAME=[::1]:22)")
        name, user, bracketed, address, port = m.groups()
        address = bracketed or address
        if not valid_address(address):
            raise ValueError(f"--host {text!r}: {address!r} is not a host name, an IPv4 or an "
                             "IPv6 address")
        if user is not None and not valid_user(user):
            raise ValueError(f"--host {text!r}: {user!r} is not a user name (a letter or '_', "
                             "then letters, digits, '_', '.' or '-')")
        if port is not None and not 1 <= int(port) <= 65535:
            raise ValueError(f"--host {text!r}: the port must be 1 to 65535")
        fields: dict[str, Any] = {"address": address}
        if user:
            fields["user"] = user
        if port:
            fields["port"] = int(port)
        return name, fields

    @classmethod
    def from_cli(cls, hosts: list[str], variables: list[str]) -> Overrides:
        parsed_hosts: dict[str, dict[str, Any]] = {}
        for text in hosts:
            name, fields = cls.parse_host(text)
            parsed_hosts.setdefault(name, {}).update(fields)
        plain: dict[str, str] = {}
        scoped: dict[str, dict[str, str]] = {}
        for text in variables:
            key, sep, value = text.partition("=")
            if not sep or not re.fullmatch(r"([A-Za-z0-9_-]+\.)?[A-Za-z_]\w*", key):
                raise ValueError(f"--var {text!r}: write KEY=VALUE or HOST.KEY=VALUE")
            host, dot, name = key.rpartition(".")
            if dot:
                scoped.setdefault(host, {})[name] = value
            else:
                plain[name] = value
        return cls(hosts=parsed_hosts, variables=plain, host_vars=scoped)


def apply_overrides(data: Table, overrides: Overrides, problems: list[str], path: Path) -> Table:
    data = copy.deepcopy(data)
    data["variables"] = {**as_table(data.get("variables")), **overrides.variables}
    hosts = data.get("hosts")
    if not isinstance(hosts, dict):
        return data
    for name, fields in overrides.hosts.items():
        if name not in hosts:
            problems.append(
                f"--host {name}=...: the runbook {path} has no host {name!r}; "
                f"its hosts are: {', '.join(hosts)}"
            )
            continue
        hosts[name].update(fields)
    for name, extra in overrides.host_vars.items():
        if name not in hosts:
            problems.append(f"--var {name}.KEY=...: the runbook has no host {name!r}")
            continue
        hosts[name].setdefault("vars", {}).update(extra)
    return data
