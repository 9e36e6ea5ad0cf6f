"""Running checks and recording what they did.

`Recorder` is the one place where self-metrics are written: every check of every source, whether the
scheduler runs it on its interval or the source drives it (per-camera probes, a stream consumer),
reports its outcomes to its `CheckRecorder`, which times it, counts its errors by reason, advances its
last success and keeps `vigil_source_up` for its source and instance. Three outcomes:

- `succeeded()`: the check ran and its machinery works;
- `target_failed(reason)`: the check ran, but one camera failed (a camera problem: counted, the
  source stays up);
- `failed(reason)`: the source's own machinery failed (its API, queue, pool or permissions): counted,
  and the source is down until a later run of the same check succeeds.

`Scheduler` runs the checks that have a `run` callable: interval +/- 10 % jitter, single flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from exporter.errors import INTERNAL, CheckFailed
from exporter.metrics import (
    CHECK_INTERVAL,
    PROBE_DURATION,
    PROBE_ERRORS,
    SOURCE_LAST_SUCCESS,
    SOURCE_UP,
    Metrics,
)
from exporter.sources.contract import Check

log = logging.getLogger("vigil.scheduler")

JITTER = (
    0.1  # each sleep is the interval +/- 10 %, so a fleet of exporters does not poll in lockstep
)


@dataclass
class CheckStatus:
    source: str
    check: str
    instance: str
    interval: float
    runs: int = 0
    running: bool = False
    last_start: float | None = None
    last_duration: float | None = None
    last_success: float | None = None
    last_ok: bool | None = None  # the machinery's latest outcome; None before the first run
    last_error: str | None = None  # reason of the latest failure of any kind; never a message
    last_error_at: float | None = None
    last_error_target: bool = False  # True when that failure was one camera's, not the source's
    targets_failing: int = 0  # checks driven per camera: how many cameras failed their latest run


class CheckRecorder:
    """Self-metrics and status of one check; see the module docstring for the three outcomes."""

    def __init__(self, recorder: Recorder, status: CheckStatus) -> None:
        self._recorder = recorder
        self.status = status
        self.first_done = asyncio.Event()
        self._failing: set[str] = set()
        self._key = f"{status.source}/{status.check}"  # its series' partition

    def started(self) -> None:
        self.status.running = True
        self.status.last_start = self._recorder.clock()

    def succeeded(self, duration: float | None = None, *, target: str | None = None) -> None:
        if target is not None and target in self._failing:
            self._failing.discard(target)
            self.status.targets_failing = len(self._failing)
        self._finish(True, duration)

    def target_failed(self, reason: str, duration: float | None = None, *, target: str) -> None:
        self.count(reason)
        self._failing.add(target)
        self.status.targets_failing = len(self._failing)
        self._note_error(reason, target=True)
        self._finish(True, duration)

    def failed(self, reason: str, duration: float | None = None, *, counted: bool = False) -> None:
        if not counted:
            self.count(reason)
        self._note_error(reason, target=False)
        self._finish(False, duration)

    def forget_target(self, target: str) -> None:
        """A camera is no longer checked: it no longer counts as failing."""
        self._failing.discard(target)
        self.status.targets_failing = len(self._failing)

    def count(self, reason: str, n: int = 1) -> None:
        """Count failed attempts (retries, skipped records) without changing the check's state."""
        st = self.status
        self._recorder.errors.inc([st.source, st.check, reason], n)

    def _note_error(self, reason: str, *, target: bool) -> None:
        st = self.status
        st.last_error = reason
        st.last_error_at = self._recorder.clock()
        st.last_error_target = target

    def _finish(self, ok: bool, duration: float | None) -> None:
        st = self.status
        st.running = False
        st.runs += 1
        if duration is not None:
            st.last_duration = duration
            self._recorder.duration.observe([st.source, st.check], duration)
        changed = st.last_ok is not ok
        st.last_ok = ok
        if ok:
            st.last_success = self._recorder.clock()
            self._recorder.last_success.set(
                [st.source, st.instance, st.check], st.last_success, partition=self._key
            )
        self.first_done.set()
        if changed:
            self._recorder.update_up(st.source, st.instance)


class Recorder:
    """Every check's status and self-metrics; the status page and /-/ready read it."""

    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.up = metrics.family(SOURCE_UP)
        self.last_success = metrics.family(SOURCE_LAST_SUCCESS)
        self.interval = metrics.family(CHECK_INTERVAL)
        self.errors = metrics.family(PROBE_ERRORS)
        self.duration = metrics.histogram(PROBE_DURATION)
        self._checks: dict[tuple[str, str], CheckRecorder] = {}
        self._gates: list[CheckRecorder] = []

    def add(self, source: str, check: Check) -> CheckRecorder:
        key = (source, check.name)
        if key in self._checks:
            raise ValueError(f"check {source}/{check.name} added twice")
        recorder = CheckRecorder(
            self, CheckStatus(source, check.name, check.instance, check.interval)
        )
        self._checks[key] = recorder
        if check.gates_readiness:
            self._gates.append(recorder)
        # created up front so rate() and absent() work before the first run and the first error
        self.interval.set([source, check.name], check.interval)
        self.duration.touch([source, check.name])
        # partitions in registration order: /metrics lists checks in a stable order
        self.last_success.replace([], recorder._key)
        self.up.replace([], f"{source}/{check.instance}")
        for reason in (*check.reasons, INTERNAL):
            if self.errors.get([source, check.name, reason]) is None:
                self.errors.set([source, check.name, reason], 0)
        return recorder

    def get(self, source: str, check: str) -> CheckRecorder:
        return self._checks[(source, check)]

    def statuses(self) -> list[CheckStatus]:
        return [r.status for r in self._checks.values()]

    def update_up(self, source: str, instance: str) -> None:
        results = [
            r.status.last_ok
            for r in self._checks.values()
            if r.status.source == source
            and r.status.instance == instance
            and r.status.last_ok is not None
        ]
        self.up.set([source, instance], 1 if all(results) else 0, partition=f"{source}/{instance}")

    @property
    def ready(self) -> bool:
        """True once every readiness-gating check has finished its first run, good or bad."""
        return all(r.first_done.is_set() for r in self._gates)

    async def wait_ready(self) -> None:
        await asyncio.gather(*(r.first_done.wait() for r in self._gates))


@dataclass
class _Job:
    recorder: CheckRecorder
    check: Check
    task: asyncio.Task | None = None
    current: asyncio.Future | None = None
    done: list[bool] = field(default_factory=list)


class Scheduler:
    """Runs the checks that have a `run` callable, each in its own loop."""

    def __init__(self, recorder: Recorder, jitter: float = JITTER) -> None:
        self.recorder = recorder
        self._jitter = jitter
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._stopping = asyncio.Event()

    def add(self, source: str, check: Check) -> CheckRecorder:
        if check.run is None:
            raise ValueError(f"check {source}/{check.name} has nothing to run")
        recorder = self.recorder.add(source, check)
        self._jobs[(source, check.name)] = _Job(recorder, check)
        return recorder

    # the recorder's view, for callers that hold the scheduler
    def statuses(self) -> list[CheckStatus]:
        return self.recorder.statuses()

    @property
    def ready(self) -> bool:
        return self.recorder.ready

    async def wait_ready(self) -> None:
        await self.recorder.wait_ready()

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        for (source, name), job in self._jobs.items():
            if job.task is None:
                job.task = asyncio.create_task(self._loop(job), name=f"check:{source}/{name}")

    async def run_now(self, source: str, check: str) -> bool:
        """Run a check now, or join the run already in flight (single flight). True on success."""
        return await self._run_single_flight(self._jobs[(source, check)])

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        tasks = [j.task for j in self._jobs.values() if j.task is not None]
        tasks += [j.current for j in self._jobs.values() if j.current and not j.current.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.warning("a check did not stop within %.0fs: %r", timeout, task)

    async def _loop(self, job: _Job) -> None:
        interval = job.check.interval
        while not self._stopping.is_set():
            started = time.monotonic()
            await self._run_single_flight(job)
            spread = interval * self._jitter
            delay = interval + random.uniform(-spread, spread) - (time.monotonic() - started)
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def _run_single_flight(self, job: _Job) -> bool:
        if job.current is None or job.current.done():
            job.current = asyncio.ensure_future(self._run_once(job))
        return await asyncio.shield(job.current)

    async def _run_once(self, job: _Job) -> bool:
        rec, st = job.recorder, job.recorder.status
        rec.started()
        t0 = time.monotonic()
        try:
            await job.check.run()
        except asyncio.CancelledError:
            st.running = False
            raise
        except CheckFailed as exc:
            log.warning("%s/%s failed: %s: %s", st.source, st.check, exc.reason, exc)
            rec.failed(exc.reason, time.monotonic() - t0, counted=exc.counted)
            return False
        except Exception:
            log.exception("%s/%s crashed; it will run again next interval", st.source, st.check)
            rec.failed(INTERNAL, time.monotonic() - t0)
            return False
        rec.succeeded(time.monotonic() - t0)
        return True
