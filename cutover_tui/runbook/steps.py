"""The step kinds as the runbook writes them: the fields common to every step, those of each
kind, and the checks a step carries (a captured number, a pass threshold, row counts).

Each kind also says, in class attributes (not runbook fields), what ``kinds.py`` — the one
registry of step kinds — needs to know of it: the module of ``cutover_tui/steps/`` that plans
and runs it, whether its ``command`` is shell text, whether it always changes something."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec

from ..credentials import TOOL_CREDENTIALS
from ..patterns import compile_pattern
from .fields import Duration, FieldProblem, Model, Regex, UtcTime, doc

Positive = Annotated[float, msgspec.Meta(gt=0)]
NotNegative = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]


class NumberCheck(Model, frozen=True, kw_only=True):
    """A number captured from output by a regex (its first group) and checked against a range."""

    regex: Regex
    min: float | None = None
    max: float | None = None
    label: str = "value"

    def __post_init__(self) -> None:
        if compile_pattern(self.regex).groups < 1:
            raise FieldProblem("regex", "expected a regex with a capturing group around the "
                               "number")


class PassThreshold(Model, frozen=True, kw_only=True):
    """A test-suite result such as "40 of 48": ``regex`` captures passed (and optionally total)."""

    regex: Annotated[Regex, doc("first group: passed count; optional second: total")]
    min_passed: Count
    of: Annotated[int | None, doc("expected total, for the record")] = None

    def __post_init__(self) -> None:
        if compile_pattern(self.regex).groups < 1:  # guard: threshold-capture-group
            raise FieldProblem("regex", "expected a regex with a capturing group around the "
                               "passed count, e.g. '(\\d+) passed'")


class RowCount(Model, frozen=True, kw_only=True):
    min: int = 0
    max: int | None = None


class StepBase(Model, tag_field="kind", frozen=True, kw_only=True):
    """The fields every step has; ``kind`` (its TOML tag) says which model it is."""

    id: Annotated[str, doc("the seed's section number, e.g. '1.1' or '1.1-health'")]
    title: Annotated[str, doc("one line, shown in the step list")]
    description: Annotated[str, doc("what and why, shown with the plan")] = ""
    gate: Annotated[bool, doc("a failure of this step blocks the phase")] = True
    once: Annotated[bool, doc("in a repeated phase: run once, after the repeats")] = False
    source: Annotated[str, doc(
        "the seed section that states this step's expectations and a short quote of it, e.g. "
        "'seed 4.2: Should return \"healthy\"'; shown in the plan as 'checks from'")] = ""
    changes: Annotated[bool | None, doc(
        "false: the step only reads, so `cutover preflight` may run it against the hosts as "
        "they are; true: it changes something (ssh and local steps should say which)")] = None
    cosign: Annotated[bool, doc(
        "four eyes: the step runs only once an operator other than the one who runs it "
        "approved exactly what it will act on (`cutover approve`, or `a` in their wizard); an "
        "approval is void when the plan, the droplet or the preconditions change, when a red "
        "flag fires, and after 15 minutes. Only droplet_power and droplet_destroy steps check "
        "one")] = False
    cosign_wait: Annotated[Duration, doc(
        "with `cosign`: how long the step waits for a valid approval, just before it acts, "
        "before it fails saying what is missing ('0s': it fails at once)")] = Duration("10m")

    def __post_init__(self) -> None:
        if self.cosign and not self.checks_cosign:  # guard: cosign-kinds
            raise FieldProblem("cosign", "only droplet_power and droplet_destroy steps check an "
                               "approval; on another kind `cosign = true` would protect nothing")

    # What the registry (``kinds.py``) knows of each kind.
    kind: ClassVar[str]
    """The kind, as the runbook writes it (``kind = "ssh"``): the model's tag."""
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


class SshStep(StepBase, tag="ssh", frozen=True, kw_only=True):
    """Run a command on a host over SSH; check exit status, regexes and a captured number."""

    kind: ClassVar[Literal["ssh"]] = "ssh"
    step_module = "ssh"
    shell_command = True
    host: str
    command: str
    expect_exit: int | None = 0
    expect_regex: Annotated[list[Regex], doc("each must match output")] = msgspec.field(
        default_factory=list)
    reject_regex: Annotated[list[Regex], doc("none may match output")] = msgspec.field(
        default_factory=list)
    number: NumberCheck | None = None
    timeout: Positive = 120
    follow_seconds: Annotated[Positive | None, doc(
        "for `-f` commands: watch this long, then stop; exit is ignored")] = None
    retries: Annotated[Count, doc(
        "re-run until the checks pass, this many times")] = 0
    retry_interval: NotNegative = 2.0


class HttpStep(StepBase, tag="http", frozen=True, kw_only=True):
    """A request from the operator's machine; check status, JSON fields, body and latency."""

    kind: ClassVar[Literal["http"]] = "http"
    step_module = "http"
    url: str
    method: Literal["GET", "HEAD"] = "GET"
    expect_status: int = 200
    expect_json: Annotated[dict[str, Any], doc(
        "dotted field → exact value, or {min=, max=} for numbers")] = msgspec.field(
        default_factory=dict)
    expect_contains: list[str] = msgspec.field(default_factory=list)
    max_latency_ms: Positive | None = None
    timeout: Positive = 10
    retries: Count = 0
    retry_interval: NotNegative = 1.0


class ServicesStep(StepBase, tag="services", frozen=True, kw_only=True):
    """systemctl status/start/stop/restart across units; each must end active (running) or inactive."""

    kind: ClassVar[Literal["services"]] = "services"
    step_module = "services"
    host: str
    action: Literal["status", "start", "stop", "restart"]
    units: Annotated[list[str], msgspec.Meta(min_length=1)]
    pause_after: Annotated[dict[str, float], doc(
        "unit → seconds to wait after acting on it")] = msgspec.field(default_factory=dict)
    settle_seconds: Annotated[NotNegative, doc(
        "wait before checking the result")] = 0
    expect: Annotated[Literal["active", "inactive"] | None, doc(
        "default: inactive after stop, active otherwise")] = None


class LocalStep(StepBase, tag="local", frozen=True, kw_only=True):
    """A command on the operator's machine (a test suite), with an optional pass threshold."""

    kind: ClassVar[Literal["local"]] = "local"
    step_module = "local"
    shell_command = True
    command: str
    cwd: str | None = None
    env: dict[str, str] = msgspec.field(default_factory=dict)
    pass_env: Annotated[list[str], doc(
        "credentials the tool holds that this command may see; by default it gets none of "
        f"{', '.join(TOOL_CREDENTIALS)}")] = msgspec.field(default_factory=list)
    expect_exit: int | None = 0
    threshold: PassThreshold | None = None
    timeout: Positive = 1800

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in self.pass_env:
            if name not in TOOL_CREDENTIALS:
                raise FieldProblem("pass_env", f"{name!r} is not a credential the tool withholds "
                                   f"(one of {', '.join(TOOL_CREDENTIALS)}); every other "
                                   "variable is passed anyway")


class ManualStep(StepBase, tag="manual", frozen=True, kw_only=True):
    """Something a person does; the operator confirms it (and leaves a note if required)."""

    kind: ClassVar[Literal["manual"]] = "manual"
    step_module = "manual"
    instructions: str
    require_note: bool = False
    show_evidence_of: Annotated[str | None, doc(
        "a step whose recorded evidence is shown with the instructions (in the confirmation, "
        "the output and this step's verdict, which keeps a copy): 5.3 shows the droplet id, "
        "name, IP, size, region and power-off time that 5.2 recorded")] = None


class WaitStep(StepBase, tag="wait", frozen=True, kw_only=True):
    """Wait a duration, until the next of some UTC times, or until a time after another step."""

    kind: ClassVar[Literal["wait"]] = "wait"
    step_module = "wait"
    duration: Duration | None = None
    until_utc: Annotated[list[UtcTime], doc("next of these HH:MM UTC times")] = msgspec.field(
        default_factory=list)
    since_step: Annotated[str | None, doc("wait until `after` past this step's finish")] = None
    after: Duration | None = None


class EnvEditStep(StepBase, tag="env_edit", frozen=True, kw_only=True):
    """Change a remote .env: masked side-by-side diff, drift check, backup, atomic write."""

    kind: ClassVar[Literal["env_edit"]] = "env_edit"
    step_module = "env_edit"
    changes_always = True
    host: str
    path: str
    set: dict[str, str] = msgspec.field(default_factory=dict)
    unset: list[str] = msgspec.field(default_factory=list)


class EnvRestoreStep(StepBase, tag="env_restore", frozen=True, kw_only=True):
    """Put back the .env backup an env_edit step made, through the same diff screen."""

    kind: ClassVar[Literal["env_restore"]] = "env_restore"
    step_module = "env_edit"
    changes_always = True
    host: str
    path: str
    from_step: Annotated[str, doc("the env_edit step whose backup is restored")]


class BackupStep(StepBase, tag="backup", frozen=True, kw_only=True):
    """pg_dump on a host, downloaded and verified (sha256 both ends, tables, rows, restore)."""

    kind: ClassVar[Literal["backup"]] = "backup"
    step_module = "backup"
    changes_always = True
    host: str
    env_file: str
    database_url_key: str = "DATABASE_URL"
    format: Literal["custom", "sql.gz"] = "custom"
    remote_dir: str
    local_dir: str = "~/air-demand-backups"
    name_prefix: str = "production_backup_"
    expect_tables: Count | None = None
    row_counts: dict[str, RowCount] = msgspec.field(default_factory=dict)
    restore_check: Literal["auto", "on", "off"] = "auto"


class DropletPowerStep(StepBase, tag="droplet_power", frozen=True, kw_only=True):
    """Power a droplet off (services first, graceful shutdown, then power_off) or on."""

    kind: ClassVar[Literal["droplet_power"]] = "droplet_power"
    step_module = "droplet_power"
    changes_always = True
    checks_cosign = True
    host: str
    action: Literal["off", "on"]
    stop_services: Annotated[list[str], doc("stopped first, in order")] = msgspec.field(
        default_factory=list)
    stop_pause_seconds: NotNegative = 10
    shutdown_timeout: Positive = 60


class DropletDestroyStep(StepBase, tag="droplet_destroy", frozen=True, kw_only=True):
    """Destroy a droplet behind live preconditions, re-identification and its typed name."""

    kind: ClassVar[Literal["droplet_destroy"]] = "droplet_destroy"
    step_module = "droplet_destroy"
    changes_always = True
    checks_cosign = True
    host: str
    backup_step: str
    cutover_step: Annotated[str, doc("the step whose finish starts the monitoring period")]
    monitoring_phase: str
    monitoring_days: Count = 7
    min_powered_off: Duration = Duration("0s")
    power_off_step: str
    healthy_host: str
    snapshot_first: bool = False


class RepoEditStep(StepBase, tag="repo_edit", frozen=True, kw_only=True):
    """Replace text in files of the operator's git repository; diff, commit, push if asked."""

    kind: ClassVar[Literal["repo_edit"]] = "repo_edit"
    step_module = "repo_edit"
    changes_always = True
    repo: str
    files: Annotated[list[str], msgspec.Meta(min_length=1)]
    find: str
    replace: str
    commit_message: str | None = None
    push: bool = False
