"""The `vigil` command as an operator runs it: config checks, start-up, shutdown, and no leaked secret."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import API_KEY, eventually, free_port, require_binary, scrape, simulator, value

ROOT = Path(__file__).resolve().parent.parent
VIGIL = [sys.executable, "-m", "exporter"]


def run_vigil(
    *args: str, env: dict | None = None, timeout: float = 30
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*VIGIL, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def test_check_config_accepts_the_example_and_hides_the_key():
    env = {
        "RT_API_KEY": API_KEY,
        "VIGIL_API_TOKEN": "tok-123456",
        "GATE1_PASSWORD": "pw-Gate1",
        "ANALYTICS_DSN": "postgresql://reader:pw-Analytics9@db.example:5432/va",
    }
    result = run_vigil("check-config", "-c", "vigil.example.yml", env=env)
    assert result.returncode == 0, result.stderr
    assert "rt_api" in result.stdout
    assert "inventory_interval" in result.stdout
    # every registered source is listed, with whether the file turns it on
    assert "  network (section cameras): on, cameras checked directly" in result.stdout
    assert "  p4 (section p4): on, Perforce" in result.stdout
    assert "  analytics (section analytics): on" in result.stdout
    for secret in env.values():
        assert secret not in result.stdout + result.stderr


def test_check_config_lists_sources_that_are_off(tmp_path):
    (tmp_path / "vigil.yml").write_text("listen: 127.0.0.1:9830\n")
    result = run_vigil("check-config", "-c", str(tmp_path / "vigil.yml"))
    assert result.returncode == 0, result.stderr
    for line in ("rt_api (section rt_api): off", "network (section cameras): off"):
        assert f"  {line}, " in result.stdout


@pytest.mark.parametrize(
    ("yaml_text", "env", "key"),
    [
        ("listen: 127.0.0.1:9830\nbogus: 1\n", {}, "bogus"),
        ("rt_api:\n  api_key: x\n  inventory_interval: 10\n", {}, "rt_api.inventory_interval"),
        ("rt_api:\n  api_key: x\n  max_retries: many\n", {}, "rt_api.max_retries"),
        ("rt_api:\n  api_key: ${NOT_SET_ANYWHERE}\n", {}, "rt_api.api_key"),
        ("timezone: Mars/Olympus\n", {}, "timezone"),
        ("cameras:\n  targets:\n    - {id: a, host: 'bad host'}\n", {}, "cameras.targets[0].host"),
        ("frames:\n  evidence:\n    store: s3\n", {}, "frames.evidence.bucket"),
        ("shard: {index: 2, count: 2}\n", {}, "shard.index"),
        ("shard: {index: 0, count: 0}\n", {}, "shard.count"),
        (
            "analytics:\n  platforms:\n    - {name: vap, dsn: 'mysql://u:p@h/db'}\n",
            {},
            "analytics.platforms[0].dsn",
        ),
        (
            "analytics:\n  platforms:\n    - {name: vap, dsn: 'postgresql://h/db', table: 'x; drop'}\n",
            {},
            "analytics.platforms[0].table",
        ),
        (
            "analytics:\n  platforms:\n    - {name: vap, dsn: '${NO_DSN_HERE}'}\n",
            {},
            "analytics.platforms[0].dsn",
        ),
    ],
)
def test_bad_config_names_the_key_and_exits_2(tmp_path, yaml_text, env, key):
    path = tmp_path / "vigil.yml"
    path.write_text(yaml_text)
    for command in ("check-config", "run"):
        result = run_vigil(command, "-c", str(path), env=env)
        assert result.returncode == 2, (command, result.stderr)
        assert key in result.stderr
        assert "Traceback" not in result.stderr


def test_missing_config_file_exits_2(tmp_path):
    result = run_vigil("check-config", "-c", str(tmp_path / "nope.yml"))
    assert result.returncode == 2
    assert "nope.yml" in result.stderr


@pytest.mark.parametrize("log_format", ["text", "logfmt", "json"])
async def test_run_serves_stops_on_sigterm_and_never_leaks_the_api_key(tmp_path, log_format):
    async with simulator() as sim:
        port = free_port()
        config = tmp_path / "vigil.yml"
        config.write_text(
            f"listen: 127.0.0.1:{port}\nlog_level: debug\n"
            f"rt_api:\n  url: {sim.api_url}\n  api_key: ${{RT_API_KEY}}\n"
            "  inventory_interval: 1s\n  baked_archives_interval: 1s\n  timeout: 1s\n"
            "  max_retries: 0\n"
        )
        log_path = tmp_path / "vigil.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [*VIGIL, "run", "-c", str(config), "--log.format", log_format],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RT_API_KEY": API_KEY},
                cwd=ROOT,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:

                async def ready():
                    try:
                        async with http.get(f"{base}/-/ready") as resp:
                            return resp.status == 200
                    except aiohttp.ClientError:
                        return False

                await eventually(ready, timeout=20)
                # provoke every error path that could echo a request: 5xx, HTML, 429, timeouts
                for fault in (
                    {"fault": "http_5xx"},
                    {"fault": "malformed", "kind": "html"},
                    {"fault": "rate_limited", "retry_after": 0},
                    {"fault": "slow", "delay": 2},
                ):
                    sim.faults.set(fault.pop("fault"), **fault)
                    await asyncio.sleep(1.5)
                sim.faults.clear()
                await asyncio.sleep(1.2)
                pages = []
                for path in ("/", "/metrics", "/-/healthy", "/-/ready", "/nope"):
                    async with http.get(base + path) as resp:
                        pages.append(await resp.text())
                m = await scrape(http, base)
                assert value(m, "vigil_camera_info") == 1
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=10)
            assert time.monotonic() - t0 < 5
            assert code == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        log_text = log_path.read_text()
        assert "listening on" in log_text
        assert "failed" in log_text  # the faults were logged...
        lines = log_text.splitlines()
        if log_format == "json":  # one object per line, for a log pipeline
            assert all(json.loads(line)["level"] for line in lines), lines[:3]
        elif log_format == "logfmt":
            assert all(re.match(r"ts=\S+ level=\w+ logger=\S+ msg=", line) for line in lines)
        for text in [log_text, *pages]:
            assert API_KEY not in text  # ...without the key anywhere


def test_promtool_check_metrics_finds_no_problem():
    promtool = require_binary("promtool")

    async def body() -> str:
        async with simulator() as sim:
            from tests.conftest import running_exporter, settled

            async with running_exporter(sim.api_url) as exporter:
                await settled(exporter)  # every family present, the archive ones included
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"{exporter.url}/metrics") as resp,
                ):
                    return await resp.text()

    text = asyncio.run(body())
    assert "vigil_camera_online" in text
    assert "vigil_camera_archive_coverage_ratio" in text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", (
        result.stdout + result.stderr
    )


def test_run_refuses_a_bad_shard_override(tmp_path):
    (tmp_path / "vigil.yml").write_text("listen: 127.0.0.1:0\n")
    result = run_vigil("run", "-c", str(tmp_path / "vigil.yml"), "--shard", "3/2")
    assert result.returncode == 2
    assert "--shard" in result.stderr and "index < count" in result.stderr


def test_simulate_on_a_port_in_use_says_so_and_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_vigil("simulate", "--listen", f"127.0.0.1:{port}", "--cameras", "5")
    assert result.returncode == 1
    assert f"vigil simulate: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_source_that_cannot_start_leaves_nothing_open(monkeypatch, caplog):
    """The start fails after the HTTP client was made: the real error comes out, and nothing
    complains later of an unclosed client session or a port still bound."""
    import gc

    from exporter.config import parse_config
    from exporter.service import Exporter
    from exporter.sources.network.source import NetworkSource

    async def cannot(self):
        raise RuntimeError("no raw socket for ICMP")

    monkeypatch.setattr(NetworkSource, "start", cannot)
    port = free_port()
    config = parse_config(f"listen: 127.0.0.1:{port}\ncameras:\n  icmp: 0s\n", env={})
    exporter = Exporter(config)
    with pytest.raises(RuntimeError, match="no raw socket"):
        await exporter.start()
    session = exporter._session
    assert session is None or session.closed
    del exporter, session
    gc.collect()
    assert "Unclosed client session" not in caplog.text
    with socket.socket() as again:  # the listener is gone
        again.bind(("127.0.0.1", port))
