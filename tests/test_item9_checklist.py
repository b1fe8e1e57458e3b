"""Issue 16, item 9: a hand-damaged checklist (valid TOML, wrong types) crashed ``review`` and
``run`` with ``'str' object has no attribute 'get'``; an unwritable run log (now the journal) ended a run with
``IsADirectoryError``; a failed write left memory saying ``done`` while the file said
``pending``. Each is now a sentence and exit 1, memory stays what the file holds, and the
checklist carries a ``format`` version: a newer one is refused with a sentence."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from cutover_tui import checklist as checklist_module
from cutover_tui.checklist import CHECKLIST_FORMAT, Checklist
from cutover_tui.errors import ChecklistError
from cutover_tui.review import render_text
from cutover_tui.runbook import load_runbook

BOOK = """\
[runbook]
id = "record"
title = "Record"

[hosts.web]
address = "127.0.0.5"

[[phases]]
id = "1"
title = "Local"

[[phases.steps]]
id = "1.1"
kind = "local"
title = "Say hello"
command = "echo hello"
changes = false

[[phases.steps]]
id = "1.2"
kind = "local"
title = "Say bye"
command = "echo bye"
changes = false
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutover_tui.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def make_checklist(tmp_path: Path) -> tuple[Path, Path]:
    book_path = tmp_path / "book.toml"
    book_path.write_text(BOOK)
    book = load_runbook(book_path)
    state = tmp_path / "state.toml"
    Checklist(state).open_for(book, "op", {"1.1": ["local: echo hello"]}, {"web": "x"})
    return book_path, state


# Each hand edit of the record, and the field path the sentence names.
DAMAGE = [
    (lambda d: d["steps"].update({"1.1": "done"}), 'steps."1.1"'),
    (lambda d: d["steps"]["1.1"].update(notes="fixed by hand"), 'steps."1.1".notes'),
    (lambda d: d["phases"]["1"].update(steps="1.1"), "phases.1.steps"),
    (lambda d: d["steps"]["1.2"].update(evidence="sha256 ok"), 'steps."1.2".evidence'),
    (lambda d: d["steps"]["1.2"].update(state="finished"), 'steps."1.2".state'),
    (lambda d: d["run"].update(operators="op"), "run.operators"),
    (lambda d: d.update(phases=["1"]), "phases"),
]


def damage(state: Path, edit) -> None:
    data = tomllib.loads(state.read_text())
    edit(data)
    state.write_text(tomli_w.dumps(data))  # still valid TOML: only the types are wrong


@pytest.mark.parametrize("index", range(len(DAMAGE)))
def test_item9_hand_damaged_checklist_review_is_a_sentence(tmp_path, index):
    _, state = make_checklist(tmp_path)
    edit, where = DAMAGE[index]
    damage(state, edit)
    result = cli("review", str(state), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"the checklist {state} is damaged" in result.stderr
    assert re.search(rf"{re.escape(str(state))}:\d+: {re.escape(where)}: expected", result.stderr), \
        result.stderr


def test_item9_hand_damaged_checklist_run_is_a_sentence(tmp_path):
    book, state = make_checklist(tmp_path)
    damage(state, DAMAGE[1][0])
    result = cli("run", str(book), "--headless", "--yes", "--state", str(state), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "'str' object has no attribute" not in result.stdout + result.stderr
    assert f"the checklist {state} is damaged" in result.stderr
    assert 'steps."1.1".notes: expected an array of strings' in result.stderr


def test_item9_unwritable_journal_ends_the_run_with_a_sentence(tmp_path):
    book = tmp_path / "book.toml"
    book.write_text(BOOK)
    state = tmp_path / "state.toml"
    (tmp_path / "state.journal").mkdir()  # a journal that cannot be written
    result = cli("run", str(book), "--headless", "--yes", "--state", str(state), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "IsADirectoryError" not in result.stdout + result.stderr
    assert f"cannot write the run's journal {tmp_path / 'state.journal'}: Is a directory" \
        in result.stderr
    # Checked before anything ran: no step was started.
    steps = tomllib.loads(state.read_text())["steps"]
    assert {record["state"] for record in steps.values()} == {"pending"}


def test_item9_failed_write_leaves_memory_equal_to_the_file(tmp_path, monkeypatch):
    _, state = make_checklist(tmp_path)
    checklist = Checklist(state)
    assert checklist.step("1.1")["state"] == "pending"

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checklist_module.os, "fsync", disk_full)
    with pytest.raises(ChecklistError) as info:
        checklist.update_step("1.1", state="done", summary="ok")
    assert "No space left on device" in str(info.value)
    monkeypatch.undo()
    on_disk = tomllib.loads(state.read_text())["steps"]["1.1"]
    assert on_disk["state"] == "pending"
    assert checklist.step("1.1")["state"] == "pending"  # memory says what the file says
    assert checklist.data == Checklist(state).read()


def test_item9_a_failed_change_leaves_memory_equal_to_the_file(tmp_path):
    _, state = make_checklist(tmp_path)
    checklist = Checklist(state)
    checklist.read()
    with pytest.raises(RuntimeError), checklist.transaction() as data:
        data["steps"]["1.1"]["state"] = "done"
        raise RuntimeError("the change failed half way")
    assert checklist.step("1.1")["state"] == "pending"


def test_item9_checklist_records_its_format(tmp_path):
    _, state = make_checklist(tmp_path)
    assert tomllib.loads(state.read_text())["format"] == CHECKLIST_FORMAT
    assert state.read_text().startswith(f"format = {CHECKLIST_FORMAT}\n")


def test_item9_newer_format_is_refused_with_a_sentence(tmp_path):
    _, state = make_checklist(tmp_path)
    state.write_text(state.read_text().replace(f"format = {CHECKLIST_FORMAT}\n",
                                               f"format = {CHECKLIST_FORMAT + 1}\n"))
    with pytest.raises(ChecklistError) as info:
        Checklist(state).read()
    assert "was written by a newer cutover" in str(info.value)
    result = cli("review", str(state), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"checklist format {CHECKLIST_FORMAT + 1}" in result.stderr


def test_item9_a_checklist_from_before_the_format_still_reads(tmp_path):
    _, state = make_checklist(tmp_path)
    state.write_text(state.read_text().replace(f"format = {CHECKLIST_FORMAT}\n", ""))
    assert "Say hello" in render_text(state)
