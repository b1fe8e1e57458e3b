"""Issue 16, item 7: template values went into shells unquoted (``--host 'new=$(touch pwned)'``
ran the touch on a local step). Host addresses, users and ports are checked strictly, and a
``{var}`` in a shell command is quoted for where it stands unless the runbook names the
variable in ``shell_variables``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cutover_tui.errors import RunbookError
from cutover_tui.runbook import Overrides, load_runbook
from cutover_tui.templating import render_shell

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"

BOOK = """\
shell_variables = ["test_command"]

[runbook]
id = "quoting"
title = "Quoting"

[variables]
label = "plain"
test_command = "echo suite-ran"

[hosts.web]
address = "127.0.0.5"
user = "admin"

[[phases]]
id = "1"
title = "Local"

[[phases.steps]]
id = "1.1"
kind = "local"
title = "Echo the label and the host"
command = "printf '%s|' {label} \\"{label}\\" '{label}' {hosts.web.address}; {test_command}"
changes = false
"""


def write(tmp_path: Path, text: str = BOOK) -> Path:
    path = tmp_path / "book.toml"
    path.write_text(text)
    return path


def run_headless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cutover_tui.cli", "run", str(tmp_path / "book.toml"),
         "--headless", "--yes", "--verbose", "--state", str(tmp_path / "state.toml"), *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_item7_var_with_a_command_substitution_runs_nothing(tmp_path):
    write(tmp_path)
    payload = "$(touch pwned); touch pwned2 `touch pwned3` 'q' \"d\""
    result = run_headless(tmp_path, "--var", f"label={payload}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(tmp_path.glob("pwned*")), "a template value ran as shell syntax"
    assert f"{payload}|{payload}|{payload}|127.0.0.5|" in result.stdout
    assert "suite-ran" in result.stdout  # a shell variable is still a command


def test_item7_host_override_with_shell_syntax_is_refused(tmp_path):
    write(tmp_path)
    for bad in ("web=$(touch${IFS}pwned)", "web=`touch${IFS}pwned`", "web=-oProxyCommand=x",
                "web=a;touch${IFS}pwned", "web=$(id)@127.0.0.5", "web=127.0.0.5:0"):
        result = run_headless(tmp_path, "--host", bad)
        assert result.returncode == 2, (bad, result.stdout + result.stderr)
        assert "--host" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("pwned*"))
    assert not (tmp_path / "state.toml").exists()


@pytest.mark.parametrize("field,value", [
    ("address", "$(touch pwned)"), ("address", "-oProxyCommand=touch"), ("address", "a b"),
    ("address", "host;id"), ("address", "a..b"), ("user", "-oProxyCommand=x"),
    ("user", "$(id)"), ("user", "ad min"),
])
def test_item7_runbook_host_fields_are_strict(tmp_path, field, value):
    line = f'{field} = "{value}"'
    text = BOOK.replace('address = "127.0.0.5"\nuser = "admin"\n',
                        'address = "127.0.0.5"\nuser = "admin"\n'.replace(
                            f'{field} = "{"127.0.0.5" if field == "address" else "admin"}"', line))
    with pytest.raises(RunbookError) as info:
        load_runbook(write(tmp_path, text))
    problem = str(info.value)
    assert f"{tmp_path / 'book.toml'}:{text.splitlines().index(line) + 1}: hosts.web.{field}: " \
           "expected" in problem, problem


def test_item7_port_must_be_a_number(tmp_path):
    text = BOOK.replace('user = "admin"\n', 'user = "admin"\nport = "22"\n')
    with pytest.raises(RunbookError) as info:
        load_runbook(write(tmp_path, text))
    assert "hosts.web.port" in str(info.value)


@pytest.mark.parametrize("address", ["db-1.example.com", "10.0.0.5", "2001:db8::5", "::1",
                                     "prod_old", "localhost"])
def test_item7_good_addresses_are_accepted(tmp_path, address):
    text = BOOK.replace('address = "127.0.0.5"', f'address = "{address}"')
    assert load_runbook(write(tmp_path, text)).hosts["web"].address == address


def test_item7_host_override_accepts_ipv6_in_brackets():
    assert Overrides.parse_host("web=root@[2001:db8::5]:2222") == (
        "web", {"address": "2001:db8::5", "user": "root", "port": 2222})


def test_item7_shell_variables_must_name_a_variable(tmp_path):
    with pytest.raises(RunbookError) as info:
        load_runbook(write(tmp_path, BOOK.replace('["test_command"]', '["test_comand"]')))
    assert f"{tmp_path / 'book.toml'}:1: shell_variables[0]: expected the name of a variable" \
        in str(info.value)


def test_item7_shell_variables_go_in_as_written_and_others_quoted(tmp_path):
    overrides = Overrides.from_cli([], ["label=a b"])
    command = load_runbook(write(tmp_path), overrides).step("1.1").command
    assert command == "printf '%s|' 'a b' \"a b\" 'a b' 127.0.0.5; echo suite-ran"


def test_item7_m11_still_runs_its_test_commands_and_pattern(tmp_path):
    # Pointed at loopback as every test does; nothing here connects anywhere (loading only).
    book = load_runbook(M11, Overrides.from_cli(["new=127.0.0.3", "old=127.0.0.2"], []))
    assert book.step("1.2").command == "BASE_URL=http://127.0.0.3:3000 npm test"
    assert book.step("4.2-smoke").command == (
        "BASE_URL=http://127.0.0.3:3000 npx playwright test tests/smoke/production.spec.ts")
    assert book.step("5.1-processes").command == (
        "pgrep -af '[u]vicorn|[a]ir-demand' || echo 'no app processes'")
    assert book.step("2.2").command.startswith("ls -lh ~/air-demand-backups/ && gzip -t "
                                               "~/air-demand-backups/production_backup_*.sql.gz")
    moved = load_runbook(M11, Overrides.from_cli([], ["app_dir=/srv/my app"]))
    assert moved.step("6.4").command == "cd '/srv/my app' && uv run python scripts/check_health.py"


def test_item7_reference_documents_the_marking():
    docs = (ROOT / "docs" / "runbook-format.md").read_text()
    assert "shell_variables" in docs and "Variables in shell commands" in docs


# Each place a {var} can stand, and what bash prints there: exactly the value, whatever it
# holds (a command substitution drops trailing newlines, as it does for any output).
CONTEXTS = [
    ("printf %s {v}", lambda v: v),
    ("printf %s '{v}'", lambda v: v),
    ('printf %s "{v}"', lambda v: v),
    ("printf %s $'{v}'", lambda v: v),
    ('printf %s "$(printf %s {v})"', lambda v: v.rstrip("\n")),
    ('printf %s "$(printf %s "{v}")"', lambda v: v.rstrip("\n")),
    ("printf %s \"a\\\"'{v}'\"", lambda v: f"a\"'{v}'"),  # "…" holding quotes: still "…"
]
VALUES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                 max_size=24)


@settings(max_examples=60, deadline=None)
@given(value=VALUES)
def test_item7_a_value_reaches_the_program_as_written_in_every_context(value):
    for template, expected in CONTEXTS:
        command = render_shell(template, {"v": value}, lambda name: None)
        result = subprocess.run(["bash", "-c", command], capture_output=True, timeout=10)
        printed = result.stdout.decode("utf-8", "surrogateescape")
        assert printed == expected(value), (template, command, result.stderr)


def test_item7_backquotes_and_nested_parentheses_keep_a_value_inert(tmp_path):
    value = "a;touch pwned) `touch pwned2` $(touch pwned3)"
    for template in ("echo `echo {v}`", "echo $( (echo {v}) )", "echo $((1+1)) {v}"):
        command = render_shell(template, {"v": value}, lambda name: None)
        subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, timeout=10)
    assert not list(tmp_path.glob("pwned*"))
