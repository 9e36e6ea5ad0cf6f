"""Frame-quality source: fetch or receive JPEG frames, analyse them in a process pool, publish.

Frames come from two places: cameras of the target store that have a `frame_url` (one fresh frame per
`frame` interval, HTTP snapshot or RTSP), and a Redis stream that other services push frames into
(consumer group, acked after analysis). Every frame goes the same way: `measure` (decode at 1/4 and the
CPU-heavy figures) in a process pool, `CameraVision.judge` (the camera's own history) here, then the
metrics, the evidence store for problems that just started, and the live results (a callback the
service wires to the web layer's WebSocket hub).

Self-monitoring: a camera whose frame cannot be fetched or decoded is a camera problem; the source is
down when its own machinery fails: Redis unreachable or the consumer group unreadable (check `redis`),
or the analysis process pool broken (the pool is rebuilt, and the check that hit it fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import random
import re
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp

from exporter.analysis.frames import CameraVision, FrameError, Thresholds, init_worker, measure
from exporter.errors import INTERNAL
from exporter.metrics import Metrics
from exporter.recorder import CheckRecorder, Recorder
from exporter.sources.contract import Check, Source
from exporter.sources.frames.config import FramesConfig, FrameThresholdsConfig
from exporter.sources.frames.evidence import Evidence, EvidenceError, EvidenceStore
from exporter.sources.frames.fetch import REASONS as FETCH_REASONS
from exporter.sources.frames.fetch import FrameFetchError, fetch_frame
from exporter.sources.frames.metrics import (
    FRAME_ANALYSIS,
    FRAME_BRIGHTNESS,
    FRAME_DISPLACEMENT,
    FRAME_EVIDENCE,
    FRAME_OCCLUSION,
    FRAME_PROBLEM,
    FRAME_PROBLEMS,
    FRAME_SHARPNESS,
    FRAME_SUCCESS,
    FRAME_UNCHANGED,
    FRAMES_SKIPPED,
    PER_CAMERA,
)
from exporter.sources.frames.redact import redact_url
from exporter.targets import CameraTarget, TargetStore

if TYPE_CHECKING:  # redis-py is the `redis` extra: imported only when frames.redis is configured
    from exporter.sources.frames.redis_stream import RedisFrameConsumer

log = logging.getLogger("vigil.frames")

SOURCE = "frames"
CHECK = "frame"  # cameras with a frame_url: one fresh frame per interval
REDIS_CHECK = "redis"  # frames pushed into a Redis stream
POOL_BROKEN = "analysis_pool"  # the analysis process pool died (a worker was killed)
ANALYSIS_REASONS = ("bad_frame", POOL_BROKEN)
SYNC_EVERY = 1.0  # seconds between looks at the target store for new or deleted cameras
PRUNE_EVERY = 3600.0
STOP_TIMEOUT = 3.0
RTSP_THREADS = 32  # RTSP frames fetched at once (each open takes ~1-3 s of a thread)
CAMERA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")  # the registration API's id rule


def _worker_init() -> None:
    """Analysis workers ignore Ctrl-C: the exporter stops them itself, without a traceback each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init_worker()


def thresholds_for(config: FramesConfig, camera: str) -> Thresholds:
    """The analysis defaults, then the section's thresholds, then the camera's own."""

    def apply(base: Thresholds, layer: FrameThresholdsConfig) -> Thresholds:
        changes = {
            f.name: getattr(layer, f.name)
            for f in dataclasses.fields(FrameThresholdsConfig)
            if getattr(layer, f.name) is not None
        }
        return dataclasses.replace(base, **changes)

    result = apply(Thresholds(), config.thresholds)
    for override in config.overrides:
        if override.camera == camera:
            result = apply(result, override)
    return result


def redis_instance(url: str) -> str:
    """The Redis server as `host:port`, without credentials: the `instance` of the redis check."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return netloc or parts.path  # unix:///path/to/socket has no host


class FrameSource(Source):
    name = SOURCE

    def __init__(
        self,
        *,
        metrics: Metrics,
        recorder: Recorder,
        config: FramesConfig,
        store: TargetStore | None,
        default_interval: float,
        evidence: EvidenceStore,
        publish_result: Callable[[dict], None],
        session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
        owns: Callable[[str], bool] = lambda camera: True,
    ) -> None:
        self._owns = owns  # this shard's cameras (frames pushed through Redis: the consumer group)
        self.config = config
        self.store = store
        self.default_interval = default_interval
        self.evidence = evidence
        self._publish_result = publish_result
        self.session = session
        self.clock = clock
        self._book = recorder
        self._per_camera = [metrics.family(spec) for spec in PER_CAMERA]
        self._success = metrics.family(FRAME_SUCCESS)
        self._brightness = metrics.family(FRAME_BRIGHTNESS)
        self._sharpness = metrics.family(FRAME_SHARPNESS)
        self._occlusion = metrics.family(FRAME_OCCLUSION)
        self._displacement = metrics.family(FRAME_DISPLACEMENT)
        self._unchanged = metrics.family(FRAME_UNCHANGED)
        self._problem = metrics.family(FRAME_PROBLEM)
        self._evidence_time = metrics.family(FRAME_EVIDENCE)
        self._analysis = metrics.histogram(FRAME_ANALYSIS)
        self._skipped = metrics.family(FRAMES_SKIPPED)
        self.vision: dict[str, CameraVision] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._pool_generation = 0
        # RTSP opens block a thread for seconds each: their own threads, not the loop's default pool
        self._rtsp_threads = ThreadPoolExecutor(RTSP_THREADS, thread_name_prefix="rtsp")
        self._loops: dict[str, tuple[CameraTarget, asyncio.Task]] = {}
        self._tasks: list[asyncio.Task] = []
        self._consumer: RedisFrameConsumer | None = None
        self._skipped_seen = 0
        self._skipped.set(["redis"], 0)

    def checks(self) -> list[Check]:
        checks = []
        if self.store is not None:
            reasons = (*FETCH_REASONS, *ANALYSIS_REASONS)
            checks.append(Check(CHECK, self.default_interval, reasons=reasons))
        if self.config.redis is not None:
            from exporter.sources.frames.redis_stream import REASONS as REDIS_REASONS

            # the consumer reads continuously, each read blocking at most a second
            instance = redis_instance(self.config.redis.url.reveal())
            reasons = (*REDIS_REASONS, *ANALYSIS_REASONS)
            checks.append(Check(REDIS_CHECK, 1.0, instance=instance, reasons=reasons))
        return checks

    def _recorder(self, check: str) -> CheckRecorder:
        return self._book.get(SOURCE, check)

    # -- lifecycle -------------------------------------------------------------------------------
    def _new_pool(self) -> None:
        # forkserver: forking a process that runs an event loop and threads is not safe
        context = multiprocessing.get_context("forkserver")
        self._pool = ProcessPoolExecutor(
            self.config.workers, mp_context=context, initializer=_worker_init
        )
        self._pool_generation += 1

    async def start(self) -> None:
        self._new_pool()
        try:
            await self.evidence.start()
        except EvidenceError as exc:
            log.error("evidence store not usable (%s): %s", exc.reason, exc)
        self._tasks.append(asyncio.create_task(self._supervise(), name="frames-targets"))
        self._tasks.append(asyncio.create_task(self._prune_loop(), name="frames-evidence-prune"))
        redis = self.config.redis
        if redis is not None:
            from exporter.sources.frames.redis_stream import RedisFrameConsumer

            self._consumer = RedisFrameConsumer(
                redis.url.reveal(),
                redis.stream,
                redis.group,
                redis.consumer or socket.gethostname(),
                min_interval=redis.min_interval,
                on_outcome=self._redis_outcome,
            )
            self._tasks.append(asyncio.create_task(self._consume(), name="frames-redis"))

    async def stop(self) -> None:
        if self._consumer is not None:
            # closing ends the frames() loop even if the Redis client swallows the cancellation
            await self._consumer.close()
        tasks = self._tasks + [task for _, task in self._loops.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in pending:
                log.warning(
                    "frame task %s did not stop within %.0fs", task.get_name(), STOP_TIMEOUT
                )
        self._loops.clear()
        with contextlib.suppress(Exception):
            await self.evidence.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._rtsp_threads.shutdown(wait=False, cancel_futures=True)

    # -- cameras with a frame_url ----------------------------------------------------------------
    def interval(self, target: CameraTarget) -> float:
        return self.default_interval if target.frame is None else target.frame

    async def _supervise(self) -> None:
        version = None
        first = True
        while True:
            if self.store is not None and self.store.version != version:
                version = self.store.version
                self._sync(first)
                first = False
            await asyncio.sleep(SYNC_EVERY)

    def _sync(self, first: bool) -> None:
        wanted = {
            t.id: t
            for t in self.store.all()
            if t.frame_url and self.interval(t) > 0 and self._owns(t.id)
        }
        for camera, (target, task) in list(self._loops.items()):
            if wanted.get(camera) != target:
                task.cancel()
                del self._loops[camera]
                if camera not in wanted:
                    self._forget(camera)
        for camera, target in wanted.items():
            if camera not in self._loops:
                delay = random.uniform(0, self.interval(target)) if first else 0.0
                task = asyncio.create_task(self._camera_loop(target, delay))
                self._loops[camera] = (target, task)

    def _forget(self, camera: str) -> None:
        self.vision.pop(camera, None)
        self._recorder(CHECK).forget_target(camera)
        for family in self._per_camera:
            family.drop(camera)

    async def _camera_loop(self, target: CameraTarget, delay: float) -> None:
        await asyncio.sleep(delay)
        interval = self.interval(target)
        while True:
            started = time.monotonic()
            try:
                await self.check_camera(target)
            except Exception:
                log.exception("frame check of %s crashed; it runs again next interval", target.id)
                self._recorder(CHECK).failed(INTERNAL)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def check_camera(self, target: CameraTarget) -> dict | None:
        """Fetch one fresh frame of a registered camera and analyse it; the result, or None."""
        t0 = time.perf_counter()
        kind = "rtsp" if target.frame_url.startswith("rtsp") else "http"
        recorder = self._recorder(CHECK)
        try:
            jpeg = await fetch_frame(
                self.session, target.frame_url, self.config.timeout, self._rtsp_threads
            )
        except FrameFetchError as exc:
            self._success.set([target.id], 0, target.id)
            recorder.target_failed(exc.reason, time.perf_counter() - t0, target=target.id)
            log.debug("frame of %s from %s: %s", target.id, redact_url(target.frame_url), exc)
            return None
        return await self.analyse(target.id, jpeg, self.clock(), kind, recorder, t0)

    # -- every frame -----------------------------------------------------------------------------
    async def analyse(
        self,
        camera: str,
        jpeg: bytes,
        ts: float,
        kind: str,
        recorder: CheckRecorder,
        started: float | None = None,
    ) -> dict | None:
        """Analyse one frame and publish it; outcomes go to the recorder of the check it came by."""
        started = time.perf_counter() if started is None else started
        vision = self.vision.get(camera)
        if vision is None:
            vision = self.vision[camera] = CameraVision(thresholds_for(self.config, camera))
        reference, previous = vision.state_for_pool()
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        generation = self._pool_generation
        try:
            m = await loop.run_in_executor(self._pool, measure, jpeg, reference, previous)
        except FrameError as exc:
            self._success.set([camera], 0, camera)
            recorder.target_failed(exc.reason, time.perf_counter() - started, target=camera)
            return None
        except BrokenProcessPool:
            recorder.failed(POOL_BROKEN, time.perf_counter() - started)
            if generation == self._pool_generation:
                log.error("the frame analysis pool broke (a worker died); starting a new one")
                old = self._pool
                self._new_pool()
                if old is not None:
                    old.shutdown(wait=False, cancel_futures=True)
            return None
        result = vision.judge(m, ts)
        self._analysis.observe([kind], time.perf_counter() - t0)
        recorder.succeeded(time.perf_counter() - started, target=camera)
        self._publish(camera, result)
        for problem in result.started:
            await self._keep_evidence(camera, problem, ts, jpeg)
        live = {
            "camera": camera,
            "time": ts,
            "values": {
                "brightness_ratio": result.brightness_ratio,
                "sharpness": result.sharpness,
                "occlusion_ratio": result.occlusion_ratio,
                "displacement_pixels": result.displacement_pixels,
                "unchanged_seconds": result.unchanged_seconds,
            },
            "problems": [p for p, on in result.problems.items() if on],
        }
        self._publish_result(live)
        return live

    def _publish(self, camera: str, r) -> None:
        self._success.set([camera], 1, camera)
        self._brightness.set([camera], r.brightness_ratio, camera)
        self._sharpness.set([camera], r.sharpness, camera)
        self._occlusion.set([camera], r.occlusion_ratio, camera)
        self._unchanged.set([camera], r.unchanged_seconds, camera)
        if r.displacement_pixels is None:
            self._displacement.remove([camera], camera)  # no reference yet, or cannot tell
        else:
            self._displacement.set([camera], r.displacement_pixels, camera)
        for problem in FRAME_PROBLEMS:
            self._problem.set([camera, problem], 1 if r.problems.get(problem) else 0, camera)

    async def _keep_evidence(self, camera: str, problem: str, ts: float, jpeg: bytes) -> None:
        try:
            kept = await self.evidence.put(camera, problem, ts, jpeg)
        except (EvidenceError, ValueError) as exc:
            reason = getattr(exc, "reason", "error")
            log.warning("evidence of %s/%s not kept (%s): %s", camera, problem, reason, exc)
            return
        self._evidence_time.set([camera, problem], kept.time, camera)
        log.info("camera %s: %s started; evidence kept as %s", camera, problem, kept.key)

    def status_lines(self) -> list[str]:
        problems = {cam for (cam, _), v in self._problem.samples() if v == 1}
        return [
            f"{len(self.vision)} cameras with frame checks, {len(problems)} showing a problem now "
            "(evidence frames: /evidence)."
        ]

    # -- commands for the web layer ---------------------------------------------------------------
    def cameras(self) -> list[str]:
        """Cameras with at least one analysed frame, sorted."""
        return sorted(self.vision)

    async def latest_evidence(self, camera: str) -> list[Evidence]:
        """The newest evidence frame of each problem of a camera; [] when none or unreadable."""
        try:
            return await self.evidence.latest(camera)
        except (EvidenceError, ValueError):
            return []

    async def open_evidence(self, key: str) -> bytes | None:
        """The JPEG stored under `key`, None when there is none; EvidenceError when the store fails."""
        return await self.evidence.open(key)

    def reset_reference(self, camera: str) -> bool:
        vision = self.vision.get(camera)
        if vision is None:
            return False
        vision.reset_reference()
        return True

    # -- frames pushed through Redis -------------------------------------------------------------
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        recorder = self._recorder(REDIS_CHECK)
        await consumer.start()
        async for frame in consumer.frames():
            try:
                if CAMERA_ID.fullmatch(frame.camera):
                    await self.analyse(frame.camera, frame.jpeg, frame.ts, "redis", recorder)
                else:
                    log.warning("redis frame with an unusable camera id skipped")
            except Exception:
                # one bad frame must not end the consumption; it is acked and not retried
                log.exception("analysis of a redis frame of %r crashed", frame.camera)
                recorder.failed(INTERNAL)
            await consumer.ack(frame)
            skipped = consumer.skipped_total
            if skipped != self._skipped_seen:
                self._skipped.inc(["redis"], skipped - self._skipped_seen)
                self._skipped_seen = skipped

    def _redis_outcome(self, reason: str | None) -> None:
        """The consumer read from Redis (None) or failed to, and why."""
        recorder = self._recorder(REDIS_CHECK)
        if reason is None:
            recorder.succeeded()
        else:
            recorder.failed(reason)

    async def _prune_loop(self) -> None:
        while True:
            try:
                removed = await self.evidence.prune(self.clock())
                if removed:
                    log.info("evidence: %d frame(s) past retention removed", removed)
            except EvidenceError as exc:
                log.warning("evidence prune failed (%s): %s", exc.reason, exc)
            await asyncio.sleep(PRUNE_EVERY)
