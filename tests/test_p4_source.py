"""Perforce stream sizes through the running exporter, with a fake P4Python behind the client."""

from __future__ import annotations

import asyncio
import threading

from exporter.config import parse_config
from exporter.service import Exporter
from tests.conftest import eventually, scrape, value
from tests.fake_p4 import FakeServer

TOKEN = "p4-api-token-0e1f"
PASSWORD = "p4-pass-Zq81"


def config_text(mask: str = "//depot/*") -> str:
    return f"""listen: "127.0.0.1:0"
api_token: ${{VIGIL_API_TOKEN}}
p4:
  servers:
    - name: p4-main
      p4port: ssl:p4.example:1666
      p4user: build
      stream_mask: "{mask}"
      password_env: P4_MAIN_PASSWORD
      interval: 1h
      timeout: 5s
"""


async def start(fake: FakeServer, text: str, monkeypatch) -> Exporter:
    monkeypatch.setenv("P4_MAIN_PASSWORD", PASSWORD)
    config = parse_config(text, env={"VIGIL_API_TOKEN": TOKEN})
    exporter = Exporter(config, p4_factory=fake.p4)
    await exporter.start()
    return exporter


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_sizes_ticket_and_the_mask_gotcha(http, monkeypatch, caplog):
    fake = FakeServer(sizes={"//depot/main": (120, 5_000_000), "//depot/dev-alice": (7, 900)})
    exporter = await start(fake, config_text("//depot/*"), monkeypatch)
    try:

        async def refreshed():
            m = await scrape(http, exporter.url)
            return m if value(m, "vigil_p4_server_up", server="p4-main") == 1 else None

        m = await eventually(refreshed, timeout=10)
        streams = {lab["stream"]: v for lab, v in m["vigil_p4_stream_size_bytes"]}
        # //depot/rel/1.0 is nested (not matched by *), //depot/virt is virtual, //games is elsewhere
        assert streams == {"//depot/main": 5_000_000, "//depot/dev-alice": 900}
        assert value(m, "vigil_p4_stream_files", stream="//depot/main") == 120
        assert value(m, "vigil_p4_ticket_expiry_seconds", server="p4-main") == 43200
        assert value(m, "vigil_p4_refresh_duration_seconds", server="p4-main") >= 0
        pages = [await (await http.get(f"{exporter.url}{p}")).text() for p in ("/", "/metrics")]
    finally:
        await exporter.stop()
    for text in [*pages, caplog.text]:
        assert PASSWORD not in text and fake.ticket not in text

    # a mask that matches nothing: p4 streams answers with every stream, Vigil keeps none
    fake2 = FakeServer()
    exporter = await start(fake2, config_text("//nothing/*"), monkeypatch)
    try:
        m = await eventually(lambda: scrape(http, exporter.url), timeout=5)
        await eventually(
            lambda: exporter.metrics["vigil_p4_server_up"].get(["p4-main"]) == 1, timeout=10
        )
        m = await scrape(http, exporter.url)
        assert "vigil_p4_stream_size_bytes" not in m
    finally:
        await exporter.stop()


async def test_expired_ticket_is_a_metric_and_a_down_server(http, monkeypatch):
    fake = FakeServer(expired=True)
    exporter = await start(fake, config_text(), monkeypatch)
    try:
        await eventually(
            lambda: exporter.metrics["vigil_p4_server_up"].get(["p4-main"]) == 0, timeout=10
        )
        m = await scrape(http, exporter.url)
        assert value(m, "vigil_p4_ticket_expiry_seconds", server="p4-main") == 0
        assert (
            value(
                m, "vigil_probe_errors_total", source="p4", check="p4-main", reason="ticket_expired"
            )
            >= 1
        )
    finally:
        await exporter.stop()


async def test_manual_refreshes_lock_and_collide_with_409(http, monkeypatch):
    fake = FakeServer(sizes={"//depot/main": (1, 10), "//depot/dev-alice": (2, 20)})
    exporter = await start(fake, config_text(), monkeypatch)
    try:
        await eventually(
            lambda: exporter.metrics["vigil_p4_server_up"].get(["p4-main"]) == 1, timeout=10
        )
        api = f"{exporter.url}/api/v1/p4"
        async with http.post(f"{api}/refresh") as resp:
            assert resp.status == 401
        gate = threading.Event()
        fake.block["sizes"] = gate  # the next p4 sizes call waits until the test opens the gate
        async with http.post(f"{api}/refresh/p4-main", headers=AUTH) as resp:
            assert resp.status == 202
            job = await resp.json()
        async with http.post(f"{api}/refresh", headers=AUTH) as resp:
            assert resp.status == 409  # everything collides with a server refresh in progress
            assert (await resp.json())["held_by"]["id"] == job["id"]
        async with http.post(f"{api}/refresh/p4-main/depot/main", headers=AUTH) as resp:
            assert resp.status == 409
        async with http.post(f"{api}/refresh/nope", headers=AUTH) as resp:
            assert resp.status == 404
        async with http.get(f"{api}/locks") as resp:
            assert [j["id"] for j in (await resp.json())["locks"]] == [job["id"]]
        gate.set()
        del fake.block["sizes"]

        async def done():
            async with http.get(f"{exporter.url}/api/v1/jobs/{job['id']}") as resp:
                body = await resp.json()
            return body if body["state"] != "running" else None

        finished = await eventually(done, timeout=10)
        assert finished["state"] == "done"
        async with http.post(f"{api}/refresh/p4-main/depot/main", headers=AUTH) as resp:
            assert resp.status == 202
        await asyncio.sleep(0)
    finally:
        await exporter.stop()


async def test_p4_login_stores_the_ticket_and_reports_a_bad_password(monkeypatch):
    from exporter.sources.p4.source import login

    fake = FakeServer(password=PASSWORD, logged_in=False)
    config = parse_config(config_text(), env={"VIGIL_API_TOKEN": TOKEN}).p4
    lines: list[str] = []
    monkeypatch.delenv("P4_MAIN_PASSWORD", raising=False)
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return PASSWORD

    code = await login(config, None, prompt, p4_factory=fake.p4, out=lines.append)
    assert code == 0 and prompts and "p4-main: logged in as build" in lines[0]
    assert fake.logged_in
    assert all(PASSWORD not in line for line in lines + prompts)

    code = await login(config, None, lambda _: "wrong", p4_factory=fake.p4, out=lines.append)
    assert code == 1 and lines[-1] == "p4-main: login failed (auth)"
    code = await login(config, "nope", prompt, p4_factory=fake.p4, out=lines.append)
    assert code == 2
