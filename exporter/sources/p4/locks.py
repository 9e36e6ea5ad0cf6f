"""Non-blocking refresh locks for Perforce stream sizes.

A refresh covers all servers, one server or one stream. Two refreshes conflict when one's scope
covers the other's; a conflicting request is refused at once with :class:`Busy` (the HTTP layer
answers 409 with ``Busy.holder``), it never waits. Everything happens on one event loop and
there is no ``await`` between the overlap check and registering the job, so there is no race.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger("vigil.p4.locks")

RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Scope:
    """What an operation covers: all servers, one server, or one stream of one server."""

    server: str | None = None  # None = all servers
    stream: str | None = None  # None = the whole server (requires server)

    def __post_init__(self) -> None:
        if self.stream is not None and self.server is None:
            raise ValueError("a stream scope needs its server")
        if self.server == "" or self.stream == "":
            raise ValueError("server and stream must not be empty")

    def covers(self, other: Scope) -> bool:
        """All covers everything, a server covers its streams, equal scopes cover each other."""
        if self.server is None:
            return True
        if other.server != self.server:
            return False  # other is all servers, or another server
        return self.stream is None or self.stream == other.stream

    def conflicts(self, other: Scope) -> bool:
        return self.covers(other) or other.covers(self)

    def describe(self) -> str:
        if self.server is None:
            return "all servers"
        if self.stream is None:
            return f"server {self.server}"
        return f"stream {self.stream} on {self.server}"

    def public(self) -> dict:
        return {"server": self.server, "stream": self.stream, "describe": self.describe()}


@dataclass
class Job:
    id: str
    scope: Scope
    state: str  # "running" | "done" | "failed"
    started: float
    finished: float | None = None
    error: str | None = None  # reason only, never a secret
    detail: dict = field(default_factory=dict)

    def public(self) -> dict:
        return {
            "id": self.id,
            "scope": self.scope.public(),
            "state": self.state,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "detail": dict(self.detail),
        }


class Busy(Exception):
    """Refused: ``holder`` is the running job whose scope overlaps the requested ``scope``."""

    def __init__(self, holder: Job, scope: Scope | None = None) -> None:
        self.holder = holder
        self.scope = scope
        super().__init__(f"{holder.scope.describe()} is being refreshed (job {holder.id})")


def failure_reason(exc: BaseException) -> str:
    """A safe reason for a failure: the exception's ``.reason`` string, else its class name.

    Never the exception text, which may carry a URL, a command line or a password.
    """
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    return type(exc).__name__


class RefreshLocks:
    def __init__(self, keep_jobs: int = 200, clock: Callable[[], float] = time.time) -> None:
        if keep_jobs < 0:
            raise ValueError("keep_jobs must be >= 0")
        self.keep_jobs = keep_jobs
        self._clock = clock
        self._running: dict[str, Job] = {}  # insertion order = start order
        self._finished: OrderedDict[str, Job] = OrderedDict()
        self._tasks: dict[str, asyncio.Task] = {}
        self._idle_waiters: list[asyncio.Future] = []

    # -- locking -------------------------------------------------------------------------------

    def holder(self, scope: Scope) -> Job | None:
        """The oldest running job whose scope overlaps ``scope``, if any."""
        for job in self._running.values():
            if job.scope.conflicts(scope):
                return job
        return None

    def try_acquire(self, scope: Scope) -> Job:
        """Register a running job for ``scope``, or raise :class:`Busy` with the holder."""
        holder = self.holder(scope)
        if holder is not None:
            raise Busy(holder, scope)
        job = Job(id=self._new_id(), scope=scope, state=RUNNING, started=self._clock())
        self._running[job.id] = job
        return job

    def try_acquire_many(
        self, scopes: Iterable[Scope]
    ) -> tuple[list[Job], list[tuple[Scope, Job]]]:
        """Acquire what is free; return (acquired jobs, [(busy scope, holder)]).

        Scopes are taken in order, so overlapping scopes in the same call collide with each other
        (the later one is reported busy, held by the earlier one's job).
        """
        acquired: list[Job] = []
        busy: list[tuple[Scope, Job]] = []
        for scope in scopes:
            try:
                acquired.append(self.try_acquire(scope))
            except Busy as exc:
                busy.append((scope, exc.holder))
        return acquired, busy

    def release(self, job: Job, error: str | None = None, detail: dict | None = None) -> None:
        """Finish ``job``: failed if ``error`` is given, else done. Releasing twice is a no-op."""
        if self._running.get(job.id) is not job:
            return
        del self._running[job.id]
        job.state = FAILED if error is not None else DONE
        job.error = error
        job.finished = self._clock()
        if detail is not None:
            job.detail = dict(detail)
        self._finished[job.id] = job
        while len(self._finished) > self.keep_jobs:
            self._finished.popitem(last=False)
        if not self._running:
            waiters, self._idle_waiters = self._idle_waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    # -- background jobs -----------------------------------------------------------------------

    def start(self, scope: Scope, work: Callable[[Job], Awaitable[dict | None]]) -> Job:
        """Acquire ``scope`` (or raise :class:`Busy`) and run ``work(job)`` in the background.

        Returns the running job at once. ``work`` returning ends the job done with its dict as
        detail; raising ends it failed with :func:`failure_reason` of the exception.
        """
        loop = asyncio.get_running_loop()  # fail before acquiring when there is no loop
        job = self.try_acquire(scope)
        task = loop.create_task(self._run(job, work), name=f"p4-refresh-{job.id}")
        self._tasks[job.id] = task
        task.add_done_callback(lambda _t, job=job: self._task_done(job))
        return job

    async def _run(self, job: Job, work: Callable[[Job], Awaitable[dict | None]]) -> None:
        try:
            detail = await work(job)
        except asyncio.CancelledError:
            self.release(job, error=CANCELLED)
            raise
        except Exception as exc:
            reason = failure_reason(exc)
            log.warning("p4 refresh of %s failed: %s", job.scope.describe(), reason)
            self.release(job, error=reason)
        else:
            self.release(job, detail=detail)

    def _task_done(self, job: Job) -> None:
        self._tasks.pop(job.id, None)
        # a task cancelled before it ever ran never reaches _run's handlers
        self.release(job, error=CANCELLED)

    # -- inspection ----------------------------------------------------------------------------

    def held(self) -> list[Job]:
        """Running jobs, oldest first."""
        return list(self._running.values())

    def job(self, id: str) -> Job | None:
        """A running job or one of the newest ``keep_jobs`` finished ones."""
        return self._running.get(id) or self._finished.get(id)

    def finished(self) -> list[Job]:
        """Kept finished jobs, newest first."""
        return list(reversed(self._finished.values()))

    async def wait_idle(self) -> None:
        """Until no job runs (including jobs acquired with try_acquire and not yet released)."""
        while self._running:
            fut = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(fut)
            await fut

    async def close(self) -> None:
        """Cancel background jobs and release every running job as failed("cancelled")."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for job in list(self._running.values()):
            self.release(job, error=CANCELLED)

    def _new_id(self) -> str:
        while True:
            id = uuid.uuid4().hex[:12]
            if id not in self._running and id not in self._finished:
                return id
