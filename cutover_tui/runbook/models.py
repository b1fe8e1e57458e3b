"""The runbook as loaded: its metadata, hosts, health endpoints, red flags and phases (the step
kinds are in ``steps.py``, listed once in ``kinds.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .fields import MAX_REPEAT, Duration, Model, valid_address, valid_user
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
