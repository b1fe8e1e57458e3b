"""Every expectation in the M11 runbook traces to the seed: each cites (``source``) a section of
the seed that exists and states it, in the seed's own words, and no check looks for a field or
text the seed never names. Where the seed asks a person, the step is a manual confirmation; where
it only runs a command, the check is the command's exit status."""

import re
from pathlib import Path

import pytest

from cutover_tui.runbook import Overrides, load_runbook, runbook_plan_lines
from cutover_tui.steps import describe_step

ROOT = Path(__file__).resolve().parents[1]
M11 = ROOT / "checklists" / "m11-production-cutover.toml"
# The seed, kept beside the docs so the tests and CI have it; ../shared/seed is where it lives.
SEED = ROOT / "docs" / "seed" / "M11-production-cutover.md"
SHARED_SEED = ROOT.parent / "shared" / "seed" / "M11-production-cutover.md"

HEADING = re.compile(r"^(#{2,3}) (.+?)\s*$")


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "").replace("`", "")).strip()


def seed_sections(text: str) -> dict[str, str]:
    """Section name → its text: `### 1.1 …` is "1.1", `## Phase 4: …` is "Phase 4" (with its
    subsections), `### Step 2: …` under the rollback is "Rollback Step 2", any other heading is
    its title ("Success Criteria")."""
    lines = text.splitlines()
    headings: list[tuple[int, int, str]] = []
    fenced = False
    parent = ""
    for index, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if not match:
            continue
        level, title = len(match.group(1)), match.group(2)
        if level == 2:
            phase = re.match(r"Phase (\d+):", title)
            name = f"Phase {phase.group(1)}" if phase else title
            parent = name
        else:
            numbered = re.match(r"(\d+\.\d+) ", title)
            step = re.match(r"Step (\d+):", title)
            if numbered:
                name = numbered.group(1)
            elif step and parent.startswith("Rollback"):
                name = f"Rollback Step {step.group(1)}"
            else:
                name = title
        headings.append((index, level, name))
    sections = {}
    for n, (start, level, name) in enumerate(headings):
        end = next((i for i, lvl, _ in headings[n + 1:] if lvl <= level), len(lines))
        sections.setdefault(name, "\n".join(lines[start:end]))
    return sections


def citations(source: str) -> list[tuple[str, str]]:
    """``seed 4.2: quote; seed 1.1: quote`` → [("4.2", "quote"), ("1.1", "quote")]."""
    out = []
    for part in re.split(r";\s+(?=seed )", source):
        if not part.startswith("seed "):
            raise ValueError(f"{part!r} does not start with 'seed '")
        section, sep, quote = part.removeprefix("seed ").partition(": ")
        if not sep or not quote.strip():
            raise ValueError(f"{part!r}: write 'seed SECTION: quote'")
        out.append((section, quote))
    return out


def expectations(step) -> list[str]:
    """What a step asserts beyond the exit status of what it runs."""
    found = []
    for name in ("expect_regex", "reject_regex", "expect_json", "expect_contains",
                 "number", "threshold", "max_latency_ms", "row_counts"):
        if getattr(step, name, None):
            found.append(name)
    if step.kind == "http" and step.expect_status != 200:
        found.append("expect_status")
    if step.kind == "services":
        found.append(f"units {step.action}")  # each ends active (running) or inactive (dead)
    if getattr(step, "expect_tables", None) is not None:
        found.append("expect_tables")
    return found


def citation_problems(step, sections: dict[str, str]) -> list[str]:
    if not step.source.strip():
        return [f"{step.id}: {', '.join(expectations(step)) or step.kind} without a source"]
    try:
        cited = citations(step.source)
    except ValueError as exc:
        return [f"{step.id}: {exc}"]
    problems = []
    for section, quote in cited:
        if section not in sections:
            problems.append(f"{step.id}: the seed has no section {section!r}")
            continue
        for fragment in quote.split(" … "):
            if normalized(fragment) not in normalized(sections[section]):
                problems.append(f"{step.id}: seed {section} does not say {fragment!r}")
    return problems


def words_of(pattern: str) -> list[str]:
    """The literal words of a regex (escapes such as \\d, \\s, \\b removed)."""
    return re.findall(r"[A-Za-z][A-Za-z_]{2,}", re.sub(r"\\[A-Za-z]", " ", pattern))


def vocabulary_problems(step, seed_text: str) -> list[str]:
    """Names a check looks for that the seed never writes. Not checked: reject_regex (the error
    words that make "No errors in logs" testable) and a threshold's regex (the test runner's
    summary line, not the app's output)."""
    seed = seed_text.lower()
    problems = []
    for key in getattr(step, "expect_json", {}) or {}:
        problems += [f"{step.id}: JSON field {key!r}" for part in key.split(".")
                     if part.lower() not in seed]
    for text in getattr(step, "expect_contains", []) or []:
        if text.lower() not in seed:
            problems.append(f"{step.id}: body text {text!r}")
    patterns = list(getattr(step, "expect_regex", []) or [])
    if getattr(step, "number", None) is not None:
        patterns.append(step.number.regex)
        if step.number.label.lower() not in seed:
            problems.append(f"{step.id}: number {step.number.label!r}")
    for pattern in patterns:
        problems += [f"{step.id}: /{pattern}/ looks for {word!r}" for word in words_of(pattern)
                     if word.lower() not in seed]
    return problems


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text()


@pytest.fixture(scope="module")
def book():
    # Pointed at loopback: these tests read the runbook's text and connect to nothing, and if one
    # ever did it would reach a rehearsal address, never the seed's production ones.
    return load_runbook(M11, Overrides.from_cli(["new=127.0.0.3", "old=127.0.0.2"], []))


def test_the_seed_copy_is_the_seed():
    if not SHARED_SEED.exists():
        pytest.skip(f"no {SHARED_SEED} on this machine to compare the copy with")
    assert SEED.read_text() == SHARED_SEED.read_text(), (
        f"{SEED} differs from {SHARED_SEED}: copy the seed again, then re-check the sources")


def test_the_seed_parses_into_its_sections(seed_text):
    sections = seed_sections(seed_text)
    for name in ["Phase 1", "Phase 8", "1.1", "4.2", "7.3", "8.4", "Rollback Step 1",
                 "Rollback Step 5", "Success Criteria"]:
        assert name in sections, name
    assert "total_errors" in sections["8.1"] and "total_errors" not in sections["7.1"]
    assert "Error rate >10 errors/hour" in sections["7.2"]
    assert "### 4.3" in sections["Phase 4"]


def test_every_expectation_cites_a_seed_section_that_states_it(book, seed_text):
    sections = seed_sections(seed_text)
    problems = []
    checked = 0
    for _, step in book.steps():
        if expectations(step) or step.kind == "manual" or step.source:
            problems += citation_problems(step, sections)
            checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= 40


def test_no_check_looks_for_a_name_the_seed_never_states(book, seed_text):
    problems = []
    for _, step in book.steps():
        problems += vocabulary_problems(step, seed_text)
    assert not problems, "\n".join(problems)


def test_the_checkers_catch_an_invented_field_and_a_wrong_section(book, seed_text, tmp_path):
    text = M11.read_text().replace(
        "expect_json = { total_errors = { min = 0 } }",
        "expect_json = { errors_last_hour = { max = 10 } }").replace(
        'source = "seed 4.2: Expected: 5/5 tests passing"',
        'source = "seed 4.9: Expected: 5/5 tests passing"').replace(
        'source = "seed 6.2: Expected: 40/48 tests passing (83%+)"',
        'source = "seed 6.2: Expected: 48/48 tests passing"')
    wrong = tmp_path / "m11.toml"
    wrong.write_text(text)
    broken = load_runbook(wrong)
    assert vocabulary_problems(broken.step("8.1-errors"), seed_text) == [
        "8.1-errors: JSON field 'errors_last_hour'"]
    sections = seed_sections(seed_text)
    assert citation_problems(broken.step("4.2-smoke"), sections) == [
        "4.2-smoke: the seed has no section '4.9'"]
    assert citation_problems(broken.step("6.2"), sections) == [
        "6.2: seed 6.2 does not say 'Expected: 48/48 tests passing'"]


def test_what_the_seed_asks_of_a_person_is_a_manual_confirmation(book):
    asked = ["4.3-scrape", "7.3-scrapes", "7.3-digests"] + [f"7.1-digest.d{d}" for d in range(1, 8)]
    for step_id in asked:
        assert book.step(step_id).kind == "manual", step_id
    assert "inbox" in book.step("7.1-digest.d1").instructions


def test_where_the_seed_only_runs_a_command_the_check_is_its_exit_status(book):
    only_run = ["2.1-client", "4.3-errors", "6.3-log", "6.4", "8.1-scheduler"] + [
        f"7.1-scheduler.d{d}" for d in range(1, 8)]
    for step_id in only_run:
        step = book.step(step_id)
        assert step.kind == "ssh" and step.expect_exit == 0, step_id
        assert not expectations(step), (step_id, expectations(step))
    for step_id in ["6.1-errors", "6.1-roles"] + [f"7.1-errors.d{d}" for d in range(1, 8)]:
        assert not expectations(book.step(step_id)), step_id


def test_the_plan_and_validate_show_where_each_check_comes_from(book):
    # The seed's own words, quoted as text in the plan (this test connects to nothing).
    assert "checks from: seed 8.1: curl http://161.35.135.71:8123/monitoring/errors | jq " \
           "'.total_errors'" in describe_step(book, book.step("8.1-errors"))
    lines = "\n".join(runbook_plan_lines(book))
    assert "checks from: seed 4.2: jq '.status'  # Should return \"healthy\"" in lines
    assert "checks from: seed Rollback Step 3: Stop services to avoid dual-scraping" in lines


def test_every_red_flag_rule_cites_its_seed_line_and_measures_what_the_seed_names(book,
                                                                                  seed_text):
    """The five rules of seed 7.2, each citing its line; a measured JSON field (the error rate's
    counter) is one the seed writes (total_errors, seed 8.1)."""
    sections = seed_sections(seed_text)
    assert [flag.id for flag in book.red_flags] == [
        "health", "scraper", "database", "dashboard", "error-rate"]
    problems = []
    for flag in book.red_flags:
        assert flag.watched, f"{flag.id} has no probe: nothing would watch it"
        problems += citation_problems(flag, sections)
        if flag.value and flag.value.lower() not in seed_text.lower():
            problems.append(f"{flag.id}: measures {flag.value!r}, a field the seed never names")
    assert problems == []
