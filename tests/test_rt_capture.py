"""`vigil rt-capture`, `vigil rt-check` and `vigil simulate --from`, run as an operator runs them.

The capture is taken from the simulated fleet over real HTTP by the real command line; the file must
hold none of the fleet's personal or secret values (every one is looked for), and rt-check must
understand every field of it. A capture served back by `vigil simulate --from` feeds a real exporter.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from exporter.simulate.rt_api import CLOCK_KEY, DIALECT_KEY
from exporter.simulate.rt_capture import make_capture_app
from exporter.sources.rt_api.capture import load
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

ROOT = Path(__file__).resolve().parent.parent
VIGIL = [sys.executable, "-m", "exporter"]


async def vigil(*args: str, env: dict | None = None, timeout: float = 60) -> tuple[int, str, str]:
    """The CLI in a subprocess, without blocking the loop that serves the simulator."""
    proc = await asyncio.create_subprocess_exec(
        *VIGIL,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


def config_file(tmp_path: Path, api_url: str) -> Path:
    path = tmp_path / "vigil.yml"
    path.write_text(f'rt_api:\n  url: "{api_url}"\n  api_key: ${{RT_API_KEY}}\n  max_retries: 0\n')
    return path


def personal_values(sim) -> set[str]:
    """Every secret and personal value the simulated fleet could show: the key, and per camera its
    uid, name, address, serial, MAC and IP, and the free-text titles of baked archives."""
    values = {API_KEY}
    for camera in sim.fleet.cameras(sim.runner.app[CLOCK_KEY]()):
        for key in ("uid", "name", "address", "sn", "mac", "ip"):
            if camera.get(key):
                values.add(str(camera[key]))
    for item in sim.fleet.baked_archives():
        values.add(item["title"])
        values.add(item["camera_uid"])
    return values


def leaks(text: str, values: set[str]) -> list[str]:
    escaped = {v: json.dumps(v)[1:-1] for v in values}  # as JSON would write it, \\u escapes too
    return sorted(v for v in values if v in text or escaped[v] in text)


async def capture(sim, tmp_path: Path, *extra: str) -> tuple[int, str, str, Path]:
    out = tmp_path / "sample.json"
    code, stdout, stderr = await vigil(
        "rt-capture",
        "-c",
        str(config_file(tmp_path, sim.api_url)),
        "-o",
        str(out),
        *extra,
        env={"RT_API_KEY": API_KEY},
    )
    return code, stdout, stderr, out


async def test_a_capture_of_the_simulator_holds_no_personal_value_and_is_understood(tmp_path):
    async with simulator() as sim:
        code, stdout, stderr, path = await capture(sim, tmp_path)
        values = personal_values(sim)
    assert code == 0, stderr
    assert "4 of 4 endpoints captured" in stdout
    text = path.read_text(encoding="utf-8")
    assert len(values) > 500  # uids, names, addresses, serials, MACs, IPs, titles, the key
    assert leaks(text, values) == []
    assert leaks(stdout + stderr, values) == []

    document = load(text)
    cameras = document["answers"]["cameras"]["body"]["cameras"]
    assert len(cameras) == 120
    first = cameras[0]
    real = sim.fleet.cameras(0)[0]
    # same type and length, none of the content; equipment and states kept as sent
    for key in ("uid", "name", "address", "sn", "mac", "ip"):
        if key in real:
            assert len(first[key]) == len(real[key]) and first[key] != real[key], key
    assert first["uid"] == "00000000-0000-0000-0000-000000000001"
    assert (first["vendor"], first["model"]) == (real["vendor"], real["model"])
    assert first["memory_card_state"] == real["memory_card_state"]
    assert first["data_center"] == real["data_center"]
    # the fragments are those of a camera of the page, under its placeholder
    fragments = document["answers"]["fragments"]
    assert fragments["path"] == f"/v1/user/cameras/{first['uid']}/estore_fragments.json"
    assert fragments["body"]["fragments"]
    baked = document["answers"]["baked_archives"]["body"]["baked_archives"]
    placeholders = {c["uid"] for c in cameras}
    assert {b["camera_uid"] for b in baked} <= placeholders  # same camera, same placeholder

    code, stdout, stderr = await vigil("rt-check", str(path))
    assert code == 0, stdout + stderr
    assert "NOT UNDERSTOOD" not in stdout
    assert "Every field Vigil publishes was understood." in stdout
    for field in ("uid", "name", "sn", "mac", "ip", "firmware", "data_center", "is_online"):
        assert f"\n  {field} " in stdout, field
    assert "alive / is_alive     understood in" in stdout
    assert (
        "cameras.json           understood: 120 camera records (per_page 1000), total_pages 1"
        in stdout
    )


async def test_a_capture_in_the_platforms_other_dialect_is_understood(tmp_path):
    async with simulator(cameras=30) as sim:
        sim.runner.app[DIALECT_KEY].update(
            alive_field="is_alive",
            booleans="string",
            numbers="string",
            baked_shape="archives",
            total_pages=False,
        )
        code, _, stderr, path = await capture(sim, tmp_path)
        values = personal_values(sim)
    assert code == 0, stderr
    assert leaks(path.read_text(encoding="utf-8"), values) == []
    code, stdout, _ = await vigil("rt-check", str(path))
    assert code == 0, stdout
    assert '(as "is_alive")' in stdout
    assert "no total_pages (Vigil reads on while pages come back full)" in stdout
    assert 'as {"archives": [...]}' in stdout


async def test_rt_check_names_what_it_cannot_read(tmp_path):
    document = {
        "format": "vigil-rt-capture/1",
        "captured_at": 1_790_000_000,
        "answers": {
            "health": {"path": "/v1/health.json", "params": {}, "status": 200, "body": {}},
            "cameras": {
                "params": {"page": 1, "per_page": 1000},
                "body": {
                    "cameras": [
                        {"uid": "a", "is_online": "yes", "offline_since": "yesterday"},
                        {"uid": "b", "is_alive": 2, "name": {"first": "x"}, "new_field": 1},
                        {"name": "no uid"},
                    ]
                },
            },
            "fragments": {"params": {}, "body": {"fragments": [{"since": 1, "till": None}]}},
            "baked_archives": {"params": {"limit": 50}, "body": {"items": []}},
        },
    }
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(document))
    code, stdout, _ = await vigil("rt-check", str(path))
    assert code == 1
    expected = [
        "is_online NOT UNDERSTOOD: 1 value(s) of a kind Vigil cannot read (string 'yes')",
        "offline_since NOT UNDERSTOOD: 1 value(s) of a kind Vigil cannot read (string 'yesterday')",
        "alive / is_alive NOT UNDERSTOOD: 1 value(s) of a kind Vigil cannot read (number 2)",
        "name NOT UNDERSTOOD: 1 value(s) of a kind Vigil cannot read (object); absent in 1",
        "records NOT UNDERSTOOD: 1 without a usable uid (skipped)",
        "not read by Vigil new_field (1)",
        "fragments NOT UNDERSTOOD: 1 without a usable since/till (skipped)",
        "baked_archives.json NOT UNDERSTOOD: baked archives: expected a list",
    ]
    lines = [" ".join(line.split()) for line in stdout.splitlines()]
    for line in expected:
        assert any(got.startswith(line) for got in lines), line
    assert "7 thing(s) Vigil could not read" in stdout

    path.write_text('{"not": "a capture"}')
    code, _, stderr = await vigil("rt-check", str(path))
    assert code == 2 and "not a capture written by `vigil rt-capture`" in stderr


async def test_a_failed_endpoint_is_reported_and_the_rest_still_written(tmp_path):
    async with simulator(cameras=10) as sim:
        sim.faults.set("http_5xx", path="/estore_fragments.json")
        code, stdout, stderr, path = await capture(sim, tmp_path)
        values = personal_values(sim)
    assert code == 3
    assert "3 of 4 endpoints captured (health, cameras, baked_archives)" in stdout
    assert "fragments: GET /v1/user/cameras/00000000-0000-0000-0000-000000000001/" in stderr
    text = path.read_text(encoding="utf-8")
    assert leaks(text + stdout + stderr, values) == []  # the error text names the placeholder
    code, stdout, _ = await vigil("rt-check", str(path))
    assert "estore_fragments.json  not captured: the API answered http_5xx" in stdout
    assert code == 0  # what was captured was understood


@pytest.fixture
async def sample(tmp_path):
    async with simulator(cameras=40) as sim:
        code, _, stderr, path = await capture(sim, tmp_path)
    assert code == 0, stderr
    return load(path.read_text(encoding="utf-8")), path


async def test_a_served_capture_feeds_the_exporter(sample, http):
    document, _ = sample
    captured = document["answers"]["cameras"]["body"]["cameras"]
    baked = document["answers"]["baked_archives"]["body"]["baked_archives"]
    async with (
        serve_app(make_capture_app(document, API_KEY)) as base,
        running_exporter(f"{base}/api", page_size="1000") as exporter,
    ):
        await settled(exporter)
        m = await scrape(http, exporter.url)
    assert value(m, "vigil_source_up", source="rt_api") == 1
    assert {lab["camera"] for lab, _ in m["vigil_camera_info"]} == {c["uid"] for c in captured}
    online = sum(v for _, v in m["vigil_camera_online"])
    assert online == sum(c["is_online"] for c in captured)
    by_status = {lab["status"]: v for lab, v in m["vigil_baked_archives"]}
    assert sum(by_status.values()) == len(baked)
    # every camera gets the captured camera's day of fragments, moved to now
    assert value(m, "vigil_camera_archive_coverage_ratio", window="1d") > 0.5
    assert (
        value(m, "vigil_probe_errors_total", source="rt_api", check="archive", reason="http_4xx")
        == 0
    )


async def test_vigil_simulate_from_a_capture(sample, http):
    _, path = sample
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *VIGIL,
        "simulate",
        "--from",
        str(path),
        "--listen",
        f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "VIGIL_SIM_API_KEY": API_KEY},
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}/api"
    headers = {"Authorization": f"Bearer token={API_KEY}"}
    try:

        async def up():
            try:
                async with http.get(f"{base}/v1/health.json") as resp:
                    return resp.status == 200
            except OSError:
                return False

        await eventually(up, timeout=20)
        async with http.get(f"{base}/v3/user/cameras.json", headers=headers) as resp:
            body = await resp.json()
        assert len(body["cameras"]) == 40
        async with http.get(f"{base}/v3/user/cameras.json", params={"page": 2}) as resp:
            assert resp.status == 401  # the key is checked as the simulator checks it
    finally:
        proc.terminate()
        await proc.wait()

    missing = Path(path).with_name("missing.json")
    code, _, stderr = await vigil("simulate", "--from", str(missing))
    assert code == 2 and "--from" in stderr
