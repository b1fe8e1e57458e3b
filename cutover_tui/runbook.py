"""The runbook: what people write (``checklists/*.toml``) and how it is loaded.

Loading is: read TOML → apply command-line overrides → expand repeated phases → render ``{var}``
templates (an unknown name is a load error) → validate with pydantic → cross-check references.
Every problem is reported as ``file:line: field.path: what was expected`` in one
``RunbookError``; nothing here lets a traceback reach the user.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .credentials import TOOL_CREDENTIALS
from .durations import parse_duration
from .errors import RunbookError
from .patterns import compile_pattern
from .templating import render_shell, render_tree
from .tomlerrors import toml_error


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compile(value: str) -> Any:
    """Compiled with the engine the steps match with (``patterns``); ValueError if invalid."""
    return compile_pattern(value)


def _valid_regex(value: str) -> str:
    _compile(value)  # guard: regex-compiles-at-load
    return value


def _valid_duration(value: str) -> str:
    parse_duration(value)
    return value


Regex = Annotated[str, AfterValidator(_valid_regex)]
Duration = Annotated[str, AfterValidator(_valid_duration)]

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


# ---------------------------------------------------------------------------- hosts and checks


class Host(Model):
    """A machine the runbook talks to over SSH (and, with ``droplet``, through the DO API)."""

    address: str = Field(description="host name, IPv4 or IPv6 address")
    user: str = Field("root", description="SSH login user: letters, digits, '_', '.', '-'")
    port: int = Field(22, ge=1, le=65535, strict=True, description="SSH port (a number)")
    ssh_key: str | None = Field(None, description="private key file; default: agent and ~/.ssh")
    known_hosts: str | None = Field(None, description="known_hosts file; default ~/.ssh/known_hosts")
    droplet: str | None = Field(None, description="DigitalOcean droplet name of this host")
    role: str = Field("", description="what this host is in the cutover, for people")
    vars: dict[str, str | int | float] = Field(
        default_factory=dict, description="variables whose value differs on this host"
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not valid_address(value):  # guard: host-address-strict
            raise ValueError("expected a host name, an IPv4 or an IPv6 address")
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not valid_user(value):  # guard: host-user-strict
            raise ValueError("expected a user name: a letter or '_', then letters, digits, "
                             "'_', '.' or '-' (at most 32)")
        return value


class HealthEndpoint(Model):
    """An endpoint the live health panel polls on every host, and steps can check."""

    name: str = Field(description="label in the health panel")
    port: str = Field(description="port, usually a variable such as '{api_port}'")
    path: str = Field("/", description="URL path, starting with /")
    expect_status: int = 200
    contains: str | None = Field(None, description="text the body must contain")


class NumberCheck(Model):
    """A number captured from output by a regex (its first group) and checked against a range."""

    regex: Regex
    min: float | None = None
    max: float | None = None
    label: str = "value"

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        pattern = _compile(value)
        if pattern.groups < 1:
            raise ValueError("expected a regex with a capturing group around the number")
        return value


class PassThreshold(Model):
    """A test-suite result such as "40 of 48": ``regex`` captures passed (and optionally total)."""

    regex: Regex = Field(description="first group: passed count; optional second: total")
    min_passed: int = Field(ge=0)
    of: int | None = Field(None, description="expected total, for the record")

    @field_validator("regex")
    @classmethod
    def _captures(cls, value: str) -> str:
        if _compile(value).groups < 1:  # guard: threshold-capture-group
            raise ValueError("expected a regex with a capturing group around the passed "
                             "count, e.g. '(\\d+) passed'")
        return value


class RowCount(Model):
    min: int = 0
    max: int | None = None


# ---------------------------------------------------------------------------- step kinds


class StepBase(Model):
    id: str = Field(description="the seed's section number, e.g. '1.1' or '1.1-health'")
    title: str = Field(description="one line, shown in the step list")
    description: str = Field("", description="what and why, shown with the plan")
    gate: bool = Field(True, description="a failure of this step blocks the phase")
    once: bool = Field(False, description="in a repeated phase: run once, after the repeats")
    source: str = Field(
        "", description="the seed section that states this step's expectations and a short "
        "quote of it, e.g. 'seed 4.2: Should return \"healthy\"'; shown in the plan as "
        "'checks from'"
    )
    changes: bool | None = Field(
        None,
        description="false: the step only reads, so `cutover preflight` may run it against the "
        "hosts as they are; true: it changes something (ssh and local steps should say which)",
    )


class SshStep(StepBase):
    """Run a command on a host over SSH; check exit status, regexes and a captured number."""

    kind: Literal["ssh"]
    host: str
    command: str
    expect_exit: int | None = 0
    expect_regex: list[Regex] = Field(default_factory=list, description="each must match output")
    reject_regex: list[Regex] = Field(default_factory=list, description="none may match output")
    number: NumberCheck | None = None
    timeout: float = Field(120, gt=0)
    follow_seconds: float | None = Field(
        None, gt=0, description="for `-f` commands: watch this long, then stop; exit is ignored"
    )
    retries: int = Field(0, ge=0, description="re-run until the checks pass, this many times")
    retry_interval: float = Field(2.0, ge=0)


class HttpStep(StepBase):
    """A request from the operator's machine; check status, JSON fields, body and latency."""

    kind: Literal["http"]
    url: str
    method: Literal["GET", "HEAD"] = "GET"
    expect_status: int = 200
    expect_json: dict[str, Any] = Field(
        default_factory=dict,
        description="dotted field → exact value, or {min=, max=} for numbers",
    )
    expect_contains: list[str] = Field(default_factory=list)
    max_latency_ms: float | None = Field(None, gt=0)
    timeout: float = Field(10, gt=0)
    retries: int = Field(0, ge=0)
    retry_interval: float = Field(1.0, ge=0)


class ServicesStep(StepBase):
    """systemctl status/start/stop/restart across units; each must end active (running) or inactive."""

    kind: Literal["services"]
    host: str
    action: Literal["status", "start", "stop", "restart"]
    units: list[str] = Field(min_length=1)
    pause_after: dict[str, float] = Field(
        default_factory=dict, description="unit → seconds to wait after acting on it"
    )
    settle_seconds: float = Field(0, ge=0, description="wait before checking the result")
    expect: Literal["active", "inactive"] | None = Field(
        None, description="default: inactive after stop, active otherwise"
    )


class LocalStep(StepBase):
    """A command on the operator's machine (a test suite), with an optional pass threshold."""

    kind: Literal["local"]
    command: str
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    pass_env: list[str] = Field(default_factory=list, description=(
        "credentials the tool holds that this command may see; by default it gets none of "
        f"{', '.join(TOOL_CREDENTIALS)}"))
    expect_exit: int | None = 0
    threshold: PassThreshold | None = None
    timeout: float = Field(1800, gt=0)

    @field_validator("pass_env")
    @classmethod
    def _passable(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in TOOL_CREDENTIALS:
                raise ValueError(f"{name!r} is not a credential the tool withholds (one of "
                                 f"{', '.join(TOOL_CREDENTIALS)}); every other variable is "
                                 "passed anyway")
        return value


class ManualStep(StepBase):
    """Something a person does; the operator confirms it (and leaves a note if required)."""

    kind: Literal["manual"]
    instructions: str
    require_note: bool = False


class WaitStep(StepBase):
    """Wait a duration, until the next of some UTC times, or until a time after another step."""

    kind: Literal["wait"]
    duration: Duration | None = None
    until_utc: list[str] = Field(default_factory=list, description="next of these HH:MM UTC times")
    since_step: str | None = Field(None, description="wait until `after` past this step's finish")
    after: Duration | None = None

    @field_validator("until_utc")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", item):
                raise ValueError(f"{item!r} is not a time of day; write HH:MM in UTC, e.g. '05:00'")
        return value


class EnvEditStep(StepBase):
    """Change a remote .env: masked side-by-side diff, drift check, backup, atomic write."""

    kind: Literal["env_edit"]
    host: str
    path: str
    set: dict[str, str] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list)


class EnvRestoreStep(StepBase):
    """Put back the .env backup an env_edit step made, through the same diff screen."""

    kind: Literal["env_restore"]
    host: str
    path: str
    from_step: str = Field(description="the env_edit step whose backup is restored")


class BackupStep(StepBase):
    """pg_dump on a host, downloaded and verified (sha256 both ends, tables, rows, restore)."""

    kind: Literal["backup"]
    host: str
    env_file: str
    database_url_key: str = "DATABASE_URL"
    format: Literal["custom", "sql.gz"] = "custom"
    remote_dir: str
    local_dir: str = "~/air-demand-backups"
    name_prefix: str = "production_backup_"
    expect_tables: int | None = Field(None, ge=0)
    row_counts: dict[str, RowCount] = Field(default_factory=dict)
    restore_check: Literal["auto", "on", "off"] = "auto"


class DropletPowerStep(StepBase):
    """Power a droplet off (services first, graceful shutdown, then power_off) or on."""

    kind: Literal["droplet_power"]
    host: str
    action: Literal["off", "on"]
    stop_services: list[str] = Field(default_factory=list, description="stopped first, in order")
    stop_pause_seconds: float = Field(10, ge=0)
    shutdown_timeout: float = Field(60, gt=0)


class DropletDestroyStep(StepBase):
    """Destroy a droplet behind live preconditions, re-identification and its typed name."""

    kind: Literal["droplet_destroy"]
    host: str
    backup_step: str
    cutover_step: str = Field(description="the step whose finish starts the monitoring period")
    monitoring_phase: str
    monitoring_days: int = Field(7, ge=0)
    min_powered_off: Duration = "0s"
    power_off_step: str
    healthy_host: str
    snapshot_first: bool = False


class RepoEditStep(StepBase):
    """Replace text in files of the operator's git repository; diff, commit, push if asked."""

    kind: Literal["repo_edit"]
    repo: str
    files: list[str] = Field(min_length=1)
    find: str
    replace: str
    commit_message: str | None = None
    push: bool = False


Step = Annotated[
    SshStep | HttpStep | ServicesStep | LocalStep | ManualStep | WaitStep | EnvEditStep
    | EnvRestoreStep | BackupStep | DropletPowerStep | DropletDestroyStep | RepoEditStep,
    Field(discriminator="kind"),
]
STEP_KINDS = (
    "ssh", "http", "services", "local", "manual", "wait", "env_edit", "env_restore", "backup",
    "droplet_power", "droplet_destroy", "repo_edit",
)


# Kinds whose `command` is shell text: its {var} values are quoted where they stand.
SHELL_KINDS = ("ssh", "local")

# Kinds that change something every time they run; `changes = false` on them is a load error.
ALWAYS_CHANGES = ("env_edit", "env_restore", "backup", "droplet_power", "droplet_destroy",
                  "repo_edit")


def always_changes(step: Any) -> bool:
    return step.kind in ALWAYS_CHANGES or (step.kind == "services" and step.action != "status")


# ---------------------------------------------------------------------------- phases and runbook


class Phase(Model):
    id: str = Field(description="the seed's phase number ('R' for the rollback)")
    title: str
    duration: Duration = Field("0s", description="planned duration, from the seed's timeline")
    success_criteria: list[str] = Field(default_factory=list)
    requires_backup: bool = Field(False, description="needs a verified backup before it starts")
    repeat: int | None = Field(None, ge=1, description="run the steps this many times ({day}), "
                               f"at most {MAX_REPEAT}")
    steps: list[Step] = Field(default_factory=list)

    @field_validator("repeat")
    @classmethod
    def _repeat_bound(cls, value: int | None) -> int | None:
        if value is not None and value > MAX_REPEAT:  # guard: repeat-bound
            raise ValueError(f"expected at most {MAX_REPEAT} repeats (a day each: one year)")
        return value


class RedFlag(Model):
    id: str = Field(description="short name")
    description: str = Field(description="what the operator watches for")
    trigger: str = Field("", description="the measurable condition")


class Meta(Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$",
                    description="lowercase letters, digits and dashes; names the checklist")
    title: str = Field(description="shown at the top of the wizard")
    version: str = Field("1", description="the runbook's own version")
    source: str = Field("", description="where it comes from (the seed document)")
    goal: str = Field("", description="one sentence, for people")


class Runbook(Model):
    runbook: Meta
    variables: dict[str, str | int | float] = Field(default_factory=dict)
    shell_variables: list[str] = Field(default_factory=list)
    hosts: dict[str, Host] = Field(min_length=1)
    services: list[str] = Field(default_factory=list)
    health: list[HealthEndpoint] = Field(default_factory=list)
    red_flags: list[RedFlag] = Field(default_factory=list)
    phases: list[Phase] = Field(min_length=1)
    rollback: Phase | None = None

    # Filled by the loader, not written by people.
    path: str = ""
    sha256: str = ""

    @property
    def all_phases(self) -> list[Phase]:
        return [*self.phases, *([self.rollback] if self.rollback else [])]

    def steps(self) -> list[tuple[Phase, Any]]:
        return [(phase, step) for phase in self.all_phases for step in phase.steps]

    def step(self, step_id: str) -> Any:
        for _, step in self.steps():
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def phase_of(self, step_id: str) -> Phase:
        for phase, step in self.steps():
            if step.id == step_id:
                return phase
        raise KeyError(step_id)

    def health_url(self, host_name: str, endpoint: HealthEndpoint) -> str:
        host = self.hosts[host_name]
        return f"http://{host.address}:{endpoint.port}{endpoint.path}"


# ---------------------------------------------------------------------------- overrides


class Overrides(Model):
    """What the command line changes: ``--host NAME=[user@]ADDRESS[:PORT]`` and
    ``--var [HOST.]KEY=VALUE``, plus extra host fields the rehearsal world sets."""

    hosts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    variables: dict[str, str] = Field(default_factory=dict)
    host_vars: dict[str, dict[str, str]] = Field(default_factory=dict)

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


# ---------------------------------------------------------------------------- loading


def load_runbook(path: str | Path, overrides: Overrides | None = None) -> Runbook:
    """Load, template and validate a runbook; raise ``RunbookError`` listing every problem."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise RunbookError(str(path), [f"{path}: cannot read the runbook: {exc.strerror}"]) from None
    try:
        text = raw_bytes.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise RunbookError(str(path), [f"{path}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise RunbookError(str(path), [toml_error(path, text, exc, "the runbook")]) from None
    locator = LineLocator(text)
    problems = _shape_problems(data, locator, path)
    if problems:
        raise RunbookError(str(path), problems)
    data = _apply_overrides(data, overrides or Overrides(), problems, path)
    data = _expand_repeats(data)
    data = _render_templates(data, locator, problems, path)
    if problems:
        raise RunbookError(str(path), problems)
    try:
        book = Runbook.model_validate(
            {**data, "path": str(path), "sha256": hashlib.sha256(raw_bytes).hexdigest()}
        )
    except ValidationError as exc:
        raise RunbookError(str(path), _describe(exc, locator, path, data)) from None
    problems = _cross_check(book, locator, path)
    if problems:
        raise RunbookError(str(path), problems)
    return book


_TABLE = "a table"
_ARRAY_OF_TABLES = "an array of tables"


def _shape_problems(data: dict, locator: LineLocator, path: Path) -> list[str]:
    """The containers the loader walks before validation (to apply overrides, expand repeats
    and render templates) must be what they say: a scalar where a table or an array belongs is
    reported here, with its line, not met later as a crash or silently ignored."""
    problems: list[str] = []

    def expect(loc: tuple, value: Any, kind: type, what: str) -> bool:
        if isinstance(value, kind):
            return True
        problems.append(f"{path}:{locator.line_of(loc)}: {_dotted(loc)}: expected {what}, "
                        f"got {_toml_type(value)} {value!r}")
        return False

    if "variables" in data and not isinstance(data["variables"], dict):  # guard: variables-table
        expect(("variables",), data["variables"], dict, "a table of name = value ([variables])")
    if "shell_variables" in data:
        expect(("shell_variables",), data["shell_variables"], list,
               "an array of variable names, e.g. [\"test_command\"]")
    if "hosts" in data and expect(("hosts",), data["hosts"], dict, "a table of [hosts.NAME]"):
        for name, host in data["hosts"].items():
            if expect(("hosts", name), host, dict, f"a table [hosts.{name}]") and "vars" in host:
                expect(("hosts", name, "vars"), host["vars"], dict, "a table of name = value")
    phases = [(("phases", i), phase) for i, phase in enumerate(data.get("phases") or [])] \
        if expect(("phases",), data.get("phases", []), list, f"{_ARRAY_OF_TABLES} [[phases]]") \
        else []
    if "rollback" in data and expect(("rollback",), data["rollback"], dict, "a table [rollback]"):
        phases.append((("rollback",), data["rollback"]))
    for loc, phase in phases:
        if not expect(loc, phase, dict, _TABLE) or "steps" not in phase:
            continue
        if expect((*loc, "steps"), phase["steps"], list,  # guard: steps-array
                  f"{_ARRAY_OF_TABLES} [[{_dotted(loc[:1])}.steps]]"):
            for index, step in enumerate(phase["steps"]):
                expect((*loc, "steps", index), step, dict, _TABLE)
    return problems


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _apply_overrides(data: dict, overrides: Overrides, problems: list[str], path: Path) -> dict:
    data = copy.deepcopy(data)
    data["variables"] = {**_table(data.get("variables")), **overrides.variables}
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


def _expand_repeats(data: dict) -> dict:
    """A phase with ``repeat = N`` gets its steps N times, ids suffixed ``.dK``, ``{day}`` = K."""
    phases = data.get("phases") if isinstance(data.get("phases"), list) else []
    for phase in phases:
        if not isinstance(phase, dict) or not isinstance(phase.get("repeat"), int):
            continue
        # Past the bound, one day is rendered (so that {day} is known): validation refuses it.
        days = phase["repeat"] if phase["repeat"] <= MAX_REPEAT else 1
        template = phase.get("steps") if isinstance(phase.get("steps"), list) else []
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


def _table(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _host_variables(data: dict, host_name: str | None) -> dict[str, str]:
    variables = {k: str(v) for k, v in _table(data.get("variables")).items()}
    hosts = _table(data.get("hosts"))
    for name, host in hosts.items():
        if not isinstance(host, dict):
            continue
        for key in ("address", "user", "port", "droplet"):
            if key in host:
                variables[f"hosts.{name}.{key}"] = str(host[key])
        variables.setdefault(f"hosts.{name}.port", "22")
        variables.setdefault(f"hosts.{name}.user", "root")
        for key, value in _table(host.get("vars")).items():
            variables[f"hosts.{name}.{key}"] = str(value)
    if host_name and isinstance(hosts.get(host_name), dict):
        for key, value in _table(hosts[host_name].get("vars")).items():
            variables[key] = str(value)
        variables["host"] = str(hosts[host_name].get("address", ""))
    return variables


def _render_templates(data: dict, locator: LineLocator, problems: list[str], path: Path) -> dict:
    def unknown(where: tuple, name: str, known: dict[str, str]) -> None:
        shown = ", ".join(sorted(k for k in known if "." not in k)) or "none"
        problems.append(
            f"{path}:{locator.line_of(where)}: {_dotted(where)}: unknown variable {{{name}}}; "
            f"define it under [variables] or the host's vars (variables: {shown})"
        )

    shell_text = frozenset(name for name in data.get("shell_variables") or []
                           if isinstance(name, str))

    def render_step(step: dict, known: dict[str, str], where: tuple) -> dict:
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

    def render_phase(phase: Any, where: tuple) -> Any:
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


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _clean_loc(loc: tuple) -> tuple:
    """Drop the discriminator tags pydantic inserts (``steps.0.ssh.command`` → ``steps.0.command``)."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if part in STEP_KINDS and i >= 2 and loc[i - 2] == "steps":
            continue
        if isinstance(part, str) and part.startswith("function-"):
            continue
        out.append(part)
    return tuple(out)


def _describe(exc: ValidationError, locator: LineLocator, path: Path, data: dict) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = _clean_loc(tuple(error["loc"]))
        kind = error["type"]
        if kind == "missing":
            message = "missing required field"
        elif kind == "extra_forbidden":
            message = "unknown field (check the spelling; docs/runbook-format.md lists the fields)"
        elif kind == "union_tag_invalid":
            message = (f"unknown step kind {error['input'].get('kind')!r}; expected one of: "
                       f"{', '.join(STEP_KINDS)}")
        elif kind == "union_tag_not_found":
            message = f"missing field 'kind'; expected one of: {', '.join(STEP_KINDS)}"
        elif kind == "literal_error":
            message = f"got {error['input']!r}; {error['msg'].lower()}"
        else:
            message = error["msg"].removeprefix("Value error, ")
            if "input" in error and not isinstance(error["input"], dict | list):
                message += f" (got {error['input']!r})"
        where = (*loc, "kind") if kind == "union_tag_invalid" else loc
        problems.append(f"{path}:{locator.line_of(where)}: {_dotted(loc)}: {message}")
    return problems


def _cross_check(book: Runbook, locator: LineLocator, path: Path) -> list[str]:
    problems: list[str] = []
    seen: dict[str, tuple] = {}
    phase_ids = {p.id for p in book.all_phases}

    def problem(loc: tuple, message: str) -> None:
        problems.append(f"{path}:{locator.line_of(loc)}: {_dotted(loc)}: {message}")

    located: list[tuple[tuple, Any]] = []
    for pi, phase in enumerate(book.phases):
        template_ids: list[str] = []
        for step in phase.steps:
            base = re.sub(r"\.d\d+$", "", step.id) if phase.repeat else step.id
            if base not in template_ids:
                template_ids.append(base)
        for si, step in enumerate(phase.steps):
            if phase.repeat:
                si = template_ids.index(re.sub(r"\.d\d+$", "", step.id))
            located.append((("phases", pi, "steps", si), step))
    if book.rollback:
        for si, step in enumerate(book.rollback.steps):
            located.append((("rollback", "steps", si), step))
    defined = set(book.variables) | {name for host in book.hosts.values() for name in host.vars}
    for index, name in enumerate(book.shell_variables):
        if name not in defined:
            problem(("shell_variables", index), f"expected the name of a variable; {name!r} is "
                    "not in [variables] nor in any host's vars")
    for loc, step in located:
        if step.id in seen:
            problem((*loc, "id"), f"step id {step.id!r} is used twice")
        seen[step.id] = loc
    for loc, step in located:
        for field in ("host", "healthy_host"):
            name = getattr(step, field, None)
            if name is not None and name not in book.hosts:
                problem((*loc, field), f"no host named {name!r}; hosts: {', '.join(book.hosts)}")
        for field in ("since_step", "from_step", "backup_step", "cutover_step", "power_off_step"):
            ref = getattr(step, field, None)
            if ref is not None and ref not in seen:
                problem((*loc, field), f"no step with id {ref!r}")
        ref_phase = getattr(step, "monitoring_phase", None)
        if ref_phase is not None and ref_phase not in phase_ids:
            problem((*loc, "monitoring_phase"), f"no phase with id {ref_phase!r}")
        if step.kind in ("droplet_power", "droplet_destroy"):
            host = book.hosts.get(step.host)
            if host is not None and not host.droplet:
                problem((*loc, "host"), f"host {step.host!r} has no 'droplet' name to act on")
        if step.kind == "wait" and not (step.duration or step.until_utc or step.since_step):
            problem(loc, "a wait step needs 'duration', 'until_utc' or 'since_step' with 'after'")
        if step.kind == "wait" and bool(step.since_step) != bool(step.after):
            problem(loc, "'since_step' and 'after' go together")
        if step.changes is False and always_changes(step):
            action = f" (action {step.action})" if step.kind == "services" else ""
            problem((*loc, "changes"), f"a step of kind {step.kind}{action} always changes "
                    "something; it cannot be marked 'changes = false' (only steps that just "
                    "read may be, so that `cutover preflight` can run them)")
    return problems


class LineLocator:
    """Maps a field path (``phases[2].steps[1].command``) to the line of the TOML text where it
    is written, by following table headers; the nearest enclosing table's line is the fallback."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")

    def __init__(self, text: str):
        self.lines: dict[tuple, int] = {}
        counters: dict[tuple, int] = {}
        current: tuple = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                names = tuple(self._split(header.group(2)))
                current = self._resolve(names, current, counters, header.group(1) == "[[")
                self.lines.setdefault(current, number)
                continue
            key = self._KEY.match(line)
            if key:
                keys = tuple(self._split(key.group(1)))
                self.lines.setdefault((*current, *keys), number)

    @staticmethod
    def _split(dotted: str) -> list[str]:
        return [part.strip().strip("\"'") for part in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+',
                                                                  dotted)]

    def _resolve(self, names: tuple, current: tuple, counters: dict, is_array: bool) -> tuple:
        # Rebuild the path with array indices: [[phases.steps]] belongs to the last [[phases]].
        path: list[Any] = []
        for i, name in enumerate(names):
            path.append(name)
            prefix_names = names[: i + 1]
            if i < len(names) - 1 and counters.get(tuple(path)) is not None:
                path.append(counters[tuple(path)])
            elif i == len(names) - 1 and is_array:
                key = tuple(path)
                counters[key] = counters.get(key, -1) + 1
                # A new parent element resets the counters of its children.
                for other in list(counters):
                    if len(other) > len(key) and other[: len(key)] == key:
                        del counters[other]
                path.append(counters[key])
            del prefix_names
        return tuple(path)

    def line_of(self, loc: tuple) -> int:
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return 1


def runbook_plan_lines(book: Runbook) -> list[str]:
    """The plan as text lines: phases, steps, what each runs and where (``cutover validate``)."""
    from .steps import describe_step  # late: the step kinds import this module

    lines = [f"{book.runbook.title}  ({book.runbook.id}, sha256 {book.sha256[:12]})"]
    for name, host in book.hosts.items():
        droplet = f", droplet {host.droplet}" if host.droplet else ""
        lines.append(f"  host {name}: {host.user}@{host.address}:{host.port}{droplet}  {host.role}")
    for phase in book.all_phases:
        label = "Rollback" if phase is book.rollback else f"Phase {phase.id}"
        lines.append("")
        lines.append(f"{label}: {phase.title}  (planned {phase.duration}"
                     f"{', needs a verified backup' if phase.requires_backup else ''})")
        for step in phase.steps:
            lines.append(f"  {step.id:<12} [{step.kind}] {step.title}")
            for item in describe_step(book, step):
                first, *rest = item.strip().splitlines()
                lines.append(f"  {'':<12}   {first}")
                lines += [f"  {'':<12}     {line}" for line in rest]
        for criterion in phase.success_criteria:
            lines.append(f"  {'':<12} ✓ {criterion}")
    return lines
