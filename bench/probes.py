"""TCP probe benchmark: 2,000 loopback targets, Vigil against the Prometheus blackbox exporter.

    .venv/bin/python bench/probes.py [--targets 2000] [--concurrency 256]

A child process opens the listeners (so accepting costs neither side). Three measurements:
1. Vigil's tcp_probe on every target, `--concurrency` at a time: probes per second, CPU per probe.
2. The blackbox exporter (`prometheus-blackbox-exporter`, module tcp_connect) on the same targets,
   driven through its /probe endpoint with the same concurrency: probes per second, and its CPU per
   probe from /proc (the HTTP client driving it is not counted against it).
3. Vigil's real network source with every target on a 10 s TCP interval: how many probes it completes in
   one 10 s cycle after the first.
Goals: at least 2x the blackbox exporter's probes per second; all targets probed within a 10 s cycle.
Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import print_table, verdict  # noqa: E402

from exporter.metrics import Metrics  # noqa: E402
from exporter.recorder import Recorder  # noqa: E402
from exporter.sources import catalogue  # noqa: E402
from exporter.sources.network.metrics import PROBE_SUCCESS  # noqa: E402
from exporter.sources.network.source import SOURCE, Defaults, NetworkSource  # noqa: E402
from exporter.sources.network.tcp import tcp_probe  # noqa: E402
from exporter.targets import CameraTarget, TargetStore  # noqa: E402

GOAL_RATIO = 2.0
CYCLE = 10.0
BLACKBOX = "prometheus-blackbox-exporter"

LISTENERS = r"""
import json, selectors, socket, sys
n = int(sys.argv[1])
sel = selectors.DefaultSelector()
ports = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    ports.append(s.getsockname()[1])
print(json.dumps(ports), flush=True)
while True:
    for key, _ in sel.select():
        try:
            conn, _ = key.fileobj.accept()
            conn.close()
        except OSError:
            pass
"""


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


async def bounded(coros, limit: int) -> list:
    sem = asyncio.Semaphore(limit)

    async def one(coro):
        async with sem:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def vigil_pass(ports: list[int], concurrency: int) -> tuple[float, float, int]:
    cpu0, t0 = cpu_self(), time.perf_counter()
    results = await bounded([tcp_probe("127.0.0.1", p, 2.0) for p in ports], concurrency)
    wall = time.perf_counter() - t0
    return wall, cpu_self() - cpu0, sum(1 for r in results if r > 0)


async def blackbox_pass(
    http: aiohttp.ClientSession, base: str, ports: list[int], concurrency: int, pid: int
) -> tuple[float, float, int]:
    async def probe(port: int) -> bool:
        params = {"module": "tcp_connect", "target": f"127.0.0.1:{port}"}
        async with http.get(f"{base}/probe", params=params) as resp:
            return "probe_success 1" in await resp.text()

    cpu0, t0 = cpu_of(pid), time.perf_counter()
    results = await bounded([probe(p) for p in ports], concurrency)
    wall = time.perf_counter() - t0
    return wall, cpu_of(pid) - cpu0, sum(results)


async def source_cycle(ports: list[int], concurrency: int) -> tuple[int, float]:
    """Distinct targets the real network source probes in one CYCLE after its first cycle."""
    metrics = Metrics(catalogue())
    recorder = Recorder(metrics)
    targets = [
        CameraTarget(id=f"t{i}", host="127.0.0.1", port=p, icmp=0, tcp=CYCLE, origin="config")
        for i, p in enumerate(ports)
    ]
    store = TargetStore(targets, None)
    store.load()
    source = NetworkSource(
        metrics, recorder, store, Defaults(icmp=0, tcp=CYCLE, timeout=2.0, concurrency=concurrency)
    )
    for check in source.checks():  # as exporter.service.compose() registers them
        recorder.add(SOURCE, check)
    seen: set[str] = set()
    record = source._record

    def record_and_count(result):
        seen.add(result.camera)
        record(result)

    source._record = record_and_count
    await source.start()
    try:
        await asyncio.sleep(CYCLE + 1)  # the first cycle spreads the targets over the interval
        seen.clear()
        cpu0 = cpu_self()
        await asyncio.sleep(CYCLE)
        done = len(seen)
        cpu = cpu_self() - cpu0
        ok = sum(1 for _, v in metrics.family(PROBE_SUCCESS).samples() if v == 1)
        if ok != len(ports):
            print(f"warning: {len(ports) - ok} targets not successful", file=sys.stderr)
    finally:
        await source.stop()
    return int(done), cpu


async def run(args: argparse.Namespace) -> int:
    blackbox = shutil.which(BLACKBOX)
    if blackbox is None:
        print(f"{BLACKBOX} is not installed (apt-get install {BLACKBOX})", file=sys.stderr)
        return 2
    raise_fd_limit(args.targets * 3 + 1000)
    listeners = subprocess.Popen(
        [sys.executable, "-c", LISTENERS, str(args.targets)], stdout=subprocess.PIPE, text=True
    )
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    bb = None
    try:
        ports = json.loads(listeners.stdout.readline())
        (tmp / "blackbox.yml").write_text(
            "modules:\n  tcp_connect:\n    prober: tcp\n    timeout: 2s\n"
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            bb_port = s.getsockname()[1]
        bb = subprocess.Popen(
            [
                blackbox,
                f"--config.file={tmp / 'blackbox.yml'}",
                f"--web.listen-address=127.0.0.1:{bb_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{bb_port}"
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(100):
                try:
                    async with http.get(f"{base}/-/healthy"):
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            vigil = min([await vigil_pass(ports, args.concurrency) for _ in range(args.repeat)])
            box = min(
                [
                    await blackbox_pass(http, base, ports, args.concurrency, bb.pid)
                    for _ in range(args.repeat)
                ]
            )
        cycle_done, cycle_cpu = await source_cycle(ports, args.concurrency)
    finally:
        if bb is not None:
            bb.send_signal(signal.SIGTERM)
            bb.wait(timeout=10)
        listeners.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    n = len(ports)
    v_wall, v_cpu, v_ok = vigil
    b_wall, b_cpu, b_ok = box
    v_pps, b_pps = n / v_wall, n / b_wall
    ratio = v_pps / b_pps
    rows = [
        ("targets (loopback listeners)", f"{n}", "", ""),
        ("concurrency", f"{args.concurrency}", "", ""),
        ("Vigil tcp_probe: probes/s", f"{v_pps:.0f}", f">= {GOAL_RATIO:.0f}x bb", f"{ratio:.1f}x"),
        ("Vigil tcp_probe: CPU per probe", f"{v_cpu / n * 1e6:.0f} us", "", ""),
        ("Vigil tcp_probe: successful", f"{v_ok}", f"{n}", ""),
        ("blackbox tcp_connect via /probe: probes/s", f"{b_pps:.0f}", "", "baseline"),
        ("blackbox: its own CPU per probe", f"{b_cpu / n * 1e6:.0f} us", "", ""),
        ("blackbox: successful", f"{b_ok}", f"{n}", ""),
        (f"network source: targets probed in {CYCLE:.0f} s", f"{cycle_done}", f">= {n}", ""),
        ("network source: CPU in that cycle", f"{cycle_cpu:.2f} s", "", ""),
    ]
    print_table(rows)
    missed = []
    if ratio < GOAL_RATIO:
        missed.append("probes per second")
    if cycle_done < n or v_ok < n:
        missed.append("cycle")
    return verdict(missed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
