"""Archive analysis benchmark: a synthetic 10,000-camera fleet through exporter.analysis.archive.

    .venv/bin/python bench/archive.py [--cameras 10000] [--fragments 300] [--baseline-cameras 500]

The fleet is generated with NumPy from a fixed seed: each camera has up to 90 days of archive in
about `--fragments` fragments (half to one and a half times that) with random short drops, a few
long outages, exact duplicates, overlaps, invalid fragments and an ongoing fragment reaching past
now; about 2 % of the cameras have no archive, some started recording later or stopped hours ago.
The windows are the exporter's: rolling 1d/7d/30d/90d plus 90 calendar days and today in
Europe/Moscow. `analyse` is timed on the whole fleet (best of 3), once with the fragments in API
order (sorted by start) and once shuffled within each camera. The baseline is the straightforward
Python code (per camera: sort, merge in a loop, then per window loop over the merged segments, the
gaps and the fragments); it runs on a subset of the cameras and is scaled linearly to the fleet,
and its figures must equal analyse's for those cameras. Then the real RT source polls the archive of
a `vigil simulate` fleet of the same size over loopback HTTP: one full cycle (90 days per camera) and
one incremental cycle (tail plus head re-check). Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
import tracemalloc
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import free_port, peak_rss_mb, print_table  # noqa: E402

from exporter.analysis.archive import (  # noqa: E402
    DAY,
    ArchiveStats,
    FleetArchive,
    Window,
    analyse,
    calendar_days,
    rolling_windows,
)

GOAL_FLEET_S = 2.0
GOAL_SPEEDUP = 20.0
GAP_THRESHOLD = 60
TZ = ZoneInfo("Europe/Moscow")
NOW = int(datetime(2026, 11, 20, 13, 37, 11, tzinfo=TZ).timestamp())
SEED = 20261120
HOUR = 3600


def synthetic_fleet(cameras: int, fragments: int, now: int) -> FleetArchive:
    """A deterministic fleet, fragments sorted by start within each camera (as the API lists them)."""
    rng = np.random.default_rng(SEED)
    count = rng.integers(max(fragments // 2, 1), fragments * 3 // 2 + 1, cameras)
    count[rng.random(cameras) < 0.02] = 0  # no archive at all
    begin = np.full(cameras, now - 90 * DAY)
    late = rng.random(cameras) < 0.10  # installed later
    begin[late] += rng.integers(HOUR, 60 * DAY, late.sum())
    end = np.full(cameras, now + 30)  # the ongoing fragment reaches a little past now
    stopped = rng.random(cameras) < 0.03  # stopped recording hours or days ago
    end[stopped] = now - rng.integers(HOUR, 3 * DAY, stopped.sum())

    # cut [begin, end) of every camera at count - 1 random points: fragment j runs to cut j + 1
    cam = np.repeat(np.arange(cameras), count)
    n = len(cam)
    first = np.zeros(cameras + 1, dtype=np.int64)
    np.cumsum(count, out=first[1:])
    u = rng.random(n)
    u[first[:-1][count > 0]] = 0.0  # every camera's first fragment starts at its begin
    u = np.sort(u + cam) - cam  # sorted within each camera
    since = begin[cam] + (u * (end - begin)[cam]).astype(np.int64)
    till = np.empty(n, dtype=np.int64)
    till[:-1] = since[1:]
    last = first[1:][count > 0] - 1
    till[last] = end[count > 0]

    # recording drops at the end of fragments: most touch the next one
    kind = rng.random(n)
    drop = np.zeros(n, dtype=np.int64)
    short = kind < 0.20
    drop[short] = rng.integers(1, 60, short.sum())  # under the gap threshold
    medium = (kind >= 0.20) & (kind < 0.30)
    drop[medium] = rng.integers(60, 900, medium.sum())
    drop[last] = 0
    till -= np.minimum(drop, np.maximum(till - since - 1, 0))
    overlap = rng.random(n) < 0.02  # overlapping neighbours
    till[overlap] += rng.integers(1, 120, overlap.sum())
    invalid = rng.random(n) < 0.005  # zero or negative length
    till[invalid] = since[invalid] - rng.integers(0, 10, invalid.sum())

    # a few long outages per camera: the next 1 to 8 fragments (hours to days) are missing
    keep = np.ones(n, dtype=bool)
    outage = np.flatnonzero(rng.random(n) < 0.005)
    missing = rng.integers(1, 9, len(outage))
    for k in range(1, 9):
        gone = outage[missing >= k] + k
        gone = gone[gone < n]
        keep[gone[cam[gone] == cam[gone - k]]] = False
    cam, since, till = cam[keep], since[keep], till[keep]
    n = len(cam)

    dup = np.flatnonzero(rng.random(n) < 0.02)  # exact duplicates
    cam = np.concatenate([cam, cam[dup]])
    since = np.concatenate([since, since[dup]])
    till = np.concatenate([till, till[dup]])
    order = np.lexsort((since, cam))
    offsets = np.zeros(cameras + 1, dtype=np.int64)
    np.cumsum(np.bincount(cam, minlength=cameras), out=offsets[1:])
    return FleetArchive(offsets, since[order], till[order])


def shuffled(archive: FleetArchive) -> FleetArchive:
    """The same fleet with every camera's fragments in random order."""
    rng = np.random.default_rng(SEED + 1)
    cam = np.repeat(np.arange(archive.n_cameras), np.diff(archive.offsets))
    order = np.argsort(cam + rng.random(len(cam)), kind="stable")
    return FleetArchive(archive.offsets, archive.since[order], archive.till[order])


def analyse_peak_mb(archive: FleetArchive, now: int, windows: list[Window]) -> float:
    """The most memory `analyse` holds at once beyond its input (NumPy reports to tracemalloc)."""
    tracemalloc.start()
    try:
        analyse(archive, now, windows, GAP_THRESHOLD)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def baseline_camera(
    since: list[int], till: list[int], now: int, windows: list[Window], gap_threshold: int
) -> tuple[list[list[float]], int, float]:
    """The straightforward per-camera Python code: figures per window, depth, last end."""
    frags = sorted({(s, min(t, now)) for s, t in zip(since, till, strict=True) if min(t, now) > s})
    merged: list[list[int]] = []
    for s, t in frags:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], t)
        else:
            merged.append([s, t])
    if not merged:
        return [[0, 0.0, 0, 0, 0] for _ in windows], 0, math.nan
    gaps = []
    for i, (_, end) in enumerate(merged):
        nxt = merged[i + 1][0] if i + 1 < len(merged) else now
        if nxt - end > gap_threshold:
            gaps.append((end, nxt))
    rows = []
    for w in windows:
        a, b = w.start, w.end
        if b <= a:
            rows.append([0, 0.0, 0, 0, 0])
            continue
        recorded = 0
        for s, e in merged:
            if e <= a:
                continue
            if s >= b:
                break
            recorded += min(e, b) - max(s, a)
        count = longest = 0
        for s, e in gaps:
            if e <= a:
                continue
            if s >= b:
                break
            count += 1
            longest = max(longest, min(e, b) - max(s, a))
        n_frags = 0
        for s, t in frags:
            if s >= b:
                break
            if t > a:
                n_frags += 1
        rows.append([recorded, recorded / (b - a), count, longest, n_frags])
    return rows, now - merged[0][0], float(merged[-1][1])


def baseline(
    archive: FleetArchive, cameras: range, now: int, windows: list[Window], gap_threshold: int
) -> list[tuple[list[list[float]], int, float]]:
    rows = slice(0, int(archive.offsets[cameras.stop]))  # the subset only: Python ints are big
    since, till, offsets = (
        archive.since[rows].tolist(),
        archive.till[rows].tolist(),
        archive.offsets.tolist(),
    )
    return [
        baseline_camera(
            since[offsets[c] : offsets[c + 1]],
            till[offsets[c] : offsets[c + 1]],
            now,
            windows,
            gap_threshold,
        )
        for c in cameras
    ]


def agrees(stats: ArchiveStats, cameras: range, expected) -> bool:
    for c, (rows, depth, last_end) in zip(cameras, expected, strict=True):
        got = np.stack(
            [
                stats.recorded_seconds[c],
                stats.coverage_ratio[c],
                stats.gaps[c],
                stats.longest_gap_seconds[c],
                stats.fragments[c],
            ],
            axis=1,
        )
        if not np.array_equal(got, np.array(rows, dtype=np.float64).reshape(got.shape)):
            return False
        if stats.depth_seconds[c] != depth:
            return False
        if not (
            stats.last_end[c] == last_end or (math.isnan(last_end) and np.isnan(stats.last_end[c]))
        ):
            return False
    return True


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def run_analysis_bench(
    cameras: int, fragments: int, baseline_cameras: int = 500
) -> tuple[list[tuple[str, str, str, str]], bool]:
    """Time `analyse` on the whole fleet against the Python baseline; (table rows, goals met)."""
    now = NOW
    windows = rolling_windows(now) + calendar_days(now, TZ, 91)
    t0 = time.perf_counter()
    archive = synthetic_fleet(cameras, fragments, now)
    mixed = shuffled(archive)
    build = time.perf_counter() - t0

    fleet_s, stats = best_of(lambda: analyse(archive, now, windows, GAP_THRESHOLD))
    shuffled_s, stats_shuffled = best_of(lambda: analyse(mixed, now, windows, GAP_THRESHOLD))
    analyse_mb = analyse_peak_mb(archive, now, windows)

    subset = range(min(baseline_cameras, cameras))
    t0 = time.perf_counter()
    expected = baseline(archive, subset, now, windows, GAP_THRESHOLD)
    base_subset_s = time.perf_counter() - t0
    base_fleet_s = base_subset_s * cameras / max(len(subset), 1)
    same = agrees(stats, subset, expected) and agrees(stats_shuffled, subset, expected)
    speedup = base_fleet_s / fleet_s
    rss = peak_rss_mb()

    n_frag = len(archive.since)
    has = int((stats.depth_seconds > 0).sum())
    rows = [
        ("cameras (with archive)", f"{cameras} ({has})", "", ""),
        ("fragments", f"{n_frag}", "", f"{n_frag / max(cameras, 1):.0f} per camera"),
        ("windows (4 rolling + 91 days)", f"{len(windows)}", "", ""),
        ("synthetic fleets built", f"{build:.1f} s", "", "not timed below"),
        (
            "analyse whole fleet, API order (best of 3)",
            f"{fleet_s * 1000:.0f} ms",
            f"< {GOAL_FLEET_S:.0f} s",
            f"{GOAL_FLEET_S / fleet_s:.1f}x under goal",
        ),
        ("analyse whole fleet, shuffled (best of 3)", f"{shuffled_s * 1000:.0f} ms", "", ""),
        (
            f"baseline: Python loops, {len(subset)} cameras",
            f"{base_subset_s:.2f} s",
            "",
            f"{base_subset_s / max(len(subset), 1) * 1000:.1f} ms per camera",
        ),
        (
            "baseline scaled linearly to the fleet",
            f"{base_fleet_s:.1f} s",
            "",
            f"x {cameras}/{len(subset)}",
        ),
        (
            "speed-up over the baseline",
            f"{speedup:.0f}x",
            f">= {GOAL_SPEEDUP:.0f}x",
            f"{speedup / GOAL_SPEEDUP:.1f}x the goal",
        ),
        (
            f"figures equal to the baseline ({len(subset)} cameras)",
            "yes" if same else "NO",
            "yes",
            "",
        ),
        ("analyse peak allocation (tracemalloc)", f"{analyse_mb:.0f} MB", "", "beyond its input"),
        ("peak RSS (this process)", f"{rss:.0f} MB", "", "incl. fleet generation, baseline"),
    ]
    ok = fleet_s < GOAL_FLEET_S and speedup >= GOAL_SPEEDUP and same
    return rows, ok


GOAL_INCREMENTAL_S = 60.0
FETCH_API_KEY = "bench-archive-key-0123"


async def _fetch_cycles(cameras: int) -> tuple[list[tuple[str, str, str, str]], bool]:
    """A full and an incremental archive poll of the real RT source against `vigil simulate`."""
    import asyncio
    import os
    import signal
    import subprocess

    import aiohttp

    from exporter.config import parse_config
    from exporter.service import compose

    port = free_port()
    sim = subprocess.Popen(
        [
            sys.executable, "-m", "exporter", "simulate", "--cameras", str(cameras),
            "--listen", f"127.0.0.1:{port}", "--log-level", "warning",
        ],
        env={**os.environ, "VIGIL_SIM_API_KEY": FETCH_API_KEY},
        cwd=ROOT,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        config = parse_config(
            f'rt_api:\n  url: "http://127.0.0.1:{port}/api"\n  api_key: "${{K}}"\n'
            "  timeout: 120s\n  page_size: 1000\n",
            env={"K": FETCH_API_KEY},
        )
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
            # built as `vigil run` builds it; its checks are registered but not scheduled
            source = compose(config, session, only={"rt_api"}).sources["rt_api"]
            await source.poll_inventory()
            timings = []
            for _ in ("full", "incremental"):
                cpu0 = resource.getrusage(resource.RUSAGE_SELF)
                t0 = time.perf_counter()
                await source.poll_archive()
                wall = time.perf_counter() - t0
                cpu1 = resource.getrusage(resource.RUSAGE_SELF)
                cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
                timings.append((wall, cpu))
            fragments = sum(len(e.since) for e in source.archives.values())
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
    (full_wall, full_cpu), (inc_wall, inc_cpu) = timings
    ok = inc_wall < GOAL_INCREMENTAL_S
    rows = [
        ("fetch: cameras / fragments cached", f"{cameras} / {fragments}", "", ""),
        ("fetch: full cycle (90 days), wall", f"{full_wall:.1f} s", "", f"CPU {full_cpu:.1f} s"),
        (
            "fetch: incremental cycle, wall",
            f"{inc_wall:.1f} s",
            f"< {GOAL_INCREMENTAL_S:.0f} s",
            f"CPU {inc_cpu:.1f} s",
        ),
        ("peak RSS after fetch cycles", f"{peak_rss_mb():.0f} MB", "", "incl. the analysis bench"),
    ]
    return rows, ok


def main() -> int:
    import asyncio

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--fragments", type=int, default=300)
    parser.add_argument("--baseline-cameras", type=int, default=500)
    parser.add_argument(
        "--no-fetch", action="store_true", help="skip the fetch cycles against the simulator"
    )
    args = parser.parse_args()
    rows, ok = run_analysis_bench(args.cameras, args.fragments, args.baseline_cameras)
    if not args.no_fetch:
        fetch_rows, fetch_ok = asyncio.run(_fetch_cycles(args.cameras))
        rows += fetch_rows
        ok = ok and fetch_ok
    print_table(rows)
    print("all goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
