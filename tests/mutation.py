"""Mutation pass over the safety guards: every line marked ``# guard: <name>`` in the product is
disabled in turn, in a temporary copy of the tree, and the tests named for that guard must fail.

    uv run python tests/mutation.py            # every guard
    uv run python tests/mutation.py NAME ...   # some of them

A guard is disabled by what deleting its line means, keeping the file valid Python: an ``if`` /
``elif`` / ``while`` header becomes ``if False:`` (its block never runs), any other statement
becomes ``pass``. Prints a line per guard (``caught by <test>`` or ``SURVIVED``) and
``N/M guards caught`` last; exits 1 unless every guard is caught. ``.ci/run`` runs it.

``GUARD_TESTS`` names the tests that prove each guard (pytest node ids, or ``-k`` expressions
after a file). A marked guard with no entry, or an entry with no marked guard, is an error:
a guard nobody proves is untested, however many tests touch it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("cutover_tui", "screens")
MARK = re.compile(r"#\s*guard:\s*([a-z0-9-]+)\s*$")

# guard name → the tests that must fail when it is disabled (run with -x, in this order).
# The first test of each list is the one that proves the guard most directly; none of them may
# need the network to fail (a disabled loopback guard must not send a packet anywhere).
NETGUARD = "tests/test_netguard_and_imports.py"
CRASH = "tests/test_checklist_crash.py"
DP = "tests/test_destroy_and_power.py"
I13, I15 = "tests/test_item13_14_files_kept.py", "tests/test_item15_bounded_waits.py"
ENV_KEPT = "test_item14_env_edit_writes_through_the_symlink_and_keeps_owner_mode_and_crlf"
DROPLETS = "tests/test_droplets.py"
I5, I6, I7, I8, I9 = (f"tests/test_item{n}_{name}.py" for n, name in (
    (5, "answers"), (6, "validate"), (7, "quoting"), (8, "regex"), (9, "checklist")))
GATES = "tests/test_gates_and_paths.py"
GUARD_TESTS: dict[str, list[str]] = {
    "loopback-guard": [
        f"{NETGUARD}::test_ensure_allowed_refuses_an_outside_address_without_a_network_call"],
    "checklist-atomic-rename": [
        f"{CRASH}::test_writers_killed_inside_a_write_leave_a_whole_file_and_lose_no_"
        "acknowledged_note"],
    "checklist-lock": [
        f"{CRASH}::test_a_second_writer_waits_for_the_lock_instead_of_losing_the_first_"
        "writers_update"],
    "step-claim-other-operator": [
        f"{GATES}::test_a_step_claimed_by_another_live_operator_is_refused"],
    "requires-backup-gate": [
        f"{GATES}::test_requires_backup_shuts_the_phase_until_a_verified_backup_exists"],
    "day-order": [f"{GATES}::test_the_week_waits_for_each_day_and_once_steps_come_after"],
    # Issue 16, answers and input.
    "answers-unknown-table": [f"{I5}::test_item5_unknown_table_names_its_line"],
    "answers-strict-bool": [f"{I5}::test_item5_string_answer_no_is_refused"],
    "answers-typed-string": [f"{I5}::test_item5_typed_name_must_be_a_string"],
    "answers-unknown-key": [f"{I5}::test_item5_unknown_host_keys_key_names_its_line"],
    "answers-strict-bool-host-keys": [f"{I5}::test_item5_trust_unknown_as_a_string_is_refused"],
    "answers-unknown-step": [f"{I5}::test_item5_unknown_step_id_is_refused"],
    "regex-compiles-at-load": [
        f"{I8}::test_item8_a_regex_that_does_not_compile_is_refused_at_load"],
    "host-address-strict": [f"{I7}::test_item7_runbook_host_fields_are_strict"],
    "host-user-strict": [f"{I7}::test_item7_runbook_host_fields_are_strict"],
    "threshold-capture-group": [f"{I6}::test_item6_threshold_without_a_group_fails_at_load"],
    "repeat-bound": [f"{I6}::test_item6_repeat_is_bounded"],
    "variables-table": [f"{I6}::test_item6_variables_as_a_number_is_not_ignored"],
    "steps-array": [f"{I6}::test_item6_steps_as_a_number_is_a_problem_not_a_crash"],
    "duration-bound": [f"{I6}::test_item6_huge_duration_fails_at_load"],
    "toml-open-array-line": [f"{I6}::test_item6_array_left_open_names_the_line_it_was_opened"],
    "template-quoting": [f"{I7}::test_item7_var_with_a_command_substitution_runs_nothing"],
    "regex-time-limit": [f"{I8}::test_item8_catastrophic_regex_does_not_block_the_event_loop"],
    "regex-worker-thread": [
        f"{I8}::test_item8_catastrophic_regex_does_not_block_the_event_loop"],
    "checklist-format-version": [f"{I9}::test_item9_newer_format_is_refused_with_a_sentence"],
    "checklist-shape": [f"{I9}::test_item9_hand_damaged_checklist_review_is_a_sentence"],
    "checklist-memory-equals-file": [
        f"{I9}::test_item9_failed_write_leaves_memory_equal_to_the_file"],
    "log-write-sentence": [f"{I9}::test_item9_unwritable_log_ends_the_run_with_a_sentence"],
    "log-checked-before-run": [
        f"{I9}::test_item9_unwritable_log_ends_the_run_with_a_sentence"],
    # Issue 16, destroy and power.
    "power-off-asks-first": [
        f"{DP}::test_item3_power_off_answered_no_changes_nothing_on_the_host"],
    "powered-off-from-do-history": [
        f"{DP}::test_item4_powered_off_comes_from_the_action_history_not_the_checklist"],
    "monitoring-days-by-clock": [
        f"{DP}::test_item4_daily_checks_all_at_once_do_not_make_a_week"],
    "checklist-times-sane": [
        f"{DP}::test_item4_a_checklist_time_in_the_future_blocks_the_destroy",
        f"{DP}::test_item4_checklist_times_out_of_order_block_the_destroy"],
    "destroy-sent-once": [
        f"{DP}::test_item2_resume_after_a_crash_finds_the_droplet_gone_and_is_done"],
    "destroy-typed-name": [
        f"{DROPLETS}::test_a_name_wrong_by_one_character_sends_nothing",
        f"{DROPLETS}::test_yes_alone_never_destroys"],
    "destroy-preconditions": [
        f"{DP}::test_item1_destroy_aborts_when_new_host_answers_503_while_typing",
        f"{DP}::test_item1_destroy_aborts_when_red_flag_raised_while_typing",
        f"{DP}::test_item1_destroy_aborts_when_backup_deleted_while_typing"],
    "destroy-identity": [f"{DP}::test_item1_destroy_aborts_when_droplet_replaced_while_typing"],
    "destroy-intent-recorded": [
        f"{DP}::test_item2_intent_is_on_disk_before_the_delete_goes_out"],
    # Issue 16, secrets (items 10-12).
    "masking-learnt-values": [
        "tests/test_item10_secrets.py::test_item10_learnt_values_are_masked_in_later_output",
        "tests/test_item10_secrets.py::test_item10_secrets_learnt_before_a_resume_stay_masked"],
    "masking-url-passwords": [
        "tests/test_item10_secrets.py::test_item10_masker_catches_every_shape_of_secret",
        "tests/test_item10_secrets.py::test_item10_headless_summary_is_masked"],
    "log-file-mode": ["tests/test_item10_secrets.py::test_item10_headless_summary_is_masked"],
    "local-env-scrubbed": [
        "tests/test_item11_credentials.py::test_item11_local_steps_get_no_credentials_unless_"
        "passed",
        "tests/test_item11_credentials.py::test_item11_repo_edit_git_hooks_get_no_credentials"],
    "backup-file-mode": [
        "tests/test_item12_backup_files.py::test_item12_backup_folder_and_files_are_private"],
    "backup-dir-mode": [
        "tests/test_item12_backup_files.py::test_item12_backup_folder_and_files_are_private"],
    # Issue 16, files kept and every wait bounded.
    "ssh-keepalive": [f"{I15}::test_item15_ssh_keepalive_notices_a_silently_dead_host"],
    "ssh-channel-limit": [f"{I15}::test_item15_ssh_waiting_for_a_channel_slot_is_bounded"],
    "ssh-slot-timeout": [f"{I15}::test_item15_ssh_waiting_for_a_channel_slot_is_bounded"],
    "ssh-channel-timeout": [
        f"{I15}::test_item15_ssh_channel_open_through_a_stalled_link_times_out"],
    "ssh-sftp-timeout": [
        f"{I15}::test_item15_sftp_operations_through_a_stalled_link_time_out"],
    "ssh-sftp-stall": [f"{I15}::test_item15_sftp_operations_through_a_stalled_link_time_out"],
    "http-total-deadline": [f"{I15}::test_item15_http_deadline_against_a_dripping_server"],
    "do-read-timeout": [f"{I15}::test_item15_digitalocean_client_has_a_read_timeout"],
    "local-kill-after-grace": [
        f"{I15}::test_item15_local_command_ignoring_sigterm_is_killed_after_the_grace"],
    "git-timeout": [f"{I15}::test_item15_git_push_has_a_timeout"],
    "pg-timeout": [f"{I15}::test_item15_psql_and_pg_restore_have_timeouts"],
    "repo-keep-mode": [f"{I13}::test_item13_repo_edit_keeps_mode_and_crlf_line_endings"],
    "repo-keep-eol": [f"{I13}::test_item13_repo_edit_keeps_mode_and_crlf_line_endings"],
    "repo-show-unshown": [f"{I13}::test_item13_a_change_the_lines_do_not_show_is_shown"],
    "env-write-through-symlink": [f"{I13}::{ENV_KEPT}"],
    "env-keep-owner-mode": [f"{I13}::{ENV_KEPT}"],
    "env-keep-eol": [f"{I13}::{ENV_KEPT}"],
}


@dataclass(frozen=True)
class Guard:
    name: str
    path: Path  # relative to ROOT
    line: int  # 1-based

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def find_guards(root: Path = ROOT) -> list[Guard]:
    guards = []
    for package in PRODUCT:
        for path in sorted((root / package).rglob("*.py")):
            for number, text in enumerate(path.read_text().splitlines(), start=1):
                match = MARK.search(text)
                if match:
                    guards.append(Guard(match.group(1), path.relative_to(root), number))
    return guards


def disable(source: str, line: int) -> str:
    """``source`` with the statement that starts on ``line`` disabled (see the module doc)."""
    tree = ast.parse(source)
    target = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno == line:
            if target is None or node.col_offset < target.col_offset:
                target = node
    if target is None:
        raise ValueError(f"line {line} does not start a statement: put the guard comment on "
                         "the first line of the statement that enforces it")
    lines = source.splitlines(keepends=True)
    indent = re.match(r"\s*", lines[line - 1]).group(0)
    if isinstance(target, ast.If | ast.While):
        header_end = target.body[0].lineno - 1
        keyword = "while" if isinstance(target, ast.While) else \
            ("elif" if lines[line - 1].lstrip().startswith("elif") else "if")
        replacement = [f"{indent}{keyword} False:  # mutation\n"]
        end = header_end
    else:
        replacement = [f"{indent}pass  # mutation\n"]
        end = target.end_lineno or line
        if isinstance(target, ast.For | ast.With | ast.Try | ast.AsyncWith | ast.AsyncFor):
            raise ValueError(f"line {line}: mark the statement inside the block, not its header")
    mutated = "".join(lines[:line - 1] + replacement + lines[end:])
    ast.parse(mutated)  # still valid Python, or the mutation would prove nothing
    return mutated


def copy_tree(destination: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        relative = Path(raw.decode())
        source = ROOT / relative
        if not source.is_file():
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def run_tests(tree: Path, tests: list[str], timeout: float) -> tuple[bool, str]:
    """Run ``tests`` in ``tree``; (failed, name of the first failing test or why)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", "-o", "addopts=", *tests]
    try:
        result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, f"the tests hung past {timeout:g}s (a timeout also fails CI)"
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, re.MULTILINE)
    if result.returncode == 0:
        return False, ""
    if failed:
        return True, failed[0]
    return True, f"pytest exit {result.returncode}: {result.stdout.strip().splitlines()[-1:]}"


def main(argv: list[str]) -> int:
    guards = find_guards()
    wanted = set(argv)
    problems = []
    names = {g.name for g in guards}
    for name in sorted(set(GUARD_TESTS) - names):
        problems.append(f"GUARD_TESTS names {name!r}, but no line is marked '# guard: {name}'")
    for guard in guards:
        if guard.name not in GUARD_TESTS:
            problems.append(f"{guard.where}: guard {guard.name!r} has no tests in GUARD_TESTS")
    for problem in problems:
        print(problem)
    selected = [g for g in guards if not wanted or g.name in wanted]
    caught = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cutover-mutation-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        for guard in selected:
            tests = GUARD_TESTS.get(guard.name)
            if not tests:
                print(f"{guard.name:34} {guard.where:42} SURVIVED (no test named for it)")
                continue
            target = tree / guard.path
            original = target.read_text()
            try:
                target.write_text(disable(original, guard.line))
            except (ValueError, SyntaxError) as exc:
                print(f"{guard.name:34} {guard.where:42} cannot mutate: {exc}")
                continue
            try:
                failed, by = run_tests(tree, tests, timeout=600)
            finally:
                target.write_text(original)
            if failed:
                caught += 1
                print(f"{guard.name:34} {guard.where:42} caught by {by}", flush=True)
            else:
                print(f"{guard.name:34} {guard.where:42} SURVIVED", flush=True)
    print(f"({time.monotonic() - started:.0f}s)")
    print(f"{caught}/{len(selected)} guards caught")
    return 0 if caught == len(selected) and not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
