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

    The file is checked as strictly as a runbook, each problem with its ``file:line``: a
    confirmation is a TOML boolean (``"no"`` is a string, not a no), typed names and texts are
    strings, and a table or key the file may not have is an error, not ignored. Step ids are
    checked against the runbook by ``check_steps``.
    """

    confirm: dict[str, bool] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    trust_unknown_host_keys: bool = False
    path: str = ""
    lines: dict[tuple[str, ...], int] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> Answers:
        from .runbook import LineLocator  # late: the runbook models are not needed otherwise
        from .tomlerrors import toml_error

        try:
            source = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the answers file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: the answers file is not UTF-8 text") from None
        try:
            data = tomllib.loads(source)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(toml_error(path, source, exc, "the answers file")) from None
        locator = LineLocator(source)
        problems: list[str] = []

        def problem(loc: tuple[str, ...], message: str) -> None:
            problems.append(f"{path}:{locator.line_of(loc)}: {_dotted(loc)}: {message}")

        tables: dict[str, dict[str, Any]] = {}
        for name, value in data.items():
            if name not in ANSWER_TABLES:  # guard: answers-unknown-table
                problem((name,), "unknown table; an answers file has the tables "
                        f"{', '.join(f'[{t}]' for t in ANSWER_TABLES)}")
            elif not isinstance(value, dict):
                problem((name,), f"expected a table [{name}], got {_kind(value)}")
            else:
                tables[name] = value
        confirm = tables.get("confirm", {})
        typed = tables.get("typed", {})
        text = tables.get("text", {})
        host_keys = tables.get("host_keys", {})
        for key, value in confirm.items():
            if not isinstance(value, bool):  # guard: answers-strict-bool
                problem(("confirm", key), f"expected true or false, got {_kind(value)}"
                        f"{' (write it without quotes)' if isinstance(value, str) else ''}")
        for table, values in (("typed", typed), ("text", text)):
            for key, value in values.items():
                if not isinstance(value, str):  # guard: answers-typed-string
                    problem((table, key), f"expected a string, got {_kind(value)}")
        for key, value in host_keys.items():
            if key != "trust_unknown":  # guard: answers-unknown-key
                problem(("host_keys", key), "unknown key; [host_keys] has only trust_unknown")
            elif not isinstance(value, bool):  # guard: answers-strict-bool-host-keys
                problem(("host_keys", key), f"expected true or false, got {_kind(value)}")
        if problems:
            raise ConfigError(_problems_sentence(path, problems))
        return cls(
            confirm=dict(confirm), typed=dict(typed), text=dict(text),
            trust_unknown_host_keys=host_keys.get("trust_unknown") is True,
            path=str(path),
            lines={loc: locator.line_of(loc) for table in ("confirm", "typed", "text")
                   for loc in [(table, key) for key in tables.get(table, {})]},
        )

    def check_steps(self, step_ids: Sequence[str]) -> None:
        """Every step id the file answers for is a step of the runbook (a misspelt id would
        leave the step to the default answer); ``confirm.default`` is not a step."""
        known = set(step_ids)
        problems = []
        for loc, line in self.lines.items():
            answerable = known | {"default"} if loc[0] == "confirm" else known
            if loc[1] not in answerable:  # guard: answers-unknown-step
                problems.append(f"{self.path}:{line}: {_dotted(loc)}: no step {loc[1]!r} in "
                                "the runbook")
        if problems:
            raise ConfigError(_problems_sentence(self.path, problems))


ANSWER_TABLES = ("confirm", "typed", "text", "host_keys")


def note_entry(step_id: str, answers_path: str = "") -> str:
    """Where a headless run finds the note a person writes for ``step_id``."""
    where = f"the answers file {answers_path}" if answers_path else "an answers file (--answers)"
    return f'a person writes it (--yes never does): give it in {where} as [text] "{step_id}" = "..."'


def _dotted(loc: tuple[str, ...]) -> str:
    return ".".join(f'"{part}"' if "." in part or " " in part else part for part in loc)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"{value!r}"


def _problems_sentence(path: Any, problems: list[str]) -> str:
    head = f"the answers file {path} has {len(problems)} problem(s):"
    return "\n".join([head, *(f"  {p}" for p in problems)])


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
            where = (f"in the answers file {self.answers.path}" if self.answers.path else
                     "(--yes never types a name: an answers file's [typed] does)")
            self.say(f"    ? {prompt} -> no typed answer for step {step_id} {where}")
            return False
        self.say(f"    ? {prompt} -> typed {typed!r}")
        return typed == expected

    async def ask_text(self, step_id: str, prompt: str, required: bool = False) -> str | None:
        """The answers file's text for the step. A required note (a root cause, an
        announcement) is a person's words: ``--yes`` never writes one."""
        text = self.answers.text.get(step_id)
        if text is None and required:  # guard: note-needs-a-person
            self.say(f"    ? {prompt} -> no note: {note_entry(step_id, self.answers.path)}")
            return None
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
