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
COSIGN = "tests/test_cosign.py"
JOURNAL = "tests/test_journal.py"
PAIR, PAIR_CORE = "tests/test_pair_mode.py", "tests/test_pair_core.py"
EXIT = "tests/test_wizard_exit.py"
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
    "gc-resumed-after-first-frame": [
        "tests/test_first_paint.py::test_the_collector_paused_for_start_up_runs_again_after_the_"
        "first_frame"],
    "gc-resumed-headless": [
        "tests/test_first_paint.py::test_a_headless_run_collects_from_its_first_step"],
    "gc-resumed-demo-headless": [
        "tests/test_first_paint.py::test_a_demo_without_the_wizard_collects_from_its_start"],
    "gc-resumed-by-a-step": [
        "tests/test_first_paint.py::test_a_step_collects_again_when_no_ui_settled_the_start"],
    "no-phase-screen-at-exit": [f"{EXIT}::test_a_shutting_down_app_leaves_its_phase_screen_alone"],
    "no-phase-screen-after-exit": [f"{EXIT}::test_an_exiting_app_leaves_its_phase_screen_alone"],
    "presence-at-exit": [f"{EXIT}::test_a_shutting_down_app_leaves_its_phase_screen_alone"],
    "one-shutdown": [f"{EXIT}::test_a_second_quit_while_the_first_still_closes_still_ends_the_app"],
    "shutdown-bounded": [f"{EXIT}::test_a_close_that_hangs_ends_the_app_when_its_time_is_up"],
    "shutdown-says-what-failed": [
        f"{EXIT}::test_a_close_that_fails_still_stops_the_world_and_says_why"],
    "dialog-answers-once": [f"{EXIT}::test_a_question_answered_twice_is_answered_once"],
    "no-jump-over-a-question": [f"{EXIT}::test_the_palette_does_not_jump_away_from_a_question"],
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
        "tests/test_checklist_writes.py::test_item9_failed_write_is_not_kept_by_the_next_read_"
        "or_write",
        f"{I9}::test_item9_failed_write_leaves_memory_equal_to_the_file"],
    # Issue 14, item 3: a checklist transaction skips the parse only for its own last version.
    "checklist-reparse-when-changed": [
        "tests/test_checklist.py::test_a_write_by_another_process_between_ours_is_kept_by_our_"
        "next_write",
        "tests/test_checklist_writes.py::test_a_change_by_another_checklist_is_seen_by_our_next_"
        "transaction"],
    # Issue 15, item 7: the run's journal, hash-chained, and `cutover review --verify`.
    "journal-write-sentence": [
        f"{I9}::test_item9_unwritable_journal_ends_the_run_with_a_sentence"],
    "journal-file-mode": [
        f"{JOURNAL}::test_the_journal_has_the_records_mode_never_the_worlds",
        "tests/test_item10_secrets.py::test_item10_headless_summary_is_masked"],
    "journal-lock": [f"{JOURNAL}::test_writers_in_several_processes_keep_one_chain"],
    "journal-records-checklist-writes": [
        f"{JOURNAL}::test_an_untouched_run_is_intact_and_journals_what_happened",
        f"{JOURNAL}::test_a_checklist_written_without_a_session_is_journalled"],
    "journal-entry-hash": [f"{JOURNAL}::test_an_edited_line_is_named_by_its_hash"],
    "journal-seq": [f"{JOURNAL}::test_a_removed_line_is_named",
                    f"{JOURNAL}::test_an_inserted_line_is_named"],
    "journal-prev": [
        f"{JOURNAL}::test_an_edited_line_with_its_hash_recomputed_breaks_the_next_ones_prev"],
    "journal-record-hash": [f"{JOURNAL}::test_a_checklist_changed_by_hand_is_named"],
    # Issue 15, items 1-4: pair-operating (shared runs, steps held by another, observers).
    "shared-files-never-world-readable": [
        f"{PAIR_CORE}::test_a_record_made_world_readable_by_hand_is_private_again_on_the_next_"
        "write"],
    "shared-folder-setgid": [
        "tests/test_shared_run.py::test_a_group_shared_run_gives_the_group_every_file_and_the_"
        "world_none"],
    "skip-held-step": [
        f"{PAIR_CORE}::test_a_step_another_session_runs_cannot_be_skipped_and_its_record_stays"],
    "held-step-says-who": [
        f"{PAIR}::test_a_step_run_by_another_operator_is_theirs_on_my_screen"],
    "observer-writes-nothing": [
        f"{PAIR_CORE}::test_an_observers_session_writes_nothing_and_shows_the_recorded_plan"],
    "observer-keys-refused": [f"{PAIR}::test_an_observer_changes_nothing_whatever_is_pressed"],
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
    "local-env-scrubbed": [
        "tests/test_item11_credentials.py::test_item11_local_steps_get_no_credentials_unless_"
        "passed",
        "tests/test_item11_credentials.py::test_item11_repo_edit_git_hooks_get_no_credentials"],
    "backup-file-mode": [
        "tests/test_item12_backup_files.py::test_item12_backup_folder_and_files_are_private"],
    "backup-dir-mode": [
        "tests/test_item12_backup_files.py::test_item12_backup_folder_and_files_are_private"],
    # Issue 14, item 5: hashed while downloading, still compared, every block in time.
    "backup-sha256-compared": [
        "tests/test_backup_hash_on_download.py::test_a_byte_changed_on_the_way_is_a_sha256_"
        "mismatch_and_no_backup"],
    "backup-download-stall": [
        "tests/test_backup_hash_on_download.py::test_a_download_that_stops_moving_times_out"],
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
    # Issue 13, item 8: the rollback ends in a safe state; a re-attempt is its own act.
    "note-needs-a-person": [
        "tests/test_rollback_reattempt.py::test_a_required_note_never_comes_from_yes",
        "tests/test_rollback_reattempt.py::test_headless_rollback_stops_after_r4_and_reattempt_"
        "is_its_own_command"],
    "reattempt-after-safe-state": [
        "tests/test_rollback_reattempt.py::test_reattempt_is_refused_until_the_rollback_is_safe_"
        "and_noted"],
    "reattempt-needs-root-cause-note": [
        "tests/test_rollback_reattempt.py::test_reattempt_is_refused_until_the_rollback_is_safe_"
        "and_noted"],
    # Issue 13, the monitoring week.
    "notify-loopback": [
        "tests/test_monitor_notify.py::test_an_outside_url_is_refused_under_the_loopback_switch_"
        "before_any_socket"],
    "watch-store-mode": [
        "tests/test_monitor_store.py::test_the_files_are_private_and_in_wal_mode"],
    "red-flag-one-trigger": [
        "tests/test_monitor_gate.py::test_a_rule_that_cannot_be_watched_safely_does_not_load"],
    "monitor-screen-masks": [
        "tests/test_monitoring_screen.py::test_a_probe_detail_is_shown_masked"],
    "review-masks": [
        "tests/test_review_screen.py::test_the_model_reads_who_when_how_long_and_the_skip_and_"
        "masks_a_hand_edit"],
    "probe-changes-nothing": [
        "tests/test_monitor_gate.py::test_a_rule_that_cannot_be_watched_safely_does_not_load"],
    "red-flag-shuts-destroy": [
        "tests/test_monitor_gate.py::test_a_firing_rule_shuts_the_destroy_naming_it"],
    "cosign-other-account": [
        "tests/test_cosign.py::test_an_approval_from_the_runners_own_account_never_counts_on_"
        "real_hosts"],
    "account-from-uid": [
        "tests/test_cosign.py::test_the_recorded_account_is_the_login_not_what_user_says"],
    "notify-cloud-mode": [
        "tests/test_monitor_notify.py::test_an_ntfy_url_that_would_post_to_the_public_ntfy_sh_is_"
        "refused"],
    "journal-started-with-record": [
        "tests/test_journal.py::test_a_removed_journal_started_again_by_a_later_session_is_not_"
        "intact"],
    "hung-probe-is-bad": [
        "tests/test_monitor_probes.py::test_a_hung_endpoint_is_bad_evidence_a_refused_one_is_no_"
        "answer"],
    "week-watched": [
        "tests/test_monitor_gate.py::test_the_destroy_precondition_says_not_watched_when_no_"
        "watcher_ran"],
    "reattempt-resets-watch": [
        "tests/test_monitor_restarts.py::test_a_reattempt_starts_every_rule_again"],
    "check-judges-scheduled-once": [
        "tests/test_monitor_restarts.py::test_check_from_cron_judges_a_scheduled_rule_once_per_run"],
    "fired-flag-restarts-clean-week": [
        "tests/test_monitor_gate.py::test_a_resolved_flag_opens_it_only_after_a_clean_week_from_"
        "its_resolution"],
    # Issue 15, item 6: co-sign (four eyes) on destructive steps.
    "cosign-kinds": [f"{COSIGN}::test_cosign_is_refused_on_a_kind_that_does_not_check_it"],
    "cosign-power-off": [
        f"{COSIGN}::test_power_off_without_an_approval_stops_nothing_and_says_what_is_missing"],
    "cosign-destroy": [f"{COSIGN}::test_the_destroy_without_an_approval_sends_nothing"],
    "cosign-not-self": [f"{COSIGN}::test_an_approval_by_the_operator_who_runs_it_never_counts"],
    "cosign-approver-not-runner": [
        f"{COSIGN}::test_an_operator_cannot_approve_the_step_they_are_running"],
    "cosign-expiry": [f"{COSIGN}::test_an_approval_expires_after_15_minutes"],
    "cosign-red-flag": [f"{COSIGN}::test_a_red_flag_after_the_approval_voids_it"],
    "cosign-hash": [f"{COSIGN}::test_a_replaced_droplet_voids_the_approval"],
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
    command = [sys.executable, "-m", "pytest", "-x", "-q", "--tb=line", "-p", "no:cacheprovider",
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
    # No test failed: pytest itself stopped (a collection or internal error). That proves
    # nothing about the guard, so it does not count as caught.
    return False, f"pytest exit {result.returncode}: {result.stdout.strip().splitlines()[-1:]}"


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
                print(f"{guard.name:34} {guard.where:42} SURVIVED {by}".rstrip(), flush=True)
    print(f"({time.monotonic() - started:.0f}s)")
    print(f"{caught}/{len(selected)} guards caught")
    return 0 if caught == len(selected) and not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
