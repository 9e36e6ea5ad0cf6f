"""Registered cameras in a shared Redis hash, so that every shard sees every registration.

With several exporter shards, a camera registered through any replica's API must be checked by the
one shard that owns it. The registrations live in one Redis hash (`cameras.store`, key
`cameras.store_key`): id -> the target as the state file would store it. Every change is written to
Redis before memory changes (as the state file is) and announced on `<key>:changed`; every replica
subscribes and reloads the hash within a second, and reloads it every `RESYNC` seconds anyway in case
a notification was missed. Camera frame URLs may carry passwords: the store must be a private Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exporter import safejson
from exporter.targets import (
    CameraTarget,
    StateFileError,
    TargetError,
    TargetStore,
    redact_url,
    target_from_json,
)

REGISTRATION_MAX_BYTES = 1 << 20  # one camera: id, host, a frame URL

log = logging.getLogger("vigil.targets")

RESYNC = 30.0  # seconds between full reloads when no notification came


class RedisTargetStore(TargetStore):
    """A TargetStore whose API targets live in Redis; `watch()` keeps this replica's view current."""

    def __init__(self, config_targets: Sequence[CameraTarget], url: str, key: str) -> None:
        super().__init__(config_targets, None)
        self._loaded = False
        self._url = url
        self._shown = redact_url(url)
        self._key = key
        self.channel = f"{key}:changed"
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)

    def _failure(self, doing: str, exc: Exception) -> StateFileError:
        return StateFileError(
            f"shared camera store {self._shown} (key {self._key}): {doing} failed: "
            f"{type(exc).__name__}"
        )

    def _fetch(self, problems: list[str]) -> dict[str, CameraTarget]:
        try:
            raw = self._redis.hgetall(self._key)
        except RedisError as exc:
            raise self._failure("reading", exc) from None
        loaded: dict[str, CameraTarget] = {}
        for field, value in sorted(raw.items()):
            name = field.decode("utf-8", "replace")
            try:
                target = target_from_json(
                    safejson.loads(value, max_bytes=REGISTRATION_MAX_BYTES), origin="api"
                )
            except (TargetError, safejson.JSONError) as exc:
                problems.append(f"{self._key}[{name}]: skipped: {exc}")
                continue
            if target.id in self._config:
                problems.append(f"{self._key}[{name}]: skipped: defined in the config file")
                continue
            loaded[target.id] = target
        return loaded

    def load(self) -> list[str]:
        problems: list[str] = []
        loaded = self._fetch(problems)
        with self._lock:
            if loaded != self._api:
                self._api = loaded
                self._version += 1
            self._loaded = True
        return problems

    def refresh(self) -> bool:
        """Reload the hash (blocking: run it in an executor); True when something changed. The
        caller tells the listeners, on the event loop's thread."""
        problems: list[str] = []
        loaded = self._fetch(problems)
        with self._lock:
            if loaded == self._api:
                return False
            self._api = loaded
            self._version += 1
        return True

    def put(self, target: CameraTarget) -> bool:
        checked = target_from_json(target.stored(), origin="api")
        with self._lock:
            self._check_loaded()
            self._refuse_config_id(checked.id)
            try:
                data = json.dumps(checked.stored(), ensure_ascii=False)
                created = self._redis.hset(self._key, checked.id, data) == 1
                self._redis.publish(self.channel, checked.id)
            except RedisError as exc:
                raise self._failure("saving", exc) from None
            self._api = {**self._api, checked.id: checked}
            self._version += 1
            return created

    def delete(self, id: str) -> bool:
        with self._lock:
            self._check_loaded()
            self._refuse_config_id(id)
            try:
                deleted = self._redis.hdel(self._key, id) == 1
                self._redis.publish(self.channel, id)
            except RedisError as exc:
                raise self._failure("deleting", exc) from None
            if id in self._api:
                self._api = {k: v for k, v in self._api.items() if k != id}
                self._version += 1
            return deleted

    async def watch(self) -> None:
        """Reload on every change notification (and every RESYNC seconds); runs until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            client = aioredis.Redis.from_url(self._url, socket_connect_timeout=2)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    await self._refresh_and_tell(loop)  # what changed meanwhile
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=RESYNC
                        )
                        if message is not None:
                            # drain a burst of notifications: one reload covers them all
                            while await pubsub.get_message(
                                ignore_subscribe_messages=True, timeout=0.05
                            ):
                                pass
                        await self._refresh_and_tell(loop)
            except (RedisError, OSError, StateFileError) as exc:
                log.warning(
                    "shared camera store %s: watching failed (%s); retrying",
                    self._shown,
                    type(exc).__name__,
                )
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def _refresh_and_tell(self, loop: asyncio.AbstractEventLoop) -> None:
        if await loop.run_in_executor(None, self.refresh):
            for listener in self.listeners:
                listener()  # here, on the loop's thread: listeners wake asyncio tasks

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._redis.close()
