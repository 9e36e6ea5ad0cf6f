"""Refresh locks for Perforce stream sizes: overlap rules, refusal, background jobs, shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from exporter.sources.p4.locks import Busy, Job, RefreshLocks, Scope

ALL = Scope()
MAIN = Scope("p4-main")
EDGE = Scope("p4-edge")
MAIN_A = Scope("p4-main", "//depot/a")
MAIN_B = Scope("p4-main", "//depot/b")
EDGE_A = Scope("p4-edge", "//depot/a")

# (held, requested, conflicts)
CASES = [
    (ALL, ALL, True),
    (ALL, MAIN, True),
    (ALL, MAIN_A, True),
    (MAIN, ALL, True),
    (MAIN, MAIN, True),
    (MAIN, EDGE, False),
    (MAIN, MAIN_A, True),
    (MAIN, EDGE_A, False),
    (MAIN_A, ALL, True),
    (MAIN_A, MAIN, True),
    (MAIN_A, EDGE, False),
    (MAIN_A, MAIN_A, True),
    (MAIN_A, MAIN_B, False),
    (MAIN_A, EDGE_A, False),  # same stream name, other server
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.mark.parametrize(("held", "requested", "conflicts"), CASES)
def test_conflict_table(held: Scope, requested: Scope, conflicts: bool) -> None:
    locks = RefreshLocks()
    holder = locks.try_acquire(held)
    if conflicts:
        with pytest.raises(Busy) as info:
            locks.try_acquire(requested)
        assert info.value.holder is holder
        assert info.value.scope == requested
        assert held.describe() in str(info.value)
        assert locks.held() == [holder]
    else:
        other = locks.try_acquire(requested)
        assert locks.held() == [holder, other]
    # the rule is symmetric
    assert held.conflicts(requested) is conflicts
    assert requested.conflicts(held) is conflicts


def test_covers_and_describe() -> None:
    assert ALL.covers(MAIN) and ALL.covers(MAIN_A) and ALL.covers(ALL)
    assert MAIN.covers(MAIN_A) and not MAIN_A.covers(MAIN)
    assert not MAIN.covers(ALL) and not MAIN.covers(EDGE) and not MAIN.covers(EDGE_A)
    assert MAIN_A.covers(Scope("p4-main", "//depot/a")) and not MAIN_A.covers(MAIN_B)
    assert ALL.describe() == "all servers"
    assert MAIN.describe() == "server p4-main"
    assert Scope("p4-main", "//depot/main").describe() == "stream //depot/main on p4-main"
    with pytest.raises(ValueError):
        Scope(stream="//depot/a")
    with pytest.raises(ValueError):
        Scope("")


def test_release_frees_and_records() -> None:
    clock = FakeClock()
    locks = RefreshLocks(clock=clock)
    job = locks.try_acquire(MAIN)
    assert job.state == "running" and job.finished is None and len(job.id) == 12
    locks.release(job, detail={"streams": 12})
    assert job.state == "done" and job.detail == {"streams": 12} and job.finished > job.started
    assert locks.held() == []
    assert locks.job(job.id) is job
    again = locks.try_acquire(MAIN_A)
    locks.release(again, error="p4 login expired")
    assert again.state == "failed" and again.error == "p4 login expired"
    locks.release(again)  # releasing twice changes nothing
    assert again.state == "failed"
    assert job.public() == {
        "id": job.id,
        "scope": {"server": "p4-main", "stream": None, "describe": "server p4-main"},
        "state": "done",
        "started": job.started,
        "finished": job.finished,
        "error": None,
        "detail": {"streams": 12},
    }


def test_keeps_newest_finished_jobs() -> None:
    locks = RefreshLocks(keep_jobs=3)
    jobs = []
    for _ in range(5):
        job = locks.try_acquire(ALL)
        locks.release(job)
        jobs.append(job)
    assert [locks.job(j.id) for j in jobs] == [None, None, *jobs[2:]]
    assert locks.finished() == jobs[:1:-1]
    assert locks.job("nope") is None
    running = locks.try_acquire(ALL)
    assert locks.job(running.id) is running


def test_try_acquire_many_skips_busy() -> None:
    locks = RefreshLocks()
    holder = locks.try_acquire(MAIN_A)
    third = Scope("p4-third")
    acquired, busy = locks.try_acquire_many([MAIN, EDGE, third])
    assert [j.scope for j in acquired] == [EDGE, third]
    assert busy == [(MAIN, holder)]
    assert {j.scope for j in locks.held()} == {MAIN_A, EDGE, third}


async def test_start_runs_in_background_and_ends_done() -> None:
    locks = RefreshLocks()
    gate = asyncio.Event()
    seen: list[Job] = []

    async def work(job: Job) -> dict:
        seen.append(job)
        await gate.wait()
        return {"streams": 12}

    job = locks.start(MAIN, work)
    assert job.state == "running" and locks.held() == [job]
    with pytest.raises(Busy) as info:
        locks.start(MAIN_A, work)
    assert info.value.holder is job
    await asyncio.sleep(0)
    assert seen == [job]
    gate.set()
    await locks.wait_idle()
    assert job.state == "done" and job.detail == {"streams": 12} and job.error is None
    assert locks.held() == []
    assert locks.start(MAIN_A, work) is not job  # free again
    gate.set()
    await locks.wait_idle()


async def test_start_work_returning_none() -> None:
    locks = RefreshLocks()

    async def work(job: Job) -> None:
        return None

    job = locks.start(ALL, work)
    await locks.wait_idle()
    assert job.state == "done" and job.detail == {}


class LoginFailed(Exception):
    reason = "p4 login failed"


async def test_failure_reports_reason_never_exception_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    locks = RefreshLocks()
    secret = "P4PASSWD=hunter2"

    async def with_reason(job: Job) -> None:
        raise LoginFailed(f"p4 -P {secret} login")

    async def without_reason(job: Job) -> None:
        raise RuntimeError(f"ssl://p4-main:1666 {secret}")

    with caplog.at_level(logging.DEBUG):
        a = locks.start(MAIN, with_reason)
        b = locks.start(EDGE, without_reason)
        await locks.wait_idle()
    assert a.state == "failed" and a.error == "p4 login failed"
    assert b.state == "failed" and b.error == "RuntimeError"
    assert "p4 login failed" in caplog.text and "RuntimeError" in caplog.text
    assert secret not in caplog.text
    assert secret not in str(a.public()) + str(b.public())
    assert locks.held() == []


async def test_close_cancels_running_jobs() -> None:
    locks = RefreshLocks()
    cancelled = asyncio.Event()

    async def forever(job: Job) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    started = locks.start(MAIN, forever)
    await asyncio.sleep(0)
    never_ran = locks.start(EDGE, forever)  # cancelled before its first step
    manual = locks.try_acquire(Scope("p4-third"))
    await locks.close()
    assert cancelled.is_set()
    for job in (started, never_ran, manual):
        assert job.state == "failed" and job.error == "cancelled"
    assert locks.held() == []
    locks.start(ALL, forever)  # everything is free again
    await locks.close()


async def test_wait_idle_waits_for_manual_release() -> None:
    locks = RefreshLocks()
    await locks.wait_idle()  # nothing running: returns at once
    job = locks.try_acquire(MAIN)
    waiter = asyncio.create_task(locks.wait_idle())
    await asyncio.sleep(0)
    assert not waiter.done()
    locks.release(job)
    await asyncio.wait_for(waiter, 1)


async def test_concurrent_overlapping_starts_exactly_one_wins() -> None:
    locks = RefreshLocks()
    gate = asyncio.Event()

    async def work(job: Job) -> dict:
        await gate.wait()
        return {}

    scopes = [ALL, MAIN, MAIN_A, MAIN_B, MAIN, MAIN_A] * 20
    results: list[Job | Busy] = []

    async def request(scope: Scope) -> None:
        await asyncio.sleep(0)
        try:
            results.append(locks.start(scope, work))
        except Busy as exc:
            results.append(exc)

    await asyncio.gather(*(request(s) for s in scopes))
    winners = [r for r in results if isinstance(r, Job)]
    assert len(winners) == 1 and winners[0].scope == ALL
    assert all(r.holder is winners[0] for r in results if isinstance(r, Busy))
    assert locks.held() == winners
    gate.set()
    await locks.wait_idle()


async def test_concurrent_starts_on_one_server_keep_streams_apart() -> None:
    locks = RefreshLocks()
    gate = asyncio.Event()

    async def work(job: Job) -> None:
        await gate.wait()

    async def request(scope: Scope) -> Job | None:
        await asyncio.sleep(0)
        try:
            return locks.start(scope, work)
        except Busy:
            return None

    scopes = [MAIN_A, MAIN_B, MAIN_A, MAIN_B, MAIN, EDGE] * 10
    jobs = [j for j in await asyncio.gather(*(request(s) for s in scopes)) if j]
    assert sorted(j.scope.describe() for j in jobs) == sorted(
        s.describe() for s in (MAIN_A, MAIN_B, EDGE)
    )
    held = locks.held()
    assert not any(a.scope.conflicts(b.scope) for a in held for b in held if a is not b)
    gate.set()
    await locks.wait_idle()
