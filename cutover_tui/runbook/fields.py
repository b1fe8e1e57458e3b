"""What every runbook model shares: the frozen, strict base model and the field types checked
when the runbook loads (regexes that compile, durations, times of day, host names and login
names).

The models are ``msgspec`` structs: unknown fields refused, frozen. ``msgspec`` builds and
checks them in C, so ``cutover validate`` and the wizard's first paint do not pay for a model
build at start-up (docs/benchmarks.md). Like the pydantic models they replace, they read a
number or a boolean written as text ("30", "true"): a ``{var}`` template always renders to text,
so ``timeout = "{step_timeout}"`` must work. The SSH port does not: it reaches ssh's command
line and is a TOML number or nothing (``Port``). A checked field type is a subclass that only
``check_field`` makes: a problem it finds is reported at the field's own path
(``phases[2].steps[1].expect_regex[0]``) like any other.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import msgspec

from ..durations import parse_duration
from ..patterns import compile_pattern


class Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A runbook table: frozen; a field it does not have is a load error."""


def doc(text: str) -> msgspec.Meta:
    """A field's meaning, for people: ``Annotated[str, doc("...")]`` (the format reference
    prints it)."""
    return msgspec.Meta(description=text)


class FieldProblem(ValueError):
    """A check of a whole table that names the field at fault, so the message points at its
    line: ``str()`` is ``"FIELD: what is wrong"`` (``load.py`` reads the field back)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class Regex(str):
    """A regular expression, compiled at load with the engine the steps match with."""


class Duration(str):
    """A duration such as '90s', '10m', '1h30m', '7d' (at most 366 days)."""


class UtcTime(str):
    """A time of day, HH:MM in UTC (a scheduled job's: the 05:00 / 17:00 scrape)."""


class HostAddress(str):
    """A host name, an IPv4 or an IPv6 address: it reaches ssh's command line."""


class LoginName(str):
    """A login name: a letter or '_', then letters, digits, '_', '.', '-' (at most 32)."""


class Port(int):
    """A TCP port, 1 to 65535, written as a number (never text: it reaches ssh's command
    line)."""


def checked_regex(value: str) -> str:
    """Compiled with the engine the steps match with (``patterns``); ValueError if invalid."""
    compile_pattern(value)  # guard: regex-compiles-at-load
    return value


def checked_duration(value: str) -> str:
    parse_duration(value)
    return value


def checked_utc_time(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"{value!r} is not a time of day; write HH:MM in UTC, e.g. '05:00'")
    return value


def checked_address(value: str) -> str:
    if not valid_address(value):  # guard: host-address-strict
        raise ValueError("expected a host name, an IPv4 or an IPv6 address")
    return value


def checked_user(value: str) -> str:
    if not valid_user(value):  # guard: host-user-strict
        raise ValueError("expected a user name: a letter or '_', then letters, digits, "
                         "'_', '.' or '-' (at most 32)")
    return value


# Each checked type, its check and the name the format reference gives it.
CHECKED: dict[type[str], tuple[Any, str]] = {
    Regex: (checked_regex, "regex"),
    Duration: (checked_duration, "duration"),
    UtcTime: (checked_utc_time, "HH:MM"),
    HostAddress: (checked_address, "str"),
    LoginName: (checked_user, "str"),
}


def checked_port(value: Any) -> Port:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected a port number (1 to 65535), written as a number")
    if not 1 <= value <= 65535:
        raise ValueError("expected a port number from 1 to 65535")
    return Port(value)


def check_field(kind: type, value: Any) -> Any:
    """``msgspec``'s ``dec_hook``: a checked field type from the runbook's text. Raising
    ValueError or TypeError makes it a load error at the field."""
    if kind is Port:
        return checked_port(value)
    checked = CHECKED.get(kind)
    if checked is None:
        raise NotImplementedError(kind)
    if not isinstance(value, str):
        raise TypeError("expected a string")
    check, _ = checked
    return kind(check(value))


def convert(data: Any, model: Any) -> Any:
    """``data`` (plain tables) as ``model``, every field checked, a number or boolean written
    as text read as one; ``msgspec.ValidationError`` (a ValueError) names the first problem and
    its path."""
    return msgspec.convert(data, model, dec_hook=check_field, strict=False)


# A repeated phase runs its steps at most this many times (a day each: one year).
MAX_REPEAT = 366

# Host fields that reach a command line (ssh's, and the shell's through {hosts.NAME.*}).
_HOSTNAME = re.compile(r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")


def valid_address(value: str) -> bool:
    """A host name (letters, digits, '-' and '_' in dot-separated labels, none starting with
    '-'), an IPv4 or an IPv6 address."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return bool(_HOSTNAME.fullmatch(value))
    return True


def valid_user(value: str) -> bool:
    """A login name: a letter or '_', then letters, digits, '_', '.', '-' (at most 32)."""
    return bool(_USER.fullmatch(value))
