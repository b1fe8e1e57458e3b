"""DigitalOcean's limits as the real API shows them (issue 11): a rate limit that does not lift,
a reset time far ahead, a list longer than a page, two droplets with one name. Our client
against the DigitalOcean stand-in over real HTTP on loopback, with its fault injection."""

from __future__ import annotations

import asyncio
import time

import pytest

from cutover_tui.errors import DropletAPIError
from cutover_tui.remote.droplets import MAX_BACKOFF, READ_ATTEMPTS
from cutover_tui.sandbox.doapi import DropletRecord, Fault

from .helpers import RecordingOperator
from .test_droplets import guarded_session, open_gates

OLD_ID = 318829101


def droplet_lists(world) -> int:
    return len([r for r in world.api.requests if r[:2] == ("GET", "/v2/droplets")])


async def test_a_rate_limit_that_does_not_lift_is_retried_a_bounded_number_of_times(world):
    slept: list[float] = []
    api = world.droplet_api(sleep=slept.append)
    # As the real API answers a 429: its ratelimit-* headers, no Retry-After.
    world.api.inject(Fault("GET", "/v2/droplets", 429, count=READ_ATTEMPTS + 5,
                           headers={"ratelimit-remaining": "0",
                                    "ratelimit-reset": str(int(time.time()) + 2)}))
    with pytest.raises(DropletAPIError,
                       match=r"^listing droplets: DigitalOcean's rate limit refused it \(HTTP "
                             rf"429, {READ_ATTEMPTS} times\); wait for the limit to reset and "
                             r"retry$"):
        await asyncio.to_thread(api.list)
    assert droplet_lists(world) == READ_ATTEMPTS
    assert len(slept) == READ_ATTEMPTS - 1
    assert all(0.0 <= s <= 2.0 for s in slept)


async def test_a_far_future_ratelimit_reset_is_waited_for_at_most_the_cap(world):
    slept: list[float] = []
    api = world.droplet_api(sleep=slept.append)
    in_ten_hours = int(time.time()) + 10 * 3600
    world.api.inject(Fault("GET", "/v2/droplets", 429,
                           headers={"ratelimit-remaining": "0",
                                    "ratelimit-reset": str(in_ten_hours)}))
    droplets = await asyncio.to_thread(api.list)
    assert {d.name for d in droplets} == {"air-demand-prod", "air-demand-staging"}
    assert slept == [MAX_BACKOFF]
    assert droplet_lists(world) == 2


async def test_a_ratelimit_reset_that_is_not_a_number_falls_back_to_the_backoff(world):
    slept: list[float] = []
    api = world.droplet_api(sleep=slept.append)
    world.api.inject(Fault("GET", "/v2/droplets", 429, count=2,
                           headers={"ratelimit-reset": "soon"}))
    await asyncio.to_thread(api.list)
    assert slept == [1.0, 2.0]


async def test_a_droplet_on_the_second_page_is_found_by_name(world):
    # 205 droplets before it by id: the first page (200, the API's maximum) does not hold it.
    for n in range(205):
        world.api.add_droplet(DropletRecord(100_000_000 + n, f"worker-{n:03}", f"10.1.0.{n + 1}",
                                            f"worker-{n:03}"))
    api = world.droplet_api(sleep=lambda s: None)
    droplet = await asyncio.to_thread(api.find, "air-demand-prod")
    assert (droplet.id, droplet.ip) == (OLD_ID, "127.0.0.2")
    assert droplet_lists(world) == 2
    listed = await asyncio.to_thread(api.list)
    assert len(listed) == 207


async def test_two_droplets_with_one_name_are_refused_naming_both_and_nothing_is_done(world,
                                                                                    tmp_path):
    world.api.add_droplet(DropletRecord(318829777, "air-demand-prod", "127.0.0.9", "twin"))
    operator = RecordingOperator()
    session = guarded_session(world, tmp_path, operator=operator)
    open_gates(session)
    verdict = await session.engine.run_step("5.2")
    assert not verdict.ok
    assert "2 droplets match name air-demand-prod (ids 318829101, 318829777); refusing to " \
           "guess which one is meant" in verdict.summary
    assert [r for r in world.api.requests if r[0] in ("POST", "DELETE")] == []
    # Not asked, nothing stopped: the droplet was never identified.
    assert not [text for _, text in operator.asked if "?" in text]
    old = world.hosts["old"]
    assert old.powered
    assert all(old.env.pidfile(unit).exists() for unit in ("air-demand-scheduler",
                                                            "air-demand-api",
                                                            "air-demand-dashboard"))
    assert {d.status for d in world.api.droplets.values()} == {"active"}
    await session.aclose()
