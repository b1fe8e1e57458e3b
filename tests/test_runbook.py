import re

import pytest

from cutover_tui.errors import RunbookError
from cutover_tui.runbook import Overrides, load_runbook

VALID = """\
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
kind = "http"
title = "Health"
url = "http://{hosts.web.address}:8123/health"
"""


def load_text(tmp_path, text, overrides=None):
    path = tmp_path / "book.toml"
    path.write_text(text)
    return load_runbook(path, overrides)


def problems_of(tmp_path, text):
    with pytest.raises(RunbookError) as info:
        load_text(tmp_path, text)
    return info.value.problems


def test_valid_runbook_templates_variables_and_host_fields(tmp_path):
    book = load_text(tmp_path, VALID)
    assert book.step("1.1").command == "cd /srv/app && systemctl status app"
    assert book.step("1.2").url == "http://127.0.0.5:8123/health"
    assert len(book.sha256) == 64


def test_overrides_point_hosts_and_variables_elsewhere(tmp_path):
    overrides = Overrides.from_cli(["web=admin@127.0.0.9:2222"], ["app_dir=/tmp/x",
                                                                  "web.extra=1"])
    book = load_text(tmp_path, VALID, overrides)
    host = book.hosts["web"]
    assert (host.user, host.address, host.port) == ("admin", "127.0.0.9", 2222)
    assert book.step("1.1").command.startswith("cd /tmp/x ")
    assert book.step("1.2").url == "http://127.0.0.9:8123/health"


def test_host_scoped_variables_win_for_that_hosts_steps(tmp_path):
    overrides = Overrides.from_cli([], ["web.app_dir=/opt/web"])
    assert load_text(tmp_path, VALID, overrides).step("1.1").command.startswith("cd /opt/web ")


def test_shell_variables_and_escaped_braces_are_left_for_the_shell(tmp_path):
    text = VALID.replace('command = "cd {app_dir} && systemctl status app"',
                         "command = 'echo ${HOME} {{literal}} {app_dir}'")
    assert load_text(tmp_path, text).step("1.1").command == "echo ${HOME} {literal} /srv/app"


@pytest.mark.parametrize("text,line,expected", [
    # 1. broken TOML syntax
    (VALID.replace('title = "Tiny"', 'title = "Tiny'), 3, "not valid TOML"),
    # 2. unknown variable, found at load time
    (VALID.replace("{app_dir}", "{app_dri}"), 22, "unknown variable {app_dri}"),
    # 3. unknown step kind
    (VALID.replace('kind = "http"', 'kind = "htttp"'), 26, "unknown step kind 'htttp'"),
    # 4. missing kind
    (VALID.replace('kind = "http"\n', ""), 24, "missing field 'kind'"),
    # 5. missing command
    (VALID.replace('command = "cd {app_dir} && systemctl status app"\n', ""), 17,
     "steps[0].command: missing required field"),
    # 6. misspelt field
    (VALID.replace('url = "http', 'ulr = "http'), 28, "ulr: unknown field"),
    # 7. step on a host that does not exist
    (VALID.replace('host = "web"', 'host = "db"'), 21, "no host named 'db'"),
    # 8. duplicate step id
    (VALID.replace('id = "1.2"', 'id = "1.1"'), 25, "step id '1.1' is used twice"),
    # 9. port out of range
    (VALID.replace('droplet = "web-1"', 'droplet = "web-1"\nport = 70000'), 11,
     "hosts.web.port: expected a port number from 1 to 65535 (got 70000)"),
    # 10. bad duration
    (VALID.replace('duration = "10m"', 'duration = "ten minutes"'), 15, "is not a duration"),
    # 11. bad regex
    (VALID.replace('host = "web"\n', 'host = "web"\nexpect_regex = ["(unclosed"]\n'), 22,
     "expected a valid regular expression"),
    # 12. number check without a group
    (VALID.replace('host = "web"\n', 'host = "web"\nnumber = { regex = "count" }\n'), 22,
     "expected a regex with a capturing group"),
    # 13. bad wait time of day
    (VALID + '\n[[phases.steps]]\nid = "1.3"\nkind = "wait"\ntitle = "w"\nuntil_utc = ["25:00"]\n',
     34, "'25:00' is not a time of day"),
    # 14. wait with nothing to wait for
    (VALID + '\n[[phases.steps]]\nid = "1.3"\nkind = "wait"\ntitle = "w"\n', 30,
     "a wait step needs"),
    # 15. droplet step on a host without a droplet name
    (VALID.replace('droplet = "web-1"\n', "") + '\n[[phases.steps]]\nid = "1.3"\n'
     'kind = "droplet_power"\ntitle = "p"\nhost = "web"\naction = "off"\n', 33,
     "has no 'droplet' name"),
    # 16. invalid services action
    (VALID + '\n[[phases.steps]]\nid = "1.3"\nkind = "services"\ntitle = "s"\nhost = "web"\n'
     'action = "reload"\nunits = ["app"]\n', 35, "action: got 'reload'"),
    # 17. runbook id with spaces
    (VALID.replace('id = "tiny"', 'id = "Tiny Book"'), 2,
     "runbook.id: expected a string matching '^[a-z0-9][a-z0-9-]*$' (got 'Tiny Book')"),
    # 18. reference to a missing step
    (VALID + '\n[[phases.steps]]\nid = "1.3"\nkind = "wait"\ntitle = "w"\nsince_step = "9.9"\n'
     'after = "1d"\n', 34, "no step with id '9.9'"),
    # 19. no phases at all
    (VALID.split("[[phases]]")[0], 1, "phases: missing required field"),
    # 20. wrong type for a list
    (VALID.replace('host = "web"\n', 'host = "web"\nexpect_regex = "one"\n'), 22,
     "steps[0].expect_regex: expected an array, got a string 'one'"),
])
def test_malformed_runbooks_each_get_their_own_clear_error(tmp_path, text, line, expected):
    problems = problems_of(tmp_path, text)
    joined = "\n".join(problems)
    assert expected in joined
    located = [p for p in problems if expected in p][0]
    assert re.match(rf"{re.escape(str(tmp_path / 'book.toml'))}:{line}: ", located), located
    assert "Traceback" not in joined


def test_a_number_from_a_template_is_read_as_a_number_but_a_port_must_be_one(tmp_path):
    # A {var} template always renders to text: `timeout = "{t}"` must load, as it did.
    text = VALID.replace('host = "web"\n', 'host = "web"\ntimeout = "{t}"\nretries = "{n}"\n')
    book = load_text(tmp_path, text, Overrides.from_cli([], ["t=30", "n=2"]))
    assert (book.step("1.1").timeout, book.step("1.1").retries) == (30.0, 2)
    problems = problems_of(tmp_path, VALID.replace('droplet = "web-1"',
                                                   'droplet = "web-1"\nport = "{p}"\n'
                                                   ).replace("[variables]", '[variables]\np = "22"'))
    assert any("hosts.web.port: expected a port number" in p for p in problems), problems


def test_every_wrong_field_of_a_table_gets_its_own_sentence(tmp_path):
    text = VALID.replace('host = "web"\n', 'host = "web"\ntimeout = "soon"\nretries = -1\n'
                         'flavour = 1\n').replace('title = "Tiny"', 'title = "Tiny"\nbogus = 1')
    joined = "\n".join(problems_of(tmp_path, text))
    for expected in ("phases[0].steps[0].timeout: expected a number", "steps[0].retries: expected "
                     "a whole number at least 0", "steps[0].flavour: unknown field",
                     "runbook.bogus: unknown field"):
        assert expected in joined, joined


def test_unreadable_runbook_is_a_sentence(tmp_path):
    with pytest.raises(RunbookError) as info:
        load_runbook(tmp_path / "missing.toml")
    assert "cannot read the runbook" in str(info.value)


def test_bad_override_names_the_runbooks_hosts(tmp_path):
    with pytest.raises(RunbookError) as info:
        load_text(tmp_path, VALID, Overrides.from_cli(["db=127.0.0.9"], []))
    assert "has no host 'db'" in str(info.value)


@pytest.mark.parametrize("arg", ["noequals", "x=", "=127.0.0.1", "a=b@c@d"])
def test_bad_host_override_syntax(arg):
    with pytest.raises(ValueError):
        Overrides.from_cli([arg], [])


# ---------------------------------------------------------------------------- the M11 runbook


def test_m11_carries_every_phase_and_the_rollback(m11_path):
    book = load_runbook(m11_path)
    assert [p.id for p in book.phases] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert [p.duration for p in book.phases] == ["1h", "30m", "30m", "5m", "10m", "1h", "7d",
                                                 "5m"]
    ids = [s.id for _, s in book.steps()]
    for section in ["1.1", "1.2", "1.3", "2.1", "2.2", "3.1", "3.2", "3.3", "4.1", "4.2", "4.3",
                    "5.1", "5.2", "5.3", "6.1", "6.2", "6.3", "6.4", "7.1", "7.2", "7.3", "8.1",
                    "8.2", "8.3", "8.4", "R1", "R2", "R3", "R4"]:
        assert any(i == section or i.startswith(section + "-") or i.startswith(section + ".")
                   for i in ids), section
    # The seed's rollback step 5, the re-attempt, is its own act (`cutover reattempt`).
    assert not any(i.startswith("R5") for i in ids) and book.rollback.reattempt_from == "3"


def test_m11_carries_the_seeds_criteria_and_thresholds(m11_path):
    book = load_runbook(m11_path)
    assert {e.path for e in book.health} >= {"/health", "/health/db", "/health/ready",
                                              "/monitoring/errors"}
    assert any(e.contains == "Paraform Roles" for e in book.health)
    services = book.step("1.1-services")
    assert services.units == ["air-demand-api", "air-demand-scheduler", "air-demand-dashboard"]
    assert book.step("1.2").threshold.min_passed == 40 and book.step("1.2").threshold.of == 48
    assert book.step("6.2").threshold.min_passed == 40
    assert book.step("4.2-smoke").threshold.min_passed == 5
    assert book.step("1.3").number.min <= 747 <= book.step("1.3").number.max
    backup = book.step("2.1")
    assert backup.expect_tables == 9 and backup.row_counts["roles"].min <= 747
    assert book.step("4.3-wait-scrape").until_utc == ["05:00", "17:00"]
    assert len([s for s in book.phases[6].steps if s.id.startswith("7.1-health.d")]) == 7
    # The seed counts the week's scrapes but names no log line for one: a person confirms it.
    scrapes = book.step("7.3-scrapes")
    assert scrapes.kind == "manual" and "all 14 scheduled scrapes" in scrapes.instructions
    assert len(book.red_flags) == 5
    destroy = book.step("8.3")
    assert destroy.monitoring_days == 7 and destroy.kind == "droplet_destroy"
    assert book.step("3.1").set == {"APP_NAME": "Air Demand", "ENVIRONMENT": "production",
                                    "SCRAPE_HOURS": "5,17", "DIGEST_HOUR": "6",
                                    "DIGEST_RECIPIENT": "rich.roberts@talentpipe.ai"}


def test_m11_does_not_wipe_the_crontab(m11_path):
    command = load_runbook(m11_path).step("6.3-cron").command
    assert "crontab -l" in command and "grep -vxF" in command
    assert not re.search(r'^echo "[^"]*" \| crontab -$', command, re.MULTILINE)


def test_the_format_reference_in_docs_is_generated_from_the_models():
    from pathlib import Path

    from cutover_tui.reference import render

    docs = Path(__file__).resolve().parents[1] / "docs" / "runbook-format.md"
    assert docs.read_text().strip() == render().strip(), (
        "docs/runbook-format.md is stale: run `uv run python -m cutover_tui.reference > "
        "docs/runbook-format.md`")
