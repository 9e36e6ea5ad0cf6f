"""End to end: a real Prometheus scrapes the exporter; PromQL sees the simulator's truth."""

from __future__ import annotations

from exporter.demo import prometheus_config
from tests.conftest import eventually, running_exporter, running_prometheus, simulator


async def test_prometheus_counts_offline_cameras_like_the_simulator(tmp_path):
    async with simulator(cameras=300) as sim, running_exporter(sim.api_url) as exporter:
        await exporter.scheduler.wait_ready()
        config = prometheus_config(exporter.port, None)
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        async with running_prometheus(tmp_path, config, tmp_path / "data") as query:
            assert await eventually(lambda: query('up{job="vigil"} == 1'), timeout=30)
            truth = sim.truth()
            offline = await query("count(vigil_camera_online == 0)")
            assert int(float(offline[0]["value"][1])) == truth["offline"]
            total = await query("count(vigil_camera_info)")
            assert int(float(total[0]["value"][1])) == truth["total"]
            by_dc = await query("count by (datacenter) (vigil_camera_info)")
            got = {r["metric"]["datacenter"]: int(float(r["value"][1])) for r in by_dc}
            assert got == {dc: t["total"] for dc, t in truth["by_datacenter"].items()}
            source_up = await query('vigil_source_up{source="rt_api"}')
            assert source_up[0]["value"][1] == "1"
