"""A headless destroy through the CLI (issue 11): ``cutover run RUNBOOK --headless`` in a
subprocess against the rehearsal world, the DigitalOcean stand-in found through
DIGITALOCEAN_API_URL and DIGITALOCEAN_TOKEN as ``DropletAPI.from_env`` reads them. The droplet's
name typed in the answers file's ``[typed]`` destroys it, once; ``--yes`` alone never does."""

from __future__ import annotations

import asyncio
import os
import sys
import tomllib

from cutover_tui.operator import Answers
from cutover_tui.runbook import load_runbook
from cutover_tui.session import open_session

from .helpers import RecordingOperator
from .test_droplets import GUARDED, destroys, prepare_destroy

DAY = 86400


async def prepared(world, tmp_path):
    """The runbook (its hosts connecting with the rehearsal's key and known_hosts), and a run
    record in which everything before the destroy is done: the backup, the cutover and the
    power-off ten days ago, the week's check two days ago. The CLI runs on this machine's real
    clock, so the history is laid in the past (the world's clock moved back, then to now)."""
    text = GUARDED
    for name in ("new", "old"):
        text = text.replace(f"[hosts.{name}]\n", f'[hosts.{name}]\nssh_key = "{world.client_key}"'
                            f'\nknown_hosts = "{world.known_hosts}"\n', 1)
    book = tmp_path / "guarded.toml"
    book.write_text(text)
    state = tmp_path / "run.toml"
    world.clock.offset = -10 * DAY
    world.clock.advance(0)  # published to the world's processes
    session = open_session(load_runbook(book, world.overrides()),
                           RecordingOperator(answers=Answers(confirm={"default": True})),
                           state=state, clock=world.clock, droplets=world.droplet_api,
                           workdir=tmp_path)
    await prepare_destroy(session, world)
    await session.aclose()
    world.clock.offset = 0.0
    world.clock.advance(0)
    return book, state


async def cutover_run(world, tmp_path, book, state, *options):
    overrides = world.overrides()
    args = []
    for name, fields in overrides.hosts.items():
        args += ["--host", f"{name}=root@{fields['address']}:{fields['port']}"]
    for key, value in overrides.variables.items():
        args += ["--var", f"{key}={value}"]
    for name, extra in overrides.host_vars.items():
        args += [f"--var={name}.{key}={value}" for key, value in extra.items()]
    env = {**os.environ, "CUTOVER_LOOPBACK_ONLY": "1", "COLUMNS": "200",
           "DIGITALOCEAN_API_URL": world.api.url, "DIGITALOCEAN_TOKEN": world.token}
    env.pop("DIGITALOCEAN_ACCESS_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cutover_tui.cli", "run", str(book), "--headless", "--state",
        str(state), "--operator", "ann", "--phase", "8", *options, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env=env)
    out, _ = await asyncio.wait_for(process.communicate(), 240)
    return process.returncode, out.decode()


async def test_a_headless_destroy_with_the_typed_name_in_the_answers_file_destroys_once(
        world, tmp_path):
    book, state = await prepared(world, tmp_path)
    answers = tmp_path / "answers.toml"
    answers.write_text('[confirm]\ndefault = true\n[typed]\n"8.3" = "air-demand-prod"\n')
    code, output = await cutover_run(world, tmp_path, book, state, "--answers", str(answers))
    assert code == 0, output
    assert "-> typed 'air-demand-prod'" in output
    assert len(destroys(world)) == 1
    assert world.hosts["old"].destroyed
    assert 318829101 not in world.api.droplets
    record = tomllib.loads(state.read_text())["steps"]["8.3"]
    assert record["state"] == "done"
    assert record["evidence"]["outcome"] == "destroyed"
    assert record["evidence"]["destroyed_by"] == "ann"
    assert world.token not in output and world.token not in state.read_text()


async def test_yes_alone_without_a_typed_name_never_destroys_through_the_cli(world, tmp_path):
    book, state = await prepared(world, tmp_path)
    code, output = await cutover_run(world, tmp_path, book, state, "--yes")
    assert code == 1, output
    assert "-> no typed answer for step 8.3 (--yes never types a name: an answers file's " \
           "[typed] does)" in output
    assert "not destroyed: the droplet name was not typed exactly" in output
    assert destroys(world) == []
    assert not world.hosts["old"].destroyed
    assert world.api.droplets[318829101].status == "off"
    assert tomllib.loads(state.read_text())["steps"]["8.3"]["state"] == "failed"
