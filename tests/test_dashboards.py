"""Dashboards follow dashboard-linter's rules and every panel query runs on a real Prometheus."""

from __future__ import annotations

import json
import re
from pathlib import Path

from exporter.config import parse_config
from exporter.demo import prometheus_config
from exporter.service import Exporter
from exporter.simulate.p4 import SimulatedP4
from tests.conftest import eventually, running_prometheus

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
VARIABLES = {"$server": ".*", "${server}": ".*", "$__rate_interval": "1m", "$__interval": "15s"}


def panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard["panels"]:
        out += panels(panel) if panel.get("type") == "row" and "panels" in panel else [panel]
    return out


def test_dashboards_follow_the_linter_rules():
    assert DASHBOARDS
    for path in DASHBOARDS:
        dash = json.loads(path.read_text())
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", path.name
        assert dash["uid"] and dash["title"], path.name
        for panel in panels(dash):
            where = f"{path.name}: {panel.get('title')}"
            assert panel["title"] and panel["description"], where
            assert panel["datasource"]["uid"] == "${datasource}", where
            assert panel["fieldConfig"]["defaults"].get("unit"), where
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", where
                expr = target["expr"]
                for call in re.findall(r"(?:rate|irate|increase)\([^\[]*\[([^\]]+)\]", expr):
                    assert call == "$__rate_interval", f"{where}: use $__rate_interval"
        text = path.read_text()
        assert '"uid": "${datasource}"' in text
        for match in re.findall(r'"uid":\s*"([^"]+)"', text):
            assert match in ("${datasource}", dash["uid"]), f"{path.name}: hard-coded uid {match}"


async def test_every_panel_query_runs_on_prometheus(tmp_path):
    config = parse_config(
        'listen: "127.0.0.1:0"\np4:\n  servers:\n'
        '    - {name: p4-sim, p4port: "sim:1666", p4user: vigil, stream_mask: "//depot/*"}\n'
    )
    exporter = Exporter(config, p4_factory=SimulatedP4)
    await exporter.start()
    try:
        await eventually(lambda: exporter.metrics.p4_server_up.get(["p4-sim"]) == 1, timeout=10)
        prom = prometheus_config(exporter.port, None)
        prom["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        async with running_prometheus(tmp_path, prom, tmp_path / "data") as query:
            await eventually(lambda: query("vigil_p4_server_up == 1"), timeout=30)
            for path in DASHBOARDS:
                dash = json.loads(path.read_text())
                for panel in panels(dash):
                    for target in panel["targets"]:
                        expr = target["expr"]
                        for name, val in VARIABLES.items():
                            expr = expr.replace(name, val)
                        result = await query(expr)
                        assert result is not None, f"{path.name}: {panel['title']}: {expr}"
                        if "growth" not in expr:  # growth needs a day of history
                            assert result, f"{path.name}: {panel['title']} is empty: {expr}"
    finally:
        await exporter.stop()
