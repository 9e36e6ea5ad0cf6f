"""The one recorder of self-metrics: every check of every source reports its outcomes here.

Every check, whether the scheduler runs it on its interval or the source drives it (per-camera probes,
a stream consumer), reports to its `CheckRecorder`, which times it, counts its errors by reason,
advances its last success and keeps `vigil_source_up` for its source and instance. Three outcomes:

- `succeeded()`: the check ran and its machinery works;
- `target_failed(reason)`: the check ran, but one camera failed (a camera problem: counted, the
  source stays up);
- `failed(reason)`: the source's own machinery failed (its API, queue, pool or permissions): counted,
  and the source is down until a later run of the same check succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from exporter.errors import HTTP_REASONS, INTERNAL
from exporter.metrics import (
    CHECK_INTERVAL,
    PROBE_DURATION,
    PROBE_ERRORS,
    SOURCE_LAST_SUCCESS,
    SOURCE_UP,
    Metrics,
)

LAST_SUCCESS_RESOLUTION = 1.0  # seconds: /metrics' last success lags the real one by less

log = logging.getLogger("vigil.checks")


@dataclass(frozen=True)
class Check:
    """One check of a source: what it is called, how often it runs, and how it fails."""

    name: str
    interval: float
    run: Callable[[], Awaitable[None]] | None = None  # None: driven by the source itself
    instance: str = ""  # which of the source's systems it talks to (an API host, a server name)
    reasons: tuple[str, ...] = HTTP_REASONS  # created at 0 in vigil_probe_errors_total
    gates_readiness: bool = False  # /-/ready waits for its first run


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
        self._published = -math.inf  # the last success last written to /metrics
        self._down_since = 0.0  # when the current run of failures began

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
        if changed and not ok:
            self._down_since = self._recorder.clock()
        elif changed and st.last_ok is False:  # its failures were logged as warnings: say so
            down = self._recorder.clock() - self._down_since
            log.info("%s/%s recovered after %.0fs failing", st.source, st.check, down)
        st.last_ok = ok
        if ok:
            st.last_success = now = self._recorder.clock()
            # per-camera checks succeed thousands of times a cycle; formatting the line once a
            # second instead of every time halves their recording cost (bench/probes.py); a
            # recovery is always written at once
            since = now - self._published
            if changed or since >= LAST_SUCCESS_RESOLUTION or since < 0:
                self._published = now
                self._recorder.last_success.set(
                    [st.source, st.instance, st.check], now, partition=self._key
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
