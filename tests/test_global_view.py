"""The global view of a sharded estate: two exporter shards, each scraped by its own Prometheus in
agent mode, both remote-writing into one VictoriaMetrics; the union there is the fleet, exactly."""

from __future__ import annotations

import subprocess
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
import yaml

from tests.conftest import eventually, free_port, require_binary, simulator
from tests.test_sharding import sharded

CAMERAS = 300


@asynccontextmanager
async def victoria_metrics(tmp_path):
    binary = require_binary("victoria-metrics")
    port = free_port()
    log = open(tmp_path / "vm.log", "wb")  # noqa: SIM115 - kept open by the child
    proc = subprocess.Popen(
        [
            binary,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={tmp_path / 'vm-data'}",
            "-search.latencyOffset=1s",  # new samples visible at once, not after 30 s
            "-retentionPeriod=1d",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@asynccontextmanager
async def prometheus_agent(tmp_path, name: str, target: str, write_url: str):
    binary = require_binary("prometheus")
    config = {
        "global": {"scrape_interval": "2s"},
        "scrape_configs": [{"job_name": "vigil", "static_configs": [{"targets": [target]}]}],
        "remote_write": [{"url": write_url}],
    }
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - kept open by the child
    proc = subprocess.Popen(
        [
            binary,
            "--enable-feature=agent",
            f"--config.file={path}",
            f"--storage.agent.path={tmp_path / (name + '-wal')}",
            f"--web.listen-address=127.0.0.1:{free_port()}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_two_shards_through_prometheus_agents_into_victoria_metrics(http, tmp_path):
    async with AsyncExitStack() as stack:
        sim = await stack.enter_async_context(simulator(cameras=CAMERAS))
        truth = sim.truth()
        vm = await stack.enter_async_context(victoria_metrics(tmp_path))
        for index in range(2):
            exporter = await stack.enter_async_context(sharded(sim.api_url, index, 2))
            target = exporter.url.removeprefix("http://")
            await stack.enter_async_context(
                prometheus_agent(tmp_path, f"agent-{index}", target, f"{vm}/api/v1/write")
            )

        async def query(expr: str):
            try:
                async with http.get(f"{vm}/api/v1/query", params={"query": expr}) as resp:
                    if resp.status != 200:
                        return None
                    return (await resp.json())["data"]["result"]
            except aiohttp.ClientError:
                return None

        async def scalar(expr: str) -> float | None:
            result = await query(expr)
            return float(result[0]["value"][1]) if result else None

        # both shards' series arrived: every camera once
        await eventually(lambda: _equals(scalar("count(vigil_shard_info)"), 2), timeout=60, step=1)
        await eventually(
            lambda: _equals(scalar("count(count by (camera) (vigil_camera_online))"), CAMERAS),
            timeout=60,
            step=1,
        )
        assert await scalar("count(vigil_camera_online)") == CAMERAS  # no camera twice
        assert await query("count by (camera) (vigil_camera_online) > 1") == []
        assert await scalar("sum(vigil_camera_online)") == truth["online"]
        per_shard = await query("count by (instance) (vigil_camera_online)")
        assert len(per_shard) == 2 and all(float(r["value"][1]) > 0 for r in per_shard)
        # fleet-level figures summed over shards are the fleet's
        await eventually(lambda: _baked_complete(query, truth), timeout=30, step=1)


async def _equals(value, expected) -> bool:
    return (await value) == expected


async def _baked_complete(query, truth) -> bool:
    result = await query("sum by (status) (vigil_baked_archives)")
    got = {r["metric"]["status"]: float(r["value"][1]) for r in result or []}
    return got == {k: float(v) for k, v in truth["baked_archives"].items()}
