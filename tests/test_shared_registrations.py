"""Cameras registered through any replica's API are checked by exactly one shard, through the shared
Redis store; a replica restarted finds them all."""

from __future__ import annotations

from contextlib import AsyncExitStack

from exporter.config import parse_config
from tests.conftest import RedisServer, eventually, require_binary, scrape, started_exporter
from tests.test_network_api import tcp_listener

TOKEN = "shared-token-5c2e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def replica(redis_url: str, index: int):
    text = f"""listen: "127.0.0.1:0"
api_token: ${{VIGIL_API_TOKEN}}
shard: {{index: {index}, count: 2}}
cameras:
  icmp: 0s
  tcp: 1s
  timeout: 1s
  store: ${{CAMERA_STORE}}
  targets: []
"""
    env = {"VIGIL_API_TOKEN": TOKEN, "CAMERA_STORE": redis_url}
    return started_exporter(parse_config(text, env=env))


async def checked(http, exporter) -> set[str]:
    m = await scrape(http, exporter.url)
    return {lab["camera"] for lab, v in m.get("vigil_camera_probe_success", []) if v == 1}


async def test_registrations_on_one_replica_are_checked_by_their_shard(http, tmp_path, caplog):
    server = RedisServer(require_binary("redis-server"), tmp_path)
    server.start()
    url = server.url.replace("redis://", "redis://:@")  # a URL form with (empty) credentials
    try:
        async with tcp_listener() as port, AsyncExitStack() as stack:
            a = await stack.enter_async_context(replica(url, 0))
            b = await stack.enter_async_context(replica(url, 1))
            ids = [f"cam-{i:02d}" for i in range(12)]
            for camera in ids:
                body = {"id": camera, "host": "127.0.0.1", "port": port}
                async with http.post(f"{a.url}/api/v1/cameras", json=body, headers=AUTH) as resp:
                    assert resp.status == 201, await resp.text()

            async def split():
                on_a, on_b = await checked(http, a), await checked(http, b)
                return (on_a, on_b) if on_a | on_b == set(ids) else None

            on_a, on_b = await eventually(split, timeout=10)
            assert not on_a & on_b, "a camera checked by both shards"
            assert on_a and on_b
            # every replica lists every registration
            async with http.get(f"{b.url}/api/v1/cameras") as resp:
                listed = {c["id"] for c in (await resp.json())["cameras"]}
            assert listed == set(ids)
            # deleted through the other replica: gone from whichever shard checked it
            victim = next(iter(on_a))
            async with http.delete(f"{b.url}/api/v1/cameras/{victim}", headers=AUTH) as resp:
                assert resp.status == 204

            async def gone():
                return victim not in (await checked(http, a)) | (await checked(http, b))

            await eventually(gone, timeout=10)
            # a replica started again finds every registration in the store
            await stack.aclose()
        async with tcp_listener() as port, replica(url, 0) as again:
            async with http.get(f"{again.url}/api/v1/cameras") as resp:
                listed = {c["id"] for c in (await resp.json())["cameras"]}
            assert listed == set(ids) - {victim}
    finally:
        server.stop()


def test_state_file_and_shared_store_together_are_refused(tmp_path):
    from exporter.config import ConfigError
    from exporter.service import validate

    text = f"""cameras:
  state_file: {tmp_path / "cameras.json"}
  store: redis://127.0.0.1:6379/0
"""
    try:
        validate(parse_config(text))
    except ConfigError as exc:
        assert "cameras.store" in str(exc)
    else:
        raise AssertionError("accepted both a state file and a shared store")
