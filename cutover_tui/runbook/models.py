"""The runbook as loaded: its metadata, hosts, health endpoints, red flags and phases (the step
kinds are in ``steps.py``, listed once in ``kinds.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from .fields import MAX_REPEAT, Duration, Model, UtcTime, valid_address, valid_user
from .kinds import Step


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


class Phase(Model):
    id: str = Field(description="the seed's phase number ('R' for the rollback)")
    title: str
    duration: Duration = Field("0s", description="planned duration, from the seed's timeline")
    success_criteria: list[str] = Field(default_factory=list)
    requires_backup: bool = Field(False, description="needs a verified backup before it starts")
    repeat: int | None = Field(None, ge=1, description="run the steps this many times ({day}), "
                               f"at most {MAX_REPEAT}")
    steps: list[Step] = Field(default_factory=list)
    reattempt_from: str | None = Field(
        None, description="[rollback] only: the phase a re-attempt after the rollback opens "
        "again, with every phase after it (`cutover reattempt`); the phases before it keep "
        "their records")

    @field_validator("repeat")
    @classmethod
    def _repeat_bound(cls, value: int | None) -> int | None:
        if value is not None and value > MAX_REPEAT:  # guard: repeat-bound
            raise ValueError(f"expected at most {MAX_REPEAT} repeats (a day each: one year)")
        return value


class RedFlag(Model):
    """A red flag of the monitoring week as a rule ``cutover watch`` evaluates: a probe (one
    ``[[health]]`` endpoint on a host, or an existing http/ssh step that changes nothing) and
    one trigger: ``for`` (bad for at least that long), ``consecutive`` (that many bad results in
    a row) or ``per_hour_above`` (a counter in the probe's JSON answer rose by more than that in
    the last hour). ``resolve_after`` good results in a row resolve a firing rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="short name (`cutover silence ID`)")
    description: str = Field(description="what the operator watches for, as the seed says it")
    trigger: str = Field("", description="the measurable condition, for people")
    source: str = Field("", description="the seed's line this rule comes from")
    health: str | None = Field(None, description="probe: the name of a [[health]] endpoint")
    host: str | None = Field(None, description="with `health`: the host whose endpoint is probed")
    step: str | None = Field(None, description="probe: an http or ssh step that changes nothing")
    interval: Duration = Field("1m", description="how often the probe runs")
    after_utc: list[UtcTime] = Field(default_factory=list, description=(
        "run the probe only after each of these UTC times (HH:MM; a scheduled job), `grace` "
        "later, instead of every `interval`"))
    grace: Duration = Field("30m", description="with `after_utc`: how long after the scheduled time")
    for_: Duration | None = Field(None, alias="for", description="trigger: bad for this long")
    consecutive: int | None = Field(None, ge=1, description="trigger: this many bad in a row")
    per_hour_above: float | None = Field(None, ge=0, description=(
        "trigger: the counter `value` rose by more than this in the last hour"))
    value: str | None = Field(None, description=(
        "the JSON field of the probe's answer that is measured (a counter for per_hour_above)"))
    unanswered_is_bad: bool = Field(True, description=(
        "a probe that got no answer at all counts as bad (false: it is no evidence either way, "
        "when another rule covers a service that does not answer)"))
    resolve_after: int = Field(2, ge=1, description="good results in a row that resolve it")

    @model_validator(mode="after")
    def _one_probe_one_trigger(self) -> RedFlag:
        triggers = [self.for_, self.consecutive, self.per_hour_above]
        given = sum(t is not None for t in triggers)
        if self.health is None and self.step is None and given == 0:
            return self  # a red flag for people only: watched by hand (f), as before
        if (self.health is None) == (self.step is None):
            raise ValueError("a red-flag rule needs exactly one probe: `health` (with `host`) "
                             "or `step`")
        if self.health is not None and self.host is None:
            raise ValueError("a `health` probe needs `host`: which host's endpoint")
        if given != 1:  # guard: red-flag-one-trigger
            raise ValueError("a red-flag rule needs exactly one trigger: `for`, `consecutive` "
                             "or `per_hour_above`")
        if self.per_hour_above is not None and not self.value:
            raise ValueError("`per_hour_above` needs `value`: the counter's JSON field")
        return self

    @property
    def watched(self) -> bool:
        """A rule ``cutover watch`` evaluates (not only a line for people)."""
        return self.health is not None or self.step is not None


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
    notify: list[str] = Field(default_factory=list, description=(
        "Apprise URLs red flags are sent to (CUTOVER_NOTIFY, when set, replaces them)"))
    phases: list[Phase] = Field(min_length=1)
    rollback: Phase | None = None

    # Filled by the loader, not written by people.
    path: str = ""
    sha256: str = ""
    overrides: dict[str, Any] = Field(default_factory=dict, description=(
        "the --host/--var it was loaded with (recorded in the run, so a record reopens "
        "pointed where the run was)"))

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
