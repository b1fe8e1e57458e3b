"""The runbook format reference (docs/runbook-format.md), generated from the runbook's models so
it cannot drift from what the loader accepts: ``python -m cutover_tui.reference > FILE``."""

from __future__ import annotations

import types
import typing
from collections.abc import Collection

import msgspec

from . import runbook as rb
from .runbook.fields import CHECKED, Port

SECTIONS: list[tuple[str, type[msgspec.Struct], str]] = [
    ("[runbook]", rb.Meta, "What the runbook is."),
    ("[hosts.NAME]", rb.Host, "Machines reached over SSH; `droplet` names it for the API."),
    ("[[health]]", rb.HealthEndpoint, "Endpoints the live health panel polls on every host."),
    ("[[red_flags]]", rb.RedFlag, "Conditions that trigger the rollback."),
    ("[[phases]] and [rollback]", rb.Phase, "A phase of the runbook; `[rollback]` is one too. "
     "The rollback ends in a safe state; re-attempting the cutover is its own act "
     "(`cutover reattempt RUN_RECORD --reason TEXT`, `a` on the wizard's rollback screen), "
     "allowed once every rollback step is done or skipped and each `require_note` step has "
     "its note. It archives the attempt's records and opens `reattempt_from` and every "
     "phase after it again (with the rollback); a runbook whose `[rollback]` has no "
     "`reattempt_from` cannot be re-attempted."),
    ("number = {...}", rb.NumberCheck, "A number captured from output and checked."),
    ("threshold = {...}", rb.PassThreshold, "A test-suite pass threshold."),
]


def _type_name(annotation: typing.Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if annotation in CHECKED:
        return CHECKED[annotation][1]
    if annotation is Port:
        return "int"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in args)
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def _description(annotation: typing.Any) -> str:
    if typing.get_origin(annotation) is not typing.Annotated:
        return ""
    return next((meta.description for meta in typing.get_args(annotation)[1:]
                 if isinstance(meta, msgspec.Meta) and meta.description), "")


def _default(field: msgspec.structs.FieldInfo) -> str:
    if field.required:
        return "required"
    if field.default_factory is not msgspec.NODEFAULT:
        return repr(field.default_factory())
    value = field.default
    return repr(str(value) if isinstance(value, str) else value)


def _table(model: type[msgspec.Struct], skip: Collection[str] = frozenset()) -> list[str]:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for field in msgspec.structs.fields(model):
        if field.name in skip:
            continue
        lines.append(f"| `{field.encode_name}` | `{_type_name(field.type)}` | {_default(field)} | "
                     f"{_description(field.type)} |")
    return lines


def render() -> str:
    out = [
        "# Runbook format reference",
        "",
        "Generated from the models in `cutover_tui/runbook/` by `python -m cutover_tui.reference`; "
        "a test keeps it in step. Strings may use `{variable}` (from `[variables]`, the step's host "
        "`vars`, or `{hosts.NAME.address|user|port|droplet}`); `${SHELL_VAR}` is left to the "
        "shell and `{{`/`}}` write braces. An unknown variable is a load error.",
        "",
        "Top level: `services = [...]` (the app's systemd units), `[variables]` (name = value), "
        "`shell_variables = [...]` (names of variables whose value is shell text, below).",
        "",
        "## Variables in shell commands",
        "",
        "In the `command` of an `ssh` or `local` step, a `{variable}` is inserted as data: its "
        "value is quoted for the place where it stands — unquoted, inside `'...'`, `\"...\"`, "
        "`$'...'`, `$(...)` or backticks — so that the shell reads it back as exactly that "
        "text, whatever it holds (`$(...)`, `;`, quotes, spaces). A value made only of "
        "letters, digits and `@%+=:,./-` is written as it is; a value starting with `~/` keeps "
        "the `~/` outside the quotes, so it still means the home directory. Inside a "
        "here-document the shell does not read quotes: pass such a value through a shell "
        "variable instead.",
        "",
        "A variable whose value is itself shell text — a command with its arguments, such as "
        "`test_command = \"npm test\"` — is named in the top-level `shell_variables` array "
        "(`shell_variables = [\"test_command\"]`) and is inserted as written, here and from "
        "`--var` alike: mark only values the runbook's author or operator writes, never one "
        "that comes from a host. Each name must be a variable of `[variables]` or of a host's "
        "`vars`. Other fields (URLs, paths, `.env` values, instructions) are not shell text "
        "and are inserted as written; the step kinds quote what they pass to a shell "
        "themselves.",
        "",
        "Host `address`, `user` and `port` are checked strictly, because they reach the `ssh` "
        "command line and, through `{hosts.NAME.address}`, commands: an address is a host name "
        "(letters, digits, `-` and `_` in dot-separated labels, none starting with `-`), an "
        "IPv4 or an IPv6 address; a user is a letter or `_` then letters, digits, `_`, `.` or "
        "`-` (at most 32); a port is a number from 1 to 65535. `--host` is checked the same "
        "way (an IPv6 address in brackets: `--host new=root@[2001:db8::5]:22`).",
        "",
        "Bounds: a duration is at most 366 days (`366d`); a phase `repeat`s at most 366 "
        "times. A regex (`expect_regex`, `reject_regex`, `number`, `threshold`) must compile "
        "when the runbook loads (the `regex` package's syntax, which is Python's `re` "
        "syntax); a `number` or `threshold` regex needs a capturing group around the count. "
        "At run time each match is bounded in time (2 s on a step's output) and runs in a "
        "worker thread; a regex that does not finish fails its check with that reason.",
        "",
    ]
    for title, model, text in SECTIONS:
        out += [f"## {title}", "", text, "", *_table(model, {"steps", "path", "sha256"}), ""]
    out += ["## Steps", "", "Every step has the common fields below, plus those of its `kind`.",
            "", *_table(rb.StepBase), "",
            "A check asserts only what the runbook's source document states. Each expectation "
            "(`expect_regex`, `reject_regex`, `number`, `threshold`, `expect_json`, "
            "`expect_contains`, an `expect_status` other than 200, a `services` state, a "
            "`backup`'s tables and rows) cites it in `source`: the section and a short quote, "
            "such as `source = \"seed 4.2: jq '.status'  # Should return \\\"healthy\\\"\"`; "
            "several are joined by `; `. The plan shows it as `checks from: ...`. Where the "
            "document only runs a command, the check is its exit status; where it asks a person "
            "(\"check inbox\"), the step is `manual`. `tests/test_runbook_sources.py` holds the "
            "M11 runbook to its seed this way.", "",
            "`changes` says whether a step changes anything. `cutover preflight` runs every step "
            "that does not — `http` GETs, `services` with `action = \"status\"`, and `ssh` / "
            "`local` steps marked `changes = false` — against the hosts as they are before the "
            "cutover. A kind that always changes something ("
            + "".join(f"`{kind}`, " for kind in rb.ALWAYS_CHANGES) + "`services` other than "
            "`status`) marked `changes = false` is a load error. An `ssh` or `local` step that "
            "does not say is not preflighted; the M11 runbook marks every one.", ""]
    common = {field.name for field in msgspec.structs.fields(rb.StepBase)}
    for kind, model in rb.KINDS.items():
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        out += [f"### kind = \"{kind}\"", "", doc, "", *_table(model, common | {"kind"}), ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
