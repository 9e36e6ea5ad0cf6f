"""Fleet benchmark: 10,000 simulated cameras through the RT API source, and a 200,000-sample scrape.

    .venv/bin/python bench/fleet.py [--cameras 10000] [--series-per-camera 20] [--repeat 5]

The simulator runs in a child process (`vigil simulate`), so the CPU and memory figures are the
exporter's own. The scrape is sized at cameras x 20 per-camera series: the inventory series the RT source
really produces, topped up with synthetic archive/network series (the families later sources add) until
each camera has 20. The baseline is prometheus_client's generate_latest over a plain registry holding
the same samples, measured in the same run. Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import free_port, peak_rss_mb, print_table  # noqa: E402

from exporter.config import parse_config  # noqa: E402
from exporter.service import Exporter  # noqa: E402
from exporter.sources.contract import Check  # noqa: E402
from exporter.sources.rt_api.source import RtApiSource  # noqa: E402

_all_checks = RtApiSource.checks


def inventory_check_only(self: RtApiSource) -> list[Check]:
    """Only the inventory check: the archive check has its own benchmark (bench/archive.py)."""
    return [check for check in _all_checks(self) if check.name == "inventory"]


RtApiSource.checks = inventory_check_only  # type: ignore[method-assign]

GOAL_RENDER_MS = 150.0
GOAL_RSS_MB = 400.0
API_KEY = "bench-key-0123456789"

SYNTHETIC = [  # (family, extra label name, label values): the later sources' per-camera series
    ("vigil_camera_archive_coverage_ratio", "window", ("1d", "7d", "30d", "90d")),
    ("vigil_camera_archive_recorded_seconds", "window", ("1d", "7d", "30d", "90d")),
    ("vigil_camera_archive_gaps", "window", ("1d", "7d", "30d", "90d")),
    ("vigil_camera_archive_longest_gap_seconds", "window", ("1d", "7d", "30d", "90d")),
    ("vigil_camera_archive_depth_seconds", None, (None,)),
    ("vigil_camera_archive_last_end_timestamp_seconds", None, (None,)),
    ("vigil_camera_probe_success", "check", ("icmp", "tcp")),
    ("vigil_camera_probe_rtt_seconds", "check", ("icmp", "tcp")),
]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"simulator did not listen on port {port}")


def per_camera_count(exporter: Exporter) -> dict[str, int]:
    counts: dict[str, int] = {}
    for family in exporter.metrics.registry.families():
        if "camera" in family.labelnames:
            for labels, _ in family.samples():
                cam = labels[family.labelnames.index("camera")]
                counts[cam] = counts.get(cam, 0) + 1
    return counts


def top_up(exporter: Exporter, target: int) -> None:
    """Add synthetic per-camera series until every camera has `target` of them."""
    have = per_camera_count(exporter)
    families = {}
    for name, label, _ in SYNTHETIC:  # all of them are in the catalogue now
        family = exporter.metrics[name]
        assert list(family.labelnames) == ["camera"] + ([label] if label else []), name
        families[name] = family
    for i, (cam, count) in enumerate(have.items()):
        need = target - count
        for name, label, values in SYNTHETIC:
            for v in values:
                if need <= 0:
                    break
                labels = [cam] if label is None else [cam, v]
                families[name].set(labels, (i % 97) / 97 + 1e-3 * need, partition=cam)
                need -= 1


def baseline_registry(exporter: Exporter) -> CollectorRegistry:
    """A plain prometheus_client registry holding exactly the same samples."""
    snapshot = [
        (f.name, f.help, f.labelnames, f.samples())
        for f in exporter.metrics.registry.families()
        if hasattr(f, "samples")
    ]

    class Snapshot:
        def collect(self):
            for name, help_, labelnames, samples in snapshot:
                fam = GaugeMetricFamily(name, help_, labels=list(labelnames))
                for labels, value in samples:
                    fam.add_metric(list(labels), value)
                yield fam

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot())
    return registry


def invalidate_everything(exporter: Exporter) -> None:
    """Make every family re-join its text, as after a poll that changed everything."""
    for family in exporter.metrics.registry.families():
        if hasattr(family, "_part_text"):
            family._part_text.clear()
            family._text = None
            family.version += 1


def reformat_everything(exporter: Exporter) -> None:
    """Store a new value in every series: the worst case of the work probes do on updates."""
    for family in exporter.metrics.registry.families():
        if hasattr(family, "_parts"):
            for partition, series in list(family._parts.items()):
                family.replace([(k, v[0] + 1) for k, v in series.items()], partition)


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


async def run(args: argparse.Namespace) -> int:
    sim_port = free_port()
    sim = subprocess.Popen(
        [
            sys.executable, "-m", "exporter", "simulate",
            "--cameras", str(args.cameras), "--listen", f"127.0.0.1:{sim_port}",
            "--log-level", "warning",
        ],
        env={**os.environ, "VIGIL_SIM_API_KEY": API_KEY},
        cwd=ROOT,
    )  # fmt: skip
    try:
        await wait_for_port(sim_port)
        config = parse_config(
            f'listen: "127.0.0.1:0"\nlog_level: warning\nrt_api:\n'
            f'  url: "http://127.0.0.1:{sim_port}/api"\n  api_key: "${{RT_API_KEY}}"\n'
            f"  inventory_interval: 1h\n  baked_archives_interval: 1h\n  timeout: 60s\n"
            f"  page_size: {args.page_size}\n",
            env={"RT_API_KEY": API_KEY},
        )
        exporter = Exporter(config)
        await exporter.start()
        await exporter.scheduler.wait_ready()
        poll_times, poll_cpu = [], []
        for _ in range(args.repeat):
            cpu0, t0 = cpu_seconds(), time.perf_counter()
            ok = await exporter.scheduler.run_now("rt_api", "inventory")
            poll_times.append(time.perf_counter() - t0)
            poll_cpu.append(cpu_seconds() - cpu0)
            if not ok:
                raise SystemExit("inventory poll failed")
        cameras = len(exporter.source("rt_api").cameras)

        top_up(exporter, args.series_per_camera)
        registry = exporter.metrics.registry
        samples = sum(len(f) for f in registry.families() if hasattr(f, "samples"))

        def cold() -> bytes:
            invalidate_everything(exporter)
            return registry.render()

        render_cold = timed(cold, args.repeat)
        render_warm = timed(registry.render, args.repeat)
        reformat = timed(lambda: reformat_everything(exporter), max(1, min(args.repeat, 3)))
        body = registry.render()

        async with aiohttp.ClientSession() as http:
            http_times = []
            for _ in range(args.repeat):
                invalidate_everything(exporter)
                t0 = time.perf_counter()
                async with http.get(f"{exporter.url}/metrics") as resp:
                    await resp.read()
                http_times.append(time.perf_counter() - t0)
            invalidate_everything(exporter)
            t0 = time.perf_counter()
            async with http.get(
                f"{exporter.url}/metrics",
                headers={"Accept-Encoding": "gzip"},
                auto_decompress=False,
            ) as resp:
                gz_size = len(await resp.read())
            gzip_time = time.perf_counter() - t0
        await exporter.stop()
        rss = peak_rss_mb()  # before the baseline, which builds its own copy of everything

        base_reg = baseline_registry(exporter)
        baseline = timed(lambda: generate_latest(base_reg), max(1, min(args.repeat, 3)))
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=10)

    rows = [
        ("cameras polled", f"{cameras}", "", ""),
        ("inventory poll (best)", f"{min(poll_times) * 1000:.0f} ms", "", ""),
        ("inventory poll CPU (best)", f"{min(poll_cpu):.2f} s", "", ""),
        ("samples in /metrics", f"{samples}", "", ""),
        ("/metrics size", f"{len(body) / 1e6:.1f} MB", "", ""),
        ("/metrics size, gzip", f"{gz_size / 1e6:.1f} MB", "", ""),
        (
            "render, every family changed",
            f"{render_cold * 1000:.1f} ms",
            f"< {GOAL_RENDER_MS:.0f} ms",
            f"{baseline / render_cold:.0f}x faster than baseline",
        ),
        ("render, nothing changed", f"{render_warm * 1000:.2f} ms", "", ""),
        ("probe side: new value in every series", f"{reformat * 1000:.0f} ms", "", ""),
        ("HTTP GET /metrics, every family changed", f"{min(http_times) * 1000:.0f} ms", "", ""),
        ("HTTP GET /metrics gzip, every family changed", f"{gzip_time * 1000:.0f} ms", "", ""),
        ("baseline: prometheus_client generate_latest", f"{baseline * 1000:.0f} ms", "", ""),
        ("peak RSS (exporter process)", f"{rss:.0f} MB", f"< {GOAL_RSS_MB:.0f} MB", ""),
    ]
    print_table(rows)
    missed = []
    if render_cold * 1000 >= GOAL_RENDER_MS:
        missed.append("render time")
    if rss >= GOAL_RSS_MB:
        missed.append("peak RSS")
    if missed:
        print(f"GOAL MISSED: {', '.join(missed)}")
        return 1
    print("all goals met")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--series-per-camera", type=int, default=20)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
