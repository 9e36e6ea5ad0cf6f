"""The RT source against every way the platform may answer, over real HTTP (issue 19).

Each variation of the simulator's dialect (exporter/simulate/variations.py) is served to a real exporter,
and /metrics must tell the same fleet as the plain answers do: every camera, its status, liveness,
offline-since and card, every baked archive by status, every camera's archive figures, and nothing
counted as unusable. Paging is tried against servers that cap, omit, lie about or ignore their pages.
"""

from __future__ import annotations

from collections import Counter
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from exporter.simulate.fleet import SimulatedFleet
from exporter.simulate.rt_api import DIALECT_KEY, serve_rt_api
from exporter.simulate.variations import SLOW_FRAGMENTS, VARIATIONS
from exporter.sources.rt_api.payloads import CAMERA_FIELDS
from tests.conftest import (
    API_KEY,
    START,
    Sim,
    free_port,
    running_exporter,
    scrape,
    serve_app,
    settled,
    simulator,
    value,
)

# what the exporter needs to show a variation: a camera page larger than a refused per_page, a baked
# page larger than a capped limit (130 baked archives: a cap at 50 with `limit` 100 is 3 pages)
OVERRIDES = {
    "per_page_100": {"page_size": "1000"},
    "limit_50": {"baked_page_size": "100"},
}
CASES = [(name, VARIATIONS[name], OVERRIDES.get(name, {})) for name in VARIATIONS]
CASES.append(("limit_7", {"baked_limit_cap": 7}, {}))
CASES.append(("all_at_once", {k: v for spec in VARIATIONS.values() for k, v in spec.items()}, {}))


def errors(samples, check: str, reason: str) -> float:
    return value(samples, "vigil_probe_errors_total", source="rt_api", check=check, reason=reason)


def assert_fleet(m, truth: dict) -> None:
    """/metrics tells the whole simulated fleet."""
    cams = {lab["camera"] for lab, _ in m["vigil_camera_info"]}
    assert len(cams) == truth["total"]
    online = Counter(v for _, v in m["vigil_camera_online"])
    assert online == Counter({1: truth["online"], 0: truth["offline"]})
    offline = {lab["camera"] for lab, v in m["vigil_camera_online"] if v == 0}
    assert offline == set(truth["offline_uids"])
    since = {lab["camera"] for lab, _ in m["vigil_camera_offline_since_timestamp_seconds"]}
    assert since == offline  # every offline camera of the simulator says since when
    assert len(m["vigil_camera_alive"]) == truth["alive_reported"]
    current = Counter(lab["state"] for lab, v in m["vigil_camera_memory_card_state"] if v == 1)
    assert current == Counter({(k or "none"): n for k, n in truth["memory_card"].items()})
    assert sum(truth["baked_archives"].values()) > 100
    for status, count in truth["baked_archives"].items():
        assert value(m, "vigil_baked_archives", status=status) == count, status
    absent = {lab["field"]: v for lab, v in m["vigil_rt_api_fields_absent"]}
    assert set(absent) == set(CAMERA_FIELDS)
    assert absent["alive"] == truth["total"] - truth["alive_reported"]
    assert absent["uid"] == absent["is_online"] == absent["offline_since"] == 0
    unusable = {lab["field"]: v for lab, v in m["vigil_rt_api_fields_unusable"]}
    assert unusable == dict.fromkeys(CAMERA_FIELDS, 0)


@asynccontextmanager
async def big_baked_simulator():
    """The usual test fleet, with 130 baked archives instead of 40: more than pages of 50 hold."""
    fleet = SimulatedFleet(cameras=120, seed=7, flap_period=0, start=START, baked_archives=130)
    port = free_port()
    runner = await serve_rt_api(fleet, "127.0.0.1", port, api_key=API_KEY)
    try:
        yield Sim(fleet, runner, port)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("name", "dialect", "overrides"), CASES, ids=[c[0] for c in CASES])
async def test_every_variation_tells_the_same_fleet(http, name, dialect, overrides):
    async with big_baked_simulator() as sim:
        sim.runner.app[DIALECT_KEY].update(**dialect)
        async with running_exporter(
            sim.api_url, inventory_interval="1h", baked_archives_interval="1h", **overrides
        ) as exporter:
            await settled(exporter)
            m = await scrape(http, exporter.url)
        truth = sim.truth()
    assert value(m, "vigil_source_up", source="rt_api") == 1
    assert_fleet(m, truth)
    for check in ("inventory", "baked_archives", "archive"):
        assert errors(m, check, "bad_payload") == 0, check
    # every camera with an archive got its figures: fragments in numeric strings were read too
    with_archive = truth["total"] - len(truth["no_archive"])
    fragments = {lab["camera"] for lab, v in m["vigil_camera_archive_fragments"] if v > 0}
    assert len(fragments) == with_archive
    # per_page 1000 refused once, then 100 a page (test_a_refused_page_size_is_asked_once)
    assert errors(m, "inventory", "http_4xx") == (1 if name == "per_page_100" else 0)


async def test_a_refused_page_size_is_asked_once(http):
    async with simulator() as sim:
        sim.runner.app[DIALECT_KEY].update(per_page_max=100)
        async with running_exporter(
            sim.api_url, page_size="1000", inventory_interval="1h"
        ) as exporter:
            await settled(exporter)
            for _ in range(2):
                assert await exporter.scheduler.run_now("rt_api", "inventory") is True
            m = await scrape(http, exporter.url)
    assert errors(m, "inventory", "http_4xx") == 1
    assert len(m["vigil_camera_info"]) == 120


async def test_slow_fragments_within_the_authenticated_timeout_and_a_slow_health_times_out(http):
    """Defaults: 30 s for authenticated calls, 10 s for the health call. A fragment list that takes
    12 s (longer than the one 10 s timeout Vigil used for everything) arrives; a health answer that
    takes as long is a timeout."""
    async with simulator(cameras=6) as sim:
        spec = dict(SLOW_FRAGMENTS)
        sim.faults.set(spec.pop("fault"), **spec)
        sim.faults.set("slow", delay=SLOW_FRAGMENTS["delay"], path="/health.json")
        async with running_exporter(
            sim.api_url,
            timeout="30s",
            health_timeout="10s",
            max_retries="0",
            inventory_interval="1h",
            baked_archives_interval="1h",
        ) as exporter:
            await settled(exporter)
            m = await scrape(http, exporter.url)
        truth = sim.truth()
    assert errors(m, "archive", "timeout") == 0
    with_archive = truth["total"] - len(truth["no_archive"])
    fragments = {lab["camera"] for lab, v in m["vigil_camera_archive_fragments"] if v > 0}
    assert len(fragments) == with_archive > 0
    assert errors(m, "health", "timeout") == 1


async def test_without_total_pages_and_too_few_max_pages_the_poll_fails_with_page_limit(http):
    async with simulator() as sim:
        sim.runner.app[DIALECT_KEY].update(total_pages=False)
        # 120 cameras at 17 a page are 8 pages
        async with running_exporter(sim.api_url, max_pages="3", inventory_interval="1h") as exp:
            await exp.scheduler.wait_ready()
            m = await scrape(http, exp.url)
    assert errors(m, "inventory", "page_limit") == 1
    assert "vigil_camera_info" not in m  # nothing half-read is published
    assert value(m, "vigil_source_up", source="rt_api") == 0


class PagedApi:
    """A camera list that pages the way the test says: a lying total_pages, or `page` ignored."""

    def __init__(self, cameras: int, total_pages: int | None, ignore_page: bool = False) -> None:
        self.records = [
            {"uid": f"cam-{k:03d}", "is_online": True, "data_center": {"name": "MSK-1"}}
            for k in range(cameras)
        ]
        self.total_pages = total_pages
        self.ignore_page = ignore_page
        self.app = web.Application()
        self.app.router.add_get("/api/v1/health.json", self.ok)
        self.app.router.add_get("/api/v3/user/cameras.json", self.cameras)
        self.app.router.add_get("/api/v1/user/baked_archives.json", self.baked)
        self.app.router.add_get("/api/v1/user/cameras/{uid}/estore_fragments.json", self.fragments)

    async def ok(self, request):
        return web.json_response({"status": "ok"})

    async def cameras(self, request):
        page = 1 if self.ignore_page else int(request.query["page"])
        per_page = int(request.query["per_page"])
        body: dict = {"cameras": self.records[(page - 1) * per_page : page * per_page]}
        if self.total_pages is not None:
            body["total_pages"] = self.total_pages
        return web.json_response(body)

    async def baked(self, request):
        return web.json_response({"archives": []})

    async def fragments(self, request):
        return web.json_response({"fragments": []})


async def test_full_pages_are_followed_whatever_total_pages_says(http):
    api = PagedApi(cameras=40, total_pages=1)  # says 1 page; there are 3 of 17
    async with serve_app(api.app) as base, running_exporter(f"{base}/api") as exporter:
        await exporter.scheduler.wait_ready()
        m = await scrape(http, exporter.url)
    assert {lab["camera"] for lab, _ in m["vigil_camera_info"]} == {r["uid"] for r in api.records}


async def test_an_api_that_ignores_page_fails_the_poll_instead_of_looping(http):
    api = PagedApi(cameras=40, total_pages=None, ignore_page=True)
    async with serve_app(api.app) as base, running_exporter(f"{base}/api") as exporter:
        await exporter.scheduler.wait_ready()
        m = await scrape(http, exporter.url)
    assert errors(m, "inventory", "bad_payload") == 1
    assert "vigil_camera_info" not in m


async def test_unusable_values_are_counted_by_field_and_logged_once(http, caplog):
    api = PagedApi(cameras=3, total_pages=1)
    api.records[0]["is_online"] = "yes"
    api.records[1]["alive"] = "maybe"
    api.records[2]["offline_since"] = "2024-01-01"
    api.records[2]["is_online"] = 0
    caplog.set_level("INFO", logger="vigil.rt_api")
    async with serve_app(api.app) as base, running_exporter(f"{base}/api") as exporter:
        await exporter.scheduler.wait_ready()
        await exporter.scheduler.run_now("rt_api", "inventory")
        m = await scrape(http, exporter.url)
    unusable = {lab["field"]: v for lab, v in m["vigil_rt_api_fields_unusable"]}
    assert {f: v for f, v in unusable.items() if v} == {
        "is_online": 1,
        "alive": 1,
        "offline_since": 1,
    }
    assert errors(m, "inventory", "bad_payload") == 2 * 3  # two polls, three values each
    assert value(m, "vigil_camera_online", camera="cam-002") == 0  # 0 is a boolean
    assert value(m, "vigil_camera_online", camera="cam-000") is None
    lines = [r.getMessage() for r in caplog.records if "unusable values" in r.getMessage()]
    assert len(lines) == 1  # once per change, not every poll
    assert "is_online: 1 (string 'yes')" in lines[0]
    assert "offline_since: 1 (string '2024-01-01')" in lines[0]


async def test_dialect_control_route_switches_and_resets(http):
    async with simulator(cameras=3) as sim:
        async with http.post(f"{sim.url}/_sim/dialect", json={"variation": "is_alive"}) as resp:
            assert resp.status == 200
            assert (await resp.json())["dialect"]["alive_field"] == "is_alive"
        async with http.post(f"{sim.url}/_sim/dialect", json={"booleans": "yes"}) as resp:
            assert resp.status == 400
            assert "booleans must be one of" in (await resp.json())["error"]
        async with http.delete(f"{sim.url}/_sim/dialect") as resp:
            assert (await resp.json())["dialect"]["alive_field"] == "alive"


class BakedApi:
    """Baked archives capped at 10 a page, echoing the asked `limit`, with or without a total."""

    def __init__(self, count: int, with_total: bool) -> None:
        self.items = [{"id": k, "status": k % 4} for k in range(count)]
        self.with_total = with_total
        self.offsets: list[int] = []
        self.app = web.Application()
        self.app.router.add_get("/api/v1/user/baked_archives.json", self.baked)
        for path in ("/api/v1/health.json", "/api/v3/user/cameras.json"):
            self.app.router.add_get(path, self.empty)

    async def empty(self, request):
        return web.json_response({"cameras": [], "total_pages": 1})

    async def baked(self, request):
        offset = int(request.query["offset"])
        self.offsets.append(offset)
        body = {"baked_archives": self.items[offset : offset + 10]}
        body["limit"] = int(request.query["limit"])  # what was asked, not what was applied
        if self.with_total:
            body["total"] = len(self.items)
        return web.json_response(body)


@pytest.mark.parametrize("with_total", [False, True], ids=["no_total", "total"])
async def test_a_short_page_ends_the_baked_list_only_when_the_server_confirms_it(http, with_total):
    api = BakedApi(count=25, with_total=with_total)
    async with (
        serve_app(api.app) as base,
        running_exporter(f"{base}/api", baked_archives_interval="1h") as exporter,
    ):
        await settled(exporter)
        api.offsets.clear()
        assert await exporter.scheduler.run_now("rt_api", "baked_archives") is True
        m = await scrape(http, exporter.url)
    by_status = {lab["status"]: v for lab, v in m["vigil_baked_archives"]}
    assert by_status == {"NEW": 7, "ENQUEUED": 6, "ERROR": 6, "DONE": 6}
    # an echoed limit of 50 is no confirmation; the total is, and spares the empty page
    assert api.offsets == ([0, 10, 20] if with_total else [0, 10, 20, 25])
