"""The simulated RT fleet and the simulated RT API served over real HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from exporter.simulate.fleet import CARD_FINE_STATES, SimulatedFleet
from exporter.simulate.rt_api import FAULTS_KEY, STATS_KEY, make_rt_api_app, serve_rt_api

START = 1_700_000_000.0
NOW = START + 5_000.5
DAY = 86_400
KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer token={KEY}"}
CAMERAS = "/api/v3/user/cameras.json"
HEALTH = "/api/v1/health.json"
BAKED = "/api/v1/user/baked_archives.json"
MSK = timezone(timedelta(hours=3))
ARCHIVE_FAULTS = ("short_drops", "long_outages", "overlaps", "duplicates")


def frag_path(uid: str) -> str:
    return f"/api/v1/user/cameras/{uid}/estore_fragments.json"


@pytest.fixture(scope="module")
def fleet() -> SimulatedFleet:
    return SimulatedFleet(cameras=300, seed=7, start=START)


@pytest.fixture
async def client(fleet: SimulatedFleet):
    app = make_rt_api_app(fleet, api_key=KEY, clock=lambda: NOW)
    async with TestClient(TestServer(app)) as c:
        yield c


def as_set(frags: list[dict[str, int]]) -> set[tuple[int, int]]:
    return {(f["since"], f["till"]) for f in frags}


def holes(frags: list[dict[str, int]]) -> list[int]:
    """Lengths of the stretches no fragment covers, between the first and the last fragment."""
    out, top = [], None
    for f in frags:
        if top is not None and f["since"] > top:
            out.append(f["since"] - top)
        top = f["till"] if top is None else max(top, f["till"])
    return out


def stopped_or_flapping(truth: dict) -> set[str]:
    keys = ("flapping", "offline_uids", "dying_card", "no_archive")
    return set().union(*(truth[k] for k in keys))


# ---------------------------------------------------------------------- the fleet
def test_same_seed_and_start_give_identical_output() -> None:
    a = SimulatedFleet(cameras=150, seed=3, start=START)
    b = SimulatedFleet(cameras=150, seed=3, start=START)
    for now in (NOW, NOW + 3 * DAY):
        assert json.dumps(a.cameras(now)) == json.dumps(b.cameras(now))
        assert json.dumps(a.truth(now)) == json.dumps(b.truth(now))
    assert a.baked_archives() == b.baked_archives()
    for uid in a.uids()[:20]:
        assert a.fragments(uid, NOW - 7 * DAY, NOW, NOW) == b.fragments(
            uid, NOW - 7 * DAY, NOW, NOW
        )
    other = SimulatedFleet(cameras=150, seed=4, start=START)
    assert json.dumps(a.cameras(NOW)) != json.dumps(other.cameras(NOW))


def test_ten_thousand_cameras_build_fast() -> None:
    t0 = time.perf_counter()
    big = SimulatedFleet(cameras=10_000, seed=1, start=START)
    assert time.perf_counter() - t0 < 1.0
    cams = big.cameras(NOW)
    assert len(cams) == 10_000
    assert len({c["uid"] for c in cams}) == 10_000


def test_realistic_mix(fleet: SimulatedFleet) -> None:
    cams = fleet.cameras(NOW)
    truth = fleet.truth(NOW)
    total = len(cams)
    assert truth["total"] == total == 300
    offline = [c for c in cams if not c["is_online"]]
    assert 0.01 <= len(offline) / total <= 0.10
    assert truth["offline"] == len(offline)
    assert sorted(truth["offline_uids"]) == sorted(c["uid"] for c in offline)
    assert all(isinstance(c["offline_since"], int) for c in offline)
    # offline for days and for minutes or hours
    ages = [NOW - c["offline_since"] for c in offline]
    assert max(ages) > 2 * DAY and min(ages) < 1 * DAY
    # online cameras sometimes keep an old offline_since, sometimes null
    online = [c for c in cams if c["is_online"]]
    assert any(c["offline_since"] is None for c in online)
    assert any(isinstance(c["offline_since"], int) for c in online)
    assert len({c["vendor"] for c in cams}) >= 4
    assert len({c["data_center"]["name"] for c in cams}) >= 4
    assert len(truth["by_vendor"]) >= 4 and len(truth["by_datacenter"]) >= 4
    states = [c["memory_card_state"]["state"] for c in cams]
    problems = [s for s in states if s not in CARD_FINE_STATES]
    assert problems and truth["card_problems"] == len(problems)
    assert {"CardOK", "CardNotFound", ""} <= set(states)
    assert sum(truth["memory_card"].values()) == total
    alive = [c for c in cams if "alive" in c]
    assert truth["alive_reported"] == len(alive)
    assert 0.6 <= len(alive) / total <= 0.95
    assert all(isinstance(c["alive"], bool) for c in alive)
    for c in cams:
        # the platform's uids elsewhere are UUIDs
        assert isinstance(c["uid"], str) and str(uuid.UUID(c["uid"])) == c["uid"]
        for key in ("name", "sn", "vendor", "model", "address"):
            assert isinstance(c[key], str) and c[key]
    assert any("mac" in c and "ip" in c and "firmware" in c for c in cams)
    for table in (truth["by_vendor"], truth["by_datacenter"]):
        assert sum(row["total"] for row in table.values()) == total
        assert sum(row["offline"] for row in table.values()) == len(offline)
    assert truth["flapping"] and truth["no_archive"] and truth["dying_card"]


def test_baked_archives(fleet: SimulatedFleet) -> None:
    items = fleet.baked_archives()
    assert 40 <= len(items) <= 60
    assert {a["status"] for a in items} == {0, 1, 2, 3}
    assert [a["updated_at"] for a in items] == sorted(
        (a["updated_at"] for a in items), reverse=True
    )
    for a in items:
        assert a["camera_uid"] in fleet
        assert a["since"] < a["till"] and a["created_at"] <= a["updated_at"] <= START
        assert {"id", "title"} <= a.keys()
    assert fleet.baked_archives(5, 10) == items[5:15]
    counts = fleet.truth(NOW)["baked_archives"]
    assert counts == {
        name: sum(1 for a in items if a["status"] == code)
        for code, name in enumerate(("NEW", "ENQUEUED", "ERROR", "DONE"))
    }


@pytest.mark.parametrize("per_page", [1, 7, 100, 299, 300, 1000])
def test_pagination_covers_every_camera_once(fleet: SimulatedFleet, per_page: int) -> None:
    first = fleet.page(NOW, 1, per_page)
    total_pages = first["total_pages"]
    assert total_pages == -(-300 // per_page)
    seen = []
    for page in range(1, total_pages + 1):
        body = fleet.page(NOW, page, per_page)
        assert body["total_pages"] == total_pages
        seen.extend(c["uid"] for c in body["cameras"])
    assert sorted(seen) == sorted(fleet.uids())
    assert len(seen) == len(set(seen))
    past = fleet.page(NOW, total_pages + 1, per_page)
    assert past == {"cameras": [], "total_pages": total_pages}


def test_flapping_cameras_toggle_each_period() -> None:
    period = 60.0
    fl = SimulatedFleet(cameras=200, seed=2, flap_period=period, start=START)
    flapping = fl.truth(START)["flapping"]
    assert flapping
    for uid in flapping:
        states = [fl.camera(uid, START + k * period + 1)["is_online"] for k in range(4)]
        assert states in ([True, False, True, False], [False, True, False, True])
        for k in range(4):
            now = START + k * period + 17
            cam = fl.camera(uid, now)
            if not cam["is_online"]:
                assert cam["offline_since"] == int(START + k * period)
                assert uid in fl.truth(now)["offline_uids"]
    frozen = SimulatedFleet(cameras=200, seed=2, flap_period=0, start=START)
    for uid in flapping:
        assert all(frozen.camera(uid, START + k * 61)["is_online"] for k in range(5))


def test_fragments_do_not_depend_on_window_split(fleet: SimulatedFleet) -> None:
    rng = random.Random(11)
    truth = fleet.truth(NOW)
    interesting = truth["flapping"] + truth["dying_card"] + truth["offline_uids"][:3]
    for uid in [*fleet.uids()[:25], *interesting]:
        a, c = NOW - 30 * DAY, NOW + 60
        whole = fleet.fragments(uid, a, c, NOW)
        points = [a, *sorted(rng.uniform(a, c) for _ in range(6)), c]
        union: set[tuple[int, int]] = set()
        for lo, hi in itertools.pairwise(points):
            part = fleet.fragments(uid, lo, hi, NOW)
            assert all(f["since"] < hi and f["till"] > lo for f in part)
            union |= as_set(part)
        assert union == as_set(whole), uid


def test_fragments_within_depth_and_growing(fleet: SimulatedFleet) -> None:
    truth = fleet.truth(NOW)
    stopped = set(truth["offline_uids"]) | set(truth["dying_card"])
    recording = 0
    for cam in fleet.cameras(NOW):
        uid = cam["uid"]
        frags = fleet.fragments(uid, NOW - 120 * DAY, NOW, NOW)
        bounds = fleet.archive_bounds(uid, NOW)
        if uid in truth["no_archive"]:
            assert frags == [] and bounds is None
            continue
        assert frags == sorted(frags, key=lambda f: (f["since"], f["till"]))
        assert all(type(f["since"]) is int and type(f["till"]) is int for f in frags)
        assert all(f["since"] < f["till"] for f in frags)
        begin, end = bounds
        assert begin >= NOW - 121 * DAY and all(begin <= f["since"] for f in frags)
        assert all(f["till"] <= end for f in frags)
        if uid in stopped:
            assert end < int(NOW)
            if not cam["is_online"]:
                assert end <= cam["offline_since"]
        else:
            recording += 1
            assert frags[-1]["till"] == int(NOW) == max(f["till"] for f in frags)
    assert recording > 250
    # it keeps growing
    uid = next(u for u in fleet.uids() if u not in stopped and u not in truth["no_archive"])
    later = fleet.fragments(uid, NOW - DAY, NOW + 600, NOW + 600)
    assert later[-1]["till"] == int(NOW + 600)


def test_fragments_have_gaps_overlaps_and_cross_midnight(fleet: SimulatedFleet) -> None:
    overlaps = short_gaps = long_gaps = midnight = 0
    for uid in fleet.uids()[:60]:
        frags = fleet.fragments(uid, NOW - 30 * DAY, NOW, NOW)
        for x, y in itertools.pairwise(frags):
            gap = y["since"] - x["till"]
            overlaps += gap < 0
            short_gaps += 10 <= gap <= 600
            long_gaps += 3600 <= gap <= 6 * 3600 + 3600
        midnight += sum(1 for f in frags if f["since"] // DAY != (f["till"] - 1) // DAY)
    assert overlaps and short_gaps and long_gaps and midnight


def test_archive_depths_vary(fleet: SimulatedFleet) -> None:
    depths = []
    for uid in fleet.uids():
        bounds = fleet.archive_bounds(uid, NOW)
        if bounds is not None:
            depths.append(NOW - bounds[0])
    assert sum(d >= 90 * DAY for d in depths) > len(depths) * 0.7
    assert any(2 * DAY <= d <= 30 * DAY for d in depths)


def test_ninety_days_of_fragments_is_fast(fleet: SimulatedFleet) -> None:
    uid = fleet.uids()[0]
    fleet.fragments(uid, NOW - 90 * DAY, NOW, NOW)
    t0 = time.perf_counter()
    for _ in range(5):
        frags = fleet.fragments(uid, NOW - 90 * DAY, NOW, NOW)
    assert (time.perf_counter() - t0) / 5 < 0.03
    assert 150 <= len(frags) <= 700  # a few hundred: 2-6 fragments a day


def test_ninety_days_hold_a_few_hundred_fragments(fleet: SimulatedFleet) -> None:
    truth = fleet.truth(NOW)
    skip = stopped_or_flapping(truth)
    counts, lengths = [], []
    for uid in fleet.uids():
        begin, _end = fleet.archive_bounds(uid, NOW) or (NOW, NOW)
        if uid in skip or NOW - begin < 90 * DAY:
            continue
        frags = fleet.fragments(uid, NOW - 90 * DAY, NOW, NOW)
        counts.append(len(frags))
        lengths.extend(f["till"] - f["since"] for f in frags)
    assert len(counts) > 200
    assert all(150 <= n <= 700 for n in counts), (min(counts), max(counts))
    assert 2 * 90 <= sorted(counts)[len(counts) // 2] <= 6 * 90
    lengths.sort()
    assert 2 * 3600 <= lengths[len(lengths) // 2] <= 12 * 3600  # usually several hours long
    assert lengths[-1] <= 40 * 3600  # split at least every 36 hours (plus jitter)


def test_truth_names_the_archive_faults(fleet: SimulatedFleet) -> None:
    truth = fleet.truth(NOW)
    uids = set(fleet.uids())
    for key in (*ARCHIVE_FAULTS, "archive_stalled"):
        assert truth[key], key
        assert set(truth[key]) <= uids
        assert not set(truth[key]) & set(truth["no_archive"]), key
    # 300 cameras: exact shares
    assert len(truth["short_drops"]) == 180
    assert len(truth["long_outages"]) == 15
    assert len(truth["overlaps"]) == 18
    assert len(truth["duplicates"]) == 12
    assert len(truth["archive_stalled"]) == 3
    # dying_card lists every camera whose archive stopped while online; stalled ones among them
    assert set(truth["archive_stalled"]) < set(truth["dying_card"])
    assert len(truth["dying_card"]) == 6
    assert truth == fleet.truth(NOW)


def test_stalled_archive_stopped_days_ago_while_online(fleet: SimulatedFleet) -> None:
    truth = fleet.truth(NOW)
    for uid in truth["dying_card"]:
        for now in (NOW, NOW + 2 * DAY):
            cam = fleet.camera(uid, now)
            assert cam["is_online"] is True and uid not in fleet.truth(now)["offline_uids"]
            frags = fleet.fragments(uid, now - 100 * DAY, now, now)
            last = max(f["till"] for f in frags)
            assert frags[-1]["till"] == last == fleet.archive_bounds(uid, now)[1]
            stopped = START - last
            if uid in truth["archive_stalled"]:
                assert 1 * DAY <= stopped <= 5 * DAY
            else:  # a dying card: hours
                assert 2 * 3600 <= stopped <= 8 * 3600 + 1
            # and nothing more is recorded later
            assert fleet.fragments(uid, last, now, now) == []


def test_short_drops_straddle_the_gap_threshold(fleet: SimulatedFleet) -> None:
    truth = fleet.truth(NOW)
    skip = stopped_or_flapping(truth) | set(truth["long_outages"])
    drops: list[int] = []
    for uid in truth["short_drops"]:
        if uid in skip:
            continue
        found = [g for g in holes(fleet.fragments(uid, NOW - 90 * DAY, NOW, NOW)) if g >= 10]
        assert found, uid
        assert all(10 <= g <= 300 for g in found), uid
        drops.extend(found)
    near = [g for g in drops if 50 <= g <= 70]
    assert 0.2 <= len(near) / len(drops) <= 0.45
    assert any(g == 60 for g in near)
    assert any(g < 60 for g in near) and any(g > 60 for g in near)
    assert min(drops) < 20 and max(drops) > 280


def test_cameras_without_faults_have_no_holes(fleet: SimulatedFleet) -> None:
    truth = fleet.truth(NOW)
    skip = stopped_or_flapping(truth) | set(truth["short_drops"]) | set(truth["long_outages"])
    clean = [uid for uid in fleet.uids() if uid not in skip]
    assert len(clean) > 80
    for uid in clean:
        frags = fleet.fragments(uid, NOW - 90 * DAY, NOW, NOW)
        # splits leave at most a few seconds, below any gap threshold
        assert all(g < 10 for g in holes(frags)), uid


def test_long_outages(fleet: SimulatedFleet) -> None:
    truth = fleet.truth(NOW)
    skip = stopped_or_flapping(truth)
    checked = 0
    for uid in fleet.uids():
        if uid in skip:
            continue
        long_holes = [g for g in holes(fleet.fragments(uid, NOW - 30 * DAY, NOW, NOW)) if g > 300]
        if uid in truth["long_outages"]:
            checked += 1
            assert long_holes, uid
            assert all(g <= 12 * 3600 + 2 * 300 for g in long_holes), uid
            assert any(g >= 3600 for g in long_holes), uid
        else:
            assert not long_holes, uid
    assert checked >= 10


def test_duplicates_and_overlaps(fleet: SimulatedFleet) -> None:
    truth = fleet.truth(NOW)
    all_dups = all_nested = 0
    for uid in fleet.uids():
        frags = fleet.fragments(uid, NOW - 90 * DAY, NOW, NOW)
        pairs = list(itertools.pairwise(frags))
        dups = sum(x == y for x, y in pairs)
        overlaps = sum(x != y and y["since"] < x["till"] for x, y in pairs)
        nested = sum(x != y and y["till"] <= x["till"] for x, y in pairs)
        all_dups += dups
        all_nested += nested
        bounds = fleet.archive_bounds(uid, NOW)
        enough = bounds is not None and bounds[1] - bounds[0] >= 10 * DAY
        if uid in truth["duplicates"]:
            assert dups >= 1 or not enough, uid
        else:
            assert dups == 0, uid
        if uid in truth["overlaps"]:
            assert overlaps >= 1 or not enough, uid
            tails = [x["till"] - y["since"] for x, y in pairs if x != y and x["till"] < y["till"]]
            assert all(t <= 30 for t in tails if t > 0)
        else:
            assert overlaps == 0, uid
    assert all_dups > 100 and all_nested > 50


def test_fragments_cross_moscow_and_utc_midnight(fleet: SimulatedFleet) -> None:
    msk = utc = 0
    for uid in fleet.uids()[:40]:
        for f in fleet.fragments(uid, NOW - 10 * DAY, NOW, NOW):
            since, till = f["since"], f["till"] - 1
            msk += (
                datetime.fromtimestamp(since, MSK).date()
                != datetime.fromtimestamp(till, MSK).date()
            )
            utc += since // DAY != till // DAY
    assert msk > 100 and utc > 100


def test_recording_cameras_end_at_now_whatever_now(fleet: SimulatedFleet) -> None:
    """A hole that would hold `now` has not happened yet: the newest fragment grows until now."""
    truth = fleet.truth(NOW)
    skip = stopped_or_flapping(truth)
    uids = [u for u in (*truth["long_outages"], *truth["short_drops"][:10]) if u not in skip]
    rng = random.Random(5)
    for uid in uids:
        for now in [NOW + k * 1800 + 0.25 for k in range(48)] + [rng.uniform(NOW, NOW + 30 * DAY)]:
            frags = fleet.fragments(uid, now - 2 * DAY, now + 60, now)
            assert frags[-1]["till"] == int(now) == max(f["till"] for f in frags), (uid, now)
            # the same fragment, asked for on its own
            tail = fleet.fragments(uid, now - 1, now, now)
            assert tail[-1] == frags[-1]


def test_window_split_keeps_every_fragment_and_duplicate(fleet: SimulatedFleet) -> None:
    truth = fleet.truth(NOW)
    rng = random.Random(3)
    uids = [
        *(truth[key][0] for key in ARCHIVE_FAULTS),
        *truth["archive_stalled"],
        *truth["dying_card"][:1],
        *truth["flapping"],
        *fleet.uids()[:10],
    ]
    for now in (NOW, NOW + 11 * 3600 + 0.5, NOW + 9 * DAY):
        for uid in uids:
            a, c = now - rng.uniform(20, 100) * DAY, now + 60
            whole = fleet.fragments(uid, a, c, now)
            points = [a, *sorted(rng.uniform(a, c) for _ in range(20)), c]
            for lo, hi in itertools.pairwise(points):
                part = fleet.fragments(uid, lo, hi, now)
                # duplicates included: exactly the whole range's fragments that reach the window
                assert part == [f for f in whole if f["since"] < hi and f["till"] > lo], uid


def test_fragments_unknown_uid(fleet: SimulatedFleet) -> None:
    with pytest.raises(KeyError):
        fleet.fragments("nope", NOW - DAY, NOW, NOW)
    assert fleet.camera("nope", NOW) is None


# ---------------------------------------------------------------------- over HTTP
async def test_health_needs_no_auth(client: TestClient) -> None:
    resp = await client.get(HEALTH)
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer token=wrong"},
        {"Authorization": f"Bearer {KEY}"},
        {"Authorization": f"token={KEY}"},
        {"Authorization": f"Bearer token={KEY}x"},
    ],
)
async def test_auth_rejects_missing_or_wrong_key(client: TestClient, headers: dict) -> None:
    for path in (CAMERAS, BAKED, frag_path("x") + "?since=1&till=2"):
        resp = await client.get(path, headers=headers)
        assert resp.status == 401
        body = await resp.text()
        assert json.loads(body) == {"error": "unauthorized"}
        assert KEY not in body


async def test_auth_accepts_bearer_token(client: TestClient, fleet: SimulatedFleet) -> None:
    resp = await client.get(CAMERAS, headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert body == json.loads(json.dumps(fleet.page(NOW, 1, 100)))


async def test_no_api_key_means_no_auth(fleet: SimulatedFleet) -> None:
    app = make_rt_api_app(fleet, clock=lambda: NOW)
    async with TestClient(TestServer(app)) as c:
        assert (await c.get(CAMERAS)).status == 200


async def test_paginated_cameras_match_truth(client: TestClient) -> None:
    uids, online, page, total_pages = [], 0, 1, None
    while total_pages is None or page <= total_pages:
        resp = await client.get(CAMERAS, params={"page": page, "per_page": 64}, headers=AUTH)
        body = await resp.json()
        total_pages = body["total_pages"]
        uids.extend(c["uid"] for c in body["cameras"])
        online += sum(c["is_online"] for c in body["cameras"])
        page += 1
    truth = await (await client.get("/_sim/truth")).json()
    assert len(uids) == len(set(uids)) == truth["total"]
    assert online == truth["online"]
    assert truth["offline"] == truth["total"] - online


@pytest.mark.parametrize(
    "params",
    [{"page": "x"}, {"page": 0}, {"per_page": "0"}, {"per_page": "lots"}, {"page": "nan"}],
)
async def test_bad_page_params(client: TestClient, params: dict) -> None:
    resp = await client.get(CAMERAS, params=params, headers=AUTH)
    assert resp.status == 400
    assert "error" in await resp.json()


async def test_per_page_is_capped(client: TestClient) -> None:
    resp = await client.get(CAMERAS, params={"per_page": 5000}, headers=AUTH)
    body = await resp.json()
    assert len(body["cameras"]) == 300 and body["total_pages"] == 1


async def test_fragments_endpoint(client: TestClient, fleet: SimulatedFleet) -> None:
    uid = fleet.uids()[3]
    params = {"since": int(NOW - 2 * DAY), "till": int(NOW)}
    resp = await client.get(frag_path(uid), params=params, headers=AUTH)
    assert resp.status == 200
    assert await resp.json() == {
        "fragments": fleet.fragments(uid, params["since"], params["till"], NOW)
    }
    resp = await client.get(frag_path("0000000000000000"), params=params, headers=AUTH)
    assert resp.status == 404
    resp = await client.get(frag_path(uid), params={"since": "a", "till": 1}, headers=AUTH)
    assert resp.status == 400
    resp = await client.get(frag_path(uid), params={"since": 10, "till": 5}, headers=AUTH)
    assert resp.status == 400


async def test_baked_archives_endpoint(client: TestClient, fleet: SimulatedFleet) -> None:
    params = {"offset": 3, "limit": 10, "sort_column": "updated_at", "sort_order": "desc"}
    resp = await client.get(BAKED, params=params, headers=AUTH)
    assert resp.status == 200
    assert await resp.json() == {"baked_archives": fleet.baked_archives(3, 10)}
    resp = await client.get(BAKED, params={"sort_column": "title"}, headers=AUTH)
    assert resp.status == 400


async def test_baked_archives_as_bare_list(fleet: SimulatedFleet) -> None:
    app = make_rt_api_app(fleet, clock=lambda: NOW, baked_as_list=True)
    async with TestClient(TestServer(app)) as c:
        body = await (await c.get(BAKED, params={"limit": 5})).json()
        assert body == fleet.baked_archives(0, 5)


async def test_unknown_api_path_is_json_404(client: TestClient) -> None:
    resp = await client.get("/api/v9/nothing.json", headers=AUTH)
    assert resp.status == 404
    assert "error" in await resp.json()


# ---------------------------------------------------------------------- faults
async def set_fault(client: TestClient, spec: dict) -> dict:
    resp = await client.post("/_sim/faults", json=spec)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_http_5xx_fault_is_an_html_page(client: TestClient) -> None:
    await set_fault(client, {"fault": "http_5xx"})
    for path in (HEALTH, CAMERAS):
        resp = await client.get(path, headers=AUTH)
        assert resp.status == 503
        assert resp.content_type == "text/html"
        assert "<html>" in await resp.text()
    await client.delete("/_sim/faults")
    assert (await client.get(HEALTH)).status == 200


async def test_rate_limited_with_retry_after_and_count(client: TestClient) -> None:
    body = await set_fault(client, {"fault": "rate_limited", "retry_after": 2, "count": 3})
    assert body["faults"][0]["remaining"] == 3
    for _ in range(3):
        resp = await client.get(CAMERAS, headers=AUTH)
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "2"
    resp = await client.get(CAMERAS, headers=AUTH)
    assert resp.status == 200
    assert (await (await client.get("/_sim/faults")).json()) == {"faults": []}
    stats = await (await client.get("/_sim/stats")).json()
    assert stats["paths"][CAMERAS] == 4
    assert stats["statuses"] == {"200": 1, "429": 3}


async def test_slow_fault_delays(client: TestClient) -> None:
    await set_fault(client, {"fault": "slow", "delay": 0.3, "count": 1})
    t0 = time.perf_counter()
    resp = await client.get(HEALTH)
    assert resp.status == 200 and time.perf_counter() - t0 >= 0.3
    t0 = time.perf_counter()
    await client.get(HEALTH)
    assert time.perf_counter() - t0 < 0.3


async def test_slow_fault_trips_a_client_timeout(client: TestClient) -> None:
    await set_fault(client, {"fault": "slow", "delay": 1})
    with pytest.raises(asyncio.TimeoutError):
        await client.get(HEALTH, timeout=aiohttp.ClientTimeout(total=0.2))
    await client.delete("/_sim/faults")


async def test_malformed_truncated(client: TestClient) -> None:
    await set_fault(client, {"fault": "malformed", "kind": "truncated", "count": 1})
    resp = await client.get(CAMERAS, headers=AUTH)
    assert resp.status == 200 and resp.content_type == "application/json"
    text = await resp.text()
    assert text.startswith('{"cameras"')
    with pytest.raises(ValueError):
        json.loads(text)
    assert (await client.get(CAMERAS, headers=AUTH)).status == 200
    assert isinstance(await (await client.get(CAMERAS, headers=AUTH)).json(), dict)


async def test_malformed_html(client: TestClient) -> None:
    await set_fault(client, {"fault": "malformed", "kind": "html"})
    resp = await client.get(CAMERAS, headers=AUTH)
    assert resp.status == 200 and resp.content_type == "text/html"
    with pytest.raises(aiohttp.ContentTypeError):
        await resp.json()


async def test_malformed_empty(client: TestClient) -> None:
    await set_fault(client, {"fault": "malformed", "kind": "empty"})
    resp = await client.get(BAKED, headers=AUTH)
    assert resp.status == 200 and await resp.read() == b""


async def test_malformed_wrong_types(client: TestClient, fleet: SimulatedFleet) -> None:
    await set_fault(client, {"fault": "malformed", "kind": "wrong_types", "count": 1})
    body = await (await client.get(CAMERAS, headers=AUTH)).json()
    assert isinstance(body["cameras"], str) and body["total_pages"] == "x"

    await set_fault(client, {"fault": "malformed", "kind": "wrong_types", "variant": "fields"})
    body = await (await client.get(CAMERAS, params={"per_page": 5}, headers=AUTH)).json()
    assert isinstance(body["cameras"], list) and isinstance(body["total_pages"], str)
    cam = body["cameras"][1]
    assert isinstance(cam["is_online"], str) and isinstance(cam["data_center"], str)
    assert isinstance(body["cameras"][0]["uid"], int)
    uid = fleet.uids()[0]
    body = await (
        await client.get(frag_path(uid), params={"since": NOW - DAY, "till": NOW}, headers=AUTH)
    ).json()
    assert isinstance(body["fragments"][0]["since"], str)
    body = await (await client.get(BAKED, headers=AUTH)).json()
    assert all(isinstance(a["status"], str) for a in body["baked_archives"])


async def test_fault_path_filter(client: TestClient) -> None:
    await set_fault(client, {"fault": "http_5xx", "status": 502, "path": "/cameras.json"})
    assert (await client.get(HEALTH)).status == 200
    assert (await client.get(BAKED, headers=AUTH)).status == 200
    assert (await client.get(CAMERAS, headers=AUTH)).status == 502


async def test_faults_never_touch_control_routes(client: TestClient) -> None:
    await set_fault(client, {"fault": "http_5xx"})
    assert (await client.get("/_sim/truth")).status == 200
    assert (await client.get("/_sim/faults")).status == 200


@pytest.mark.parametrize(
    "spec",
    [
        {"fault": "earthquake"},
        {"fault": "malformed"},
        {"fault": "malformed", "kind": "gibberish"},
        {"fault": "slow", "delay": "long"},
        {"fault": "rate_limited", "count": 0},
        {"fault": "http_5xx", "status": 404},
        {"fault": "slow", "colour": "red"},
        {"nofault": 1},
    ],
)
async def test_bad_fault_specs_are_rejected(client: TestClient, spec: dict) -> None:
    resp = await client.post("/_sim/faults", json=spec)
    assert resp.status == 400
    assert "error" in await resp.json()
    assert (await (await client.get("/_sim/faults")).json()) == {"faults": []}


async def test_faults_from_python_and_stats(client: TestClient) -> None:
    app = client.server.app
    faults = app[FAULTS_KEY]
    faults.set("http_5xx", count=2)
    faults.set("slow", delay=0.0)
    statuses = [(await client.get(HEALTH)).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [f["fault"] for f in faults.active()] == ["slow"]
    faults.clear()
    assert not faults.active()
    stats = app[STATS_KEY]
    assert stats.paths[HEALTH] == 3
    resp = await client.delete("/_sim/stats")
    assert (await resp.json())["total"] == 0


async def test_stats_group_fragment_requests_by_route(
    client: TestClient, fleet: SimulatedFleet
) -> None:
    for uid in fleet.uids()[:3]:
        await client.get(frag_path(uid), params={"since": 0, "till": 1}, headers=AUTH)
    stats = await (await client.get("/_sim/stats")).json()
    assert stats["routes"]["/api/v1/user/cameras/{uid}/estore_fragments.json"] == 3
    assert stats["total"] == 3


async def test_serve_rt_api_on_a_real_port(fleet: SimulatedFleet) -> None:
    runner = await serve_rt_api(fleet, "127.0.0.1", 0, api_key=KEY)
    try:
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}/api"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/v1/health.json") as resp:
                assert await resp.json() == {"status": "ok"}
            async with session.get(f"{base}/v3/user/cameras.json", headers=AUTH) as resp:
                assert resp.status == 200
                assert len((await resp.json())["cameras"]) == 100
    finally:
        await runner.cleanup()
