"""Backfill: the OpenMetrics file goes through promtool into a real Prometheus with the right values."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from exporter.analysis.archive import FleetArchive, analyse
from exporter.backfill import backfill_days
from exporter.config import parse_config
from tests.conftest import (
    API_KEY,
    eventually,
    free_port,
    require_binary,
    running_prometheus,
    simulator,
)

ROOT = Path(__file__).resolve().parent.parent
DAYS = 20


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "exporter",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "RT_API_KEY": API_KEY},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


def write_config(path: Path, api_url: str) -> None:
    path.write_text(
        f"listen: 127.0.0.1:9830\ntimezone: Europe/Moscow\nrt_api:\n  url: {api_url}\n"
        "  api_key: ${RT_API_KEY}\n  max_retries: 1\n"
    )


async def test_backfilled_days_read_back_from_prometheus_with_the_analysed_values(tmp_path):
    promtool = require_binary("promtool")
    config_path = tmp_path / "vigil.yml"
    history = tmp_path / "history.om"
    async with simulator(cameras=40) as sim:
        write_config(config_path, sim.api_url)
        started = int(time.time())
        code, out, err = await run_cli(
            "backfill", "-c", str(config_path), "--days", str(DAYS), "-o", str(history)
        )
        assert code == 0, err
        assert f"{DAYS} days" in out
        now = int(time.time())
        config = parse_config(config_path.read_text(), env={"RT_API_KEY": API_KEY})
        days = backfill_days(now, config.tz, DAYS)
        uids = [c["uid"] for c in sim.fleet.cameras(now)]
        per_camera = []
        for uid in uids:
            # the backfill fetches archive_days (90) of history, like the exporter
            frags = sim.fleet.fragments(uid, now - 90 * 86400, now, now)
            per_camera.append(
                (
                    np.array([f["since"] for f in frags], dtype=np.int64),
                    np.array([f["till"] for f in frags], dtype=np.int64),
                )
            )
        expected = analyse(FleetArchive.from_lists(per_camera), now, days, 60)
    # the comparison below means something: partial days, gaps and empty days are all there
    partial = (expected.coverage_ratio > 0) & (expected.coverage_ratio < 1)
    assert partial.any() and expected.gaps.max() > 0 and (expected.coverage_ratio == 0).any()
    # ... and gaps open at midnights, which the joining figures describe
    assert expected.gap_at_end_seconds.max() > 0 and expected.gap_at_start_seconds.max() > 0

    text = history.read_text()
    assert text.endswith("# EOF\n")
    assert API_KEY not in text
    # six daily archive families, the three that join days, the camera info and the depth, one
    # sample per camera and day
    assert text.count("\n") == 11 * 2 + 11 * len(uids) * DAYS + 1

    blocks = tmp_path / "blocks"
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(history), str(blocks)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    config = {"global": {"scrape_interval": "1m"}}
    retention = "--storage.tsdb.retention.time=400d"  # Prometheus would drop old blocks at once
    async with running_prometheus(tmp_path, config, blocks, retention) as query:
        probe_day = days[len(days) // 2]
        await eventually(
            lambda: query("vigil_camera_archive_coverage_ratio", probe_day.end), timeout=30
        )
        for col in (0, len(days) // 2, len(days) - 1):
            day = days[col]
            for name, values in (
                ("vigil_camera_archive_coverage_ratio", expected.coverage_ratio),
                ("vigil_camera_archive_recorded_seconds", expected.recorded_seconds),
                ("vigil_camera_archive_gaps", expected.gaps),
                ("vigil_camera_archive_longest_gap_seconds", expected.longest_gap_seconds),
                ("vigil_camera_archive_gap_seconds", expected.gap_seconds),
                ("vigil_camera_archive_fragments", expected.fragments),
                ("vigil_camera_archive_fragments_started", expected.fragments_started),
                ("vigil_camera_archive_gap_at_start_seconds", expected.gap_at_start_seconds),
                ("vigil_camera_archive_gap_at_end_seconds", expected.gap_at_end_seconds),
            ):
                rows = await query(f'{name}{{window="yesterday"}}', day.end)
                got = {r["metric"]["camera"]: float(r["value"][1]) for r in rows}
                assert set(got) == set(uids), (name, day.name)
                assert {r["metric"]["job"] for r in rows} == {"vigil"}
                assert {r["metric"]["instance"] for r in rows} == {"localhost:9830"}
                for row, uid in enumerate(uids):
                    expected_value = float(values[row, col])
                    assert got[uid] == pytest.approx(expected_value), (name, uid, day.name)
            # the inventory's description and the depth as it stood at that day's end
            rows = await query("vigil_camera_info", day.end)
            info = {r["metric"]["camera"]: r["metric"] for r in rows}
            assert set(info) == set(uids)
            for camera in sim.fleet.cameras(now):
                assert info[camera["uid"]]["name"] == camera["name"]
            rows = await query("vigil_camera_archive_depth_seconds", day.end)
            depth = {r["metric"]["camera"]: float(r["value"][1]) for r in rows}
            # an archive older than the fetched history starts at the history's start, which moved
            # on by the seconds between the backfill's clock reading and this test's
            drift = now - started
            for row, uid in enumerate(uids):
                origin = now - int(expected.depth_seconds[row])
                want = max(day.end - origin, 0) if expected.depth_seconds[row] else 0
                assert want <= depth[uid] <= want + drift, (uid, day.name)


async def test_backfill_against_a_dead_api_writes_nothing_and_fails(tmp_path):
    config_path = tmp_path / "vigil.yml"
    write_config(config_path, f"http://127.0.0.1:{free_port()}/api")
    history = tmp_path / "history.om"
    code, _, err = await run_cli("backfill", "-c", str(config_path), "-o", str(history))
    assert code == 1
    assert "connection" in err
    assert not history.exists()
    assert not list(tmp_path.glob("*.tmp"))
    assert API_KEY not in err


def test_days_end_at_least_three_hours_ago_and_are_whole(tmp_path):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/Moscow")
    now = 1_795_000_000 - (1_795_000_000 + 3 * 3600) % 86400 + 3600  # 01:00 Moscow
    days = backfill_days(now, tz, 5)
    assert len(days) == 5
    assert all(d.end <= now - 3 * 3600 for d in days)
    # at 01:00 yesterday ended one hour ago: too fresh, so the newest day is the day before
    assert days[-1].end == now - 3600 - 86400
    assert all(d.end - d.start == 86400 for d in days)
