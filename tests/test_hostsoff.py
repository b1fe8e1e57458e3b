"""Which hosts the run took down itself (``cutover_tui.hostsoff``), read from the run record:
the health panel's "powered off by 5.2 at …" rests on it (issue 15 item 9)."""

from __future__ import annotations

from cutover_tui.clock import parse_iso
from cutover_tui.hostsoff import HostOff, hosts_off, short_time
from cutover_tui.records import RunRecords
from cutover_tui.runbook import load_runbook

from .test_droplets import GUARDED  # 5.2 powers old off, 8.3 destroys it, R1 powers it on


def book(tmp_path):
    path = tmp_path / "guarded.toml"
    path.write_text(GUARDED)
    return load_runbook(path)


def records(**steps) -> RunRecords:
    return RunRecords({"steps": steps})


OFF = {"state": "done", "finished_at": "2025-12-14T13:11:00Z",
       "evidence": {"droplet_id": 7, "powered_off_at": "2025-12-14T13:10:00Z"}}


def test_a_done_power_off_names_its_step_and_time(tmp_path):
    down = hosts_off(book(tmp_path), records(**{"5.2": OFF}))
    assert down == {"old": HostOff("old", "5.2", "powered off", "2025-12-14T13:10:00Z")}
    same_day = parse_iso("2025-12-14T20:00:00Z")
    assert down["old"].sentence(same_day) == "powered off by 5.2 at 13:10 UTC"
    assert down["old"].sentence(parse_iso("2025-12-17T09:00:00Z")) == \
        "powered off by 5.2 at Dec 14 13:10 UTC"


def test_a_power_off_not_done_takes_nothing_down(tmp_path):
    for state in ("pending", "running", "failed", "interrupted", "skipped"):
        assert hosts_off(book(tmp_path), records(**{"5.2": {**OFF, "state": state}})) == {}


def test_a_later_power_on_brings_the_host_back_and_a_later_power_off_takes_it_down(tmp_path):
    on = {"state": "done", "finished_at": "2025-12-15T08:00:00Z",
          "evidence": {"powered_on_at": "2025-12-15T07:59:00Z"}}
    assert hosts_off(book(tmp_path), records(**{"5.2": OFF, "R1": on})) == {}
    earlier_on = {**on, "evidence": {"powered_on_at": "2025-12-14T09:00:00Z"}}
    assert set(hosts_off(book(tmp_path), records(**{"5.2": OFF, "R1": earlier_on}))) == {"old"}


def test_a_done_destroy_says_destroyed(tmp_path):
    destroyed = {"state": "done", "finished_at": "2025-12-22T10:00:00Z"}
    down = hosts_off(book(tmp_path), records(**{"5.2": OFF, "8.3": destroyed}))
    assert down["old"].sentence(parse_iso("2025-12-22T11:00:00Z")) == \
        "destroyed by 8.3 at 10:00 UTC"


def test_a_hand_edited_time_is_shown_as_written():
    assert short_time("yesterday-ish") == "yesterday-ish"
    assert HostOff("old", "5.2", "powered off", "").sentence() == "powered off by 5.2"
