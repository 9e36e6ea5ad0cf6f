"""Scheduler: intervals, single flight, failure accounting, readiness and prompt shutdown."""

from __future__ import annotations

import asyncio
import itertools
import time

from exporter.errors import CheckFailed
from exporter.metrics import PROBE_DURATION, SOURCE_LAST_SUCCESS, SOURCE_UP, Metrics
from exporter.recorder import Recorder
from exporter.scheduler import Scheduler
from exporter.sources.contract import Check


def scheduler_for(metrics: Metrics) -> Scheduler:
    return Scheduler(Recorder(metrics))


def add(sched: Scheduler, source: str, check: str, interval: float, run, **kw) -> None:
    sched.add(source, Check(check, interval, run, **kw))


async def test_runs_on_interval_and_never_overlaps():
    metrics = Metrics()
    sched = scheduler_for(metrics)
    running = 0
    overlaps = 0
    starts: list[float] = []

    async def slow_check():
        nonlocal running, overlaps
        running += 1
        overlaps = max(overlaps, running)
        starts.append(time.monotonic())
        await asyncio.sleep(0.05)
        running -= 1

    add(sched, "src", "chk", 0.1, slow_check)
    sched.start()
    await asyncio.sleep(0.05)
    # manual runs while the loop is running join the run in flight instead of starting another
    await asyncio.gather(*(sched.run_now("src", "chk") for _ in range(5)))
    await asyncio.sleep(0.5)
    await sched.stop()
    assert overlaps == 1
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 4
    assert all(g >= 0.04 for g in gaps)
    # a run cut short by stop() is not timed
    assert metrics.histogram(PROBE_DURATION).count(["src", "chk"]) in (len(starts) - 1, len(starts))


async def test_failures_set_up_to_zero_and_recovery_sets_it_back():
    metrics = Metrics()
    sched = scheduler_for(metrics)
    fail = True

    async def check():
        if fail:
            raise CheckFailed("timeout", "no answer")

    add(sched, "rt_api", "inventory", 60, check, instance="api")
    assert await sched.run_now("rt_api", "inventory") is False
    assert metrics.family(SOURCE_UP).get(["rt_api", "api"]) == 0
    assert metrics.family(SOURCE_LAST_SUCCESS).get(["rt_api", "api", "inventory"]) is None
    status = sched.statuses()[0]
    assert status.last_error == "timeout"
    fail = False
    assert await sched.run_now("rt_api", "inventory") is True
    assert metrics.family(SOURCE_UP).get(["rt_api", "api"]) == 1
    assert metrics.family(SOURCE_LAST_SUCCESS).get(["rt_api", "api", "inventory"]) > 0


async def test_a_crashing_check_is_contained():
    metrics = Metrics()
    sched = scheduler_for(metrics)

    async def broken():
        raise KeyError("surprise")

    add(sched, "src", "chk", 60, broken)
    assert await sched.run_now("src", "chk") is False
    assert sched.statuses()[0].last_error == "internal"


async def test_ready_after_first_run_good_or_bad():
    metrics = Metrics()
    sched = scheduler_for(metrics)
    gate = asyncio.Event()

    async def check():
        await gate.wait()
        raise CheckFailed("connection", "refused")

    add(sched, "src", "inventory", 60, check, gates_readiness=True)
    add(sched, "src", "other", 60, lambda: asyncio.sleep(0), gates_readiness=False)
    assert not sched.ready
    sched.start()
    await asyncio.sleep(0.05)
    assert not sched.ready
    gate.set()
    await asyncio.wait_for(sched.wait_ready(), 1)
    assert sched.ready
    await sched.stop()


async def test_stop_is_prompt_even_when_a_check_hangs():
    metrics = Metrics()
    sched = scheduler_for(metrics)

    async def hangs():
        await asyncio.sleep(3600)

    add(sched, "src", "chk", 1, hangs)
    sched.start()
    await asyncio.sleep(0.05)
    t0 = time.monotonic()
    await sched.stop(timeout=5)
    assert time.monotonic() - t0 < 1
