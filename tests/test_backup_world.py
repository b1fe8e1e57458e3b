"""The backup step against the rehearsal world's pg_dump stand-in (the same checks as for a real
dump), and its refusal to start without room on both ends."""

from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from cutover_tui.steps import backup

from .helpers import RecordingOperator, backup_book


def session_for(world, tmp_path):
    path = tmp_path / "backup.toml"
    path.write_text(backup_book())
    return open_session(load_runbook(path, world.overrides(["new"])), RecordingOperator(),
                        state=tmp_path / "run.toml", clock=world.clock, workdir=tmp_path)


async def test_the_standins_dump_passes_the_same_verification(world, tmp_path):
    session = session_for(world, tmp_path)
    verdict = await session.engine.run_step("2.1")
    assert verdict.ok, verdict.summary
    evidence = session.checklist.step("2.1")["evidence"]
    assert evidence["tables"] == 9 and evidence["row_counts"]["roles"] == 747
    assert evidence["restore_check"].startswith("skipped")
    await session.aclose()


async def test_no_room_means_no_start_and_a_sentence(world, tmp_path, monkeypatch):
    monkeypatch.setattr(backup, "MIN_FREE", 1 << 60)
    session = session_for(world, tmp_path)
    verdict = await session.engine.run_step("2.1")
    assert not verdict.ok
    assert "MiB free in" in verdict.summary and "free some space and retry" in verdict.summary
    assert not list((world.root / "hosts" / "new" / "fs" / "root" / "backups").iterdir())
    await session.aclose()
