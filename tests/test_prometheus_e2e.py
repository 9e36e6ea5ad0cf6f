"""End to end: a real Prometheus scrapes the exporter; PromQL sees the simulator's truth."""

from __future__ import annotations

import subprocess

import aiohttp
import yaml

from exporter.demo import prometheus_config
from tests.conftest import eventually, free_port, require_binary, running_exporter, simulator


async def test_prometheus_counts_offline_cameras_like_the_simulator(tmp_path):
    prometheus = require_binary("prometheus")
    async with simulator(cameras=300) as sim, running_exporter(sim.api_url) as exporter:
        await exporter.scheduler.wait_ready()
        config = prometheus_config(exporter.port, None)
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config_path = tmp_path / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        prom_port = free_port()
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            api = f"http://127.0.0.1:{prom_port}/api/v1"
            async with aiohttp.ClientSession() as http:

                async def query(expr: str):
                    if proc.poll() is not None:
                        log_text = (tmp_path / "prometheus.log").read_text()
                        raise AssertionError(f"prometheus exited:\n{log_text[-2000:]}")
                    try:
                        async with http.get(f"{api}/query", params={"query": expr}) as resp:
                            if resp.status != 200:
                                return None
                            data = await resp.json()
                    except aiohttp.ClientError:
                        return None
                    return data["data"]["result"]

                up = await eventually(lambda: query('up{job="vigil"} == 1'), timeout=30)
                assert up
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
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            log.close()
