"""A golden /metrics: the deterministic simulators (fixed seed, fixed clock) give a byte-stable
exposition, compared with tests/golden/metrics.txt. A change to any name, HELP text, label or value
shows up as a diff. Regenerate on purpose with `VIGIL_UPDATE_GOLDEN=1 pytest tests/test_golden_metrics.py`
and review the diff like code.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import re
from pathlib import Path

from exporter.config import parse_config
from exporter.simulate.p4 import SimulatedP4
from tests.conftest import API_KEY, START, FakeClock, simulator, started_exporter

GOLDEN = Path(__file__).parent / "golden" / "metrics.txt"
NOW = START + 120 * 86400 + 12 * 3600 + 17  # 120 days into the simulated fleet's life

# figures measured with a stopwatch or read from the process, not computed from the simulated world
TIMED = re.compile(
    r"^(vigil_probe_duration_seconds_(?:bucket|sum)|vigil_p4_refresh_duration_seconds"
    r"|process_[a-z_]+)(\{.*\})? .*$"
)


PORT = re.compile(r"127\.0\.0\.1:[0-9]+")  # the simulator's free port


def normalise(text: str) -> str:
    return "".join(
        PORT.sub(
            "127.0.0.1:PORT", TIMED.sub(lambda m: f"{m.group(1)}{m.group(2) or ''} <timed>", line)
        )
        + "\n"
        for line in text.splitlines()
    )


CONFIG = """listen: "127.0.0.1:0"
timezone: Europe/Moscow
rt_api:
  url: "{url}"
  api_key: ${{RT_API_KEY}}
  inventory_interval: 1h
  baked_archives_interval: 1h
  archive_interval: 1h
  page_size: 7
p4:
  servers:
    - name: p4-main
      p4port: ssl:p4.example:1666
      p4user: build
      stream_mask: "//depot/*"
      interval: 1h
"""


async def render_golden(http) -> str:
    clock = FakeClock(NOW)
    async with simulator(cameras=50, seed=3, clock=clock) as sim:
        config = parse_config(CONFIG.format(url=sim.api_url), env={"RT_API_KEY": API_KEY})
        async with started_exporter(
            config, clock=clock, p4_factory=lambda: SimulatedP4(clock=clock)
        ) as exporter:
            # every check runs once at start (intervals are an hour): wait for all of them
            statuses = exporter.recorder.statuses()
            while not all(st.runs for st in statuses):
                await asyncio.sleep(0.05)
            async with http.get(f"{exporter.url}/metrics") as resp:
                return normalise(await resp.text())


async def test_metrics_exposition_matches_the_golden_file(http):
    text = await render_golden(http)
    if os.environ.get("VIGIL_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    expected = GOLDEN.read_text()
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), "golden", "now", n=1
            )
        )
        raise AssertionError(f"/metrics differs from {GOLDEN.name}:\n{diff[:6000]}")


async def test_the_golden_exposition_is_stable(http):
    assert await render_golden(http) == await render_golden(http)
