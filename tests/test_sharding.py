"""Sharded exporters: every camera on exactly one shard, the union is the fleet, and adding a shard
moves only the cameras the new shard wins."""

from __future__ import annotations

import itertools
from contextlib import AsyncExitStack

import pytest

from exporter.config import parse_config
from exporter.sharding import Shard, parse_shard
from tests.conftest import API_KEY, exporter_yaml, scrape, simulator, started_exporter, value

KEYS = [f"cam-{i:05d}" for i in range(10_000)]


def test_rendezvous_spreads_keys_and_moves_only_what_the_new_shard_wins():
    for count in (2, 3, 4, 7):
        owners = [Shard(0, count).owner(key) for key in KEYS]
        per_shard = [owners.count(i) for i in range(count)]
        assert all(abs(n - len(KEYS) / count) < 0.1 * len(KEYS) / count for n in per_shard)
        # every shard agrees on every key's owner
        for index in range(count):
            shard = Shard(index, count)
            assert [k for k in KEYS if shard.owns(k)] == [
                k for k, o in zip(KEYS, owners, strict=True) if o == index
            ]
        grown = [Shard(0, count + 1).owner(key) for key in KEYS]
        moved = [(a, b) for a, b in zip(owners, grown, strict=True) if a != b]
        assert all(b == count for _, b in moved)  # only to the new shard, never between old ones
        assert abs(len(moved) - len(KEYS) / (count + 1)) < 0.1 * len(KEYS) / (count + 1)


@pytest.mark.parametrize("text", ["1", "2/2", "a/3", "-1/2", "1/0"])
def test_a_bad_shard_is_refused(text):
    with pytest.raises(ValueError):
        parse_shard(text)


def sharded(api_url: str, index: int, count: int):
    text = exporter_yaml(api_url) + f"shard: {{index: {index}, count: {count}}}\n"
    config = parse_config(text, env={"RT_API_KEY": API_KEY})
    return started_exporter(config, backoff_base=0.05)


async def shard_cameras(http, exporters) -> list[dict]:
    """Per shard: camera -> online, once every shard has published its inventory."""
    out = []
    for exporter in exporters:
        await exporter.scheduler.wait_ready()
        assert await exporter.scheduler.run_now("rt_api", "baked_archives")
        m = await scrape(http, exporter.url)
        assert value(m, "vigil_shard_info", count=str(exporter.config.shard.count)) == 1
        out.append(
            (
                {lab["camera"]: v for lab, v in m.get("vigil_camera_online", [])},
                {lab["status"]: v for lab, v in m.get("vigil_baked_archives", [])},
            )
        )
    return out


async def test_shards_split_the_fleet_exactly_and_three_shards_move_a_third(http):
    async with simulator(cameras=120) as sim:
        truth = sim.truth()
        for count in (2, 3):
            async with AsyncExitStack() as stack:
                exporters = [
                    await stack.enter_async_context(sharded(sim.api_url, i, count))
                    for i in range(count)
                ]
                per_shard = await shard_cameras(http, exporters)
            cameras = [set(online) for online, _ in per_shard]
            for a, b in itertools.combinations(cameras, 2):
                assert not a & b, "a camera on two shards"
            union = set().union(*cameras)
            assert len(union) == 120 == sum(len(c) for c in cameras)
            online = sum(v for online_by, _ in per_shard for v in online_by.values())
            assert online == truth["online"]
            baked = {}
            for _, by_status in per_shard:
                for status, n in by_status.items():
                    baked[status] = baked.get(status, 0) + n
            assert baked == truth["baked_archives"]
            if count == 2:
                two = cameras
            else:
                # going from 2 to 3 shards: cameras move only to the new shard
                assert cameras[0] <= two[0] and cameras[1] <= two[1]
                assert 20 <= len(cameras[2]) <= 60


async def test_probe_on_the_wrong_shard_names_the_owner(http):
    async with AsyncExitStack() as stack:
        text = """listen: "127.0.0.1:0"
shard: {index: 0, count: 2}
cameras:
  icmp: 0s
  tcp: 1h
  targets:
"""
        ids = [f"cam-{i}" for i in range(20)]
        text += "".join(f"    - {{id: {c}, host: 127.0.0.1, port: 9}}\n" for c in ids)
        exporter = await stack.enter_async_context(started_exporter(parse_config(text)))
        shard = Shard(0, 2)
        mine = next(c for c in ids if shard.owns(c))
        theirs = next(c for c in ids if not shard.owns(c))
        async with http.get(f"{exporter.url}/probe", params={"target": theirs}) as resp:
            assert resp.status == 421
            assert resp.headers["X-Vigil-Shard-Owner"] == "1"
            assert "shard 1" in await resp.text()
        async with http.get(f"{exporter.url}/probe", params={"target": mine}) as resp:
            assert resp.status == 200
            assert f'camera="{mine}"' in await resp.text()
        async with http.get(f"{exporter.url}/probe", params={"target": "nope"}) as resp:
            assert resp.status == 404
