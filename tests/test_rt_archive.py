"""Archive integrity end to end: simulator fragments -> exporter cache -> analysis -> /metrics."""

from __future__ import annotations

import numpy as np
import pytest
from aiohttp import web

from exporter.analysis.archive import FleetArchive, analyse
from exporter.sources.rt_api.archive import (
    CameraArchive,
    head_till,
    live_windows,
    merge_fetch,
    tail_since,
)
from tests.conftest import (
    START,
    FakeClock,
    running_exporter,
    scrape,
    serve_app,
    simulator,
    value,
)

WINDOWS = {"1d", "7d", "30d", "90d", "yesterday", "today"}
T0 = START + 2 * 86400 + 12345  # two days into the simulated fleet's life


def archive_samples(m) -> dict:
    """{(family, camera, window): value} for every archive series in a scrape."""
    out = {}
    for name, rows in m.items():
        if name.startswith("vigil_camera_archive_") and name != (
            "vigil_camera_archive_updated_timestamp_seconds"
        ):
            for labels, v in rows:
                out[(name, labels["camera"], labels.get("window"))] = v
    return out


def expected_stats(fleet, uids, now, tz):
    per_camera = []
    for uid in uids:
        frags = fleet.fragments(uid, now - 90 * 86400, now, now)
        per_camera.append(
            (
                np.array([f["since"] for f in frags], dtype=np.int64),
                np.array([f["till"] for f in frags], dtype=np.int64),
            )
        )
    windows = live_windows(int(now), tz, 90)
    return analyse(FleetArchive.from_lists(per_camera), int(now), windows, 60), windows


async def test_every_camera_gets_its_figures_and_they_match_the_analysis(http, monkeypatch):
    # small analysis batches, so the figures prove that batching maps every row to its camera
    monkeypatch.setattr("exporter.sources.rt_api.source.ANALYSIS_BATCH", 7)
    clock = FakeClock(T0)
    async with (
        simulator(clock=clock) as sim,
        running_exporter(sim.api_url, clock=clock) as exporter,
    ):
        await exporter.scheduler.wait_ready()
        assert await exporter.scheduler.run_now("rt_api", "archive")
        m = await scrape(http, exporter.url)
        truth = sim.truth()
        uids = [labels["camera"] for labels, _ in m["vigil_camera_info"]]
        stats, windows = expected_stats(sim.fleet, uids, clock.now, exporter.config.tz)

    cover = {
        (lab["camera"], lab["window"]): v for lab, v in m["vigil_camera_archive_coverage_ratio"]
    }
    assert {w for _, w in cover} == WINDOWS
    assert len(cover) == len(uids) * len(WINDOWS)  # every camera, none absent
    assert all(0 <= v <= 1 for v in cover.values())

    families = {
        "vigil_camera_archive_coverage_ratio": stats.coverage_ratio,
        "vigil_camera_archive_recorded_seconds": stats.recorded_seconds,
        "vigil_camera_archive_gaps": stats.gaps,
        "vigil_camera_archive_longest_gap_seconds": stats.longest_gap_seconds,
        "vigil_camera_archive_fragments": stats.fragments,
    }
    for name, expected in families.items():
        for row, uid in enumerate(uids):
            for col, w in enumerate(windows):
                got = value(m, name, camera=uid, window=w.name)
                assert got == pytest.approx(float(expected[row, col])), (name, uid, w.name)

    # what joins the finished days into exact periods: for "yesterday" only, three series a camera
    col = [w.name for w in windows].index("yesterday")
    for name, expected in {
        "vigil_camera_archive_fragments_started": stats.fragments_started,
        "vigil_camera_archive_gap_at_start_seconds": stats.gap_at_start_seconds,
        "vigil_camera_archive_gap_at_end_seconds": stats.gap_at_end_seconds,
    }.items():
        assert {lab["window"] for lab, _ in m[name]} == {"yesterday"}, name
        assert len(m[name]) == len(uids), name
        for row, uid in enumerate(uids):
            got = value(m, name, camera=uid, window="yesterday")
            assert got == float(expected[row, col]), (name, uid)

    for uid in truth["no_archive"]:
        assert value(m, "vigil_camera_archive_coverage_ratio", camera=uid, window="1d") == 0
        assert value(m, "vigil_camera_archive_depth_seconds", camera=uid) == 0
        assert value(m, "vigil_camera_archive_last_end_timestamp_seconds", camera=uid) is None
    recording = [u for u in uids if u not in truth["no_archive"] and u not in truth["offline_uids"]]
    stalled = set(truth.get("dying_card", [])) | set(truth.get("archive_stalled", []))
    stalled -= set(truth["no_archive"])
    assert stalled
    for uid in recording:
        last_end = value(m, "vigil_camera_archive_last_end_timestamp_seconds", camera=uid)
        if uid not in stalled:
            assert last_end == pytest.approx(clock.now, abs=1), uid
    for uid in stalled:
        last_end = value(m, "vigil_camera_archive_last_end_timestamp_seconds", camera=uid)
        assert last_end is not None and clock.now - last_end > 3600, uid
        assert value(m, "vigil_camera_archive_gaps", camera=uid, window="1d") >= 1


async def test_incremental_polls_agree_with_a_fresh_full_fetch(http):
    clock = FakeClock(T0)
    async with simulator(clock=clock) as sim:
        async with running_exporter(sim.api_url, clock=clock) as steady:
            await steady.scheduler.wait_ready()
            await steady.scheduler.run_now("rt_api", "archive")
            for _ in range(3):
                clock.advance(600)
                assert await steady.scheduler.run_now("rt_api", "archive")
            incremental = archive_samples(await scrape(http, steady.url))
            tail_requests = sim.runner.app  # keep the simulator alive for the second exporter
        async with running_exporter(sim.api_url, clock=clock) as fresh:
            await fresh.scheduler.wait_ready()
            await fresh.scheduler.run_now("rt_api", "archive")
            full = archive_samples(await scrape(http, fresh.url))
    assert tail_requests is not None
    assert incremental.keys() == full.keys()
    diff = {k: (incremental[k], full[k]) for k in full if incremental[k] != pytest.approx(full[k])}
    assert not diff


def pairs(fetched) -> list[tuple[int, int]]:
    return sorted(zip(fetched[0].tolist(), fetched[1].tolist(), strict=True))


def test_tail_fetch_reaches_back_by_the_overlap_and_replaces_the_growing_fragment():
    now = 1_000_000
    assert tail_since(None, now, 90, 600) == now - 90 * 86400
    entry = CameraArchive(
        since=np.array([100_000, 500_000, 990_000]),
        till=np.array([200_000, 600_000, 999_000]),
        fetched_till=999_000,
        fetched_at=999_000.0,
    )
    query = tail_since(entry, now, 90, 600)
    assert query == 999_000 - 600
    # the API answers with the grown last fragment and a new one
    tail = (np.array([990_000, 999_500]), np.array([999_400, 1_000_000]))
    # the growing fragment is kept once, in its grown form
    # a fragment that ended before the window start is dropped
    assert (100_000, 200_000) not in pairs(merge_fetch(entry, 250_000, query, tail))
    assert pairs(merge_fetch(entry, 150_000, query, tail)) == [
        (100_000, 200_000),
        (500_000, 600_000),
        (990_000, 999_400),
        (999_500, 1_000_000),
    ]
    # an API that lists only fragments starting inside the query window: the straddling one stays
    only_new = (np.array([999_500]), np.array([1_000_000]))
    assert (990_000, 999_000) in pairs(merge_fetch(entry, 0, query, only_new))


def test_head_recheck_forgets_footage_the_platform_deleted():
    entry = CameraArchive(
        since=np.array([100_000, 300_000, 500_000]),
        till=np.array([200_000, 400_000, 999_000]),
        fetched_till=999_000,
        fetched_at=999_000.0,
    )
    assert head_till(entry) == 200_000
    assert head_till(None) is None
    tail = (np.array([500_000]), np.array([1_000_000]))
    # retention deleted the oldest fragment: the head range comes back empty
    empty = (np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    merged = merge_fetch(entry, 0, 998_400, tail, 200_000, empty)
    assert pairs(merged) == [(300_000, 400_000), (500_000, 1_000_000)]
    # retention trimmed the oldest fragment's start
    trimmed = (np.array([150_000]), np.array([200_000]))
    merged = merge_fetch(entry, 0, 998_400, tail, 200_000, trimmed)
    assert pairs(merged)[0] == (150_000, 200_000)


async def test_one_failing_camera_keeps_its_figures_and_blocks_no_one(http):
    clock = FakeClock(T0)
    async with (
        simulator(clock=clock) as sim,
        running_exporter(sim.api_url, clock=clock, max_retries="0") as exporter,
    ):
        await exporter.scheduler.wait_ready()
        await exporter.scheduler.run_now("rt_api", "archive")
        before = await scrape(http, exporter.url)
        victim = next(iter(exporter.source("rt_api").cameras))
        sim.faults.set("http_5xx", path=victim)
        clock.advance(600)
        assert await exporter.scheduler.run_now("rt_api", "archive") is True
        after = await scrape(http, exporter.url)
        assert value(after, "vigil_source_up", source="rt_api") == 1
        errors = value(
            after, "vigil_probe_errors_total", source="rt_api", check="archive", reason="http_5xx"
        )
        assert errors >= 1  # its tail fetch, and its head re-check when it has archive
        for name in ("vigil_camera_archive_coverage_ratio", "vigil_camera_archive_gaps"):
            assert value(after, name, camera=victim, window="1d") == value(
                before, name, camera=victim, window="1d"
            )
        assert value(
            after, "vigil_camera_archive_updated_timestamp_seconds", camera=victim
        ) == pytest.approx(T0)
        others = [u for u in exporter.source("rt_api").cameras if u != victim]
        assert all(
            value(after, "vigil_camera_archive_updated_timestamp_seconds", camera=u) == T0 + 600
            for u in others
        )

        # the whole fragments endpoint failing: the check fails, every figure stays
        sim.faults.set("http_5xx", path="estore_fragments")
        clock.advance(600)
        assert await exporter.scheduler.run_now("rt_api", "archive") is False
        down = await scrape(http, exporter.url)
        assert value(down, "vigil_source_up", source="rt_api") == 0
        assert archive_samples(down) == archive_samples(after)


class TwoCameraApi:
    def __init__(self) -> None:
        self.uids = ["cam-a", "cam-b"]
        self.fragments: dict[str, list] = {
            "cam-a": [{"since": 1000, "till": 5000}, {"since": "bad", "till": 7}],
            "cam-b": [],
        }
        self.app = web.Application()
        self.app.router.add_get("/api/v1/health.json", self.ok)
        self.app.router.add_get("/api/v3/user/cameras.json", self.cameras)
        self.app.router.add_get("/api/v1/user/baked_archives.json", self.baked)
        self.app.router.add_get("/api/v1/user/cameras/{uid}/estore_fragments.json", self.frags)

    async def ok(self, request):
        return web.json_response({})

    async def baked(self, request):
        return web.json_response([])

    async def cameras(self, request):
        cams = [{"uid": u, "is_online": True} for u in self.uids]
        return web.json_response({"cameras": cams, "total_pages": 1})

    async def frags(self, request):
        return web.json_response({"fragments": self.fragments[request.match_info["uid"]]})


async def test_removed_cameras_leave_and_no_archive_is_visible_as_zero(http):
    api = TwoCameraApi()
    clock = FakeClock(10_000)
    async with (
        serve_app(api.app) as base,
        running_exporter(f"{base}/api", clock=clock, archive_days="1") as exporter,
    ):
        await exporter.scheduler.wait_ready()
        await exporter.scheduler.run_now("rt_api", "archive")
        m = await scrape(http, exporter.url)
        assert (
            value(m, "vigil_camera_archive_recorded_seconds", camera="cam-a", window="1d") == 4000
        )
        assert value(m, "vigil_camera_archive_depth_seconds", camera="cam-a") == 9000
        assert value(m, "vigil_camera_archive_coverage_ratio", camera="cam-b", window="1d") == 0
        assert value(m, "vigil_camera_archive_depth_seconds", camera="cam-b") == 0
        assert value(m, "vigil_probe_errors_total", check="archive", reason="bad_payload") == 1
        windows = {lab["window"] for lab, _ in m["vigil_camera_archive_coverage_ratio"]}
        assert windows == {"1d", "yesterday", "today"}  # longer windows exceed archive_days

        api.uids = ["cam-a"]
        await exporter.scheduler.run_now("rt_api", "inventory")
        m = await scrape(http, exporter.url)
        cams = {
            lab["camera"]
            for name, rows in m.items()
            if name.startswith("vigil_camera_archive")
            for lab, _ in rows
        }
        assert cams == {"cam-a"}
        assert "cam-b" not in exporter.source("rt_api").archives
