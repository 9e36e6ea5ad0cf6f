"""Direct network checks of camera targets: ICMP echo and TCP connect, each on its own interval.

Thousands of cameras with their own intervals do not fit the scheduler's one-loop-per-check model, so
this source keeps a timer heap of (due time, camera, check) and a dispatcher that starts the checks that
are due, at most `concurrency` at a time, never two of the same camera and check at once. Targets come
from the TargetStore (config file and registration API); the dispatcher notices changes at once through
`notify()`. Results go straight to the metrics, one partition per camera, so a deleted camera leaves
/metrics in one step, and to each check's recorder: a camera that does not answer is a camera problem
(`target_failed`); only ICMP being refused by the system takes the source down.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from exporter.errors import INTERNAL
from exporter.metrics import Metrics
from exporter.recorder import CheckRecorder, Recorder
from exporter.sharding import Shard
from exporter.sources.contract import Check, Source, SourceContext
from exporter.sources.network.config import CamerasConfig
from exporter.sources.network.errors import REASONS, SOURCE_REASONS, ProbeFailed
from exporter.sources.network.icmp import Pinger
from exporter.sources.network.metrics import (
    PROBE_RTT,
    PROBE_RTT_FLEET,
    PROBE_SUCCESS,
    TARGET_INFO,
)
from exporter.sources.network.tcp import resolve, tcp_probe
from exporter.targets import CameraTarget, TargetStore

log = logging.getLogger("vigil.network")

SOURCE = "network"
CHECKS = ("icmp", "tcp")
NEW_TARGET_DELAY = 1.0  # a target registered at run time is checked within this many seconds


@dataclass(frozen=True)
class Defaults:
    """Section-wide settings a target inherits unless it sets its own."""

    icmp: float = 30.0
    tcp: float = 30.0
    port: int = 554
    rtsp_options: bool = False
    timeout: float = 2.0
    concurrency: int = 256


@dataclass(frozen=True)
class ProbeResult:
    camera: str
    check: str
    ok: bool
    rtt: float | None
    reason: str | None
    duration: float


def defaults_of(cameras: CamerasConfig) -> Defaults:
    return Defaults(
        icmp=cameras.icmp,
        tcp=cameras.tcp,
        port=cameras.port,
        rtsp_options=cameras.rtsp_options,
        timeout=cameras.timeout,
        concurrency=cameras.concurrency,
    )


class NetworkSource(Source):
    name = SOURCE

    def __init__(
        self,
        metrics: Metrics,
        recorder: Recorder,
        store: TargetStore,
        defaults: Defaults,
        pinger: Pinger | None = None,
        clock: Callable[[], float] = time.monotonic,
        shard: Shard | None = None,
    ) -> None:
        self.store = store
        self.shard = shard or Shard()  # only the cameras this shard owns are probed here
        self.defaults = defaults
        self.pinger = pinger or Pinger()
        self.clock = clock
        self._target_info = metrics.family(TARGET_INFO)
        self._success = metrics.family(PROBE_SUCCESS)
        self._rtt = metrics.family(PROBE_RTT)
        self._rtt_fleet = metrics.histogram(PROBE_RTT_FLEET)
        self._book = recorder  # the service registers `checks()` there before anything runs
        self._heap: list[tuple[float, int, str, str]] = []
        self._order = itertools.count()
        self._scheduled: dict[
            tuple[str, str], int
        ] = {}  # (camera, check) -> ticket of its live entry
        self._targets: dict[str, CameraTarget] = {}
        self._store_version: int | None = None
        self._inflight: dict[tuple[str, str], asyncio.Task[ProbeResult]] = {}
        self._limiter = asyncio.Semaphore(defaults.concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    @classmethod
    def from_context(cls, context: SourceContext, cameras: CamerasConfig) -> NetworkSource:
        assert context.targets is not None, "the service opens the target store for `cameras`"
        source = cls(
            context.metrics,
            context.recorder,
            context.targets,
            defaults_of(cameras),
            pinger=context.options.get("pinger"),
            shard=context.shard,
        )
        context.targets.listeners.append(source.notify)  # registrations made on other replicas
        return source

    def checks(self) -> list[Check]:
        return [Check(check, getattr(self.defaults, check), reasons=REASONS) for check in CHECKS]

    def _recorder(self, check: str) -> CheckRecorder:
        return self._book.get(SOURCE, check)

    # -- configuration ---------------------------------------------------------------------------
    def interval(self, target: CameraTarget, check: str) -> float:
        """Seconds between checks of this kind for this target; 0 means the check is off."""
        own = getattr(target, check)
        return getattr(self.defaults, check) if own is None else own

    def port(self, target: CameraTarget) -> int:
        return target.port or self.defaults.port

    def rtsp_options(self, target: CameraTarget) -> bool:
        return self.defaults.rtsp_options if target.rtsp_options is None else target.rtsp_options

    def notify(self) -> None:
        """The target store changed: pick up new, changed and deleted targets now."""
        self._wake.set()

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._sync(first=True)
        self._task = asyncio.create_task(self._dispatch(), name="network-dispatcher")

    async def stop(self) -> None:
        tasks = list(self._inflight.values())
        if self._task is not None:
            tasks.append(self._task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        self.pinger.close()

    # -- targets ---------------------------------------------------------------------------------
    def _sync(self, first: bool = False) -> None:
        """Bring the timer heap in line with the store: schedule new targets, forget deleted ones."""
        if self._store_version == self.store.version:
            return
        self._store_version = self.store.version
        current = {t.id: t for t in self.store.all() if self.shard.owns(t.id)}
        for gone in set(self._targets) - set(current):
            self._forget(gone)
        now = self.clock()
        for tid, target in current.items():
            if self._targets.get(tid) == target:
                continue
            self._targets[tid] = target
            self._publish_info(target)
            for check in CHECKS:
                interval = self.interval(target, check)
                if interval <= 0:
                    self._scheduled.pop((tid, check), None)
                    self._clear_check(tid, check)
                    continue
                # at start-up spread the fleet over one interval; later additions go soon
                delay = random.uniform(0, interval) if first else NEW_TARGET_DELAY
                self._schedule(tid, check, now + delay)

    def _forget(self, tid: str) -> None:
        self._targets.pop(tid, None)
        for check in CHECKS:
            self._scheduled.pop((tid, check), None)
            task = self._inflight.pop((tid, check), None)
            if task is not None:
                task.cancel()
        for check in CHECKS:
            self._recorder(check).forget_target(tid)
        for family in (self._target_info, self._success, self._rtt):
            family.drop(tid)

    def _publish_info(self, target: CameraTarget) -> None:
        self._target_info.replace(
            [((target.id, target.host, str(self.port(target))), 1)], target.id
        )

    def _clear_check(self, tid: str, check: str) -> None:
        self._recorder(check).forget_target(tid)
        self._success.remove([tid, check], tid)
        self._rtt.remove([tid, check], tid)

    def _schedule(self, tid: str, check: str, due: float) -> None:
        ticket = next(self._order)
        self._scheduled[(tid, check)] = ticket
        heapq.heappush(self._heap, (due, ticket, tid, check))

    # -- dispatching -----------------------------------------------------------------------------
    async def _dispatch(self) -> None:
        while True:
            self._sync()
            now = self.clock()
            while self._heap and self._heap[0][0] <= now:
                due, ticket, tid, check = heapq.heappop(self._heap)
                if self._scheduled.get((tid, check)) != ticket:
                    continue  # replaced or deleted since it was scheduled
                target = self._targets[tid]
                if (tid, check) not in self._inflight:
                    self._launch(target, check)
                # exactly one interval later: the random phase given at start-up keeps the fleet
                # spread out; an overloaded prober slips rather than bursting to catch up
                self._schedule(tid, check, max(due + self.interval(target, check), now))
            timeout = self._heap[0][0] - now if self._heap else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _launch(self, target: CameraTarget, check: str) -> asyncio.Task[ProbeResult]:
        key = (target.id, check)
        task = asyncio.create_task(self._probe(target, check))
        self._inflight[key] = task
        task.add_done_callback(lambda t, key=key: self._done(key, t))
        return task

    def _done(self, key: tuple[str, str], task: asyncio.Task[ProbeResult]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("network check %s/%s crashed", key[0], key[1], exc_info=exc)
            self._recorder(key[1]).failed(INTERNAL)  # a bug: counted and visible, never silent

    async def _probe(self, target: CameraTarget, check: str) -> ProbeResult:
        timeout = self.defaults.timeout
        async with self._limiter:
            t0 = time.perf_counter()
            try:
                if check == "icmp":
                    address = await resolve(target.host, timeout=timeout)
                    rtt = await self.pinger.ping(
                        address, max(timeout - (time.perf_counter() - t0), 0.001)
                    )
                else:
                    rtt = await tcp_probe(
                        target.host,
                        self.port(target),
                        timeout,
                        rtsp_options=self.rtsp_options(target),
                    )
                result = ProbeResult(target.id, check, True, rtt, None, 0.0)
            except ProbeFailed as exc:
                result = ProbeResult(target.id, check, False, None, exc.reason, 0.0)
            duration = time.perf_counter() - t0
        result = ProbeResult(result.camera, check, result.ok, result.rtt, result.reason, duration)
        if self._targets.get(target.id) == target:  # not deleted or changed meanwhile
            self._record(result)
        return result

    def _record(self, result: ProbeResult) -> None:
        cam, check = result.camera, result.check
        recorder = self._recorder(check)
        if result.reason in SOURCE_REASONS:
            # the system refuses the probe itself: no figure about the camera at all
            self._success.remove([cam, check], cam)
            self._rtt.remove([cam, check], cam)
            recorder.failed(result.reason, result.duration)
            return
        self._success.set([cam, check], 1 if result.ok else 0, cam)
        if result.ok:
            self._rtt.set([cam, check], result.rtt, cam)
            self._rtt_fleet.observe([check], result.rtt)
            recorder.succeeded(result.duration, target=cam)
        else:
            self._rtt.remove([cam, check], cam)  # a stale RTT of a dead camera would mislead
            recorder.target_failed(result.reason, result.duration, target=cam)

    # -- commands for the web layer ---------------------------------------------------------------
    def cameras(self) -> list[CameraTarget]:
        return self.store.all()

    def camera(self, target_id: str) -> CameraTarget | None:
        return self.store.get(target_id)

    def register(self, target: CameraTarget) -> bool:
        """Add or replace an API camera; True when it is new. TargetError for a config camera,
        StateFileError when the state file cannot be saved (then nothing changed)."""
        created = self.store.put(target)
        self.notify()
        return created

    def unregister(self, target_id: str) -> bool:
        """Delete an API camera; False when there is none. Errors as for `register`."""
        deleted = self.store.delete(target_id)
        self.notify()
        return deleted

    async def probe(self, target_id: str) -> list[ProbeResult] | None:
        """Check one registered camera now (see `probe_now`)."""
        return await self.probe_now(target_id)

    def owner(self, target_id: str) -> int | None:
        """The shard that checks a registered camera; None for an unknown one."""
        if self.store.get(target_id) is None:
            return None
        return self.shard.owner(target_id)

    async def probe_now(self, target_id: str) -> list[ProbeResult] | None:
        """Run every enabled check of one registered target now (joining runs in flight)."""
        self._sync()
        target = self._targets.get(target_id)
        if target is None:
            return None
        tasks = []
        for check in CHECKS:
            if self.interval(target, check) <= 0:
                continue
            task = self._inflight.get((target_id, check)) or self._launch(target, check)
            tasks.append(task)
        return list(await asyncio.gather(*(asyncio.shield(t) for t in tasks)))

    def status_lines(self) -> list[str]:
        failing = {check: 0 for check in CHECKS}
        for labels, v in self._success.samples():
            if v == 0:
                failing[labels[1]] += 1
        parts = ", ".join(f"{n} failing {check}" for check, n in failing.items())
        return [f"{len(self._targets)} cameras checked on the network: {parts}."]
