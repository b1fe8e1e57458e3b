"""Issue 16, item 5: an answers file is checked as strictly as a runbook. A string is not a
boolean (``bool("no")`` is True: ``default = "no"`` used to answer yes), typed names and texts
are strings, and an unknown table, key or step id is an error naming its ``file:line``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cutover_tui.errors import ConfigError
from cutover_tui.operator import Answers, HeadlessOperator

ROOT = Path(__file__).resolve().parents[1]


def load(tmp_path: Path, text: str) -> Answers:
    path = tmp_path / "answers.toml"
    path.write_text(text)
    return Answers.load(path)


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def located(message: str, tmp_path: Path, line: int) -> bool:
    return re.search(rf"^  {re.escape(str(tmp_path / 'answers.toml'))}:{line}: ", message,
                     re.MULTILINE) is not None


@pytest.mark.parametrize("text,line,where", [
    ('[confirm]\ndefault = "no"\n', 2, "confirm.default"),
    ('[confirm]\n"5.2" = "false"\n', 2, 'confirm."5.2"'),
    ('[confirm]\n"5.2" = 0\n', 2, 'confirm."5.2"'),
])
async def test_item5_string_answer_no_is_refused(tmp_path, text, line, where):
    message = refused(tmp_path, text)
    assert located(message, tmp_path, line), message
    assert f"{where}: expected true or false" in message
    assert "Traceback" not in message


def test_item5_trust_unknown_as_a_string_is_refused(tmp_path):
    message = refused(tmp_path, "[host_keys]\ntrust_unknown = \"false\"\n")
    assert located(message, tmp_path, 2), message
    assert "host_keys.trust_unknown: expected true or false, got the string 'false'" in message


def test_item5_typed_name_must_be_a_string(tmp_path):
    message = refused(tmp_path, '[confirm]\ndefault = true\n[typed]\n"8.3" = 5\n')
    assert located(message, tmp_path, 4), message
    assert 'typed."8.3": expected a string, got the number 5' in message


def test_item5_unknown_table_names_its_line(tmp_path):
    message = refused(tmp_path, '[confirm]\ndefault = false\n\n[confirms]\n"5.2" = false\n')
    assert located(message, tmp_path, 4), message
    assert "confirms: unknown table" in message


def test_item5_unknown_host_keys_key_names_its_line(tmp_path):
    message = refused(tmp_path, "[host_keys]\ntrust_unknwon = true\n")
    assert located(message, tmp_path, 2), message
    assert "host_keys.trust_unknwon: unknown key" in message


def test_item5_unknown_step_id_is_refused(tmp_path):
    answers = load(tmp_path, '[confirm]\ndefault = true\n"5.3" = false\n[typed]\n'
                             '"8.3" = "air-demand-prod"\n')
    with pytest.raises(ConfigError) as info:
        answers.check_steps(["5.2", "8.3"])
    assert located(str(info.value), tmp_path, 3), str(info.value)
    assert "no step '5.3' in the runbook" in str(info.value)
    answers.check_steps(["5.3", "8.3"])  # every id a step: fine, and "default" is no step


def test_item5_every_problem_is_listed_at_once(tmp_path):
    message = refused(tmp_path, '[confirm]\ndefault = "no"\n"3.1" = "yes"\n[typed]\n"8.3" = 1\n'
                                '[extra]\nx = 1\n')
    assert "has 4 problem(s)" in message


async def test_item5_boolean_answers_still_answer(tmp_path):
    answers = load(tmp_path, '[confirm]\ndefault = false\n"3.1" = true\n[typed]\n'
                             '"8.3" = "air-demand-prod"\n[text]\n"4.1" = "announced"\n'
                             '[host_keys]\ntrust_unknown = true\n')
    operator = HeadlessOperator("op", answers=answers, say=lambda _text: None)
    assert await operator.confirm("3.1", "?") is True
    assert await operator.confirm("5.2", "?") is False
    assert await operator.ask_text("4.1", "?") == "announced"
    assert await operator.trust_host_key("h", "SHA256:x") is True
    assert await operator.confirm_typed("8.3", "?", "air-demand-prod") is True


def test_item5_cli_refuses_a_string_answer_before_anything_runs(tmp_path):
    answers = tmp_path / "answers.toml"
    answers.write_text('[confirm]\ndefault = "no"\n')
    state = tmp_path / "state.toml"
    result = subprocess.run(
        [sys.executable, "-m", "cutover_tui.cli", "run", str(ROOT / "checklists" /
         "m11-production-cutover.toml"), "--headless", "--answers", str(answers), "--state",
         str(state)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{answers}:2: confirm.default: expected true or false" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not state.exists()  # refused before the run started


def test_item5_cli_refuses_an_answer_for_a_step_the_runbook_lacks(tmp_path):
    answers = tmp_path / "answers.toml"
    answers.write_text('[confirm]\ndefault = false\n"5.9" = true\n')
    result = subprocess.run(
        [sys.executable, "-m", "cutover_tui.cli", "run", str(ROOT / "checklists" /
         "m11-production-cutover.toml"), "--headless", "--answers", str(answers), "--state",
         str(tmp_path / "state.toml")], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{answers}:3: confirm.\"5.9\": no step '5.9' in the runbook" in result.stderr
