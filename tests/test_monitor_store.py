"""The watch store (cutover_tui/monitor/store.py): a real SQLite file in tmp_path."""

from __future__ import annotations

import sqlite3
import stat
import threading

import pytest

from cutover_tui.errors import ChecklistError
from cutover_tui.monitor.rules import Observation, RuleSpec, evaluate, initial
from cutover_tui.monitor.store import SCHEMA_VERSION, Heartbeat, WatchStore, store_path

T0 = 1_790_000_000.0


@pytest.fixture
def path(tmp_path):
    return store_path(tmp_path / "run.toml")


def test_the_store_sits_beside_the_checklist(tmp_path):
    assert store_path(tmp_path / "runs" / "m11.toml") == tmp_path / "runs" / "m11.toml.watch.sqlite3"


def test_samples_round_trip_oldest_first_with_since_and_limit(path):
    with WatchStore(path) as store:
        for i in range(5):
            store.add_sample("health", Observation(T0 + i, i % 2 == 0, 10.0 + i, f"HTTP {i}"))
        store.add_sample("scraper", Observation(T0, False, None, "2 errors in the log"))
        assert store.samples("health") == [
            Observation(T0 + i, i % 2 == 0, 10.0 + i, f"HTTP {i}") for i in range(5)]
        assert [o.at for o in store.samples("health", since=T0 + 3)] == [T0 + 3, T0 + 4]
        assert [o.at for o in store.samples("health", limit=2)] == [T0 + 3, T0 + 4]
        assert store.samples("scraper") == [Observation(T0, False, None, "2 errors in the log")]
    with WatchStore(path) as again:  # on disk, not in a cache
        assert len(again.samples("health")) == 5


def test_prune_drops_only_the_samples_before_the_cut(path):
    with WatchStore(path) as store:
        for day in range(20):
            store.add_sample("health", Observation(T0 + day * 86400, True, 1.0, "200"))
        assert store.prune(T0 + 14 * 86400) == 14
        assert [o.at for o in store.samples("health")] == [T0 + d * 86400 for d in range(14, 20)]


def test_rule_states_round_trip_and_replace_the_last(path):
    spec = RuleSpec("health", "for", threshold=3600)
    state = initial("health")
    with WatchStore(path) as store:
        for i in range(3):
            state, _ = evaluate(spec, state, Observation(T0 + i * 60, False, None, "HTTP 503"))
            store.save_state(state)
        store.save_state(initial("scraper"))
    with WatchStore(path) as store:
        loaded = store.load_states()
    assert loaded == {"health": state, "scraper": initial("scraper")}
    assert loaded["health"].state == "pending" and loaded["health"].first_seen == T0


def test_notifications_are_kept_per_rule(path):
    with WatchStore(path) as store:
        store.add_notification("health", "firing", T0, "json://127.0.0.1:9/", False, 3,
                               "not delivered after 3 attempts: refused")
        store.add_notification("health", "resolved", T0 + 60, "json://127.0.0.1:9/", True, 1,
                               None)
        store.add_notification("scraper", "firing", T0 + 30, "ntfy://127.0.0.1/t", True, 2, None)
        everything = store.notifications()
        health = store.notifications("health")
    assert [(n.rule, n.event) for n in everything] == [
        ("health", "firing"), ("scraper", "firing"), ("health", "resolved")]
    assert [(n.event, n.ok, n.attempts, n.error) for n in health] == [
        ("firing", False, 3, "not delivered after 3 attempts: refused"),
        ("resolved", True, 1, None)]


def test_heartbeat_is_one_row_and_goes_stale(path):
    with WatchStore(path) as store:
        assert store.heartbeat() is None
        store.beat(1234, "watch-host", T0, T0 + 10)
        store.beat(1234, "watch-host", T0, T0 + 40)
        beat = store.heartbeat()
    assert beat == Heartbeat(1234, "watch-host", T0, T0 + 40)
    assert beat.alive(T0 + 100) and not beat.alive(T0 + 131)
    assert beat.alive(T0 + 200, stale_after=300)


def test_the_files_are_private_and_in_wal_mode(path):
    with WatchStore(path) as store:
        store.add_sample("health", Observation(T0, True, 1.0, "200"))
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        assert all(f.exists() for f in files)
        assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_reader_keeps_reading_while_a_writer_writes(path):
    writer, reader = WatchStore(path), WatchStore(path)
    written = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for i in range(300):
                writer.add_sample("health", Observation(T0 + i, True, float(i), "200"))
                writer.save_state(initial("health"))
        except BaseException as exc:  # noqa: B036 — reported by the assertion below
            errors.append(exc)
        finally:
            written.set()

    thread = threading.Thread(target=write)
    thread.start()
    seen = []
    try:
        while not written.is_set():
            seen.append(len(reader.samples("health")))
            reader.load_states()
        thread.join()
        seen.append(len(reader.samples("health")))
    finally:
        writer.close()
        reader.close()
    assert errors == []
    assert seen == sorted(seen) and seen[-1] == 300  # every read whole, none refused


def test_a_file_that_is_not_a_store_is_a_sentence(path):
    path.write_bytes(b"this is the checklist, not a database\n" * 200)
    with pytest.raises(ChecklistError) as raised:
        WatchStore(path)
    assert str(path) in str(raised.value) and "not a watch store" in str(raised.value)


def test_a_damaged_state_is_a_sentence(path):
    with WatchStore(path) as store:
        store.save_state(initial("health"))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE rule_state SET json = '{\"rule\": \"health\"'")
    with WatchStore(path) as store, pytest.raises(ChecklistError) as raised:
        store.load_states()
    assert str(path) in str(raised.value) and "rule health" in str(raised.value)


def test_a_store_from_a_newer_version_is_refused(path):
    WatchStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ChecklistError, match="newer cutover"):
        WatchStore(path)


def test_a_store_that_cannot_be_created_is_a_sentence(tmp_path):
    (tmp_path / "runs").write_text("a file where the folder should be")
    with pytest.raises(ChecklistError, match="cannot open the watch store .*runs"):
        WatchStore(tmp_path / "runs" / "run.toml.watch.sqlite3")
