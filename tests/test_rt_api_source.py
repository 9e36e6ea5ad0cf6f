"""The RT API source against the simulator over real HTTP: what /metrics says is what the fleet is."""

from __future__ import annotations

import gzip
import logging
import re
import time
from collections import Counter

import pytest
from aiohttp import web

from exporter.metrics import SHARD_INFO
from tests.conftest import (
    API_KEY,
    eventually,
    free_port,
    running_exporter,
    scrape,
    serve_app,
    settled,
    simulator,
    value,
)


def rt_errors(samples, check: str, reason: str) -> float | None:
    return value(samples, "vigil_probe_errors_total", source="rt_api", check=check, reason=reason)


def by_label(samples, name, label, info, want=None):
    """Count cameras per `label` of vigil_camera_info, optionally only those with value `want`."""
    cam_label = {labels["camera"]: labels[label] for labels, _ in samples["vigil_camera_info"]}
    counts: Counter[str] = Counter()
    for labels, v in samples.get(name, []):
        if want is None or v == want:
            counts[cam_label[labels["camera"]]] += 1
    return counts


async def test_metrics_match_the_simulated_fleet(sim, http):
    truth = sim.truth()
    async with running_exporter(sim.api_url) as exporter:
        await exporter.scheduler.wait_ready()
        await exporter.scheduler.run_now("rt_api", "baked_archives")
        m = await scrape(http, exporter.url)

    assert len(m["vigil_camera_info"]) == truth["total"]
    online = [v for _, v in m["vigil_camera_online"]]
    assert online.count(1) == truth["online"]
    assert online.count(0) == truth["offline"]
    offline_uids = {lab["camera"] for lab, v in m["vigil_camera_online"] if v == 0}
    assert offline_uids == set(truth["offline_uids"])

    for label, key in (("vendor", "by_vendor"), ("datacenter", "by_datacenter")):
        totals = by_label(m, "vigil_camera_online", label, None)
        offline = by_label(m, "vigil_camera_online", label, None, want=0)
        for group, t in truth[key].items():
            assert totals[group] == t["total"], (label, group)
            assert offline[group] == t["offline"], (label, group)

    # offline-since only for offline cameras, and always in the past
    since = {lab["camera"]: v for lab, v in m["vigil_camera_offline_since_timestamp_seconds"]}
    assert set(since) <= offline_uids
    assert all(v < time.time() for v in since.values())

    current_states = Counter(
        lab["state"] for lab, v in m["vigil_camera_memory_card_state"] if v == 1
    )
    expected_states = Counter({(k or "none"): n for k, n in truth["memory_card"].items()})
    assert current_states == expected_states
    problems = sum(v for _, v in m["vigil_camera_memory_card_problem"])
    assert problems == truth["card_problems"] > 0

    assert len(m.get("vigil_camera_alive", [])) == truth["alive_reported"]

    for status, count in truth["baked_archives"].items():
        assert value(m, "vigil_baked_archives", status=status) == count

    assert value(m, "vigil_source_up", source="rt_api") == 1
    assert value(m, "vigil_build_info") == 1
    for check in ("health", "inventory", "baked_archives"):
        assert value(
            m, "vigil_source_last_success_timestamp_seconds", source="rt_api", check=check
        ) == pytest.approx(time.time(), abs=30)


async def test_ready_waits_for_the_first_inventory_poll(http):
    async with simulator() as sim:
        sim.faults.set("slow", delay=1.5)
        async with running_exporter(sim.api_url, timeout="5s") as exporter:
            async with http.get(f"{exporter.url}/-/ready") as resp:
                assert resp.status == 503
            async with http.get(f"{exporter.url}/-/healthy") as resp:
                assert resp.status == 200
            await eventually(lambda: exporter.scheduler.ready, timeout=8)
            async with http.get(f"{exporter.url}/-/ready") as resp:
                assert resp.status == 200


FAULTS = [
    ({"fault": "http_5xx"}, "http_5xx"),
    ({"fault": "rate_limited", "retry_after": 1}, "rate_limited"),
    ({"fault": "slow", "delay": 3}, "timeout"),
    ({"fault": "malformed", "kind": "truncated"}, "bad_payload"),
    ({"fault": "malformed", "kind": "html"}, "bad_payload"),
    ({"fault": "malformed", "kind": "empty"}, "bad_payload"),
    ({"fault": "malformed", "kind": "wrong_types"}, "bad_payload"),
    ({"fault": "malformed", "kind": "wrong_types", "variant": "fields"}, "bad_payload"),
    ({"fault": "malformed", "kind": "deep"}, "bad_payload"),
    ({"fault": "malformed", "kind": "huge_number"}, "bad_payload"),
]


@pytest.mark.parametrize(
    ("fault", "reason"),
    FAULTS,
    ids=[r[0].get("variant", r[0].get("kind", r[0]["fault"])) for r in FAULTS],
)
async def test_faults_keep_values_drop_up_count_errors_and_recover(sim, http, fault, reason):
    async with running_exporter(sim.api_url, timeout="1s", archive_interval="1s") as exporter:
        await settled(exporter)
        before = await scrape(http, exporter.url)
        assert value(before, "vigil_source_up", source="rt_api") == 1
        errors_before = rt_errors(before, "inventory", reason)

        params = {k: v for k, v in fault.items() if k != "fault"}
        sim.faults.set(fault["fault"], **params)
        up = exporter.metrics["vigil_source_up"]
        errors = exporter.metrics["vigil_probe_errors_total"]
        await eventually(
            lambda: (
                up.get(["rt_api", exporter.source("rt_api").instance]) == 0
                and errors.get(["rt_api", "inventory", reason]) > errors_before
            ),
            timeout=15,
        )
        during = await scrape(http, exporter.url)
        # the last good inventory is still served, unchanged
        assert during["vigil_camera_info"] == before["vigil_camera_info"]
        assert during["vigil_camera_online"] == before["vigil_camera_online"]
        errors = rt_errors(during, "inventory", reason)
        assert errors > errors_before
        async with http.get(f"{exporter.url}/") as resp:
            assert "failing" in await resp.text()

        sim.faults.clear()
        await eventually(
            lambda: (
                exporter.metrics["vigil_source_up"].get(
                    ["rt_api", exporter.source("rt_api").instance]
                )
                == 1
            ),
            timeout=15,
        )


async def test_retry_after_is_honoured_and_a_retried_poll_succeeds(sim, http):
    async with running_exporter(sim.api_url, inventory_interval="1h", max_retries="2") as exporter:
        await settled(exporter)
        sim.faults.set("rate_limited", retry_after=1, count=1)
        t0 = time.monotonic()
        assert await exporter.scheduler.run_now("rt_api", "inventory") is True
        assert time.monotonic() - t0 >= 0.95
        m = await scrape(http, exporter.url)
        assert value(m, "vigil_source_up", source="rt_api") == 1
        assert rt_errors(m, "inventory", "rate_limited") == 1


async def test_wrong_api_key_is_a_4xx_failure(sim, http):
    async with running_exporter(sim.api_url, api_key="not-the-key") as exporter:
        await exporter.scheduler.wait_ready()
        m = await scrape(http, exporter.url)
    assert value(m, "vigil_source_up", source="rt_api") == 0
    assert rt_errors(m, "inventory", "http_4xx") >= 1
    assert "vigil_camera_info" not in m


async def test_connection_refused_is_counted(http):
    async with running_exporter(f"http://127.0.0.1:{free_port()}/api", max_retries="0") as exp:
        await exp.scheduler.wait_ready()
        m = await scrape(http, exp.url)
    assert value(m, "vigil_source_up", source="rt_api") == 0
    assert rt_errors(m, "inventory", "connection") >= 1


class ScriptedApi:
    """A tiny RT API whose camera list the test writes, for shapes the simulator never makes."""

    def __init__(self) -> None:
        self.cameras: list = []
        self.app = web.Application()
        self.app.router.add_get("/api/v1/health.json", self.health)
        self.app.router.add_get("/api/v3/user/cameras.json", self.camera_list)
        self.app.router.add_get("/api/v1/user/baked_archives.json", self.baked)
        self.app.router.add_get("/api/v1/user/cameras/{uid}/estore_fragments.json", self.fragments)

    async def health(self, request):
        return web.json_response({"status": "ok"})

    async def camera_list(self, request):
        return web.json_response({"cameras": self.cameras, "total_pages": 1})

    async def baked(self, request):
        return web.json_response([{"status": 3}, {"status": "weird"}])

    async def fragments(self, request):
        return web.json_response({"fragments": []})


@pytest.fixture
async def scripted():
    api = ScriptedApi()
    async with serve_app(api.app) as base:
        api.url = f"{base}/api"
        yield api


async def test_odd_records_are_tolerated_and_vanished_cameras_leave_metrics(scripted, http):
    scripted.cameras = odd_records = [
        {"uid": "cam-a", "name": "A", "is_online": True, "data_center": {"name": "MSK-1"}},
        {"uid": "cam-b", "is_online": "yes", "data_center": "flat", "memory_card_state": None},
        {
            "uid": "cam-c",
            "is_online": False,
            "offline_since": "yesterday",
            "alive": False,
            "memory_card_state": {"state": "CardBroken"},
            "name": {"nested": 1},
        },
        {"name": "no uid"},
        "not an object",
        {"uid": ""},
    ]
    async with running_exporter(scripted.url, inventory_interval="1h") as exporter:
        await exporter.scheduler.wait_ready()
        await exporter.scheduler.run_now("rt_api", "baked_archives")
        m = await scrape(http, exporter.url)
        info = {lab["camera"]: lab for lab, _ in m["vigil_camera_info"]}
        assert set(info) == {"cam-a", "cam-b", "cam-c"}
        assert info["cam-a"]["datacenter"] == "MSK-1"
        assert info["cam-b"]["datacenter"] == "flat"
        assert info["cam-c"]["name"] == ""
        # a status the API did not give is left out, never guessed
        assert value(m, "vigil_camera_online", camera="cam-b") is None
        assert value(m, "vigil_camera_online", camera="cam-c") == 0
        assert value(m, "vigil_camera_offline_since_timestamp_seconds", camera="cam-c") is None
        assert value(m, "vigil_camera_alive", camera="cam-c") == 0
        assert value(m, "vigil_camera_memory_card_problem", camera="cam-c") == 1
        assert value(m, "vigil_camera_memory_card_state", camera="cam-c", state="CardBroken") == 1
        assert value(m, "vigil_camera_memory_card_state", camera="cam-c", state="CardOK") == 0
        assert value(m, "vigil_source_up", source="rt_api") == 1
        # three records without a usable uid, and three values Vigil cannot read: cam-b's
        # is_online "yes", cam-c's offline_since "yesterday" and its name object
        assert rt_errors(m, "inventory", "bad_payload") == 6
        unusable = {lab["field"]: v for lab, v in m["vigil_rt_api_fields_unusable"]}
        assert unusable["is_online"] == unusable["offline_since"] == unusable["name"] == 1
        assert unusable["uid"] == 1  # the record "not an object"
        absent = {lab["field"]: v for lab, v in m["vigil_rt_api_fields_absent"]}
        assert absent["uid"] == 2  # {"name": "no uid"} and {"uid": ""}
        assert absent["memory_card_state"] == 2  # cam-a has none, cam-b's is null
        assert absent["alive"] == 2 and absent["sn"] == 3
        assert value(m, "vigil_baked_archives", status="DONE") == 1
        assert value(m, "vigil_baked_archives", status="NEW") == 0

        # an empty list after a full one is a glitch, not a fleet that vanished
        scripted.cameras = []
        assert await exporter.scheduler.run_now("rt_api", "inventory") is False
        m = await scrape(http, exporter.url)
        assert len(m["vigil_camera_info"]) == 3

        scripted.cameras = odd_records[:1]
        await exporter.scheduler.run_now("rt_api", "inventory")
        m = await scrape(http, exporter.url)
        for name in (
            "vigil_camera_info",
            "vigil_camera_online",
            "vigil_camera_alive",
            "vigil_camera_memory_card_state",
            "vigil_camera_memory_card_problem",
        ):
            cams = {lab["camera"] for lab, _ in m.get(name, [])}
            assert cams <= {"cam-a"}, name


async def test_metrics_gzip_when_asked(sim, http):
    """The compressed body is kept between scrapes, and each scrape still gets fresh process_*."""

    def vigil_lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if "process_" not in line]

    async def fetch(encoding: str) -> str:
        async with http.get(
            f"{exporter.url}/metrics", headers={"Accept-Encoding": encoding}, auto_decompress=False
        ) as resp:
            raw = await resp.read()
            if encoding == "gzip":
                assert resp.headers["Content-Encoding"] == "gzip"
                return gzip.decompress(raw).decode()  # one complete gzip member
            assert "Content-Encoding" not in resp.headers
            assert len(raw) == int(resp.headers["Content-Length"])
            return raw.decode()

    async with running_exporter(sim.api_url) as exporter:
        await exporter.scheduler.wait_ready()
        first, plain = await fetch("gzip"), await fetch("identity")
        time.sleep(0.02)  # some CPU time passes: process_* differ from scrape to scrape
        second = await fetch("gzip")
        exporter.metrics.family(SHARD_INFO).set(["5", "9"], 1)  # something changes
        third = await fetch("gzip")
    assert "vigil_camera_online" in first
    assert vigil_lines(first) == vigil_lines(second) == vigil_lines(plain)
    for text in (first, second, third, plain):
        assert "process_cpu_seconds_total" in text and text.endswith("\n")
    assert 'vigil_shard_info{index="5",count="9"} 1' in third
    assert 'vigil_shard_info{index="5",count="9"} 1' not in second


async def test_landing_page_links_and_check_table(sim, http):
    async with running_exporter(sim.api_url) as exporter:
        await exporter.scheduler.wait_ready()
        async with http.get(f"{exporter.url}/") as resp:
            page = await resp.text()
    for link in ('href="metrics"', 'href="-/healthy"', 'href="-/ready"'):
        assert link in page
    assert "inventory" in page and "rt_api" in page
    truth = sim.truth()
    assert f"{truth['total']} cameras: {truth['online']} online, {truth['offline']} offline" in page
    assert API_KEY not in page


async def test_an_answer_over_max_answer_mb_is_refused_and_counted_not_held(sim, http, caplog):
    caplog.set_level(logging.WARNING)
    async with running_exporter(sim.api_url, timeout="2s", max_answer_mb="1") as exporter:
        await settled(exporter)
        before = await scrape(http, exporter.url)
        sim.faults.set("malformed", kind="oversized")
        errors = exporter.metrics["vigil_probe_errors_total"]
        start = errors.get(["rt_api", "inventory", "bad_payload"])
        await eventually(
            lambda: errors.get(["rt_api", "inventory", "bad_payload"]) > start, timeout=15
        )
        during = await scrape(http, exporter.url)
        assert during["vigil_camera_info"] == before["vigil_camera_info"]  # last good kept
        assert "an answer over 1 MiB, refused (max_answer_mb)" in caplog.text
        sim.faults.clear()


async def test_a_check_that_recovers_says_so_in_the_log(sim, http, caplog):
    caplog.set_level(logging.INFO, logger="vigil.checks")
    async with running_exporter(sim.api_url, timeout="1s", max_retries="0") as exporter:
        await settled(exporter)
        up = exporter.metrics["vigil_source_up"]
        instance = exporter.source("rt_api").instance
        sim.faults.set("http_5xx")
        await eventually(lambda: up.get(["rt_api", instance]) == 0, timeout=15)
        assert "recovered" not in caplog.text
        sim.faults.clear()
        await eventually(lambda: up.get(["rt_api", instance]) == 1, timeout=15)
        # every check that was failing says so (which ones failed depends on timing)
        recovered = re.compile(r"rt_api/\w+ recovered after \d+s failing")
        await eventually(lambda: recovered.search(caplog.text) is not None, timeout=15)
