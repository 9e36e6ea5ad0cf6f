"""Per-check loops: each check runs on its own interval with jitter, never twice at once.

A check is an async callable that raises `CheckFailed` (with a reason) or any other exception when a run
fails. The scheduler times every run, keeps each check's latest status for the status page and the
readiness probe, and feeds the self-metrics (duration, up, last success). Scrapes only read that state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from exporter.metrics import ERROR_REASONS, Metrics

log = logging.getLogger("vigil.scheduler")

JITTER = (
    0.1  # each sleep is the interval +/- 10 %, so a fleet of exporters does not poll in lockstep
)


class CheckFailed(Exception):
    """A run failed for a known reason (one of metrics.ERROR_REASONS or a source's own)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


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
    last_ok: bool | None = None
    last_error: str | None = None  # reason only: messages may name hosts, never secrets


@dataclass
class _Job:
    status: CheckStatus
    func: Callable[[], Awaitable[None]]
    gates_readiness: bool
    task: asyncio.Task | None = None
    current: asyncio.Future | None = None
    first_done: asyncio.Event = field(default_factory=asyncio.Event)


class Scheduler:
    def __init__(
        self, metrics: Metrics, clock: Callable[[], float] = time.time, jitter: float = JITTER
    ) -> None:
        self._metrics = metrics
        self._clock = clock
        self._jitter = jitter
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._stopping = asyncio.Event()

    def add(
        self,
        source: str,
        check: str,
        interval: float,
        func: Callable[[], Awaitable[None]],
        *,
        instance: str = "",
        gates_readiness: bool = False,
        reasons: tuple[str, ...] = ERROR_REASONS,
    ) -> None:
        key = (source, check)
        if key in self._jobs:
            raise ValueError(f"check {source}/{check} added twice")
        status = CheckStatus(source, check, instance, interval)
        self._jobs[key] = _Job(status, func, gates_readiness)
        self._metrics.init_check(source, check, interval, reasons)

    def statuses(self) -> list[CheckStatus]:
        return [job.status for job in self._jobs.values()]

    @property
    def ready(self) -> bool:
        """True once every readiness-gating check has finished its first run, good or bad."""
        return all(j.first_done.is_set() for j in self._jobs.values() if j.gates_readiness)

    async def wait_ready(self) -> None:
        await asyncio.gather(
            *(j.first_done.wait() for j in self._jobs.values() if j.gates_readiness)
        )

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        for job in self._jobs.values():
            if job.task is None:
                name = f"check:{job.status.source}/{job.status.check}"
                job.task = asyncio.create_task(self._loop(job), name=name)

    async def run_now(self, source: str, check: str) -> bool:
        """Run a check now, or join the run already in flight (single flight). True on success."""
        job = self._jobs[(source, check)]
        return await self._run_single_flight(job)

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
        interval = job.status.interval
        while not self._stopping.is_set():
            started = time.monotonic()
            await self._run_single_flight(job)
            spread = interval * self._jitter
            delay = interval + random.uniform(-spread, spread) - (time.monotonic() - started)
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def _run_single_flight(self, job: _Job) -> bool:
        if job.current is not None and not job.current.done():
            return await asyncio.shield(job.current)
        job.current = asyncio.ensure_future(self._run_once(job))
        return await asyncio.shield(job.current)

    async def _run_once(self, job: _Job) -> bool:
        st = job.status
        st.running = True
        st.last_start = self._clock()
        t0 = time.monotonic()
        ok = False
        try:
            await job.func()
            ok = True
            st.last_error = None
        except asyncio.CancelledError:
            raise
        except CheckFailed as exc:
            st.last_error = exc.reason
            log.warning("%s/%s failed: %s: %s", st.source, st.check, exc.reason, exc)
        except Exception:
            st.last_error = "internal"
            log.exception("%s/%s crashed; it will run again next interval", st.source, st.check)
        finally:
            st.running = False
            st.runs += 1
            st.last_duration = time.monotonic() - t0
            job.first_done.set()
        st.last_ok = ok
        self._metrics.probe_duration.observe([st.source, st.check], st.last_duration)
        if ok:
            st.last_success = self._clock()
            self._metrics.source_last_success.set(
                [st.source, st.instance, st.check], st.last_success
            )
        self._update_up(st.source, st.instance)
        return ok

    def _update_up(self, source: str, instance: str) -> None:
        results = [
            j.status.last_ok
            for j in self._jobs.values()
            if j.status.source == source and j.status.last_ok is not None
        ]
        self._metrics.source_up.set([source, instance], 1 if all(results) else 0)
