"""RedisFrameConsumer against a real redis-server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import cv2
import numpy as np
import pytest
import redis.asyncio as aioredis

from exporter.sources.frames.redis_stream import Frame, RedisFrameConsumer
from tests.conftest import FakeClock, RedisServer, eventually, free_port, require_binary

STREAM = "frames"
GROUP = "vigil"
_ok, _buf = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
JPEG = _buf.tobytes()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(require_binary("redis-server"), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def producer(redis_server):
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


async def add(client, camera: str, ts: float, jpeg: bytes = JPEG, **meta) -> str:
    fields = {"meta": json.dumps({"camera": camera, "ts": ts, **meta}), "jpeg": jpeg}
    return (await client.xadd(STREAM, fields)).decode()


async def pending(client) -> int:
    return (await client.xpending(STREAM, GROUP))["pending"]


class Collector:
    """Runs a consumer's frames() loop in a task, acking each frame after a short 'analysis'."""

    def __init__(self, consumer: RedisFrameConsumer, work: float = 0.0, ack: bool = True) -> None:
        self.consumer = consumer
        self.work = work
        self.do_ack = ack
        self.frames: list[Frame] = []
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Collector:
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        async for frame in self.consumer.frames():
            self.frames.append(frame)
            if self.work:
                await asyncio.sleep(self.work)
            if self.do_ack:
                await self.consumer.ack(frame)

    async def __aexit__(self, *exc) -> None:
        assert self.task is not None
        # close first: a cancellation that the Redis client swallows inside a blocking read must
        # still end the frames() loop, as the exporter's own shutdown does
        await self.consumer.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 10)

    @property
    def ids(self) -> list[str]:
        return [f.entry_id for f in self.frames]


def consumer(url: str, name: str, **kwargs) -> RedisFrameConsumer:
    kwargs.setdefault("block_ms", 100)
    return RedisFrameConsumer(url, STREAM, GROUP, name, **kwargs)


async def test_two_replicas_share_the_stream(redis_server, producer):
    """Each frame goes to exactly one replica of the group; together they get all of them."""
    async with (
        Collector(consumer(redis_server.url, "replica-1", batch=4), work=0.01) as one,
        Collector(consumer(redis_server.url, "replica-2", batch=4), work=0.01) as two,
    ):
        await asyncio.sleep(0.2)  # both blocked in XREADGROUP
        ids = []
        for i in range(60):  # distinct cameras: nothing is superseded
            ids.append(await add(producer, f"cam-{i}", 1000.0 + i))
            if i % 3 == 0:
                await asyncio.sleep(0.005)
        await eventually(lambda: len(one.frames) + len(two.frames) >= 60)
        await asyncio.sleep(0.3)  # nothing more may arrive
        assert one.frames and two.frames
        assert len(one.ids) == len(set(one.ids)) and len(two.ids) == len(set(two.ids))
        assert not set(one.ids) & set(two.ids)
        assert sorted(one.ids + two.ids) == sorted(ids)
        await eventually(lambda: _zero(pending(producer)))
        assert one.consumer.skipped_total == two.consumer.skipped_total == 0
        assert one.consumer.connected and two.consumer.connected


async def _zero(awaitable) -> bool:
    return await awaitable == 0


async def test_newest_frame_per_camera_and_min_interval(redis_server, producer):
    clock = FakeClock(100.0)
    c = consumer(redis_server.url, "solo", min_interval=10, clock=clock)
    await c.start()
    try:
        # one batch: five frames of cam-a (ts out of stream order) and three of cam-b
        for ts in (3, 1, 5, 2, 4):
            await add(producer, "cam-a", float(ts))
        for ts in (1, 2, 3):
            await add(producer, "cam-b", float(ts), extra="kept")
        frames = c.frames()
        got = [await anext(frames), await anext(frames)]
        assert {(f.camera, f.ts) for f in got} == {("cam-a", 5.0), ("cam-b", 3.0)}
        assert next(f for f in got if f.camera == "cam-b").meta["extra"] == "kept"
        assert c.skipped == {"cam-a": 4, "cam-b": 2}
        assert c.skipped_total == 6
        assert await pending(producer) == 2  # the superseded ones were acked at once
        for f in got:
            assert await c.ack(f)
        assert await pending(producer) == 0

        # within min_interval of the last yielded cam-a frame: skipped, even alone in its batch
        clock.advance(5)
        await add(producer, "cam-a", 6.0)
        await add(producer, "cam-c", 1.0)
        f = await anext(frames)
        assert (f.camera, f.ts) == ("cam-c", 1.0)
        assert c.skipped["cam-a"] == 5
        await c.ack(f)
        clock.advance(6)  # 11 s since the last cam-a frame
        await add(producer, "cam-a", 7.0)
        f = await anext(frames)
        assert (f.camera, f.ts) == ("cam-a", 7.0)
        await c.ack(f)
        assert await pending(producer) == 0
        assert c.yielded == {"cam-a": 2, "cam-b": 1, "cam-c": 1}
        await frames.aclose()
    finally:
        await c.close()


async def test_crashed_consumer_is_taken_over(redis_server, producer):
    """Frames read but never acked by a dead replica go to another one after claim_idle_ms."""
    dead = consumer(redis_server.url, "replica-dead", claim_idle_ms=400)
    await dead.start()
    ids = [await add(producer, f"cam-{i}", 10.0 + i) for i in range(3)]
    frames = dead.frames()
    got = [await anext(frames) for _ in range(3)]
    assert [f.entry_id for f in got] == ids
    crashed_at = time.monotonic()
    await frames.aclose()
    await dead.close()  # "crash": nothing acked
    assert await pending(producer) == 3

    taker = consumer(redis_server.url, "replica-2", claim_idle_ms=400, claim_every=0.05)
    async with Collector(taker) as two:
        await eventually(lambda: len(two.frames) == 3, timeout=10, step=0.02)
        assert time.monotonic() - crashed_at >= 0.35
        assert two.ids == ids
        assert taker.reclaimed == 3
        await eventually(lambda: _zero(pending(producer)))
        # and new frames keep flowing to it
        new = await add(producer, "cam-9", 99.0)
        await eventually(lambda: new in two.ids)


async def test_stale_taken_over_frame_is_skipped(redis_server, producer):
    """A frame taken over from a dead replica, older than one already analysed here, is skipped."""
    dead = consumer(redis_server.url, "replica-dead", claim_idle_ms=300)
    await dead.start()
    stale = await add(producer, "cam-a", 1.0)
    frames = dead.frames()
    assert (await anext(frames)).entry_id == stale
    await frames.aclose()
    await dead.close()

    live = consumer(redis_server.url, "replica-2", claim_idle_ms=300, claim_every=0.05)
    async with Collector(live) as two:
        fresh = await add(producer, "cam-a", 2.0)
        await eventually(lambda: two.ids == [fresh])
        await eventually(lambda: live.reclaimed == 1, step=0.02)
        await eventually(lambda: _zero(pending(producer)))
        assert live.skipped == {"cam-a": 1}
        assert two.ids == [fresh]


async def test_own_frame_in_analysis_is_not_handed_out_again(redis_server, producer):
    """A frame still being analysed here is not re-yielded when it exceeds claim_idle_ms."""
    c = consumer(redis_server.url, "slow", claim_idle_ms=150, claim_every=0.02)
    await c.start()
    try:
        first = await add(producer, "cam-a", 1.0)
        frames = c.frames()
        f1 = await anext(frames)
        assert f1.entry_id == first
        # f1 is still "in analysis" (not acked) while the loop goes on past claim_idle_ms
        later = asyncio.create_task(anext(frames))
        await asyncio.sleep(0.5)
        assert not later.done()
        second = await add(producer, "cam-a", 2.0)
        f2 = await asyncio.wait_for(later, 5)
        assert f2.entry_id == second
        assert c.reclaimed == 0
        await c.ack(f1)
        await c.ack(f2)
        assert await pending(producer) == 0
        await frames.aclose()
    finally:
        await c.close()


async def test_malformed_entries_are_acked_and_counted(redis_server, producer, caplog):
    caplog.set_level(logging.WARNING, logger="vigil.frames.redis")
    c = consumer(redis_server.url, "solo")
    await c.start()
    try:
        bad = [
            {"jpeg": JPEG},
            {"jpeg": JPEG},
            {"meta": "not json {", "jpeg": JPEG},
            {"meta": "[1, 2]", "jpeg": JPEG},
            {"meta": json.dumps({"ts": 1}), "jpeg": JPEG},
            {"meta": json.dumps({"camera": "cam-a"}), "jpeg": JPEG},
            {"meta": json.dumps({"camera": "cam-a", "ts": "yesterday"}), "jpeg": JPEG},
            {"meta": json.dumps({"camera": "cam-a", "ts": 1})},
            {"meta": json.dumps({"camera": "cam-a", "ts": 1}), "jpeg": b"GIF89a...."},
            {"meta": b"\xff\xfe", "jpeg": JPEG},
        ]
        for fields in bad:
            await producer.xadd(STREAM, fields)
        good = await add(producer, "cam-b", 5.0)
        frames = c.frames()
        f = await anext(frames)
        assert f.entry_id == good
        assert dict(c.malformed) == {
            "no_meta": 2,
            "bad_meta": 3,
            "no_camera": 1,
            "bad_ts": 2,
            "no_jpeg": 1,
            "not_jpeg": 1,
        }
        assert await pending(producer) == 1  # only the good one, until it is acked
        await c.ack(f)
        assert await pending(producer) == 0
        logged = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
        assert len(logged) == 6  # once per kind
        await frames.aclose()
    finally:
        await c.close()


async def test_survives_a_redis_restart(redis_server, caplog):
    """Errors are counted and logged, the loop backs off and carries on once Redis is back, with
    the consumer group re-created (a server without persistence comes back empty)."""
    caplog.set_level(logging.INFO, logger="vigil.frames.redis")
    c = consumer(redis_server.url, "solo", backoff_base=0.05, backoff_cap=0.5)
    async with Collector(c) as coll:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await add(client, "cam-a", 1.0)
            await eventually(lambda: len(coll.frames) == 1)
        finally:
            await client.aclose()

        redis_server.stop()
        await eventually(lambda: not c.connected)
        await asyncio.sleep(0.5)  # a few retries with backoff
        assert c.errors["connection"] >= 1
        assert coll.task is not None and not coll.task.done()

        redis_server.start()
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await add(client, "cam-a", 2.0)
            await eventually(lambda: len(coll.frames) == 2, timeout=15)
            assert c.connected
            assert coll.frames[1].ts == 2.0
            await eventually(lambda: _zero(pending(client)))
        finally:
            await client.aclose()
    assert "connected again" in caplog.text


async def test_unreachable_redis_redacts_the_url(caplog):
    caplog.set_level(logging.DEBUG, logger="vigil.frames.redis")
    port = free_port()  # nothing listens there
    c = RedisFrameConsumer(
        f"redis://:Sup3r-s3cret@127.0.0.1:{port}/0",
        STREAM,
        GROUP,
        "solo",
        block_ms=100,
        backoff_base=0.02,
        backoff_cap=0.05,
    )
    await c.start()  # does not raise
    assert not c.connected
    frames = c.frames()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(frames), 0.5)
    await c.close()
    assert c.errors["connection"] >= 3
    assert "redis://***@127.0.0.1" in caplog.text
    assert "Sup3r-s3cret" not in caplog.text
    assert "Sup3r-s3cret" not in repr(c)
