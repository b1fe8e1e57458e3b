"""The runbook as loaded: its metadata, hosts, health endpoints, red flags and phases (the step
kinds are in ``steps.py``, listed once in ``kinds.py``)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from .fields import (
    MAX_REPEAT,
    Duration,
    FieldProblem,
    HostAddress,
    LoginName,
    Model,
    Port,
    UtcTime,
    doc,
)
from .kinds import StepModel

_ID = msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]*$")


class Host(Model, frozen=True, kw_only=True):
    """A machine the runbook talks to over SSH (and, with ``droplet``, through the DO API)."""

    address: Annotated[HostAddress, doc("host name, IPv4 or IPv6 address")]
    user: Annotated[LoginName, doc("SSH login user: letters, digits, '_', '.', '-'")] = \
        LoginName("root")
    port: Annotated[Port, doc("SSH port (a number, 1 to 65535)")] = Port(22)
    ssh_key: Annotated[str | None, doc("private key file; default: agent and ~/.ssh")] = None
    known_hosts: Annotated[str | None, doc("known_hosts file; default ~/.ssh/known_hosts")] = None
    droplet: Annotated[str | None, doc("DigitalOcean droplet name of this host")] = None
    role: Annotated[str, doc("what this host is in the cutover, for people")] = ""
    vars: Annotated[dict[str, str | int | float | bool],
                    doc("variables whose value differs on this host")] = msgspec.field(
        default_factory=dict)


class HealthEndpoint(Model, frozen=True, kw_only=True):
    """An endpoint the live health panel polls on every host, and steps can check."""

    name: Annotated[str, doc("label in the health panel")]
    port: Annotated[str, doc("port, usually a variable such as '{api_port}'")]
    path: Annotated[str, doc("URL path, starting with /")] = "/"
    expect_status: int = 200
    contains: Annotated[str | None, doc("text the body must contain")] = None


class Phase(Model, frozen=True, kw_only=True):
    id: Annotated[str, doc("the seed's phase number ('R' for the rollback)")]
    title: str
    duration: Annotated[Duration, doc("planned duration, from the seed's timeline")] = \
        Duration("0s")
    success_criteria: list[str] = msgspec.field(default_factory=list)
    requires_backup: Annotated[bool, doc("needs a verified backup before it starts")] = False
    repeat: Annotated[Annotated[int, msgspec.Meta(ge=1)] | None, doc(
        f"run the steps this many times ({{day}}), at most {MAX_REPEAT}")] = None
    steps: list[StepModel] = msgspec.field(default_factory=list)
    reattempt_from: Annotated[str | None, doc(
        "[rollback] only: the phase a re-attempt after the rollback opens again, with every "
        "phase after it (`cutover reattempt`); the phases before it keep their records")] = None

    def __post_init__(self) -> None:
        if self.repeat is not None and self.repeat > MAX_REPEAT:  # guard: repeat-bound
            raise FieldProblem("repeat", f"expected at most {MAX_REPEAT} repeats (a day each: "
                               "one year)")


class RedFlag(Model, frozen=True, kw_only=True):
    """A red flag of the monitoring week as a rule ``cutover watch`` evaluates: a probe (one
    ``[[health]]`` endpoint on a host, or an existing http/ssh step that changes nothing) and
    one trigger: ``for`` (bad for at least that long), ``consecutive`` (that many bad results in
    a row) or ``per_hour_above`` (a counter in the probe's JSON answer rose by more than that in
    the last hour). ``resolve_after`` good results in a row resolve a firing rule."""

    id: Annotated[str, _ID, doc("short name (`cutover silence ID`)")]
    description: Annotated[str, doc("what the operator watches for, as the seed says it")]
    trigger: Annotated[str, doc("the measurable condition, for people")] = ""
    source: Annotated[str, doc("the seed's line this rule comes from")] = ""
    health: Annotated[str | None, doc("probe: the name of a [[health]] endpoint")] = None
    host: Annotated[str | None, doc("with `health`: the host whose endpoint is probed")] = None
    step: Annotated[str | None, doc("probe: an http or ssh step that changes nothing")] = None
    interval: Annotated[Duration, doc("how often the probe runs")] = Duration("1m")
    after_utc: Annotated[list[UtcTime], doc(
        "run the probe only after each of these UTC times (HH:MM; a scheduled job), `grace` "
        "later, instead of every `interval`")] = msgspec.field(default_factory=list)
    grace: Annotated[Duration, doc("with `after_utc`: how long after the scheduled time")] = \
        Duration("30m")
    for_: Annotated[Duration | None, doc("trigger: bad for this long")] = msgspec.field(
        default=None, name="for")
    consecutive: Annotated[Annotated[int, msgspec.Meta(ge=1)] | None,
                           doc("trigger: this many bad in a row")] = None
    per_hour_above: Annotated[Annotated[float, msgspec.Meta(ge=0)] | None, doc(
        "trigger: the counter `value` rose by more than this in the last hour")] = None
    value: Annotated[str | None, doc(
        "the JSON field of the probe's answer that is measured (a counter for "
        "per_hour_above)")] = None
    unanswered_is_bad: Annotated[bool, doc(
        "a probe that got no answer at all counts as bad (false: it is no evidence either way, "
        "when another rule covers a service that does not answer)")] = True
    resolve_after: Annotated[int, msgspec.Meta(ge=1),
                             doc("good results in a row that resolve it")] = 2

    def __post_init__(self) -> None:
        triggers = [self.for_, self.consecutive, self.per_hour_above]
        given = sum(t is not None for t in triggers)
        if self.health is None and self.step is None and given == 0:
            return  # a red flag for people only: watched by hand (f), as before
        if (self.health is None) == (self.step is None):
            raise ValueError("a red-flag rule needs exactly one probe: `health` (with `host`) "
                             "or `step`")
        if self.health is not None and self.host is None:
            raise FieldProblem("host", "a `health` probe needs `host`: which host's endpoint")
        if given != 1:  # guard: red-flag-one-trigger
            raise ValueError("a red-flag rule needs exactly one trigger: `for`, `consecutive` "
                             "or `per_hour_above`")
        if self.per_hour_above is not None and not self.value:
            raise FieldProblem("value", "`per_hour_above` needs `value`: the counter's JSON "
                               "field")

    @property
    def watched(self) -> bool:
        """A rule ``cutover watch`` evaluates (not only a line for people)."""
        return self.health is not None or self.step is not None


class Meta(Model, frozen=True, kw_only=True):
    id: Annotated[str, _ID, doc("lowercase letters, digits and dashes; names the checklist")]
    title: Annotated[str, doc("shown at the top of the wizard")]
    version: Annotated[str, doc("the runbook's own version")] = "1"
    source: Annotated[str, doc("where it comes from (the seed document)")] = ""
    goal: Annotated[str, doc("one sentence, for people")] = ""


class Runbook(Model, frozen=True, kw_only=True):
    runbook: Meta
    variables: dict[str, str | int | float | bool] = msgspec.field(default_factory=dict)
    shell_variables: list[str] = msgspec.field(default_factory=list)
    hosts: Annotated[dict[str, Host], msgspec.Meta(min_length=1)]
    services: list[str] = msgspec.field(default_factory=list)
    health: list[HealthEndpoint] = msgspec.field(default_factory=list)
    red_flags: list[RedFlag] = msgspec.field(default_factory=list)
    notify: Annotated[list[str], doc(
        "Apprise URLs red flags are sent to (CUTOVER_NOTIFY, when set, replaces them)")] = \
        msgspec.field(default_factory=list)
    phases: Annotated[list[Phase], msgspec.Meta(min_length=1)]
    rollback: Phase | None = None

    # Filled by the loader, not written by people.
    path: str = ""
    sha256: str = ""
    overrides: Annotated[dict[str, Any], doc(
        "the --host/--var it was loaded with (recorded in the run, so a record reopens "
        "pointed where the run was)")] = msgspec.field(default_factory=dict)

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
