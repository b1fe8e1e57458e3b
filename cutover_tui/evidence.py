"""What steps read of another step's evidence, by name: small typed views over the evidence
table a step kind records (its own keys, written by its ``run``). The backup's for the gates,
the power-off's for the destroy, the ``.env`` edit's for its restore, and the destroy's own
intent, read back by a run that resumes. ``StepRecord.backup`` (``.power``, ``.env_edit``,
``.destroy_intent``) gives each; a key absent or of another type reads as its default, so a
hand edit never passes for a verified backup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


def _text(evidence: Mapping[str, Any], key: str) -> str:
    value = evidence.get(key)
    return value if isinstance(value, str) else ""


def _whole(evidence: Mapping[str, Any], key: str) -> int | None:
    value = evidence.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class BackupEvidence:
    """What a ``backup`` step records that the gates read (a ``requires_backup`` phase, the
    destroy's "verified backup"): the dump on this machine, its sha256, whether it was
    verified."""

    local_path: str = ""
    sha256: str = ""
    verified: bool = False

    @classmethod
    def of(cls, evidence: Mapping[str, Any]) -> BackupEvidence:
        return cls(_text(evidence, "local_path"), _text(evidence, "sha256"),
                   evidence.get("verified") is True)


@dataclass(frozen=True)
class PowerEvidence:
    """What a ``droplet_power`` step records that the destroy reads: the droplet it acted on (to
    recognise it again), the DigitalOcean actions it sent (their completion times check the
    record's), and when the droplet was found off."""

    droplet_id: int | None = None
    droplet_name: str = ""
    droplet_ip: str = ""
    shutdown_action: int | None = None
    power_off_action: int | None = None
    powered_off_at: str = ""

    @classmethod
    def of(cls, evidence: Mapping[str, Any]) -> PowerEvidence:
        return cls(_whole(evidence, "droplet_id"), _text(evidence, "droplet_name"),
                   _text(evidence, "droplet_ip"), _whole(evidence, "shutdown_action"),
                   _whole(evidence, "power_off_action"), _text(evidence, "powered_off_at"))

    @property
    def identity(self) -> dict[str, Any]:
        """The droplet's id, name and IP, those recorded (``steps.droplet_base.identity``)."""
        recorded = {"droplet_id": self.droplet_id, "droplet_name": self.droplet_name,
                    "droplet_ip": self.droplet_ip}
        return {key: value for key, value in recorded.items() if value not in (None, "")}

    @property
    def actions(self) -> tuple[int, ...]:
        """The ids of the shutdown and power_off actions it sent, in that order."""
        return tuple(a for a in (self.shutdown_action, self.power_off_action) if a is not None)


@dataclass(frozen=True)
class EnvEditEvidence:
    """What an ``env_edit`` step records that its ``env_restore`` reads: where the original
    file was kept on the host ("" when nothing was written)."""

    backup_path: str = ""

    @classmethod
    def of(cls, evidence: Mapping[str, Any]) -> EnvEditEvidence:
        return cls(_text(evidence, "backup_path"))


@dataclass(frozen=True)
class DestroyIntent:
    """A destroy's intent, in its own evidence: written (fsynced) before the DELETE is sent, and
    read back by a run that resumes after it stopped there."""

    destroy_intent: str = ""  # "destroy of droplet <id> sent at <time> by <operator>"
    destroy_intent_droplet_id: int | None = None
    destroy_intent_at: str = ""

    @classmethod
    def of(cls, evidence: Mapping[str, Any]) -> DestroyIntent:
        return cls(_text(evidence, "destroy_intent"),
                   _whole(evidence, "destroy_intent_droplet_id"),
                   _text(evidence, "destroy_intent_at"))

    def as_evidence(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


INTENT_KEYS = tuple(f.name for f in fields(DestroyIntent))
