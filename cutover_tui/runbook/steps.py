"""The step kinds as the runbook writes them: the fields common to every step, those of each
kind, and the checks a step carries (a captured number, a pass threshold, row counts).

Each kind also says, in class attributes (not runbook fields), what ``kinds.py`` — the one
registry of step kinds — needs to know of it: the module of ``cutover_tui/steps/`` that plans
and runs it, whether its ``command`` is shell text, whether it always changes something."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from ..credentials import TOOL_CREDENTIALS
from ..patterns import compile_pattern
from .fields import Duration, Model, Regex, UtcTime


class NumberCheck(Model):
    """A number captured from output by a regex (its first group) and checked against a range."""

    regex: Regex
    min: float | None = None
    max: float | None = None
    label: str = "value"

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        pattern = compile_pattern(value)
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
        if compile_pattern(value).groups < 1:  # guard: threshold-capture-group
            raise ValueError("expected a regex with a capturing group around the passed "
                             "count, e.g. '(\\d+) passed'")
        return value


class RowCount(Model):
    min: int = 0
    max: int | None = None


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
    cosign: bool = Field(
        False, description="four eyes: the step runs only once an operator other than the one "
        "who runs it approved exactly what it will act on (`cutover approve`, or `a` in their "
        "wizard); an approval is void when the plan, the droplet or the preconditions change, "
        "when a red flag fires, and after 15 minutes. Only droplet_power and droplet_destroy "
        "steps check one"
    )
    cosign_wait: Duration = Field(
        "10m", description="with `cosign`: how long the step waits for a valid approval, "
        "just before it acts, before it fails saying what is missing ('0s': it fails at once)"
    )

    @field_validator("cosign")
    @classmethod
    def _cosign_where_checked(cls, value: bool) -> bool:
        if value and not cls.checks_cosign:  # guard: cosign-kinds
            raise ValueError("only droplet_power and droplet_destroy steps check an approval; "
                             "on another kind `cosign = true` would protect nothing")
        return value

    # What the registry (``kinds.py``) knows of each kind.
    step_module: ClassVar[str]
    """The module of ``cutover_tui/steps/`` that plans and runs this kind, imported when a step
    of the kind is first planned or run (so that ``cutover validate`` stays light)."""
    shell_command: ClassVar[bool] = False
    """Its ``command`` is shell text: ``{var}`` values are quoted for where they stand."""
    changes_always: ClassVar[bool] = False
    """It changes something every time it runs: ``changes = false`` on it is a load error."""
    checks_cosign: ClassVar[bool] = False
    """Its ``run`` checks an approval (``cutover_tui/approvals.py``) before it acts, so
    ``cosign = true`` may be set on it."""


class SshStep(StepBase):
    """Run a command on a host over SSH; check exit status, regexes and a captured number."""

    kind: Literal["ssh"]
    step_module = "ssh"
    shell_command = True
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
    step_module = "http"
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
    step_module = "services"
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
    step_module = "local"
    shell_command = True
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
    step_module = "manual"
    instructions: str
    require_note: bool = False
    show_evidence_of: str | None = Field(
        None, description="a step whose recorded evidence is shown with the instructions (in "
        "the confirmation, the output and this step's verdict, which keeps a copy): 5.3 shows "
        "the droplet id, name, IP, size, region and power-off time that 5.2 recorded"
    )


class WaitStep(StepBase):
    """Wait a duration, until the next of some UTC times, or until a time after another step."""

    kind: Literal["wait"]
    step_module = "wait"
    duration: Duration | None = None
    until_utc: list[UtcTime] = Field(default_factory=list,
                                     description="next of these HH:MM UTC times")
    since_step: str | None = Field(None, description="wait until `after` past this step's finish")
    after: Duration | None = None


class EnvEditStep(StepBase):
    """Change a remote .env: masked side-by-side diff, drift check, backup, atomic write."""

    kind: Literal["env_edit"]
    step_module = "env_edit"
    changes_always = True
    host: str
    path: str
    set: dict[str, str] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list)


class EnvRestoreStep(StepBase):
    """Put back the .env backup an env_edit step made, through the same diff screen."""

    kind: Literal["env_restore"]
    step_module = "env_edit"
    changes_always = True
    host: str
    path: str
    from_step: str = Field(description="the env_edit step whose backup is restored")


class BackupStep(StepBase):
    """pg_dump on a host, downloaded and verified (sha256 both ends, tables, rows, restore)."""

    kind: Literal["backup"]
    step_module = "backup"
    changes_always = True
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
    step_module = "droplet_power"
    changes_always = True
    checks_cosign = True
    host: str
    action: Literal["off", "on"]
    stop_services: list[str] = Field(default_factory=list, description="stopped first, in order")
    stop_pause_seconds: float = Field(10, ge=0)
    shutdown_timeout: float = Field(60, gt=0)


class DropletDestroyStep(StepBase):
    """Destroy a droplet behind live preconditions, re-identification and its typed name."""

    kind: Literal["droplet_destroy"]
    step_module = "droplet_destroy"
    changes_always = True
    checks_cosign = True
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
    step_module = "repo_edit"
    changes_always = True
    repo: str
    files: list[str] = Field(min_length=1)
    find: str
    replace: str
    commit_message: str | None = None
    push: bool = False
