"""Frames pushed by cameras (or a gateway) through a Redis Stream, consumed through a consumer group.

Entry format, as the old camera-check service received it: a ``meta`` field holding JSON with at least
``camera`` (the camera id) and ``ts`` (capture time, unix seconds), maybe more, and a ``jpeg`` field
with the image bytes. Producers typically do ``XADD frames MAXLEN ~ 10000 * meta {...} jpeg <bytes>``.

Delivery is at least once, and never to two replicas at a time: several exporter replicas share the
stream through one consumer group, each under its own consumer name, so every entry goes to one of
them. The caller acks a frame AFTER analysing it (`RedisFrameConsumer.ack`); a replica that dies
before acking leaves its entries pending, and another one (or itself after a restart) takes them
over with XAUTOCLAIM once they have been idle for ``claim_idle_ms``. That must be longer than the
slowest analysis, or a frame still being analysed is taken over and analysed a second time.

Only the newest frame per camera matters when frames arrive faster than they are analysed: within
each batch read, only the newest entry of each camera (by ``ts``, then entry id) is yielded; the
older ones are acked at once and counted in ``skipped``. So is a frame that comes less than
``min_interval`` seconds (wall clock of this process) after the last frame of its camera that was
yielded here, and a taken-over frame older (in stream order) than one already yielded for its camera.

Malformed entries are acked, counted in ``malformed`` by kind, and logged once per kind. Redis
errors never end `frames()`: they are logged with the redacted URL and counted in ``errors`` by
reason, and the loop retries forever with capped exponential backoff; ``connected`` tells the state.
A consumer group lost with the server's data (a restart without persistence) is created again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from exporter import safejson
from exporter.sources.frames.redact import redact_url

META_MAX_BYTES = 1 << 20  # a frame entry's meta: camera, time, a few fields

log = logging.getLogger("vigil.frames.redis")

JPEG_MAGIC = b"\xff\xd8"
MALFORMED_KINDS = ("no_meta", "bad_meta", "no_camera", "bad_ts", "no_jpeg", "not_jpeg", "deleted")


@dataclass(frozen=True)
class Frame:
    """One frame read from the stream. `meta` holds every field of the entry's meta JSON."""

    camera: str
    ts: float
    jpeg: bytes = field(repr=False)
    entry_id: str
    meta: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class _Malformed(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return (0, 0)


def _parse_entry(entry_id: str, fields: dict[bytes, bytes] | None) -> Frame:
    if fields is None:  # XAUTOCLAIM on Redis 6.2 returns trimmed entries as nil
        raise _Malformed("deleted", "the entry was deleted from the stream")
    meta_raw = fields.get(b"meta")
    if meta_raw is None:
        raise _Malformed("no_meta", "no 'meta' field")
    try:
        meta = safejson.loads(meta_raw, max_bytes=META_MAX_BYTES)
    except safejson.JSONError as exc:
        raise _Malformed("bad_meta", f"'meta' is not acceptable JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise _Malformed("bad_meta", "'meta' is not a JSON object")
    camera = meta.get("camera")
    if isinstance(camera, bool) or not isinstance(camera, str | int) or camera == "":
        raise _Malformed("no_camera", "'meta' has no camera id")
    ts = meta.get("ts")
    if isinstance(ts, str):
        with contextlib.suppress(ValueError):
            ts = float(ts)
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise _Malformed("bad_ts", "'meta' has no numeric ts")
    jpeg = fields.get(b"jpeg")
    if not jpeg:
        raise _Malformed("no_jpeg", "no 'jpeg' field")
    if not jpeg.startswith(JPEG_MAGIC):
        raise _Malformed("not_jpeg", "the 'jpeg' field is not a JPEG")
    return Frame(camera=str(camera), ts=float(ts), jpeg=jpeg, entry_id=entry_id, meta=meta)


REASONS = ("auth", "timeout", "connection", "response", "other")  # of a failed Redis command


def _error_reason(exc: BaseException) -> str:
    if isinstance(exc, redis_errors.AuthenticationError | redis_errors.AuthorizationError):
        return "auth"
    if isinstance(exc, redis_errors.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, redis_errors.ConnectionError | OSError):
        return "connection"
    if isinstance(exc, ResponseError):
        return "response"
    return "other"


def _being_cancelled() -> bool:
    """True when our task was asked to stop: the Redis client may turn that into a connection error."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class RedisFrameConsumer:
    """Reads frames from `stream` as `consumer` of `group`; see the module docstring.

    Counters, for the exporter's metrics: ``skipped`` and ``yielded`` by camera, ``malformed`` by kind,
    ``errors`` by reason (auth, timeout, connection, response, other), ``reclaimed`` (entries taken
    over from idle consumers). ``connected`` is False from a failed command until the next success.
    """

    def __init__(
        self,
        url: str,
        stream: str,
        group: str,
        consumer: str,
        *,
        block_ms: int = 1000,
        batch: int = 64,
        claim_idle_ms: int = 60000,
        min_interval: float = 0.0,
        claim_every: float | None = None,
        start_id: str = "$",
        backoff_base: float = 0.1,
        backoff_cap: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        on_outcome: Callable[[str | None], None] = lambda reason: None,
    ) -> None:
        if block_ms < 1 or batch < 1 or claim_idle_ms < 1 or min_interval < 0:
            raise ValueError(
                "block_ms, batch and claim_idle_ms must be positive, min_interval >= 0"
            )
        self.url = url
        self.shown_url = redact_url(url)
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.block_ms = block_ms
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.min_interval = min_interval
        # how often to look for entries left pending by dead consumers (default: half the idle time)
        self.claim_every = claim_idle_ms / 2000 if claim_every is None else claim_every
        self.start_id = start_id
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._clock = clock
        self._on_outcome = on_outcome  # None after every good read, a reason after every failure

        self.connected = False
        self.skipped: Counter[str] = Counter()
        self.yielded: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.reclaimed = 0

        # the server-side block must end before the socket timeout does
        self._redis = aioredis.Redis.from_url(
            url,
            decode_responses=False,
            socket_connect_timeout=5,
            socket_timeout=block_ms / 1000 + 10,
            retry=Retry(NoBackoff(), 1),  # one immediate retry (a pooled connection gone stale)
        )
        self._group_ready = False
        self._closed = False
        self._failures = 0
        self._next_claim = 0.0  # clock time of the next XAUTOCLAIM pass; 0 = at once
        self._last_yield: dict[str, tuple[float, tuple[int, int]]] = {}  # camera -> (clock, id)
        self._inflight: set[str] = set()  # yielded, not acked yet
        self._ack_backlog: set[str] = set()  # acks that failed, retried by the loop
        self._logged_kinds: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"RedisFrameConsumer({self.shown_url!r}, stream={self.stream!r}, "
            f"group={self.group!r}, consumer={self.consumer!r})"
        )

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the consumer group (and the stream) if missing. Never raises for Redis errors:
        if the server is not there yet, `frames()` keeps trying."""
        try:
            await self._ensure_group(self.start_id)
        except RedisError as exc:
            self._failed(exc, "creating the consumer group")

    async def close(self) -> None:
        self._closed = True
        self.connected = False
        with contextlib.suppress(Exception):
            await self._redis.aclose()

    async def __aenter__(self) -> RedisFrameConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- reading ---------------------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[Frame]:
        """Yield frames forever (until `close()`); ack each with `ack()` after analysing it."""
        while not self._closed:
            try:
                if not self._group_ready:
                    # created at start(); missing here means it was lost with the server's data,
                    # so everything now in the stream is new to everybody
                    await self._ensure_group("0")
                if self._ack_backlog:
                    await self._flush_acks()
                entries: list[tuple[str, dict[bytes, bytes] | None]] = []
                if self._clock() >= self._next_claim:
                    entries = await self._autoclaim()
                    self._next_claim = self._clock() + self.claim_every
                if not entries:
                    entries = await self._read()
                selected = await self._select(entries)
                self._succeeded()
            except ResponseError as exc:
                if str(exc).startswith("NOGROUP"):
                    self._group_ready = False
                    log.warning(
                        "redis %s: consumer group %r of stream %r is gone; creating it again",
                        self.shown_url,
                        self.group,
                        self.stream,
                    )
                    continue
                if self._closed:
                    return
                self._failed(exc, "reading")
                await self._backoff()
                continue
            except (RedisError, OSError, TimeoutError) as exc:
                if self._closed or _being_cancelled():
                    return
                self._failed(exc, "reading")
                await self._backoff()
                continue
            for frame in selected:
                if self._closed:
                    return
                # a frame whose min_interval window was filled while earlier ones were analysed
                if self._too_soon(frame):
                    await self._skip([frame.entry_id], frame.camera)
                    continue
                self._last_yield[frame.camera] = (self._clock(), _id_key(frame.entry_id))
                self._inflight.add(frame.entry_id)
                self.yielded[frame.camera] += 1
                yield frame

    async def ack(self, frame: Frame) -> bool:
        """Acknowledge an analysed frame. False if Redis is unreachable; the loop retries it then."""
        self._inflight.discard(frame.entry_id)
        try:
            await self._redis.xack(self.stream, self.group, frame.entry_id)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc, "acking")
            self._ack_backlog.add(frame.entry_id)
            return False
        return True

    # --- internals -------------------------------------------------------------------------------

    async def _ensure_group(self, start_id: str) -> None:
        try:
            await self._redis.xgroup_create(self.stream, self.group, id=start_id, mkstream=True)
            log.info(
                "redis %s: created consumer group %r on stream %r",
                self.shown_url,
                self.group,
                self.stream,
            )
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise
        self._group_ready = True
        self._succeeded()

    async def _read(self) -> list[tuple[str, dict[bytes, bytes] | None]]:
        response = await self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=self.block_ms
        )
        entries: list[tuple[str, dict[bytes, bytes] | None]] = []
        if isinstance(response, dict):  # RESP3
            response = list(response.items())
        for _name, items in response or []:
            for entry_id, fields in items:
                entries.append((_text(entry_id), fields))
        return entries

    async def _autoclaim(self) -> list[tuple[str, dict[bytes, bytes] | None]]:
        """Entries idle longer than claim_idle_ms in any consumer's pending list, now ours."""
        entries: list[tuple[str, dict[bytes, bytes] | None]] = []
        cursor = "0-0"
        for _ in range(100):  # bounded: at most 100 batches per pass
            result = await self._redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=self.claim_idle_ms,
                start_id=cursor,
                count=self.batch,
            )
            cursor = _text(result[0])
            for entry_id, fields in result[1]:
                entry_id = _text(entry_id)
                if entry_id in self._inflight or entry_id in self._ack_backlog:
                    continue  # ours, being analysed or analysed: never hand it out twice
                entries.append((entry_id, fields))
            if len(result) > 2 and result[2]:  # Redis 7: ids of entries trimmed from the stream
                gone = [_text(i) for i in result[2]]
                self.malformed["deleted"] += len(gone)
            if cursor == "0-0" or len(entries) >= self.batch:
                break
        if entries:
            self.reclaimed += len(entries)
            log.info(
                "redis %s: took over %d frame(s) left pending by an idle consumer of group %r",
                self.shown_url,
                len(entries),
                self.group,
            )
        return entries

    async def _select(self, entries: list[tuple[str, dict[bytes, bytes] | None]]) -> list[Frame]:
        """Parse a batch, ack what is malformed or superseded, return the frames to yield."""
        newest: dict[str, Frame] = {}
        drop: list[str] = []
        superseded: Counter[str] = Counter()
        for entry_id, fields in entries:
            try:
                frame = _parse_entry(entry_id, fields)
            except _Malformed as exc:
                self._malformed(exc, entry_id)
                drop.append(entry_id)
                continue
            best = newest.get(frame.camera)
            if best is None:
                newest[frame.camera] = frame
                continue
            older, newer = sorted((best, frame), key=lambda f: (f.ts, _id_key(f.entry_id)))
            newest[frame.camera] = newer
            drop.append(older.entry_id)
            superseded[frame.camera] += 1
        selected: list[Frame] = []
        for camera, frame in newest.items():
            last = self._last_yield.get(camera)
            if last is not None and _id_key(frame.entry_id) < last[1]:
                # taken over from a dead consumer, but a later frame was already yielded here
                drop.append(frame.entry_id)
                superseded[camera] += 1
            else:
                selected.append(frame)
        if drop:
            await self._redis.xack(self.stream, self.group, *drop)
        self.skipped.update(superseded)
        selected.sort(key=lambda f: _id_key(f.entry_id))
        return selected

    def _too_soon(self, frame: Frame) -> bool:
        if self.min_interval <= 0:
            return False
        last = self._last_yield.get(frame.camera)
        return last is not None and self._clock() - last[0] < self.min_interval

    async def _skip(self, entry_ids: list[str], camera: str) -> None:
        self.skipped[camera] += len(entry_ids)
        try:
            await self._redis.xack(self.stream, self.group, *entry_ids)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc, "acking")
            self._ack_backlog.update(entry_ids)

    async def _flush_acks(self) -> None:
        ids = list(self._ack_backlog)
        await self._redis.xack(self.stream, self.group, *ids)
        self._ack_backlog.difference_update(ids)

    def _malformed(self, exc: _Malformed, entry_id: str) -> None:
        self.malformed[exc.kind] += 1
        if exc.kind not in self._logged_kinds:
            self._logged_kinds.add(exc.kind)
            log.warning(
                "redis %s: stream %r entry %s is malformed (%s): %s; acked and dropped "
                "(logged once per kind, counted every time)",
                self.shown_url,
                self.stream,
                entry_id,
                exc.kind,
                exc,
            )

    def _failed(self, exc: BaseException, doing: str) -> None:
        reason = _error_reason(exc)
        self.errors[reason] += 1
        self._on_outcome(reason)
        self._failures += 1
        was_connected = self.connected
        self.connected = False
        level = logging.WARNING if was_connected or self._failures == 1 else logging.DEBUG
        log.log(
            level,
            "redis %s: %s stream %r failed (%s: %s); retrying with backoff",
            self.shown_url,
            doing,
            self.stream,
            reason,
            exc,
        )

    def _succeeded(self) -> None:
        if not self.connected and self._failures:
            log.info("redis %s: connected again", self.shown_url)
        self.connected = True
        self._failures = 0
        self._on_outcome(None)

    async def _backoff(self) -> None:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** min(self._failures - 1, 30))
        await asyncio.sleep(random.uniform(delay / 2, delay))
