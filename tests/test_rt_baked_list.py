"""Baked archives not DONE get a series each on /metrics, bounded, the rest counted (issue 17)."""

from __future__ import annotations

import pytest
from aiohttp import web

from exporter.sources.rt_api.baked import LISTED_MAX
from tests.conftest import running_exporter, scrape, serve_app, value

T0 = 1_790_000_000


def archive(k: int, status: int) -> dict:
    return {"id": 5000 + k, "camera_uid": f"cam-{k % 7}", "status": status, "created_at": T0 + k}


def baked_api(items: list) -> web.Application:
    async def health(request):
        return web.json_response({"status": "ok"})

    async def cameras(request):
        return web.json_response({"cameras": [{"uid": "cam-0", "name": "A"}], "total_pages": 1})

    async def baked(request):
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return web.json_response({"baked_archives": items[offset : offset + limit]})

    async def fragments(request):
        return web.json_response({"fragments": []})

    app = web.Application()
    app.router.add_get("/api/v1/health.json", health)
    app.router.add_get("/api/v3/user/cameras.json", cameras)
    app.router.add_get("/api/v1/user/baked_archives.json", baked)
    app.router.add_get("/api/v1/user/cameras/{uid}/estore_fragments.json", fragments)
    return app


@pytest.fixture
async def api():
    """The scripted API's base URL; the test fills `items`."""
    items: list = []
    async with serve_app(baked_api(items)) as base:
        yield f"{base}/api", items


async def test_archives_not_done_are_listed_errors_first_and_the_rest_counted(api, http):
    url, items = api
    done = [archive(k, 3) for k in range(300)]
    new = [archive(300 + k, 0) for k in range(LISTED_MAX)]  # alone they would fill the list
    errors = [archive(600 + k, 2) for k in range(5)]
    odd = [{"status": 1, "camera_uid": "cam-x"}, {"id": 9, "status": 1}]  # no id, no time
    items += done + new + errors + odd + [{"id": 7, "status": 1, "updated_at": T0, "title": "x"}]
    async with running_exporter(url, inventory_interval="1h") as exporter:
        await exporter.scheduler.wait_ready()
        await exporter.scheduler.run_now("rt_api", "baked_archives")
        m = await scrape(http, exporter.url)

    listed = m["vigil_baked_archive_created_timestamp_seconds"]
    assert len(listed) == LISTED_MAX
    statuses = [labels["status"] for labels, _ in listed]
    # every failed one and the enqueued one made it; the newest NEW ones fill the rest
    assert statuses.count("ERROR") == 5 and statuses.count("ENQUEUED") == 1
    assert {labels["archive"] for labels, _ in listed if labels["status"] == "ERROR"} == {
        str(a["id"]) for a in errors
    }
    assert value(m, "vigil_baked_archive_created_timestamp_seconds", archive="7") == T0
    assert value(
        m, "vigil_baked_archive_created_timestamp_seconds", archive="5604", camera="cam-2"
    ) == (T0 + 604)
    newest_new = {str(a["id"]) for a in sorted(new, key=lambda a: -a["created_at"])}
    assert {labels["archive"] for labels, _ in listed if labels["status"] == "NEW"} < newest_new
    assert not any(labels["status"] == "DONE" for labels, _ in listed)
    assert all(set(labels) == {"archive", "camera", "status"} for labels, _ in listed)
    # 200 NEW + 5 ERROR + 1 ENQUEUED listable, 200 listed; 2 records without id or time
    assert value(m, "vigil_baked_archives_unlisted") == 6 + 2
    assert value(m, "vigil_baked_archives", status="DONE") == 300
