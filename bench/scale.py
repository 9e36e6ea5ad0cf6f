"""Scale benchmark (issue 14): 100,000 simulated cameras over 4 shards, measured in turn on one machine.

    .venv/bin/python bench/scale.py [--cameras 100000] [--shards 4] [--no-unsharded] [--no-store]

`vigil simulate --cameras 100000` runs in a child process. Each shard is a real exporter
(`exporter.service.Exporter`, the RT source with `shard: {index, count}`) in its own child process, one
after the other, so its CPU and peak RSS (VmHWM) are its own; in production each has its own machine.
A shard child reports, step by step on its stdout as JSON lines:

- its first inventory poll (started by the scheduler at start-up, as under `vigil run`), then a steady
  one (best of `--repeat`): every shard reads the whole camera list and keeps its own cameras;
- the first archive cycle the scheduler starts (90 days of every owned camera: the full fetch) and one
  incremental cycle after it (each camera's tail and head re-check), wall and CPU;
- the render of /metrics with every series changed (a new value stored in every series, partition by
  partition as the sources publish, before each timed render; best of `--repeat`) and an HTTP GET of
  it with gzip, as Prometheus asks;
- the series per camera, counted in the text each family adds to /metrics;
- its peak RSS (VmHWM, read at the end: inventory, archive cache, analysis and renders included).

Then one unsharded exporter does the same on the whole fleet, for comparison; the parent kills it when
a step runs past its timeout or its RSS passes `--max-rss-mb`, and reports where it stopped.

The store step (skipped with a note when a binary is missing): the last shard stays up and serves
/metrics, re-polling its inventory and archive as in production; a real Prometheus server scrapes it,
and a Prometheus in agent mode (or `--agent vmagent`) scrapes it too and remote-writes into a real
VictoriaMetrics (the layout of docs/scaling.md). After `--store-scrapes` scrapes, each one's
resident memory beyond its own idle figure (read before the scrape job is loaded) is divided by the
series it holds; from that, the cameras one Prometheus and one VictoriaMetrics node hold in
`--store-ram-gb`.

Goals per shard: render under 150 ms, incremental archive cycle under 60 s, peak RSS under 600 MB.
Ratios are against the unsharded exporter of the same run. Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import free_port, print_table, verdict  # noqa: E402
from fleet import change_every_series, cpu_seconds, timed, wait_for_port  # noqa: E402

GOAL_RENDER_MS = 150.0
GOAL_INCREMENTAL_S = 60.0
GOAL_RSS_MB = 600.0
API_KEY = "bench-scale-key-0123456789"
MB = 1024 * 1024

# child steps in order, each with the seconds the parent waits for it
STEPS = (
    ("started", 120),
    ("inventory_first", 300),
    ("archive_full", 900),
    ("archive_incremental", 600),
    ("inventory_steady", 600),
    ("render", 600),
    ("http_gzip", 300),
    ("done", 60),
)
STEP_NAMES = {
    "started": "start-up",
    "inventory_first": "first inventory poll",
    "archive_full": "full archive cycle",
    "archive_incremental": "incremental archive cycle",
    "inventory_steady": "steady inventory polls",
    "render": "render of /metrics",
    "http_gzip": "HTTP GET /metrics (gzip)",
    "done": "end",
}


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM of a process in MB (empty when it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) // 1024
    except OSError:
        pass
    return out


# ------------------------------------------------------------------------------------ shard child
def emit(step: str, **data) -> None:
    status = proc_status()
    print(
        json.dumps(
            {"step": step, "rss_mb": status.get("VmRSS"), "hwm_mb": status.get("VmHWM"), **data}
        ),
        flush=True,
    )


def camera_series(exporter) -> dict[str, int]:
    """Series per family with a `camera` label, as /metrics lists them (no copy of the text)."""
    return {
        family.name: len(family)
        for family in exporter.metrics.registry.families()
        if "camera" in family.labelnames and len(family)
    }


async def child(args: argparse.Namespace) -> int:
    import aiohttp

    from exporter.config import parse_config
    from exporter.logs import setup_logging
    from exporter.service import Exporter, wait_for_signal

    setup_logging("warning")
    shard = f"shard: {{index: {args.index}, count: {args.count}}}\n" if args.count > 1 else ""
    config = parse_config(
        f'listen: "127.0.0.1:0"\nlog_level: warning\n{shard}'
        f'rt_api:\n  url: "{args.sim_url}"\n  api_key: "${{RT_API_KEY}}"\n'
        "  inventory_interval: 1h\n  baked_archives_interval: 1h\n  archive_interval: 1h\n"
        f"  timeout: 120s\n  page_size: {args.page_size}\n",
        env={"RT_API_KEY": API_KEY},
    )
    exporter = Exporter(config)
    await exporter.start()  # the scheduler starts inventory, baked archives and archive checks now
    emit("started", url=exporter.url)
    source = exporter.source("rt_api")
    run_now = exporter.scheduler.run_now

    async def step(check: str) -> tuple[float, float]:
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        if not await run_now("rt_api", check):
            raise SystemExit(f"{check} failed")
        return time.perf_counter() - t0, cpu_seconds() - cpu0

    wall, cpu = await step("inventory")  # joins the poll the scheduler started
    emit("inventory_first", wall=wall, cpu=cpu, cameras=len(source.cameras))
    wall, cpu = await step("archive")  # joins the full cycle started when the inventory was read
    fragments = sum(len(e.since) for e in source.archives.values())
    emit("archive_full", wall=wall, cpu=cpu, fragments=fragments)
    wall, cpu = await step("archive")
    emit("archive_incremental", wall=wall, cpu=cpu)
    polls = [await step("inventory") for _ in range(args.repeat)]
    emit("inventory_steady", wall=min(p[0] for p in polls), cpu=min(p[1] for p in polls))

    registry = exporter.metrics.registry

    render = timed(registry.render, args.repeat, prepare=lambda: change_every_series(exporter))
    body = registry.render()
    size = len(body)
    samples = body.count(b"\n") - body.count(b"\n#") - body.startswith(b"#")
    del body
    emit(
        "render",
        render=render,
        warm=timed(registry.render, args.repeat),
        size=size,
        samples=samples,
        per_family=camera_series(exporter),
    )
    registry.release()  # as the server does once it has compressed the body for Prometheus
    async with aiohttp.ClientSession() as http:
        best, gz_size = float("inf"), 0
        for _ in range(args.repeat):
            change_every_series(exporter)
            t0 = time.perf_counter()
            async with http.get(
                f"{exporter.url}/metrics",
                headers={"Accept-Encoding": "gzip"},
                auto_decompress=False,
            ) as resp:
                gz_size = len(await resp.read())
            best = min(best, time.perf_counter() - t0)
    emit("http_gzip", wall=best, size=gz_size)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    emit("done", peak_mb=proc_status().get("VmHWM"), cpu=usage.ru_utime + usage.ru_stime)

    if args.serve:  # stay up for the store step, polling as in production, until SIGTERM
        stop = asyncio.ensure_future(wait_for_signal())
        last_archive = time.monotonic()
        while not stop.done():
            tick = time.monotonic()
            await run_now("rt_api", "inventory")
            if time.monotonic() - last_archive >= args.serve_archive_every:
                last_archive = time.monotonic()
                await run_now("rt_api", "archive")
            pause = args.serve_inventory_every - (time.monotonic() - tick)
            await asyncio.wait([stop], timeout=max(pause, 0.1))
    await exporter.stop()
    return 0


# ------------------------------------------------------------------------------------ the parent
class Child:
    """A shard child: its JSON steps, its timeouts, and its RSS watched against a cap."""

    def __init__(self, label: str, index: int, count: int, args: argparse.Namespace, serve=False):
        self.label = label
        self.argv = [
            sys.executable, __file__, "--child", "--index", str(index), "--count", str(count),
            "--sim-url", args.sim_url, "--page-size", str(args.page_size),
            "--repeat", str(args.repeat), "--serve-inventory-every", str(args.scrape_interval),
            "--serve-archive-every", str(args.serve_archive_every),
        ] + (["--serve"] if serve else [])  # fmt: skip
        self.max_rss = args.max_rss_mb
        self.steps: dict[str, dict] = {}
        self.failed: str | None = None
        self.max_seen = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.started = 0.0

    async def run(self) -> Child:
        self.started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdout=asyncio.subprocess.PIPE, cwd=ROOT, limit=2**24
        )
        watch = asyncio.ensure_future(self._watch_rss())
        try:
            for name, timeout in STEPS:
                line = await self._line(timeout)
                if line is None:
                    reason = self.failed or (
                        f"no answer in {timeout} s" if self.proc.returncode is None else "exited"
                    )
                    self.failed = f"stopped during the {STEP_NAMES[name]}: {reason}"
                    break
                data = json.loads(line)
                self.steps[data["step"]] = data
                progress(f"{self.label}: {data['step']} {short(data)}")
        finally:
            watch.cancel()
            if self.failed is not None:
                await self.stop()
        return self

    async def _line(self, timeout: float) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except TimeoutError:
            return None
        return line.decode() if line else None

    async def _watch_rss(self) -> None:
        assert self.proc is not None
        while self.proc.returncode is None:
            rss = proc_status(self.proc.pid).get("VmRSS", 0)
            self.max_seen = max(self.max_seen, rss)
            if rss > self.max_rss:
                self.failed = f"RSS {rss} MB passed the cap of {self.max_rss} MB"
                self.proc.kill()
                return
            await asyncio.sleep(0.25)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def get(self, step: str, key: str, default=None):
        return self.steps.get(step, {}).get(key, default)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def short(data: dict) -> str:
    keep = {k: v for k, v in data.items() if k not in ("step", "per_family", "url")}
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in keep.items()
    )


# ------------------------------------------------------------------------------------ the store step
async def http_text(session, url: str) -> str:
    async with session.get(url) as resp:
        resp.raise_for_status()
        return await resp.text()


def metric_values(text: str, name: str, match: str = "") -> float | None:
    """The sum of every sample of `name` (labels containing `match`) in an exposition."""
    total, seen = 0.0, False
    for line in text.splitlines():
        head = line[: len(name) + 1]
        if head in (name + "{", name + " ") and match in line:
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else None


async def wait_http(session, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        except Exception:  # aiohttp.ClientError while it starts
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


async def store_step(target: str, cameras: int, args: argparse.Namespace) -> list:
    """Prometheus server, Prometheus agent -> VictoriaMetrics on one shard's /metrics: rows."""
    import aiohttp
    import yaml

    prometheus = shutil.which("prometheus") or "/usr/bin/prometheus"
    victoria = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
    vmagent = shutil.which("vmagent") or "/usr/bin/vmagent"
    needed = (prometheus, victoria, vmagent) if args.agent == "vmagent" else (prometheus, victoria)
    missing = [b for b in needed if not os.access(b, os.X_OK)]
    if missing:
        progress(f"store step skipped: {', '.join(missing)} not installed")
        return [("store step", "skipped", "", "prometheus / victoria-metrics not installed")]

    tmp = Path(tempfile.mkdtemp(prefix="vigil-scale-"))
    ports = {name: free_port() for name in ("prom", "agent", "vm")}
    job = {
        "job_name": "vigil",
        "scrape_interval": f"{args.scrape_interval}s",
        "scrape_timeout": f"{args.scrape_interval - 1}s",
        "static_configs": [{"targets": [target]}],
    }

    def write_config(name: str, with_job: bool, remote_write: str | None = None) -> Path:
        cfg: dict = {"global": {"scrape_interval": f"{args.scrape_interval}s"}}
        cfg["scrape_configs"] = [job] if with_job else []
        if remote_write:
            cfg["remote_write"] = [{"url": remote_write}]
        path = tmp / f"{name}.yml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    vm_url = f"http://127.0.0.1:{ports['vm']}"
    write_url = f"{vm_url}/api/v1/write"
    procs: dict[str, subprocess.Popen] = {}
    logs = {name: open(tmp / f"{name}.log", "wb") for name in ports}  # noqa: SIM115
    try:
        procs["vm"] = subprocess.Popen(
            [
                victoria, f"-httpListenAddr=127.0.0.1:{ports['vm']}",
                f"-storageDataPath={tmp / 'vm-data'}", "-retentionPeriod=1d",
            ],
            stdout=logs["vm"], stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs["prom"] = subprocess.Popen(
            [
                prometheus, f"--config.file={write_config('prom', False)}",
                f"--storage.tsdb.path={tmp / 'prom-data'}", "--storage.tsdb.retention.time=1d",
                f"--web.listen-address=127.0.0.1:{ports['prom']}",
            ],
            stdout=logs["prom"], stderr=subprocess.STDOUT,
        )  # fmt: skip
        if args.agent == "vmagent":
            agent_argv = [
                vmagent, f"-promscrape.config={write_config('agent', False)}",
                f"-remoteWrite.url={write_url}", f"-remoteWrite.tmpDataPath={tmp / 'vmagent'}",
                f"-httpListenAddr=127.0.0.1:{ports['agent']}",
                "-promscrape.maxScrapeSize=1GiB",  # default 16 MiB: a shard's body is ~100 MB
            ]  # fmt: skip
        else:
            agent_argv = [
                prometheus, "--enable-feature=agent",
                f"--config.file={write_config('agent', False, write_url)}",
                f"--storage.agent.path={tmp / 'agent-wal'}",
                f"--web.listen-address=127.0.0.1:{ports['agent']}",
            ]  # fmt: skip
        procs["agent"] = subprocess.Popen(
            agent_argv, stdout=logs["agent"], stderr=subprocess.STDOUT
        )
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        async with aiohttp.ClientSession() as http:
            await wait_http(http, f"{urls['prom']}/-/ready")
            ready = "/health" if args.agent == "vmagent" else "/-/ready"
            await wait_http(http, f"{urls['agent']}{ready}")
            await wait_http(http, f"{vm_url}/health")
            await asyncio.sleep(5)
            idle = {name: proc_status(p.pid).get("VmRSS", 0) for name, p in procs.items()}
            progress(f"store: idle RSS {idle}; loading the scrape job")
            write_config("prom", True)
            write_config("agent", True, None if args.agent == "vmagent" else write_url)
            t_job = time.monotonic()
            for name in ("prom", "agent"):
                procs[name].send_signal(signal.SIGHUP)
            peak = dict.fromkeys(procs, 0)
            query = f"{urls['prom']}/api/v1/query"

            async def scalar(expr: str) -> float | None:
                async with http.get(query, params={"query": expr}) as resp:
                    result = (await resp.json())["data"]["result"]
                return float(result[0]["value"][1]) if result else None

            scrapes = 0
            limit = args.store_scrapes * args.scrape_interval * 4 + 60
            while time.monotonic() - t_job < limit:
                for name, p in procs.items():
                    peak[name] = max(peak[name], proc_status(p.pid).get("VmRSS", 0))
                count = await scalar('sum_over_time(up{job="vigil"}[1h])')  # successful ones
                if int(count or 0) > scrapes:
                    scrapes = int(count or 0)
                    progress(f"store: scrape {scrapes}, RSS {proc_status(procs['prom'].pid)}")
                if scrapes >= args.store_scrapes:
                    break
                await asyncio.sleep(1)
            # every series the server holds has reached VictoriaMetrics through the agent
            prom_text = await http_text(http, f"{urls['prom']}/metrics")
            head_now = metric_values(prom_text, "prometheus_tsdb_head_series") or 0
            for _ in range(120):
                vm_text = await http_text(http, f"{vm_url}/metrics")
                if (metric_values(vm_text, "vm_new_timeseries_created_total") or 0) >= head_now:
                    break
                await asyncio.sleep(1)
            await asyncio.sleep(3)
            prom_text = await http_text(http, f"{urls['prom']}/metrics")
            agent_text = await http_text(http, f"{urls['agent']}/metrics")
            vm_text = await http_text(http, f"{vm_url}/metrics")
            scrape_s = await scalar('scrape_duration_seconds{job="vigil"}')
            scrape_max = await scalar('max_over_time(scrape_duration_seconds{job="vigil"}[1h])')
            attempts = int(await scalar('count_over_time(up{job="vigil"}[1h])') or 0)
            scraped = int(await scalar('scrape_samples_scraped{job="vigil"}') or 0)
            progress(f"store: {scrapes} scrapes in {time.monotonic() - t_job:.0f} s")
            now_rss = {name: proc_status(p.pid).get("VmRSS", 0) for name, p in procs.items()}
            peak = {name: max(peak[name], now_rss[name]) for name in procs}
    finally:
        # the store last: the agent writes to it until it stops
        for name in ("agent", "prom", "vm"):
            if name in procs:
                procs[name].terminate()
                try:
                    procs[name].wait(timeout=30)
                except subprocess.TimeoutExpired:
                    procs[name].kill()
        for name, fh in logs.items():
            fh.close()
            complaints = [
                line
                for line in (tmp / f"{name}.log").read_text(errors="replace").splitlines()
                if ("error" in line.lower() or "warn" in line.lower()) and "SIGTERM" not in line
            ]
            for line in complaints[-3:]:
                progress(f"store: {name} log: {line[:300]}")
        shutil.rmtree(tmp, ignore_errors=True)

    head = metric_values(prom_text, "prometheus_tsdb_head_series") or 0
    agent_series = metric_values(agent_text, "prometheus_agent_active_series") or head
    vm_series = metric_values(vm_text, "vm_cache_entries", 'type="storage/hour_metric_ids"') or 0
    vm_created = metric_values(vm_text, "vm_new_timeseries_created_total") or 0
    vm_rows = metric_values(vm_text, "vm_rows_inserted_total") or 0
    samples_out = metric_values(agent_text, "prometheus_remote_storage_samples_total") or (
        metric_values(agent_text, "vmagent_remotewrite_rows_pushed_after_relabel_total") or 0
    )
    failed_out = metric_values(agent_text, "prometheus_remote_storage_samples_failed_total") or 0
    agent_scrapes = samples_out / scraped if scraped else 0.0  # scrapes' worth delivered
    failed_scrapes = metric_values(agent_text, "vm_promscrape_scrapes_failed_total")
    series_per_camera = scraped / cameras if cameras else 0.0
    ram = args.store_ram_gb * 1024  # MB

    def per_series(name: str, series: float) -> tuple[float, int]:
        """Bytes per series beyond the idle process, and the cameras `--store-ram-gb` holds."""
        if not series:
            return float("nan"), 0
        grown = (now_rss[name] - idle[name]) * MB
        each = grown / series
        return each, int((ram - idle[name]) * MB / (each * series_per_camera))

    prom_each, prom_cams = per_series("prom", head)
    vm_each, vm_cams = per_series("vm", vm_series)
    agent_each, _ = per_series("agent", agent_series)
    n = args.store_scrapes
    rows = [
        (
            "store: scrapes of one shard, successful",
            f"{scrapes}",
            "",
            f"of {attempts}, every {args.scrape_interval} s; {scraped} samples a scrape",
        ),
        (
            "store: Prometheus scrape duration",
            f"{scrape_s or 0:.2f} s",
            "",
            f"the shard's whole /metrics, gzip; slowest {scrape_max or 0:.2f} s",
        ),
        (
            "store: Prometheus head series",
            f"{head:.0f}",
            "",
            f"{head / cameras:.1f} per camera" if cameras else "",
        ),
        (
            "store: Prometheus RSS now (idle / peak)",
            f"{now_rss['prom']} MB",
            "",
            f"idle {idle['prom']} MB, peak {peak['prom']} MB after {n} scrapes",
        ),
        (
            "store: Prometheus bytes per series",
            f"{prom_each:.0f} B",
            "",
            f"{prom_each * series_per_camera / 1024:.1f} KB per camera",
        ),
        (
            f"store: cameras one Prometheus holds in {args.store_ram_gb:.0f} GB",
            f"{prom_cams}",
            "",
            "RSS now, linear in series",
        ),
        (
            f"store: {args.agent} agent series / RSS",
            f"{agent_series:.0f}",
            "",
            f"RSS {now_rss['agent']} MB (idle {idle['agent']}), {agent_each:.0f} B per series",
        ),
        (
            f"store: {args.agent} agent samples sent / failed",
            f"{samples_out:.0f}",
            "",
            f"{failed_out:.0f} failed; {agent_scrapes:.1f} scrapes' worth"
            + ("" if failed_scrapes is None else f", {failed_scrapes:.0f} scrapes failed"),
        ),
        (
            "store: VictoriaMetrics active series",
            f"{vm_series:.0f}",
            "",
            f"{vm_created:.0f} created, {vm_rows:.0f} rows inserted",
        ),
        (
            "store: VictoriaMetrics RSS now (idle / peak)",
            f"{now_rss['vm']} MB",
            "",
            f"idle {idle['vm']} MB, peak {peak['vm']} MB",
        ),
        (
            "store: VictoriaMetrics bytes per series",
            f"{vm_each:.0f} B",
            "",
            f"{vm_each * series_per_camera / 1024:.1f} KB per camera",
        ),
        (
            f"store: cameras one VictoriaMetrics node holds in {args.store_ram_gb:.0f} GB",
            f"{vm_cams}",
            "",
            "RSS now, linear in series",
        ),
    ]
    return rows


# ------------------------------------------------------------------------------------ the table
def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def versus(value: float | None, base: float | None) -> str:
    if value is None or base is None or not base:
        return ""
    return f"{value / base:.2f}x"


def build_rows(shards: list[Child], whole: Child | None, store_rows: list) -> tuple[list, list]:
    rows, missed = [], []

    def worst(step: str, key: str) -> float | None:
        values = [s.get(step, key) for s in shards if s.get(step, key) is not None]
        return max(values) if values else None

    def each(step: str, key: str, fmt) -> str:
        return " / ".join(fmt(s.get(step, key)) for s in shards)

    def base(step: str, key: str):
        return whole.get(step, key) if whole is not None else None

    def unsharded(step: str, key: str, fmt) -> str:
        value = base(step, key)
        if whole is None:
            return ""
        if value is None:
            return "unsharded: not reached"
        return f"unsharded {fmt(value)}"

    owned = [s.get("inventory_first", "cameras") or 0 for s in shards]
    fleet = sum(owned)
    rows.append(
        (
            f"cameras per shard ({len(shards)} shards)",
            f"{min(owned)}-{max(owned)}",
            "",
            f"sum {fleet}; unsharded {base('inventory_first', 'cameras') or '-'}",
        )
    )

    def timing(label: str, step: str, key: str = "wall", goal: float | None = None, cpu=True):
        value = worst(step, key)
        ratio = [each(step, key, fmt_s)]
        if cpu:
            ratio.append(f"CPU {fmt_s(worst(step, 'cpu'))}")
        if whole is not None:
            u = base(step, key)
            ratio.append(
                f"unsharded {fmt_s(u)} ({versus(value, u)})" if u else "unsharded: not reached"
            )
        goal_text = ""
        if goal is not None:
            goal_text = f"< {fmt_s(goal)}"
            if value is None or value >= goal:
                missed.append(label)
        rows.append((f"shard: {label} (worst)", fmt_s(value), goal_text, "; ".join(ratio)))

    timing("inventory poll, first", "inventory_first")
    timing("inventory poll, steady", "inventory_steady")
    timing("archive full cycle (90 days)", "archive_full")
    timing("archive incremental cycle", "archive_incremental", goal=GOAL_INCREMENTAL_S)
    frag = [s.get("archive_full", "fragments") or 0 for s in shards]
    rows.append(
        (
            "shard: fragments cached (max)",
            f"{max(frag)}",
            "",
            unsharded("archive_full", "fragments", str),
        )
    )
    samples = worst("render", "samples")
    rows.append(
        ("shard: samples in /metrics (max)", f"{samples}", "", unsharded("render", "samples", str))
    )
    families: dict[str, int] = {}
    for s in shards:
        for name, n in (s.get("render", "per_family") or {}).items():
            families[name] = families.get(name, 0) + n
    per_camera = sum(families.values()) / fleet if fleet else 0.0
    archive = sum(n for f, n in families.items() if f.startswith("vigil_camera_archive_"))
    rows.append(
        (
            "shard: series per camera (from /metrics)",
            f"{per_camera:.1f}",
            "",
            f"inventory {(sum(families.values()) - archive) / max(fleet, 1):.1f}, "
            f"archive {archive / max(fleet, 1):.1f}; {len(families)} families",
        )
    )
    size = worst("render", "size")
    gz = worst("http_gzip", "size")
    rows.append(
        (
            "shard: /metrics size (max), gzip",
            f"{(size or 0) / 1e6:.0f} MB",
            "",
            f"gzip {(gz or 0) / 1e6:.1f} MB; "
            + unsharded("render", "size", lambda v: f"{v / 1e6:.0f} MB"),
        )
    )
    timing(
        "render, every series changed", "render", "render", goal=GOAL_RENDER_MS / 1000, cpu=False
    )
    timing("HTTP GET /metrics gzip, every series changed", "http_gzip", cpu=False)
    peak = worst("done", "peak_mb")
    ratio = [each("done", "peak_mb", lambda v: f"{v} MB" if v is not None else "-")]
    if whole is not None:
        u = base("done", "peak_mb")
        ratio.append(
            f"unsharded {u} MB ({versus(peak, u)})"
            if u
            else f"unsharded: over {whole.max_seen} MB when stopped"
        )
    if peak is None or peak >= GOAL_RSS_MB:
        missed.append("peak RSS")
    rows.append(
        ("shard: peak RSS (worst)", f"{peak} MB", f"< {GOAL_RSS_MB:.0f} MB", "; ".join(ratio))
    )
    started = worst("started", "rss_mb")
    after_inv = worst("inventory_first", "rss_mb")
    after_full = worst("archive_full", "rss_mb")
    rows.append(
        (
            "shard: RSS at start / after inventory / archive",
            f"{after_full} MB",
            "",
            f"{started} MB at start, {after_inv} MB after the first inventory poll",
        )
    )
    cpu_total = sum(s.get("done", "cpu") or 0 for s in shards)
    if whole is not None and whole.get("done", "cpu"):
        rows.append(
            (
                "CPU of the whole run: all shards / unsharded",
                f"{cpu_total:.0f} s",
                "",
                f"unsharded {whole.get('done', 'cpu'):.0f} s "
                f"({versus(cpu_total, whole.get('done', 'cpu'))})",
            )
        )
    if whole is not None and whole.failed:
        rows.append(("unsharded exporter", "FAILED", "", whole.failed))
    for s in shards:
        if s.failed:
            rows.append((f"{s.label}", "FAILED", "", s.failed))
            missed.append(s.label)

    # how many cameras one shard holds at each goal, scaled linearly from the worst shard
    cams = max(owned) if owned else 0
    inc = worst("archive_incremental", "wall")
    ren = worst("render", "render")
    base_mb = started or 0
    limits = []
    if peak and cams:
        limits.append(("RSS", cams * (GOAL_RSS_MB - base_mb) / (peak - base_mb)))
    if inc and cams:
        limits.append(("incremental cycle", cams * GOAL_INCREMENTAL_S / inc))
    if ren and cams:
        limits.append(("render", cams * GOAL_RENDER_MS / 1000 / ren))
    if limits:
        name, value = min(limits, key=lambda item: item[1])
        rows.append(
            (
                "capacity: cameras per shard within every goal",
                f"{value:.0f}",
                "",
                "; ".join(f"{n} {v:.0f}" for n, v in limits) + f" (bound: {name})",
            )
        )
    rows += store_rows
    return rows, missed


def family_table(shards: list[Child]) -> None:
    families: dict[str, int] = {}
    for s in shards:
        for name, n in (s.get("render", "per_family") or {}).items():
            families[name] = families.get(name, 0) + n
    fleet = sum(s.get("inventory_first", "cameras") or 0 for s in shards)
    if not families or not fleet:
        return
    width = max(len(n) for n in families)
    print(f"\n{'series per camera, by family (all shards)':<{width}}  {'series':>8}  per camera")
    for name, n in sorted(families.items(), key=lambda item: -item[1]):
        print(f"{name:<{width}}  {n:>8}  {n / fleet:.2f}")
    print(f"{'all':<{width}}  {sum(families.values()):>8}  {sum(families.values()) / fleet:.2f}")


async def parent(args: argparse.Namespace) -> int:
    t_start = time.monotonic()
    sim_port = free_port()
    args.sim_url = f"http://127.0.0.1:{sim_port}/api"
    sim = subprocess.Popen(
        [
            sys.executable, "-m", "exporter", "simulate", "--cameras", str(args.cameras),
            "--listen", f"127.0.0.1:{sim_port}", "--log-level", "warning",
        ],
        env={**os.environ, "VIGIL_SIM_API_KEY": API_KEY},
        cwd=ROOT,
    )  # fmt: skip
    shards: list[Child] = []
    whole: Child | None = None
    store_rows: list = []
    try:
        await wait_for_port(sim_port, timeout=120)
        progress(f"simulator up with {args.cameras} cameras")
        for index in range(args.shards):
            serving = index == args.shards - 1 and not args.no_store
            shard = Child(f"shard {index}/{args.shards}", index, args.shards, args, serving)
            shards.append(await shard.run())
            if serving:
                if not shard.failed:
                    target = shard.get("started", "url").removeprefix("http://")
                    try:
                        store_rows = await store_step(
                            target, shard.get("inventory_first", "cameras"), args
                        )
                    except Exception as exc:  # a store that fails is reported, not fatal
                        progress(f"store step failed: {exc!r}")
                        store_rows = [("store step", "FAILED", "", repr(exc)[:80])]
                await shard.stop()
        if not args.no_unsharded:
            whole = await Child("unsharded", 0, 1, args).run()
            await whole.stop()
    finally:
        for child in [*shards, *([whole] if whole else [])]:
            await child.stop()
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sim.kill()

    rows, missed = build_rows(shards, whole, store_rows)
    rows.insert(
        0,
        (
            "simulated fleet",
            f"{args.cameras}",
            "",
            f"page_size {args.page_size}; run took {(time.monotonic() - t_start) / 60:.1f} min",
        ),
    )
    print_table(rows)
    family_table(shards)
    return verdict(missed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--page-size", type=int, default=1000, help="rt_api.page_size")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-unsharded", action="store_true")
    parser.add_argument("--max-rss-mb", type=int, default=10_000, help="kill a child past this")
    parser.add_argument("--no-store", action="store_true", help="skip Prometheus/VictoriaMetrics")
    parser.add_argument("--store-scrapes", type=int, default=8)
    parser.add_argument("--scrape-interval", type=int, default=15)
    parser.add_argument("--store-ram-gb", type=float, default=16.0)
    parser.add_argument(
        "--agent",
        choices=("prometheus", "vmagent"),
        default="prometheus",
        help="what scrapes the shard and remote-writes into VictoriaMetrics",
    )
    parser.add_argument("--serve-archive-every", type=float, default=60.0)
    # the shard child (started by the parent)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--sim-url", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-inventory-every", type=float, default=15.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    return asyncio.run(child(args) if args.child else parent(args))


if __name__ == "__main__":
    raise SystemExit(main())
