"""Direct camera checks through the running exporter: config targets, registration API, /probe."""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from exporter.config import parse_config
from tests.conftest import eventually, free_port, scrape, started_exporter, value

TOKEN = "api-token-7f3e9a1c"
CAM_PASSWORD = "cam-pass-Q9z"


@asynccontextmanager
async def tcp_listener():
    """A loopback port that accepts connections (and closes them)."""

    async def handle(reader, writer):
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def cameras_yaml(state_file: Path | None, targets: str, token: bool = True) -> str:
    lines = ['listen: "127.0.0.1:0"']
    if token:
        lines.append("api_token: ${VIGIL_API_TOKEN}")
    lines += ["cameras:", "  icmp: 1s", "  tcp: 1s", "  timeout: 1s"]
    if state_file is not None:
        lines.append(f"  state_file: {state_file}")
    lines.append("  targets:" + ("" if targets.strip() else " []"))
    lines.append(targets)
    return "\n".join(lines) + "\n"


def exporter_with(text: str):
    return started_exporter(parse_config(text, env={"VIGIL_API_TOKEN": TOKEN}))


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_config_targets_are_checked_and_reported(http, tmp_path):
    async with tcp_listener() as open_port:
        closed_port = free_port()
        targets = f"""    - id: gate
      host: 127.0.0.1
      port: {open_port}
    - id: dead-port
      host: 127.0.0.1
      port: {closed_port}
      icmp: 0s
"""
        async with exporter_with(cameras_yaml(None, targets)) as exporter:

            async def all_reported():
                m = await scrape(http, exporter.url)
                got = {
                    (lab["camera"], lab["check"])
                    for lab, _ in m.get("vigil_camera_probe_success", [])
                }
                return m if len(got) == 3 else None

            m = await eventually(all_reported, timeout=10)
    assert value(m, "vigil_camera_probe_success", camera="gate", check="tcp") == 1
    assert 0 < value(m, "vigil_camera_probe_rtt_seconds", camera="gate", check="tcp") < 0.5
    assert value(m, "vigil_camera_probe_success", camera="dead-port", check="tcp") == 0
    assert value(m, "vigil_camera_probe_rtt_seconds", camera="dead-port", check="tcp") is None
    assert value(m, "vigil_camera_probe_success", camera="dead-port", check="icmp") is None  # off
    assert (
        value(m, "vigil_probe_errors_total", source="network", check="tcp", reason="refused") >= 1
    )
    assert value(m, "vigil_camera_target_info", camera="gate", host="127.0.0.1") == 1
    if os.geteuid() == 0:  # raw ICMP sockets work as root on this kind of machine
        assert value(m, "vigil_camera_probe_success", camera="gate", check="icmp") == 1
        assert value(m, "vigil_source_up", source="network") == 1
    fleet = [v for lab, v in m["vigil_probe_rtt_seconds_count"] if lab["check"] == "tcp"]
    assert fleet and fleet[0] >= 1


async def test_registration_round_trip_restart_and_secrets(http, tmp_path, caplog):
    state = tmp_path / "cameras.json"
    async with tcp_listener() as port, exporter_with(cameras_yaml(state, "")) as exporter:
        api = f"{exporter.url}/api/v1/cameras"
        body = {
            "id": "lobby",
            "host": "127.0.0.1",
            "port": port,
            "icmp": "0s",
            "tcp": "1s",
            "frame_url": f"rtsp://admin:{CAM_PASSWORD}@127.0.0.1:{port}/stream1",
        }
        async with http.post(api, json=body) as resp:
            assert resp.status == 401
        async with http.post(api, json=body, headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401
        async with http.post(api, json=body, headers=AUTH) as resp:
            assert resp.status == 201
            created = await resp.json()
        assert created["frame_url"].startswith("rtsp://***@127.0.0.1")
        async with http.post(api, json=body, headers=AUTH) as resp:
            assert resp.status == 200  # replaced, not duplicated

        async def probed():
            m = await scrape(http, exporter.url)
            return value(m, "vigil_camera_probe_success", camera="lobby", check="tcp") == 1

        await eventually(
            probed, timeout=5
        )  # within one interval (1 s) of registering, and then some

        async with http.get(api) as resp:
            listing = await resp.json()
        assert [c["id"] for c in listing["cameras"]] == ["lobby"]
        async with http.get(f"{api}/lobby") as resp:
            page = await resp.text()
        async with http.get(f"{api}/nope") as resp:
            assert resp.status == 404
        metrics_text = await (await http.get(f"{exporter.url}/metrics")).text()
        status_page = await (await http.get(f"{exporter.url}/")).text()
        assert "1 cameras checked on the network" in status_page
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    for text in (json.dumps(listing), page, metrics_text, status_page, caplog.text):
        assert CAM_PASSWORD not in text
        assert TOKEN not in text

    # a restart keeps the registration, and the camera is checked again
    async with tcp_listener() as port2, exporter_with(cameras_yaml(state, "")) as exporter:
        async with http.get(f"{exporter.url}/api/v1/cameras/lobby") as resp:
            assert resp.status == 200
        async with http.delete(f"{exporter.url}/api/v1/cameras/lobby") as resp:
            assert resp.status == 401
        async with http.delete(f"{exporter.url}/api/v1/cameras/lobby", headers=AUTH) as resp:
            assert resp.status == 204
        async with http.delete(f"{exporter.url}/api/v1/cameras/lobby", headers=AUTH) as resp:
            assert resp.status == 404
        m = await scrape(http, exporter.url)
        assert not any(
            lab["camera"] == "lobby" for lab, _ in m.get("vigil_camera_probe_success", [])
        )
        assert not any(lab["camera"] == "lobby" for lab, _ in m.get("vigil_camera_target_info", []))
        assert port2  # the listener only keeps the port range busy


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"host": "127.0.0.1"}, "id"),
        ({"id": "x", "host": "127.0.0.1", "port": 70000}, "port"),
        ({"id": "x", "host": "bad host name"}, "host"),
        ({"id": "x", "host": "127.0.0.1", "tcp": "soon"}, "tcp"),
        ({"id": "x", "host": "127.0.0.1", "colour": "red"}, "colour"),
        (["not", "an", "object"], ""),
    ],
)
async def test_bad_bodies_get_400_with_the_reason(http, body, field):
    async with exporter_with(cameras_yaml(None, "")) as exporter:
        async with http.post(f"{exporter.url}/api/v1/cameras", json=body, headers=AUTH) as resp:
            assert resp.status == 400
            assert field in (await resp.json())["error"]
        async with http.post(
            f"{exporter.url}/api/v1/cameras", data=b"{not json", headers=AUTH
        ) as resp:
            assert resp.status == 400


async def test_without_a_token_the_api_is_read_only_and_config_cameras_are_protected(http):
    targets = "    - id: fixed\n      host: 127.0.0.1\n"
    async with exporter_with(cameras_yaml(None, targets, token=False)) as exporter:
        api = f"{exporter.url}/api/v1/cameras"
        async with http.post(api, json={"id": "x", "host": "127.0.0.1"}) as resp:
            assert resp.status == 403
            assert "read-only" in (await resp.json())["error"]
        async with http.get(api) as resp:
            assert [c["id"] for c in (await resp.json())["cameras"]] == ["fixed"]
    async with exporter_with(cameras_yaml(None, targets)) as exporter:
        async with http.delete(f"{exporter.url}/api/v1/cameras/fixed", headers=AUTH) as resp:
            assert resp.status == 409
        body = {"id": "fixed", "host": "127.0.0.2"}
        async with http.post(f"{exporter.url}/api/v1/cameras", json=body, headers=AUTH) as resp:
            assert resp.status == 409


async def test_corrupt_state_file_is_kept_aside_and_reported(http, tmp_path, caplog):
    state = tmp_path / "cameras.json"
    state.write_text('{"version": 1, "cameras": [ {"id": "a", "host"')
    async with exporter_with(cameras_yaml(state, "")) as exporter:
        m = await scrape(http, exporter.url)
        assert value(m, "vigil_camera_state_file_problems_total") >= 1
        async with http.post(
            f"{exporter.url}/api/v1/cameras", json={"id": "b", "host": "127.0.0.1"}, headers=AUTH
        ) as resp:
            assert resp.status == 201
    aside = list(tmp_path.glob("cameras.json.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_text().startswith('{"version": 1, "cameras": [ {"id": "a"')
    assert "camera state file" in caplog.text
    assert [c["id"] for c in json.loads(state.read_text())["cameras"]] == ["b"]


async def test_probe_endpoint_checks_only_registered_cameras(http):
    async with tcp_listener() as port:
        targets = f"    - id: door\n      host: 127.0.0.1\n      port: {port}\n      icmp: 0s\n"
        async with exporter_with(cameras_yaml(None, targets)) as exporter:
            async with http.get(f"{exporter.url}/probe", params={"target": "door"}) as resp:
                assert resp.status == 200
                text = await resp.text()
            async with http.get(
                f"{exporter.url}/probe", params={"target": f"127.0.0.1:{port}"}
            ) as resp:
                assert resp.status == 404
            async with http.get(f"{exporter.url}/probe") as resp:
                assert resp.status == 400
    assert 'vigil_camera_probe_success{camera="door",check="tcp"} 1' in text
    assert 'vigil_camera_probe_rtt_seconds{camera="door",check="tcp"}' in text
    assert 'check="icmp"' not in text  # switched off for this camera
