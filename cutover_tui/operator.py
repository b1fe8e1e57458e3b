"""The Operator: whoever answers the questions a step asks. The UI implements it with modal
dialogs; the headless runner with ``--yes`` or an answers file. Steps only ever ask through it."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import ConfigError


class Operator(Protocol):
    name: str

    async def confirm(self, step_id: str, question: str, detail: str = "") -> bool: ...

    async def confirm_typed(self, step_id: str, prompt: str, expected: str,
                            detail: str = "", preconditions: Sequence[Any] = ()) -> bool:
        """True only if the operator typed ``expected`` exactly; never when a precondition
        (objects with ``ok``, ``name``, ``detail``) does not hold."""

    async def ask_text(self, step_id: str, prompt: str, required: bool = False) -> str | None: ...

    async def review_diff(self, step_id: str, title: str, diff: Any) -> bool: ...

    async def trust_host_key(self, host: str, fingerprint: str) -> bool: ...


@dataclass
class Answers:
    """A headless script of answers, from a TOML file::

        [confirm]
        default = true          # like --yes
        "3.1" = true
        [typed]
        "8.3" = "air-demand-old"    # the only way a headless destroy happens
        [text]
        "4.1" = "Announced in #ops at 10:02"
        [host_keys]
        trust_unknown = false
    """

    confirm: dict[str, bool] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    trust_unknown_host_keys: bool = False

    @classmethod
    def load(cls, path: str | Path) -> Answers:
        try:
            data = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read the answers file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"the answers file {path} is not valid TOML: {exc}") from None
        try:
            return cls(
                confirm={str(k): bool(v) for k, v in data.get("confirm", {}).items()},
                typed={str(k): str(v) for k, v in data.get("typed", {}).items()},
                text={str(k): str(v) for k, v in data.get("text", {}).items()},
                trust_unknown_host_keys=bool(data.get("host_keys", {}).get("trust_unknown")),
            )
        except AttributeError:
            raise ConfigError(
                f"the answers file {path} must have tables [confirm], [typed], [text], "
                "[host_keys]"
            ) from None


class HeadlessOperator:
    """Answers from ``--yes`` and an answers file. ``--yes`` never types a name: a destroy only
    happens headless when the answers file holds the exact typed name for that step."""

    def __init__(self, name: str, yes: bool = False, answers: Answers | None = None,
                 say: Callable[[str], None] = print):
        self.name = name
        self.answers = answers or Answers()
        self.yes = yes or self.answers.confirm.get("default", False)
        self.say = say

    def _confirmed(self, step_id: str) -> bool:
        return self.answers.confirm.get(step_id, self.yes)

    async def confirm(self, step_id: str, question: str, detail: str = "") -> bool:
        answer = self._confirmed(step_id)
        self.say(f"    ? {question} -> {'yes' if answer else 'no'}")
        return answer

    async def confirm_typed(self, step_id: str, prompt: str, expected: str,
                            detail: str = "", preconditions: Sequence[Any] = ()) -> bool:
        failing = [p for p in preconditions if not p.ok]
        if failing:
            self.say(f"    ? {prompt} -> not asked: {len(failing)} precondition(s) not met")
            return False
        typed = self.answers.typed.get(step_id)
        if typed is None:
            self.say(f"    ? {prompt} -> no typed answer for step {step_id} in the answers file")
            return False
        self.say(f"    ? {prompt} -> typed {typed!r}")
        return typed == expected

    async def ask_text(self, step_id: str, prompt: str, required: bool = False) -> str | None:
        text = self.answers.text.get(step_id)
        if text is None and self._confirmed(step_id):
            text = f"confirmed headless by {self.name}"
        self.say(f"    ? {prompt} -> {text!r}")
        return text

    async def review_diff(self, step_id: str, title: str, diff: Any) -> bool:
        for line in getattr(diff, "unified_lines", lambda: [])():
            self.say(f"      {line}")
        return await self.confirm(step_id, f"apply {title}?")

    async def trust_host_key(self, host: str, fingerprint: str) -> bool:
        answer = self.answers.trust_unknown_host_keys
        self.say(f"    ? trust unknown host key of {host} ({fingerprint}) -> "
                 f"{'yes' if answer else 'no'}")
        return answer
