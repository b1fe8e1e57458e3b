"""The .env editor: property tests against python-dotenv, and the remote apply over a real SSH
server on loopback (drift refusal, an interrupted write, the backup, the restore)."""

import asyncio
import io
import string

from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from cutover_tui.envfile import EnvFile, diff, masked_line
from cutover_tui.operator import Answers
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session
from cutover_tui.steps import env_edit

from .helpers import ENV_EDIT_BOOK, RecordingOperator

KEYS = st.text(string.ascii_uppercase + "_", min_size=1, max_size=12).filter(
    lambda k: not k.startswith("_") or len(k) > 1)
SAFE_VALUE = st.text(string.ascii_letters + string.digits + ",.:/@-_ ", max_size=20)


@st.composite
def env_texts(draw):
    lines = []
    keys = draw(st.lists(KEYS, min_size=1, max_size=8, unique=True))
    for key in keys:
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["# comment", "", "   ", "#x=1"])))
        value = draw(SAFE_VALUE).strip()
        style = draw(st.sampled_from(["plain", "double", "single", "export", "comment"]))
        if style == "plain" and " " not in value:
            lines.append(f"{key}={value}")
        elif style == "single":
            lines.append(f"{key}='{value}'")
        elif style == "export":
            lines.append(f'export {key}="{value}"')
        elif style == "comment":
            lines.append(f'{key}="{value}" # why')
        else:
            lines.append(f'{key}="{value}"')
    ending = draw(st.sampled_from(["\n", ""]))
    return "\n".join(lines) + ending, keys


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_then_render_is_byte_identical_for_any_text(text):
    assert EnvFile.parse(text).render() == text


@settings(max_examples=200, deadline=None)
@given(env_texts())
def test_values_agree_with_python_dotenv(case):
    text, _ = case
    assert EnvFile.parse(text).values() == {
        k: v or "" for k, v in dotenv_values(stream=io.StringIO(text)).items()}


@settings(max_examples=200, deadline=None)
@given(env_texts(), st.data())
def test_setting_one_key_changes_only_its_line(case, data):
    text, keys = case
    key = data.draw(st.sampled_from(keys))
    value = data.draw(SAFE_VALUE)
    edited = EnvFile.parse(text).set(key, value).render()
    before, after = text.splitlines(), edited.splitlines()
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) <= 1
    if changed:
        assert key in after[changed[0]]
    assert dotenv_values(stream=io.StringIO(edited))[key] == value


def test_setting_a_new_key_appends_it_and_keeps_malformed_lines():
    text = "A=1\nthis is not a binding\nB='two'"
    env = EnvFile.parse(text)
    assert env.malformed == [(2, "this is not a binding")]
    out = env.set("C", "three words").render()
    assert out == "A=1\nthis is not a binding\nB='two'\nC=\"three words\"\n"


def test_diff_masks_secrets_but_shows_that_they_changed():
    old = "DATABASE_URL=postgres://app:hunter2@db:5432/app\nAPI_TOKEN=abc123\nMODE=a\n"
    new = "DATABASE_URL=postgres://app:hunter2@db:5432/app\nAPI_TOKEN=zzz999\nMODE=b\n"
    shown = diff(".env", old, new)
    text = "\n".join(r.left + " " + r.right for r in shown.rows)
    assert "hunter2" not in text and "abc123" not in text and "zzz999" not in text
    token = [r for r in shown.rows if r.left.startswith("API_TOKEN")][0]
    assert token.tag == "changed" and token.left != token.right
    assert masked_line("export SECRET_KEY='k'") == "export SECRET_KEY='•••••• (sha256:" + \
        masked_line("export SECRET_KEY='k'").split("sha256:")[1]


# ---------------------------------------------------------------------------- remote apply




def env_session(world, tmp_path, operator=None):
    path = tmp_path / "env.toml"
    path.write_text(ENV_EDIT_BOOK)
    return open_session(load_runbook(path, world.overrides(["new"])),
                        operator or RecordingOperator(), state=tmp_path / "run.toml",
                        clock=world.clock, workdir=tmp_path)


def backups(world):
    return sorted(world.app_dir("new").glob(".env.bak-*"))


async def test_apply_backs_up_writes_and_records_hashes(world, tmp_path):
    env = world.app_dir("new") / ".env"
    original = env.read_text()
    session = env_session(world, tmp_path)
    verdict = await session.engine.run_step("3.1")
    assert verdict.ok, verdict.summary
    assert "ENVIRONMENT=production" in env.read_text()
    assert env.stat().st_mode & 0o777 == 0o600
    [backup] = backups(world)
    assert backup.read_text() == original
    evidence = session.checklist.step("3.1")["evidence"]
    assert evidence["backup_path"] == str(backup)
    assert evidence["old_sha256"] != evidence["new_sha256"]
    assert "+ ENVIRONMENT=production" in evidence["diff"]
    await session.aclose()


async def test_nothing_to_change_says_so_and_passes(world, tmp_path):
    env = world.app_dir("new") / ".env"
    env.write_text(env.read_text().replace("ENVIRONMENT=staging", "ENVIRONMENT=production")
                   .replace("SCRAPE_HOURS=3,15", "SCRAPE_HOURS=5,17"))
    session = env_session(world, tmp_path)
    verdict = await session.engine.run_step("3.1")
    assert verdict.ok and "nothing to change" in verdict.summary
    assert backups(world) == []
    await session.aclose()


class DriftingOperator(RecordingOperator):
    """Someone edits the file while the first diff is on screen."""

    def __init__(self, env_path, accept_second=True):
        super().__init__()
        self.env_path = env_path
        self.accept_second = accept_second

    async def review_diff(self, step_id, title, shown):
        self.diffs.append(shown)
        if len(self.diffs) == 1:
            self.env_path.write_text(self.env_path.read_text() + "ADDED_BY_SOMEONE=1\n")
            return True
        return self.accept_second


async def test_a_file_changed_during_review_is_refused_and_the_new_diff_shown(world, tmp_path):
    env = world.app_dir("new") / ".env"
    operator = DriftingOperator(env)
    session = env_session(world, tmp_path, operator)
    verdict = await session.engine.run_step("3.1")
    assert verdict.ok, verdict.summary
    assert len(operator.diffs) == 2
    assert any("ADDED_BY_SOMEONE=1" in r.right for r in operator.diffs[1].rows)
    text = env.read_text()
    assert "ADDED_BY_SOMEONE=1" in text and "ENVIRONMENT=production" in text
    await session.aclose()


async def test_drift_then_decline_writes_nothing(world, tmp_path):
    env = world.app_dir("new") / ".env"
    operator = DriftingOperator(env, accept_second=False)
    session = env_session(world, tmp_path, operator)
    verdict = await session.engine.run_step("3.1")
    assert not verdict.ok and "nothing was written" in verdict.summary
    assert "ENVIRONMENT=staging" in env.read_text() and backups(world) == []
    await session.aclose()


async def test_a_connection_killed_mid_write_leaves_a_whole_file(world, tmp_path, monkeypatch):
    env = world.app_dir("new") / ".env"
    original = env.read_text()
    session = env_session(world, tmp_path)
    real_put = env_edit._put
    calls = []

    async def dying_put(sftp, path, data, mode):
        calls.append(path)
        if len(calls) == 2:  # the new file's temporary copy: half of it, then the link drops
            async with sftp.open(path, "wb") as handle:
                await handle.write(data[: len(data) // 2])
            session.engine.ssh._connections["new"].abort()
            await asyncio.sleep(0.05)
        await real_put(sftp, path, data, mode)

    monkeypatch.setattr(env_edit, "_put", dying_put)
    verdict = await session.engine.run_step("3.1")
    assert not verdict.ok
    assert "either the old or the new version" in verdict.summary
    assert env.read_text() == original  # whole, and the old one
    [backup] = backups(world)
    assert backup.read_text() == original
    monkeypatch.setattr(env_edit, "_put", real_put)
    retried = await session.engine.run_step("3.1")
    assert retried.ok, retried.summary
    assert "ENVIRONMENT=production" in env.read_text()
    await session.aclose()


async def test_the_rollback_restores_the_backup_with_the_same_diff_screen(world, tmp_path):
    env = world.app_dir("new") / ".env"
    original = env.read_text()
    operator = RecordingOperator(answers=Answers(confirm={"default": True}))
    session = env_session(world, tmp_path, operator)
    assert (await session.engine.run_step("3.1")).ok
    restored = await session.engine.run_step("R3-env")
    assert restored.ok, restored.summary
    assert env.read_text() == original
    assert len(operator.diffs) == 2 and operator.diffs[1].changed
    assert session.checklist.step("R3-env")["evidence"]["restored_from"].startswith(str(env))
    await session.aclose()
