"""ResultsHub over a real aiohttp server on loopback: fan-out, filter, slow-client drop, shutdown."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import time

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from exporter.web.results_hub import ResultsHub, encode_result


@pytest.fixture
async def served():
    """A hub, and a client factory for websockets to it."""
    hubs: list[ResultsHub] = []
    clients: list[TestClient] = []

    async def start(queue_size: int = 256) -> tuple[ResultsHub, TestClient]:
        hub = ResultsHub(queue_size=queue_size, drop_close_timeout=0.5, shutdown_timeout=2.0)
        app = web.Application()
        app.router.add_get("/ws/results", hub.handler)

        async def shutdown(_app: web.Application) -> None:
            await hub.close()

        app.on_shutdown.append(shutdown)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        hubs.append(hub)
        clients.append(client)
        return hub, client

    yield start
    for client in clients:
        await client.close()


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def result(camera: str, i: int, **extra) -> dict:
    return {
        "camera": camera,
        "time": 1_790_000_000.0 + i,
        "values": {"brightness": i / 10},
        "problems": [],
        **extra,
    }


async def read_n(ws: aiohttp.ClientWebSocketResponse, n: int, timeout: float = 5.0) -> list[dict]:
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            msg = await ws.receive()
            assert msg.type is WSMsgType.TEXT, msg
            out.append(json.loads(msg.data))
    return out


async def test_two_clients_receive_everything_in_order(served):
    hub, client = await served()
    a = await client.ws_connect("/ws/results")
    b = await client.ws_connect("/ws/results")
    await wait_for(lambda: hub.clients == 2)
    sent = [result(f"cam-{i % 3}", i) for i in range(200)]
    for item in sent:
        hub.publish(item)
    got_a, got_b = await asyncio.gather(read_n(a, 200), read_n(b, 200))
    assert got_a == sent
    assert got_b == sent
    assert hub.dropped == 0
    await a.close()
    await b.close()
    await wait_for(lambda: hub.clients == 0)


async def test_camera_filter(served):
    hub, client = await served()
    one = await client.ws_connect("/ws/results?camera=cam-1")
    every = await client.ws_connect("/ws/results")
    await wait_for(lambda: hub.clients == 2)
    sent = [result(f"cam-{i % 3}", i) for i in range(30)]
    for item in sent:
        hub.publish(item)
    assert await read_n(every, 30) == sent
    assert await read_n(one, 10) == [item for item in sent if item["camera"] == "cam-1"]
    # nothing else arrives for the filtered client
    hub.publish(result("cam-2", 99))
    hub.publish(result("cam-1", 100))
    assert (await read_n(one, 1))[0]["time"] == 1_790_000_100.0
    await one.close()
    await every.close()


async def test_publish_without_clients_is_a_no_op():
    hub = ResultsHub()
    hub.publish(result("cam-1", 1))
    assert hub.clients == 0
    assert hub.published == 1


def test_encoding_is_strict_json():
    np = pytest.importorskip("numpy")
    text = encode_result(
        {
            "camera": "c",
            "time": 1.5,
            "values": {"a": math.nan, "b": np.float32(0.25), "c": np.arange(3), "d": math.inf},
            "problems": ("black",),
        }
    )
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {
        "camera": "c",
        "time": 1.5,
        "values": {"a": None, "b": 0.25, "c": [0, 1, 2], "d": None},
        "problems": ["black"],
    }


async def test_slow_client_is_dropped_and_never_slows_publish(served):
    hub, client = await served(queue_size=32)
    assert not inspect.iscoroutinefunction(hub.publish)
    fast = await client.ws_connect("/ws/results")
    # a client that connects and then never reads a byte
    slow = await client.ws_connect("/ws/results")
    await wait_for(lambda: hub.clients == 2)

    count = 3000
    blob = "x" * 20_000  # ~60 MB in all: far more than the loopback socket buffers hold
    received: list[int] = []

    async def consume() -> None:
        async for msg in fast:
            if msg.type is not WSMsgType.TEXT:
                break
            received.append(json.loads(msg.data)["values"]["seq"])
            if len(received) == count:
                return

    reader = asyncio.create_task(consume())
    slowest_publish = total_publish = 0.0
    async with asyncio.timeout(60):
        for i in range(count):
            started = time.perf_counter()
            returned = hub.publish(result("cam-1", i, values={"seq": i, "blob": blob}))
            spent = time.perf_counter() - started
            slowest_publish, total_publish = max(slowest_publish, spent), total_publish + spent
            assert returned is None  # a plain call: nothing to await
            # the analysis loop yields between frames; let the fast client keep pace
            while len(received) < i - 8 and not reader.done():
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)

    async with asyncio.timeout(20):
        await reader
    assert received == list(range(count))
    assert hub.dropped == 1
    assert hub.clients == 1
    assert slowest_publish < 0.1, slowest_publish
    assert total_publish < 2.0, total_publish

    # the slow client finds its connection ended once it reads again
    async with asyncio.timeout(20):
        while True:
            msg = await slow.receive()
            if msg.type is not WSMsgType.TEXT:
                break
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR)
    if msg.type is WSMsgType.CLOSE:
        assert msg.data == 1013
    await fast.close()


async def test_close_disconnects_everyone(served):
    hub, client = await served()
    sockets = [await client.ws_connect("/ws/results") for _ in range(3)]
    await wait_for(lambda: hub.clients == 3)
    hub.publish(result("cam-1", 1))
    await asyncio.wait_for(hub.close(), 10)
    assert hub.clients == 0
    for ws in sockets:
        first = await ws.receive(timeout=5)
        assert first.type is WSMsgType.TEXT
        closing = await ws.receive(timeout=5)
        assert closing.type is WSMsgType.CLOSE
        assert closing.data == 1001
        await ws.close()
    assert hub.dropped == 0
    # a closed hub refuses new clients
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/results")
    assert refused.value.status == 503
