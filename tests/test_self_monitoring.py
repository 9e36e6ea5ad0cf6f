"""Self-monitoring the same way for every source: source_up, last success, status page rows.

Each test drives a real part into failure under a running exporter (Redis stopped, ICMP refused by
the system) and reads the result where an operator would: /metrics and the status page.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import time
import types

from exporter.config import parse_config
from exporter.sources.network import icmp
from tests.conftest import (
    API_KEY,
    RedisServer,
    eventually,
    require_binary,
    scrape,
    simulator,
    started_exporter,
    value,
)
from tests.fake_p4 import FakeServer
from tests.test_frames_source import snapshot_camera
from tests.test_network_api import tcp_listener

P4_PASSWORD = "p4-pass-self-0c1"


def frames_redis_yaml(redis_url_env: str, evidence_dir) -> str:
    return f"""listen: "127.0.0.1:0"
frames:
  workers: 1
  evidence:
    directory: {evidence_dir}
  redis:
    url: ${{{redis_url_env}}}
    stream: frames
    group: vigil
"""


async def status_rows(http, url: str) -> dict[tuple[str, str], str]:
    """The status page's check table: (source, check) -> the row's text."""
    async with http.get(f"{url}/") as resp:
        assert resp.status == 200
        page = await resp.text()
    rows = {}
    for row in page.split("<tr")[1:]:
        cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
        if len(cells) >= 4:
            rows[(cells[0], cells[1])] = " | ".join(cells)
    return rows


async def test_redis_stopped_takes_the_frame_source_down_and_back(http, tmp_path):
    server = RedisServer(require_binary("redis-server"), tmp_path)
    server.start()
    instance = f"127.0.0.1:{server.port}"
    text = frames_redis_yaml("REDIS_URL", tmp_path / "evidence")
    config = parse_config(text, env={"REDIS_URL": server.url})
    try:
        async with started_exporter(config) as exporter:

            async def up_is(expected: int):
                m = await scrape(http, exporter.url)
                got = value(m, "vigil_source_up", source="frames", instance=instance)
                return m if got == expected else None

            m = await eventually(lambda: up_is(1), timeout=15)
            first = value(
                m, "vigil_source_last_success_timestamp_seconds", source="frames", check="redis"
            )
            assert first is not None

            server.stop()
            t0 = time.monotonic()
            m = await eventually(lambda: up_is(0), timeout=10)
            assert time.monotonic() - t0 < 2 * 1.0 + 1.5  # two intervals of the redis check
            errors = value(
                m, "vigil_probe_errors_total", source="frames", check="redis", reason="connection"
            )
            assert errors >= 1
            row = (await status_rows(http, exporter.url))[("frames", "redis")]
            assert "failing: connection" in row and instance in row

            server.start()  # same port
            m = await eventually(lambda: up_is(1), timeout=30)
            later = value(
                m, "vigil_source_last_success_timestamp_seconds", source="frames", check="redis"
            )
            assert later > first
            assert "| ok |" in (await status_rows(http, exporter.url))[("frames", "redis")]
    finally:
        server.stop()


def icmp_refused(monkeypatch) -> None:
    """The system refuses ICMP sockets to this process, as without CAP_NET_RAW or ping_group_range."""
    real = socket.socket

    def refusing(family=-1, type=-1, proto=-1, *args, **kwargs):
        if proto in (socket.IPPROTO_ICMP, socket.IPPROTO_ICMPV6):
            raise PermissionError(errno.EPERM, "Operation not permitted")
        return real(family, type, proto, *args, **kwargs)

    shim = types.SimpleNamespace(**{k: getattr(socket, k) for k in dir(socket)})
    shim.socket = refusing
    monkeypatch.setattr(icmp, "socket", shim)


async def test_icmp_refused_takes_the_network_source_down_with_the_reason(
    http, tmp_path, monkeypatch
):
    icmp_refused(monkeypatch)
    async with tcp_listener() as port:
        text = f"""listen: "127.0.0.1:0"
cameras:
  icmp: 1s
  tcp: 1s
  timeout: 1s
  targets:
    - id: gate
      host: 127.0.0.1
      port: {port}
"""
        async with started_exporter(parse_config(text)) as exporter:

            async def down():
                m = await scrape(http, exporter.url)
                return m if value(m, "vigil_source_up", source="network") == 0 else None

            m = await eventually(down, timeout=10)
            reason = dict(source="network", check="icmp", reason="icmp_not_permitted")
            assert value(m, "vigil_probe_errors_total", **reason) >= 1
            # nothing invented: no ICMP figure for the camera, the TCP check goes on
            assert value(m, "vigil_camera_probe_success", camera="gate", check="icmp") is None
            await eventually(
                lambda: _tcp_ok(http, exporter.url), timeout=10
            )  # the camera itself is fine
            rows = await status_rows(http, exporter.url)
            assert "failing: icmp_not_permitted" in rows[("network", "icmp")]
            assert "icmp_not_permitted (source" in rows[("network", "icmp")]
            assert "| ok |" in rows[("network", "tcp")]


async def _tcp_ok(http, url: str) -> bool:
    m = await scrape(http, url)
    return value(m, "vigil_camera_probe_success", camera="gate", check="tcp") == 1


async def test_a_camera_that_fails_is_not_a_source_problem(http):
    async with tcp_listener() as port:
        dead = port + 1 if port < 65535 else port - 1
        text = f"""listen: "127.0.0.1:0"
cameras:
  icmp: 0s
  tcp: 1s
  timeout: 1s
  targets:
    - id: gate
      host: 127.0.0.1
      port: {port}
    - id: dead
      host: 127.0.0.1
      port: {dead}
"""
        async with started_exporter(parse_config(text)) as exporter:

            async def both_checked():
                m = await scrape(http, exporter.url)
                success = {lab["camera"]: v for lab, v in m.get("vigil_camera_probe_success", [])}
                return m if success == {"gate": 1, "dead": 0} else None

            m = await eventually(both_checked, timeout=10)
            assert value(m, "vigil_source_up", source="network") == 1
            rows = await status_rows(http, exporter.url)
            assert "refused (camera" in rows[("network", "tcp")]
            assert "1 failing" in rows[("network", "tcp")]


async def test_every_check_of_every_source_has_a_last_success_that_advances(
    http, tmp_path, monkeypatch
):
    """rt_api, network, frames (snapshots and Redis) and p4 together: every check declared in
    vigil_source_check_interval_seconds has a last success, and it moves on."""
    monkeypatch.setenv("P4_MAIN_PASSWORD", P4_PASSWORD)
    redis = RedisServer(require_binary("redis-server"), tmp_path)
    redis.start()
    fake = FakeServer(sizes={"//depot/main": (12, 5_000)})
    try:
        async with (
            simulator(cameras=30) as sim,
            snapshot_camera() as camera,
            tcp_listener() as port,
        ):
            text = f"""listen: "127.0.0.1:0"
rt_api:
  url: "{sim.api_url}"
  api_key: ${{RT_API_KEY}}
  inventory_interval: 1s
  baked_archives_interval: 1s
  archive_interval: 1s
  timeout: 2s
cameras:
  icmp: 1s
  tcp: 1s
  frame: 1s
  timeout: 1s
  targets:
    - id: hall
      host: 127.0.0.1
      port: {port}
      frame_url: "{camera.url}"
frames:
  timeout: 5s
  workers: 1
  evidence:
    directory: {tmp_path / "evidence"}
  redis:
    url: ${{REDIS_URL}}
p4:
  servers:
    - name: p4-main
      p4port: ssl:p4.example:1666
      p4user: build
      stream_mask: "//depot/*"
      password_env: P4_MAIN_PASSWORD
      interval: 1s
"""
            env = {"RT_API_KEY": API_KEY, "REDIS_URL": redis.url}
            config = parse_config(text, env=env)
            async with started_exporter(config, p4_factory=fake.p4) as exporter:

                async def every_check_succeeded():
                    m = await scrape(http, exporter.url)
                    checks = {
                        (lab["source"], lab["check"])
                        for lab, _ in m["vigil_source_check_interval_seconds"]
                    }
                    last = {
                        (lab["source"], lab["check"]): v
                        for lab, v in m.get("vigil_source_last_success_timestamp_seconds", [])
                    }
                    return (checks, last) if checks and checks <= set(last) else None

                checks, first = await eventually(every_check_succeeded, timeout=60)
                assert checks == {
                    ("rt_api", "health"),
                    ("rt_api", "inventory"),
                    ("rt_api", "baked_archives"),
                    ("rt_api", "archive"),
                    ("network", "icmp"),
                    ("network", "tcp"),
                    ("frames", "frame"),
                    ("frames", "redis"),
                    ("p4", "p4-main"),
                }

                async def all_advanced():
                    _, now = await every_check_succeeded() or (None, {})
                    return all(now.get(key, 0) > first[key] for key in checks)

                await eventually(all_advanced, timeout=30)
                rows = await status_rows(http, exporter.url)
                assert set(rows) == checks  # the status page lists every check
    finally:
        redis.stop()


class CrashingPinger:
    """A pinger with a bug: every ping raises something no probe expects."""

    async def ping(self, address: str, timeout: float) -> float:
        raise RuntimeError("bug in the pinger")

    def close(self) -> None:
        pass


async def test_a_crashing_probe_is_counted_as_internal_and_takes_the_source_down(http):
    text = """listen: "127.0.0.1:0"
cameras:
  icmp: 1s
  tcp: 0s
  targets:
    - id: gate
      host: 127.0.0.1
"""
    async with started_exporter(parse_config(text), pinger=CrashingPinger()) as exporter:

        async def counted():
            m = await scrape(http, exporter.url)
            crashes = value(
                m, "vigil_probe_errors_total", source="network", check="icmp", reason="internal"
            )
            return m if crashes and crashes >= 1 else None

        m = await eventually(counted, timeout=10)
        assert value(m, "vigil_source_up", source="network") == 0
        rows = await status_rows(http, exporter.url)
        assert "failing: internal" in rows[("network", "icmp")]


async def test_a_killed_analysis_worker_is_counted_and_the_pool_replaced(http, tmp_path):
    async with snapshot_camera() as camera:
        text = f"""listen: "127.0.0.1:0"
cameras:
  icmp: 0s
  tcp: 0s
  frame: 1s
  targets:
    - id: hall
      host: 127.0.0.1
      frame_url: "{camera.url}"
frames:
  workers: 1
  evidence:
    directory: {tmp_path / "evidence"}
"""
        async with started_exporter(parse_config(text)) as exporter:

            async def analysed():
                m = await scrape(http, exporter.url)
                return m if value(m, "vigil_camera_frame_success", camera="hall") == 1 else None

            await eventually(analysed, timeout=30)
            pool = exporter.source("frames")._pool
            for process in list(pool._processes.values()):
                os.kill(process.pid, signal.SIGKILL)  # as the OOM killer would

            async def counted():
                m = await scrape(http, exporter.url)
                broken = value(
                    m,
                    "vigil_probe_errors_total",
                    source="frames",
                    check="frame",
                    reason="analysis_pool",
                )
                return m if broken and broken >= 1 else None

            await eventually(counted, timeout=15)

            async def recovered():
                m = await scrape(http, exporter.url)
                up = value(m, "vigil_source_up", source="frames", instance="")
                return up == 1 and exporter.source("frames")._pool is not pool

            await eventually(recovered, timeout=30)
            before = value(
                await scrape(http, exporter.url),
                "vigil_frame_analysis_seconds_count",
                source="http",
            )
            await eventually(
                lambda: _analysed_more(http, exporter.url, before), timeout=15
            )  # the new pool analyses frames


async def _analysed_more(http, url: str, before: float) -> bool:
    m = await scrape(http, url)
    return value(m, "vigil_frame_analysis_seconds_count", source="http") > before
