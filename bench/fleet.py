"""Fleet benchmark: 10,000 simulated cameras through the RT API source, and the scrape they make.

    .venv/bin/python bench/fleet.py [--cameras 10000] [--repeat 5]

The simulator runs in a child process (`vigil simulate`), so the CPU and memory figures are the
exporter's own. Every camera carries the series the exporter really publishes for an RT camera (about
47): the inventory series from the polled inventory, and the archive series (six figures per window,
depth, last end, update time) published by the RT source's own `ArchiveFamilies` from `analyse` run on a
synthetic 2,000-camera fleet (bench/archive.py's), its rows reused in turn. The archive fetch itself has
its own benchmark (bench/archive.py); its fragment cache is not held here. The baseline is
prometheus_client's generate_latest over a plain registry holding the same samples, measured in the
same run. Exits 1 when a goal is missed.
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

from archive import synthetic_fleet  # noqa: E402
from common import free_port, peak_rss_mb, print_table, verdict  # noqa: E402

from exporter.analysis.archive import analyse  # noqa: E402
from exporter.config import parse_config  # noqa: E402
from exporter.exposition import Family  # noqa: E402
from exporter.memory import release_free_memory  # noqa: E402
from exporter.service import Exporter  # noqa: E402
from exporter.sources.contract import Check  # noqa: E402
from exporter.sources.rt_api.archive import ArchiveFamilies, live_windows  # noqa: E402
from exporter.sources.rt_api.source import ANALYSIS_BATCH, RtApiSource  # noqa: E402

GOAL_RENDER_MS = 150.0
GOAL_RSS_MB = 400.0
API_KEY = "bench-key-0123456789"
FRAGMENTS = 300  # per camera over 90 days in the synthetic archive, as in bench/archive.py


def inventory_check_only() -> None:
    """Schedule only the RT source's inventory check: the archive fetch has its own benchmark."""
    all_checks = RtApiSource.checks

    def checks(self: RtApiSource) -> list[Check]:
        return [check for check in all_checks(self) if check.name == "inventory"]

    RtApiSource.checks = checks  # type: ignore[method-assign]


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


def publish_archive(exporter: Exporter) -> None:
    """Publish every polled camera's archive series through the RT source's own code path.

    The figures come from `analyse` over a synthetic fleet of at most one analysis batch (the
    exporter's windows, its gap threshold), its rows reused in turn; the series, their labels and
    their number are exactly what the source publishes after an archive cycle.
    """
    source = exporter.source("rt_api")
    now = int(time.time())
    windows = live_windows(now, source.tz, source.config.archive_days)
    fleet = synthetic_fleet(min(len(source.cameras), ANALYSIS_BATCH), FRAGMENTS, now)
    stats = analyse(fleet, now, windows, int(source.config.gap_threshold))
    families = ArchiveFamilies(exporter.metrics)
    for i, uid in enumerate(source.cameras):
        families.publish(uid, stats, i % fleet.n_cameras, float(now))


def camera_series(exporter) -> dict[str, int]:
    """Series per family with a `camera` label, as /metrics lists them (no copy of the text)."""
    return {
        family.name: len(family)
        for family in exporter.metrics.registry.families()
        if "camera" in family.labelnames and len(family)
    }


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


def change_every_series(exporter: Exporter) -> None:
    """Store a new value in every series, partition by partition, as sources publish (the worst case
    for a scrape: every partition's text is new, so the body is joined again from all of them)."""
    for family in exporter.metrics.registry.families():
        if isinstance(family, Family):
            for partition in family.partitions():
                family.replace([(k, v + 1) for k, v in family.samples(partition)], partition)
    release_free_memory()  # as the RT source does after publishing a cycle


def timed(fn, repeat: int, prepare=None) -> float:
    """Best wall time of `fn` over `repeat` runs, each after `prepare` (not timed)."""
    best = float("inf")
    for _ in range(repeat):
        if prepare is not None:
            prepare()
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


async def run(args: argparse.Namespace) -> int:
    inventory_check_only()
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

        # the archive publish of every camera, as after an archive cycle: formats every archive line
        publish = timed(lambda: publish_archive(exporter), max(1, min(args.repeat, 3)))
        registry = exporter.metrics.registry
        samples = sum(len(f) for f in registry.families() if hasattr(f, "samples"))

        def changed() -> None:
            change_every_series(exporter)

        render_cold = timed(registry.render, args.repeat, prepare=changed)
        render_warm = timed(registry.render, args.repeat)
        body = registry.render()
        per_family = camera_series(exporter)
        registry.release()  # as the server does once it has compressed the body for Prometheus

        async with aiohttp.ClientSession() as http:
            http_times = []
            for _ in range(args.repeat):
                change_every_series(exporter)
                t0 = time.perf_counter()
                async with http.get(f"{exporter.url}/metrics") as resp:
                    await resp.read()
                http_times.append(time.perf_counter() - t0)
            change_every_series(exporter)
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

    archive = sum(n for f, n in per_family.items() if f.startswith("vigil_camera_archive_"))
    inventory = (sum(per_family.values()) - archive) / cameras
    archive /= cameras
    rows = [
        ("cameras polled", f"{cameras}", "", ""),
        ("inventory poll (best)", f"{min(poll_times) * 1000:.0f} ms", "", ""),
        ("inventory poll CPU (best)", f"{min(poll_cpu):.2f} s", "", ""),
        ("samples in /metrics", f"{samples}", "", ""),
        (
            "series per camera (from /metrics)",
            f"{sum(per_family.values()) / cameras:.1f}",
            "",
            f"{len(per_family)} families: inventory {inventory:.1f}, archive {archive:.1f}",
        ),
        ("/metrics size", f"{len(body) / 1e6:.1f} MB", "", ""),
        ("/metrics size, gzip", f"{gz_size / 1e6:.1f} MB", "", ""),
        (
            "render, every series changed",
            f"{render_cold * 1000:.1f} ms",
            f"< {GOAL_RENDER_MS:.0f} ms",
            f"{baseline / render_cold:.0f}x faster than baseline",
        ),
        ("render, nothing changed", f"{render_warm * 1000:.2f} ms", "", ""),
        ("archive publish, every camera (probe side)", f"{publish * 1000:.0f} ms", "", ""),
        ("HTTP GET /metrics, every series changed", f"{min(http_times) * 1000:.0f} ms", "", ""),
        ("HTTP GET /metrics gzip, every series changed", f"{gzip_time * 1000:.0f} ms", "", ""),
        ("baseline: prometheus_client generate_latest", f"{baseline * 1000:.0f} ms", "", ""),
        ("peak RSS (exporter process)", f"{rss:.0f} MB", f"< {GOAL_RSS_MB:.0f} MB", ""),
    ]
    print_table(rows)
    missed = []
    if render_cold * 1000 >= GOAL_RENDER_MS:
        missed.append("render time")
    if rss >= GOAL_RSS_MB:
        missed.append("peak RSS")
    return verdict(missed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
