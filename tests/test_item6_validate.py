"""Issue 16, item 6: runbooks that crashed ``cutover validate`` with a traceback, or passed when
they should not, each get exit 1 and ``file:line: field: expected …``; an array left open at
the end of the file names the line where it was opened."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from cutover_tui.durations import parse_duration
from cutover_tui.errors import RunbookError
from cutover_tui.runbook import Overrides, load_runbook, runbook_plan_lines

ROOT = Path(__file__).resolve().parents[1]

BOOK = """\
[runbook]
id = "tiny"
title = "Tiny"

[variables]
app_dir = "/srv/app"

[hosts.web]
address = "127.0.0.5"
droplet = "web-1"

[[phases]]
id = "1"
title = "Check"
duration = "10m"

[[phases.steps]]
id = "1.1"
kind = "ssh"
title = "Status"
host = "web"
command = "cd {app_dir} && systemctl status app"

[[phases.steps]]
id = "1.2"
kind = "local"
title = "Tests"
command = "npm test"
threshold = { regex = '(\\d+) passed', min_passed = 40 }
"""

STEPS_INT = BOOK.split("[[phases.steps]]")[0] + "steps = 5\n"
WEEK = BOOK + """
[[phases]]
id = "7"
title = "Week"
repeat = 7

[[phases.steps]]
id = "7.1"
kind = "wait"
title = "Day {day}"
duration = "1d"
"""

OPEN_ARRAY = BOOK.split("threshold")[0] + "expect_regex = [\n  'a',\n"


def line_of(text: str, start: str) -> int:
    """The line of ``text`` that starts with ``start`` (1-based)."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))


# (name, runbook text, line, the field path and what was expected)
MALFORMED = [
    ("steps-int", STEPS_INT, line_of(STEPS_INT, "steps = 5"),
     "phases[0].steps: expected an array of tables [[phases.steps]]"),
    ("host-vars-int", BOOK.replace('droplet = "web-1"\n', 'droplet = "web-1"\nvars = 3\n'), 11,
     "hosts.web.vars: expected a table of name = value"),
    ("variables-int", "variables = 5\n" + BOOK.replace('[variables]\napp_dir = "/srv/app"\n', "")
     .replace("{app_dir}", "/srv/app"), 1, "variables: expected a table of name = value"),
    ("threshold-without-group", BOOK.replace("'(\\d+) passed'", "'\\d+ passed'"),
     line_of(BOOK, "threshold"),
     "phases[0].steps[1].threshold.regex: expected a regex with a capturing group"),
    ("duration-huge", BOOK.replace('duration = "10m"', 'duration = "99999999999999d"'), 15,
     "phases[0].duration: expected a duration of at most 366d"),
    ("repeat-20000", WEEK.replace("repeat = 7", "repeat = 20000"), line_of(WEEK, "repeat = 7"),
     "phases[1].repeat: expected at most 366 repeats"),
    ("array-left-open", OPEN_ARRAY, line_of(OPEN_ARRAY, "expect_regex = ["),
     f"the array opened on line {line_of(OPEN_ARRAY, 'expect_regex = [')} is never closed"),
]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("name,text,line,expected", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_item6_malformed_runbook_is_a_located_sentence(tmp_path, name, text, line, expected):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    result = run_cli("validate", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"  {path}:{line}: " in result.stderr, result.stderr
    located = [line_ for line_ in result.stderr.splitlines() if f"{path}:{line}: " in line_]
    assert any(expected in line_ for line_ in located), result.stderr


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "book.toml"
    path.write_text(text)
    with pytest.raises(RunbookError) as info:
        load_runbook(path)
    return info.value.problems


def test_item6_steps_as_a_number_is_a_problem_not_a_crash(tmp_path):
    problems = problems_of(tmp_path, STEPS_INT)
    assert problems == [f"{tmp_path / 'book.toml'}:{line_of(STEPS_INT, 'steps = 5')}: "
                        "phases[0].steps: expected an array of tables [[phases.steps]], got a "
                        "number 5"]


def test_item6_host_vars_as_a_number_is_a_problem_even_with_overrides(tmp_path):
    text = BOOK.replace('droplet = "web-1"\n', 'droplet = "web-1"\nvars = 3\n')
    path = tmp_path / "book.toml"
    path.write_text(text)
    with pytest.raises(RunbookError) as info:
        load_runbook(path, Overrides.from_cli([], ["web.app_dir=/x"]))
    assert "hosts.web.vars: expected a table" in str(info.value)


def test_item6_variables_as_a_number_is_not_ignored(tmp_path):
    # Used to pass: the 5 was replaced by the (empty) command-line variables.
    problems = problems_of(tmp_path, MALFORMED[2][1])
    assert problems == [f"{tmp_path / 'book.toml'}:1: variables: expected a table of name = "
                        "value ([variables]), got a number 5"]


def test_item6_threshold_without_a_group_fails_at_load(tmp_path):
    problems = problems_of(tmp_path, BOOK.replace("'(\\d+) passed'", "'\\d+ passed'"))
    assert any("threshold.regex: expected a regex with a capturing group" in p for p in problems)


def test_item6_huge_duration_fails_at_load(tmp_path):
    problems = problems_of(tmp_path, BOOK.replace('duration = "10m"',
                                                  'duration = "99999999999999d"'))
    assert any("phases[0].duration: expected a duration of at most 366d" in p for p in problems)
    assert parse_duration("366d") == 366 * 86400
    with pytest.raises(ValueError):
        parse_duration("367d")


def test_item6_repeat_is_bounded(tmp_path):
    problems = problems_of(tmp_path, WEEK.replace("repeat = 7", "repeat = 20000"))
    assert problems == [f"{tmp_path / 'book.toml'}:{line_of(WEEK, 'repeat = 7')}: "
                        "phases[1].repeat: expected at most 366 repeats (a day each: one year) "
                        "(got 20000)"]
    path = tmp_path / "ok.toml"
    path.write_text(WEEK.replace("repeat = 7", "repeat = 366"))
    assert len(load_runbook(path).phases[1].steps) == 366


def test_item6_array_left_open_names_the_line_it_was_opened(tmp_path):
    problems = problems_of(tmp_path, OPEN_ARRAY)
    line = line_of(OPEN_ARRAY, "expect_regex = [")
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'book.toml'}:{line}: the runbook is not valid "
                                  f"TOML: the array opened on line {line} is never closed")


# Every field of a runbook replaced by a value of another type: the loader reports a problem
# with its line, or accepts it; it never raises anything else (it used to: AttributeError,
# TypeError). The runbook covers the containers the loader walks before validation.
FUZZ_BOOK = WEEK.replace('[variables]\n', 'shell_variables = ["test_command"]\n\n[variables]\n'
                         'test_command = "npm test"\n').replace(
    'droplet = "web-1"\n', 'droplet = "web-1"\nvars = { app_port = "8123" }\n') + """
[[phases.steps]]
id = "7.2"
kind = "http"
title = "Day {day} health"
url = "http://{hosts.web.address}:8123/health"
once = true

[rollback]
id = "R"
title = "Rollback"

[[rollback.steps]]
id = "R1"
kind = "manual"
title = "m"
instructions = "{test_command}"
"""


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def test_item6_no_value_of_the_wrong_type_crashes_the_loader(tmp_path):
    base = tomllib.loads(FUZZ_BOOK)
    path = tmp_path / "fuzz.toml"
    crashes, unlocated = [], []
    for where in list(_paths(base))[1:]:
        for value in (5, "x", [], {"a": 5}, True):
            data = copy.deepcopy(base)
            target = data
            for key in where[:-1]:
                target = target[key]
            target[where[-1]] = value
            path.write_text(tomli_w.dumps(data))
            try:
                runbook_plan_lines(load_runbook(path, Overrides.from_cli(
                    ["web=admin@127.0.0.9:2222"], ["app_dir=/x", "web.extra=1"])))
            except RunbookError as exc:
                unlocated += [p for p in exc.problems if not re.match(rf"{path}:\d+: ", p)]
            except Exception as exc:  # noqa: BLE001 - the point of the test
                crashes.append(f"{where} = {value!r}: {type(exc).__name__}: {exc}")
    assert not crashes, "\n".join(crashes[:20])
    assert not unlocated, "\n".join(unlocated[:20])
