"""The status page as a visitor sees it: headless Chromium on a running `vigil demo`.

One real demo process (simulated RT fleet, loopback network cameras, snapshot cameras, Perforce and
analytics simulators; no Prometheus) serves the pages; Debian's chromium, driven by Playwright, opens
them in English and Russian with the demo's printed login, searches a camera by a part of its
street address (in capitals, with "е" for "ё"), and checks what the page shows against the exporter's
own /metrics. A full-page screenshot of every page is written under the test's temporary directory.
Under CI a missing chromium is a failure (require_binary); `playwright install` is never run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter.simulate.fleet import SimulatedFleet
from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parent.parent
CAMERAS = 50
STREET = "Молодёжная"  # a street of the simulated fleet (seed 1) with several cameras
QUERY = "МОЛОДЕЖНАЯ"  # what the visitor types: capitals, and "е" where the address has "ё"
VIEWPORT = {"width": 1400, "height": 900}


@dataclass
class Demo:
    url: str
    user: str
    password: str
    token: str
    output: list[str]

    def get(self, path: str, auth: bool = True) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path)
        if auth:
            login = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {login}")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""

    def metric(self, name: str, **labels: str) -> float | None:
        text = self.get("/metrics")[1]
        selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
        match = re.search(rf"^{name}\{{{re.escape(selector)}\}} (\S+)$", text, re.M)
        return float(match.group(1)) if match else None


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "demo", "--cameras", str(CAMERAS), "--no-prometheus"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        url = user = password = token = None
        for line in proc.stdout:
            output.append(line)
            if m := re.match(r"\s+Exporter\s+(http://\S+?)/?\s", line):
                url = m.group(1)
            if m := re.match(r"\s+Login\s+user (\S+), password (\S+)", line):
                user, password = m.groups()
            if m := re.search(r"demo token for changes: (\w+)", line):
                token = m.group(1)
            if line.startswith("Press Ctrl-C"):
                break
        assert url and user and password and token, "".join(output)
        running = Demo(url, user, password, token, output)
        # the inventory is in, every network camera checked, the dark camera's evidence kept
        wait_for(lambda: running.get("/-/ready")[0] == 200, 60, "the demo's first polls")
        wait_for(
            lambda: running.metric(
                "vigil_camera_frame_evidence_timestamp_seconds",
                camera="lan-cam-02",
                problem="black",
            ),
            60,
            "the dark camera's evidence frame",
        )
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def browser():
    chromium = require_binary("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=chromium, args=args)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, demo: Demo, locale: str, login: bool = True):
    context = browser.new_context(
        viewport=VIEWPORT,
        locale=locale,  # sets Accept-Language
        http_credentials={"username": demo.user, "password": demo.password} if login else None,
    )
    return context, context.new_page()


def expected_cameras() -> dict[str, dict]:
    """The demo's cameras on STREET, from the simulated fleet itself (same size and seed)."""
    fleet = SimulatedFleet(cameras=CAMERAS, seed=1)
    found = {c["uid"]: c for c in fleet.cameras(time.time()) if STREET in c["address"] + c["name"]}
    assert len(found) >= 2, "the search below would mean little"
    return found


def secrets_absent(demo: Demo, html: str) -> None:
    assert demo.token not in html
    assert demo.password not in html
    assert "/cam/" not in html  # the snapshot cameras' frame URLs


def failing_tcp_checked(demo: Demo, cameras: tuple[str, ...], timeout: float = 60) -> None:
    """Wait until the network source has checked `cameras` (each failing its TCP check) at least
    once: right after start the page cannot name them yet."""
    deadline = time.monotonic() + timeout
    while True:
        text = demo.get("/metrics")[1]
        if all(
            f'vigil_camera_probe_success{{camera="{c}",check="tcp"}} 0' in text for c in cameras
        ):
            return
        assert time.monotonic() < deadline, f"no failed TCP check of {cameras} on /metrics"
        time.sleep(1)


def test_english_page_shows_the_fleet_the_problems_and_every_check(browser, demo, tmp_path):
    failing_tcp_checked(demo, ("lan-cam-09", "lan-cam-10"))
    context, page = open_page(browser, demo, "en-US")
    try:
        response = page.goto(demo.url + "/")
        assert response.status == 200
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", name="Find a camera").is_visible()
        tile = page.locator(".tile", has_text="RT API cameras")
        assert tile.locator(".big").inner_text() == str(CAMERAS)
        offline = int(tile.locator("li", has_text="offline").locator(".badge").inner_text())
        rt_offline = sum(
            1
            for line in demo.get("/metrics")[1].splitlines()
            if line.startswith("vigil_camera_online{") and line.endswith(" 0")
        )
        assert offline == rt_offline
        # every check of every source, coloured by its state
        rows = page.locator("table.checks tr.ok, table.checks tr.failing, table.checks tr.pending")
        sources = {rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())}
        assert {"rt_api", "network", "frames", "p4"} <= sources
        inventory = page.locator("table.checks tr", has_text="inventory")
        assert "ok" in inventory.get_attribute("class")
        assert inventory.locator("td").nth(3).evaluate("e => getComputedStyle(e).color") == (
            "rgb(26, 127, 55)"
        )
        # the cameras that never answer their TCP check are named among the problems
        problems = page.locator("ul.problems").inner_text()
        assert "lan-cam-09" in problems and "lan-cam-10" in problems
        assert "tcp check fails" in problems
        secrets_absent(demo, page.content())
        page.screenshot(path=tmp_path / "status-en.png", full_page=True)
    finally:
        context.close()
    assert (tmp_path / "status-en.png").stat().st_size > 10_000


def test_russian_page_finds_cameras_by_a_part_of_their_address(browser, demo, tmp_path):
    expected = expected_cameras()
    context, page = open_page(browser, demo, "ru-RU")
    try:
        page.goto(demo.url + "/")
        assert page.locator("html").get_attribute("lang") == "ru"
        assert page.get_by_role("heading", name="Найти камеру").is_visible()
        assert page.locator("table.checks th").first.inner_text() == "источник"
        page.fill("#q", QUERY)
        page.press("#q", "Enter")
        page.wait_for_load_state()
        assert "lang=ru" in page.url  # the search keeps the language
        cards = page.locator("article.camera")
        shown = {cards.nth(i).get_attribute("data-camera") for i in range(cards.count())}
        assert shown == set(expected)
        assert f"Найдено камер по «{QUERY}»: {len(expected)}." in page.inner_text("p.found")
        for uid, camera in expected.items():
            card = page.locator(f'article.camera[data-camera="{uid}"]')
            text = card.inner_text()
            assert camera["name"] in text and camera["address"] in text and camera["sn"] in text
            online = demo.metric("vigil_camera_online", camera=uid)
            assert ("да" in card.locator("dd .badge").first.inner_text()) == (online == 1), text
            coverage = demo.metric("vigil_camera_archive_coverage_ratio", camera=uid, window="1d")
            if coverage is not None:
                assert f"24 ч: {coverage * 100:.1f} %".replace(".", ",") in text
            card_state = {
                "CardOK": "в норме",
                "CardNotFound": "не найдена",
                "Unknown": "неизвестно",
                "": "нет данных",
                "CardError": "ошибка карты",
                "CardReadOnly": "только чтение",
                "CardNeedsFormat": "нужно форматирование",
            }[camera["memory_card_state"]["state"]]
            assert card_state in text
        secrets_absent(demo, page.content())
        page.screenshot(path=tmp_path / "status-ru-search.png", full_page=True)

        # the switch to English sticks (a cookie) when the visitor comes back without ?lang
        page.get_by_role("link", name="EN", exact=True).click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        page.goto(demo.url + "/")
        assert page.locator("html").get_attribute("lang") == "en"
        page.screenshot(path=tmp_path / "status-en-after-switch.png", full_page=True)
    finally:
        context.close()


def test_search_shows_the_latest_evidence_thumbnail_and_the_evidence_page(browser, demo, tmp_path):
    context, page = open_page(browser, demo, "en-GB")
    try:
        page.goto(demo.url + "/?q=LAN-CAM-02")
        card = page.locator('article.camera[data-camera="lan-cam-02"]')
        text = card.inner_text()
        assert "black" in text and "127.0.0.1:" in text
        assert "icmp: ok" in text
        thumb = card.locator("img.thumb")
        thumb.wait_for()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
        )
        page.screenshot(path=tmp_path / "search-evidence-en.png", full_page=True)

        page.goto(demo.url + "/evidence?lang=ru")
        row = page.locator("table.evidence tr", has_text="lan-cam-02")
        assert "чёрный кадр" in row.inner_text()
        # the capture time, in the configured zone (Europe/Moscow) and the Russian format
        stamp = row.locator("td").nth(3).inner_text()
        assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", stamp), stamp
        evidence_time = demo.metric(
            "vigil_camera_frame_evidence_timestamp_seconds", camera="lan-cam-02", problem="black"
        )
        from datetime import datetime
        from zoneinfo import ZoneInfo

        local = datetime.fromtimestamp(evidence_time, ZoneInfo("Europe/Moscow"))
        assert stamp == local.strftime("%d.%m.%Y %H:%M:%S")
        image = row.locator("img.thumb")
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        secrets_absent(demo, page.content())
        page.screenshot(path=tmp_path / "evidence-ru.png", full_page=True)
    finally:
        context.close()


def test_without_the_login_the_pages_are_refused_with_a_basic_challenge(demo):
    """A browser asks the visitor for the demo's login (Chromium headless cannot show the dialog)."""
    for path in ("/", "/evidence", "/api/v1/search?q=lan"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(demo.url + path, timeout=10)
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Basic ")


def test_the_search_as_json_agrees_with_the_page_and_keeps_secrets(demo):
    """/api/v1/search: the same cameras as the page, best first, bounded, and never a frame URL."""
    expected = expected_cameras()
    query = urllib.parse.quote(QUERY.lower())
    status, body = demo.get(f"/api/v1/search?q={query}")
    assert status == 200
    answer = json.loads(body)
    assert answer["total"] == len(expected)
    assert {c["id"] for c in answer["cameras"]} == set(expected)
    for found in answer["cameras"]:
        camera = expected[found["id"]]
        assert (found["name"], found["address"], found["sn"]) == (
            camera["name"],
            camera["address"],
            camera["sn"],
        )
        assert found["online"] == (demo.metric("vigil_camera_online", camera=found["id"]) == 1)
    # the id itself first; limit bounds the answer, total still counts every match
    status, body = demo.get("/api/v1/search?q=lan-cam-0&limit=3")
    answer = json.loads(body)
    assert answer["total"] == 9 and len(answer["cameras"]) == 3
    status, body = demo.get("/api/v1/search?q=lan-cam-02")
    [dark] = json.loads(body)["cameras"]
    assert dark["frame"]["problems"] == ["black"] and dark["evidence"]["problem"] == "black"
    assert dark["evidence"]["url"] == "/evidence/lan-cam-02/latest?problem=black"
    assert "/cam/" not in body  # the snapshot URL stays in the configuration
    for bad in ("", "?q=", "?q=%20", "?q=lan&limit=0", "?q=lan&limit=101", f"?q={'x' * 201}"):
        assert demo.get(f"/api/v1/search{bad}")[0] == 400, bad
