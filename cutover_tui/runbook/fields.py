"""What every runbook model shares: the frozen, strict base model and the field types checked
when the runbook loads (regexes that compile, durations, host names and login names)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from ..durations import parse_duration
from ..patterns import compile_pattern


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def checked_regex(value: str) -> str:
    """Compiled with the engine the steps match with (``patterns``); ValueError if invalid."""
    compile_pattern(value)  # guard: regex-compiles-at-load
    return value


def checked_duration(value: str) -> str:
    parse_duration(value)
    return value


def checked_utc_time(value: str) -> str:
    """A time of day, HH:MM in UTC (a scheduled job's: the 05:00 / 17:00 scrape)."""
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"{value!r} is not a time of day; write HH:MM in UTC, e.g. '05:00'")
    return value


Regex = Annotated[str, AfterValidator(checked_regex)]
UtcTime = Annotated[str, AfterValidator(checked_utc_time)]
Duration = Annotated[str, AfterValidator(checked_duration)]

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
