"""Issue 14, item 3: checklist writes that scale. A transaction parses the file only when someone
else changed it since this checklist last read or wrote it, and re-serialises only the tables
that changed; the file stays exactly what ``tomli_w`` would write for the whole record (so one
human-readable TOML file, every field kept), and memory stays what the file holds."""

from __future__ import annotations

import copy
import errno
import os
import pickle
import random
import tomllib
from types import MappingProxyType
from typing import Any

import pytest
import tomli_w

from cutover_tui import checklist as checklist_module
from cutover_tui.checklist import Checklist
from cutover_tui.errors import ChecklistError
from cutover_tui.records import StepState, plain
from cutover_tui.tomltables import CopyOnRead, Version, render, same, thaw


def step_table(i: int) -> dict[str, Any]:
    return {
        "state": "done", "phase": str(i % 4), "title": f"Step {i}", "kind": "ssh",
        "operator": "ann", "started_at": "2026-11-30T06:00:00Z", "exit_status": i % 3,
        "output": "\n".join(f"line {n} of step {i}" for n in range(5)),
        "notes": [f"2026-11-30T06:00:0{i % 10}Z ann: ok"], "plan": ["old: systemctl stop api"],
        "evidence": {"checked": i, "ratio": i / 7, "ok": bool(i % 2), "hosts": ["old", "new"],
                     "nested": {"deep": "yes"}},
        "a field from a newer cutover": {"kept": True},
    }


def record(steps: int = 12) -> dict[str, Any]:
    return {
        "format": 1,
        "run": {"runbook_id": "m11", "updated_at": "2026-11-30T06:00:00Z",
                "operators": ["ann"], "hosts": {"old": "127.0.0.5", "new": "127.0.0.6"},
                "masking": {"salt": "ab" * 16, "learnt": ["f1", "f2"]}},
        "phases": {"1": {"title": "One", "steps": ["1.1", "1.2"], "rollback": False}},
        "steps": {f"{i // 3}.{i % 3}-step": step_table(i) for i in range(steps)},
    }


def rendered_text(data: dict[str, Any], before: Version | None = None) -> tuple[str, Version]:
    payload, version = render(data, before or Version())
    return payload.decode(), version


# ---------------------------------------------------------------------------- the text


@pytest.mark.parametrize("data", [
    record(),
    {},
    {"format": 1},
    {"run": {}},
    {"format": 1, "run": {"x": 1}, "steps": {}},
    {"steps": {"only-a-subtable": {"evidence": {"a": 1}}, "empty": {}}},
    {"top": [1, 2], "mixed": {"literal": 1, "sub": {"a": "b"}}, "later": "text"},
    {"top-level array of tables": [{"a": 1, "long": "x" * 120}, {"a": 2}], "run": {"a": 1}},
    {"steps": {"a": {"rows": [{"table": "t", "count": 1, "pad": "y" * 120}]}}},
    {"run": {"gone": None, "kept": (1, 2)}, "steps": {"s": MappingProxyType({"state":
                                                                          StepState.DONE})}},
    {"steps": {"with.dot": {"x": 1}, "with space": {"y": "z\n\"q\""}}, "n": None},
], ids=lambda data: str(len(data)))
def test_the_text_is_what_tomli_w_writes_for_the_whole_record(data):
    text, version = rendered_text(data)
    assert text == tomli_w.dumps(plain(data))
    assert version.data == tomllib.loads(text) == version.public


def test_each_change_rewrites_only_its_table_and_the_text_stays_what_tomli_w_writes():
    rng = random.Random(14)
    data = record(30)
    text, version = rendered_text(data)
    for round_number in range(200):
        changed = version.working_copy()
        step_ids = list(changed["steps"])
        choice = rng.randrange(7)
        target = rng.choice(step_ids)
        if choice == 0:
            changed["steps"][target].setdefault("notes", []).append(f"note {round_number}")
        elif choice == 1:
            changed["steps"][target] = {"state": "pending"}
        elif choice == 2:
            changed["steps"].pop(target)
        elif choice == 3:
            changed["steps"][f"new-{round_number}"] = step_table(round_number)
        elif choice == 4:
            changed["run"]["updated_at"] = f"2026-11-30T07:{round_number % 60:02d}:00Z"
        elif choice == 5:
            evidence = changed["steps"][target].setdefault("evidence", {})
            evidence["ok"] = 1 if evidence.get("ok") is True else True  # equal, not the same
        else:
            changed["extra"] = {"k": round_number}
        before = version
        text, version = rendered_text(changed, before)
        assert text == tomli_w.dumps(plain(changed)), f"round {round_number}"
        assert tomllib.loads(text) == version.data == version.public
        dumped_again = {key for key in version.texts if version.texts[key] is not
                        before.texts.get(key)}
        assert len(dumped_again) <= 3, dumped_again  # the literals, run, the one table changed


def test_a_number_that_equals_a_boolean_is_still_written_as_a_number():
    data = record(3)
    _, version = rendered_text(data)
    changed = version.working_copy()
    step = next(iter(changed["steps"]))
    changed["steps"][step]["evidence"]["ok"] = 1  # the file had `ok = true`
    text, _ = rendered_text(changed, version)
    assert tomllib.loads(text)["steps"][step]["evidence"]["ok"] == 1
    assert tomllib.loads(text)["steps"][step]["evidence"]["ok"] is not True


def test_same_tells_toml_values_apart_that_python_calls_equal():
    assert same({"a": 1, "b": [1, "x"]}, {"a": 1, "b": [1, "x"]})
    assert not same(1, True)
    assert not same(1, 1.0)
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1})  # written in another order
    assert not same([1], (1,))
    assert not same({"a": {}}, {"a": MappingProxyType({})})


def test_copy_on_read_never_hands_out_the_original_tables():
    originals = {"a": {"notes": ["x"]}, "b": {"notes": ["y"]}, "c": {"notes": ["z"]}}
    pristine = copy.deepcopy(originals)
    reads = [
        lambda t: t["a"], lambda t: t.get("a"), lambda t: t.setdefault("a", {}),
        lambda t: t.pop("a"), lambda t: t.popitem()[1], lambda t: list(t.items())[0][1],
        lambda t: list(t.values())[0], lambda t: dict(t)["a"], lambda t: {**t}["a"],
        lambda t: t.copy()["a"], lambda t: (t | {})["a"], lambda t: ({} | t)["a"],
        lambda t: copy.copy(t)["a"], lambda t: copy.deepcopy(t)["a"],
        lambda t: pickle.loads(pickle.dumps(t))["a"], lambda t: next(iter(t.items()))[1],
    ]
    for number, read in enumerate(reads):
        table = CopyOnRead(originals)
        got = read(table)
        got.setdefault("notes", []).append("changed")
        got["new"] = number
        assert originals == pristine, f"read {number} handed out an original"
    untouched = CopyOnRead(originals)
    untouched["a"]["notes"].append("changed")
    assert dict.__getitem__(untouched, "b") is originals["b"]  # never read: not copied


def test_thaw_copies_tables_and_arrays_and_shares_the_rest():
    data = {"a": [{"b": "text"}], "c": 1}
    copied = thaw(data)
    assert copied == data and copied is not data
    assert copied["a"] is not data["a"] and copied["a"][0] is not data["a"][0]
    assert copied["a"][0]["b"] is data["a"][0]["b"]


# ---------------------------------------------------------------------------- the checklist


def count_parses(monkeypatch) -> list[int]:
    parses = [0]
    real = checklist_module.tomllib.loads

    def counting(text: str) -> Any:
        parses[0] += 1
        return real(text)

    monkeypatch.setattr(checklist_module.tomllib, "loads", counting)
    return parses


def test_a_transaction_on_a_file_unchanged_since_our_write_does_not_parse_it(
        tmp_path, monkeypatch):
    path = tmp_path / "run.toml"
    checklist = Checklist(path)
    checklist.update_run(runbook_id="t")
    parses = count_parses(monkeypatch)
    for number in range(5):
        checklist.add_note("1.1", "ann", f"note {number}")
    assert checklist.read()["steps"]["1.1"]["notes"][-1].endswith("note 4")
    assert parses[0] == 0
    on_disk = tomllib.loads(path.read_text())
    assert on_disk == checklist.data
    assert path.read_text() == tomli_w.dumps(on_disk)  # one human-readable TOML file, as ever


def test_a_change_by_another_checklist_is_seen_by_our_next_transaction(tmp_path, monkeypatch):
    path = tmp_path / "run.toml"
    ours, theirs = Checklist(path), Checklist(path)
    ours.update_run(runbook_id="t")
    ours.add_note("1.1", "ann", "ours first")
    parses = count_parses(monkeypatch)
    theirs.add_note("1.1", "bob", "theirs")  # parses: it never read the file
    ours.add_note("1.1", "ann", "ours again")  # parses again: the file is not ours any more
    assert parses[0] == 2
    notes = tomllib.loads(path.read_text())["steps"]["1.1"]["notes"]
    assert [note.split(": ", 1)[1] for note in notes] == ["ours first", "theirs", "ours again"]
    assert ours.data == tomllib.loads(path.read_text())


def test_a_hand_edit_of_the_same_size_is_seen(tmp_path):
    path = tmp_path / "run.toml"
    checklist = Checklist(path)
    checklist.update_step("1.1", state="done", summary="fine")
    text = path.read_text()
    path.write_text(text.replace('summary = "fine"', 'summary = "FINE"'))  # in place
    assert checklist.read()["steps"]["1.1"]["summary"] == "FINE"
    checklist.add_note("1.1", "ann", "after the edit")
    assert tomllib.loads(path.read_text())["steps"]["1.1"]["summary"] == "FINE"


def test_fields_this_version_does_not_know_are_kept_by_every_write(tmp_path):
    path = tmp_path / "run.toml"
    data = record(5)
    data["future"] = {"table": {"of": "a newer cutover"}}
    path.write_text(tomli_w.dumps(data))
    checklist = Checklist(path)
    step = next(iter(data["steps"]))
    checklist.add_note(step, "ann", "one")
    checklist.update_step(step, state="failed")
    on_disk = tomllib.loads(path.read_text())
    assert on_disk["future"] == data["future"]
    assert on_disk["steps"][step]["a field from a newer cutover"] == {"kept": True}
    for other in list(data["steps"])[1:]:
        assert on_disk["steps"][other] == data["steps"][other]


def test_a_damaged_file_is_still_refused_after_our_own_writes(tmp_path):
    path = tmp_path / "run.toml"
    checklist = Checklist(path)
    checklist.update_step("1.1", state="done")
    path.write_text(path.read_text().replace('state = "done"', "state = 7"))
    with pytest.raises(ChecklistError, match="damaged"):
        checklist.add_note("1.1", "ann", "never written")


def test_item9_failed_write_is_not_kept_by_the_next_read_or_write(tmp_path, monkeypatch):
    path = tmp_path / "run.toml"
    checklist = Checklist(path)
    checklist.update_step("1.1", state="pending")
    checklist.update_step("1.2", state="pending")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checklist_module.os, "fsync", disk_full)
    with pytest.raises(ChecklistError):
        checklist.update_step("1.1", state="done", summary="never written")
    monkeypatch.undo()
    assert checklist.read()["steps"]["1.1"]["state"] == "pending"
    checklist.add_note("1.1", "ann", "a later write")  # must not carry the failed change
    checklist.update_step("1.2", state="done")
    on_disk = tomllib.loads(path.read_text())["steps"]
    assert on_disk["1.1"]["state"] == "pending" and "summary" not in on_disk["1.1"]
    assert on_disk["1.1"]["notes"][-1].endswith("a later write")
    assert checklist.data == Checklist(path).read()
