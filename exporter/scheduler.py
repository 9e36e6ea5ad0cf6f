"""Runs the checks that have a `run` callable: each in its own loop, interval +/- 10 % jitter,
single flight, prompt shutdown. Outcomes go to the check's recorder (exporter/recorder.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass

from exporter.errors import INTERNAL, CheckFailed, TargetFailed
from exporter.recorder import CheckRecorder, CheckStatus, Recorder
from exporter.sources.contract import Check

log = logging.getLogger("vigil.scheduler")

JITTER = (
    0.1  # each sleep is the interval +/- 10 %, so a fleet of exporters does not poll in lockstep
)


@dataclass
class _Job:
    recorder: CheckRecorder
    check: Check
    task: asyncio.Task | None = None
    current: asyncio.Future | None = None


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
        except TargetFailed as exc:
            log.info("%s/%s: %s: %s", st.source, st.check, exc.reason, exc)
            rec.target_failed(exc.reason, time.monotonic() - t0, target=exc.target)
            return False
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
