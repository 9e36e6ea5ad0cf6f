"""The global view of a sharded estate: `vigil run` shards, each scraped by its own Prometheus in agent
mode, all remote-writing into one VictoriaMetrics; the union there is the fleet, exactly, with two
shards and after going to three."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

import aiohttp

from tests.conftest import eventually, free_port, simulator
from tests.victoria import prometheus_agent, scrape_job, shard_process, victoria_metrics

CAMERAS = 2000


async def enter(stack: ExitStack, context):
    """Start a process in a thread: the simulator answers on this loop meanwhile."""
    return await asyncio.to_thread(stack.enter_context, context)


async def test_two_shards_then_three_through_prometheus_agents_into_victoria_metrics(
    http, tmp_path
):
    ports = [free_port() for _ in range(3)]
    async with simulator(cameras=CAMERAS) as sim:
        truth = sim.truth()
        with ExitStack() as stack:
            vm = await enter(stack, victoria_metrics(tmp_path))

            async def query(expr: str):
                try:
                    async with http.get(f"{vm}/api/v1/query", params={"query": expr}) as resp:
                        if resp.status != 200:
                            return None
                        return (await resp.json())["data"]["result"]
                except aiohttp.ClientError:
                    return None

            async def union_is_the_fleet(shards: int) -> bool:
                info = await query(f'count(vigil_shard_info{{count="{shards}"}})')
                if not info or float(info[0]["value"][1]) != shards:
                    return False
                per_camera = await query("count by (camera) (vigil_camera_online)")
                per_shard = await query("count by (instance) (vigil_camera_online)")
                baked = await query("sum by (status) (vigil_baked_archives)")
                return (
                    per_camera is not None
                    and len(per_camera) == CAMERAS
                    and all(r["value"][1] == "1" for r in per_camera)  # no camera twice
                    and len(per_shard or []) == shards
                    and {r["metric"]["status"]: float(r["value"][1]) for r in baked or []}
                    == {k: float(v) for k, v in truth["baked_archives"].items()}
                )

            # two shards, one agent each
            for index in range(2):
                await enter(
                    stack,
                    prometheus_agent(
                        tmp_path,
                        f"agent-{index}",
                        [scrape_job(f"127.0.0.1:{ports[index]}")],
                        f"{vm}/api/v1/write",
                    ),
                )
            with ExitStack() as shards:
                for index in range(2):
                    await enter(
                        shards, shard_process(tmp_path, sim.api_url, index, 2, ports[index])
                    )
                await eventually(lambda: union_is_the_fleet(2), timeout=90, step=1)
                [online] = await query("sum(vigil_camera_online)")
                assert float(online["value"][1]) == truth["online"]

            # three shards: the two restart with count 3 on their ports, a third joins with its
            # agent; the series a shard no longer owns go stale, the union stays the fleet
            await enter(
                stack,
                prometheus_agent(
                    tmp_path, "agent-2", [scrape_job(f"127.0.0.1:{ports[2]}")], f"{vm}/api/v1/write"
                ),
            )
            with ExitStack() as shards:
                for index in range(3):
                    await enter(
                        shards, shard_process(tmp_path, sim.api_url, index, 3, ports[index])
                    )
                await eventually(lambda: union_is_the_fleet(3), timeout=90, step=1)
                [online] = await query("sum(vigil_camera_online)")
                assert float(online["value"][1]) == truth["online"]
