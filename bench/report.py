"""Reporter benchmark: the Excel workbook for 10,000 cameras x 90 days from a real Prometheus.

    .venv/bin/python bench/report.py [--cameras 10000] [--days 90] [--keep-data]
                                     [--baseline-cameras N] [--no-scraped-check]

Builds (or takes from the cache) a Prometheus TSDB holding the fleet's daily history
(bench/report_data.py), starts the Debian `prometheus` binary on it on a loopback port, then runs
two writers against it, each as a child process so its wall time and peak RSS are its own:

- the reporter, `vigil-report --prometheus URL --days N --tz Europe/Moscow -o FILE`;
- the baseline: what report.py did, in this file (`--baseline-only`): one plain query per metric,
  every figure in Python lists, and openpyxl in normal mode writing Summary, Daily and Heatmap with
  a Font, PatternFill, Border, Alignment and number format created for every single cell, the fill
  chosen per cell by coverage band. It takes about 20 minutes at full size; `--baseline-cameras`
  runs it on part of the fleet and scales its time linearly (1,000 of 10,000 cameras came within
  1 % of the full run).

Both workbooks must hold one Daily row per camera and day (counted from the sheets' dimensions).
Goals: the reporter under 90 s and under 1 GB peak RSS, and at least 2x faster than the baseline.
Exits 1 when a goal is missed or a writer fails.

The data set has one sample per series and day, as after `vigil backfill`. A Prometheus that scraped
the exporter holds thousands per day, and reading them is Prometheus' work, not the reporter's: the
scraped-history check measures Prometheus' cost per sample for the reporter's two query shapes on a
small scraped history and estimates what the fleet's would cost (informative, not a goal).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import free_port, print_table  # noqa: E402

GOAL_WALL_S = 90.0
GOAL_RSS_MB = 1024.0
GOAL_SPEEDUP = 2.0
EXCEL_MAX_ROWS = 1_048_576
TZ_NAME = "Europe/Moscow"
DAY = 86400
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vigil-bench"
WRITER_TIMEOUT_S = 3600.0


# --- the baseline: report.py's way ---------------------------------------------------------------


def prom_get(url: str, path: str, params: dict[str, str]) -> list[dict]:
    body = urllib.parse.urlencode(params).encode()
    with urllib.request.urlopen(f"{url}{path}", data=body, timeout=600) as resp:
        answer = json.load(resp)
    if answer.get("status") != "success":
        raise SystemExit(f"query failed: {answer.get('error')}")
    return answer["data"]["result"]


def baseline_report(url: str, days: int, last_end: int, out: Path, limit: int | None) -> None:
    """report.py's way; with `limit`, only the first `limit` cameras (by name) are read and written."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    t0 = time.perf_counter()
    first_end = last_end - (days - 1) * DAY  # Europe/Moscow has no DST: every day is 86,400 s
    at = last_end + DAY - 1  # day D is read at the last second of D+1 (docs/metrics.md)

    def instant(expr: str) -> list[dict]:
        return prom_get(url, "/api/v1/query", {"query": expr, "time": str(at)})

    info = {
        s["metric"]["camera"]: s["metric"] for s in instant("last_over_time(vigil_camera_info[1d])")
    }
    cameras = sorted(info, key=lambda c: (info[c].get("name", ""), c))[:limit]
    match = "" if limit is None else "camera=~" + json.dumps("|".join(cameras))
    daily: dict[str, dict[str, list[float]]] = {}
    for key in ("coverage_ratio", "recorded_seconds", "fragments", "gaps", "longest_gap_seconds",
                "gap_seconds"):  # fmt: skip
        selector = f'vigil_camera_archive_{key}{{window="yesterday",{match}}}'.replace(",}", "}")
        result = prom_get(url, "/api/v1/query_range", {
            "query": f"last_over_time({selector}[1d])",
            "start": str(first_end + DAY - 1), "end": str(at), "step": str(DAY),
        })  # fmt: skip
        for series in result:
            row = daily.setdefault(series["metric"]["camera"], {}).setdefault(key, [0.0] * days)
            for ts, value in series["values"]:
                row[(int(ts) - first_end - DAY + 1) // DAY] = float(value)
    current = {}
    for key in ("vigil_camera_archive_depth_seconds", "vigil_camera_online",
                "vigil_camera_memory_card_problem"):  # fmt: skip
        current[key] = {
            s["metric"]["camera"]: float(s["value"][1])
            for s in instant(f"last_over_time({key}{{{match}}}[1d])")
        }
    t1 = time.perf_counter()
    tz = ZoneInfo(TZ_NAME)
    dates = [dt.datetime.fromtimestamp(first_end + i * DAY - 1, tz).date() for i in range(days)]

    def band(ratio: float) -> str:
        if ratio >= 0.9:
            return "FFC6EFCE"
        if ratio >= 0.5:
            return "FFFFEB9C"
        return "FFFFC7CE"

    def put(ws, row, col, value, fmt="General", fill=None, bold=False, align="left"):
        cell = ws.cell(row=row, column=col, value=value)
        cell.font = Font(name="Calibri", size=10, bold=bold, color="FF000000")
        cell.fill = (
            PatternFill(fill_type="solid", start_color=fill, end_color=fill)
            if fill
            else PatternFill(fill_type=None)
        )
        side = "thin"
        cell.border = Border(
            left=Side(style=side), right=Side(style=side), top=Side(style=side),
            bottom=Side(style=side),
        )  # fmt: skip
        cell.alignment = Alignment(horizontal=align, vertical="center")
        cell.number_format = fmt

    def header(ws, titles, widths):
        for col, (title, width) in enumerate(zip(titles, widths, strict=True), start=1):
            put(ws, 1, col, title, fill="FF305496", bold=True, align="center")
            ws.cell(row=1, column=col).font = Font(
                name="Calibri", size=10, bold=True, color="FFFFFFFF"
            )
            ws.column_dimensions[get_column_letter(col)].width = width
        ws.freeze_panes = "A2"

    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    header(summary, ["Name", "UID", "SN", "Vendor", "Model", "Address", "Data center", "Status",
                     "Depth (days)", "Recorded (h)", "Coverage", "Fragments", "Gaps",
                     "Longest gap", "Total gap time"],
           [24, 18, 14, 12, 18, 40, 12, 9, 12, 12, 10, 10, 8, 12, 14])  # fmt: skip
    period = days * DAY
    for r, cam in enumerate(cameras, start=2):
        meta, figures = info[cam], daily.get(cam, {})
        recorded = sum(figures.get("recorded_seconds", [0.0]))
        coverage = recorded / period
        online = current["vigil_camera_online"].get(cam)
        status = "unknown" if online is None else ("online" if online else "offline")
        put(summary, r, 1, meta.get("name", ""))
        put(summary, r, 2, cam)
        put(summary, r, 3, meta.get("sn", ""))
        put(summary, r, 4, meta.get("vendor", ""))
        put(summary, r, 5, meta.get("model", ""))
        put(summary, r, 6, meta.get("address", ""))
        put(summary, r, 7, meta.get("datacenter", ""))
        put(summary, r, 8, status, align="center")
        depth = current["vigil_camera_archive_depth_seconds"].get(cam, 0.0)
        put(summary, r, 9, depth / DAY, "0.0", align="right")
        put(summary, r, 10, recorded / 3600, "0.0", align="right")
        put(summary, r, 11, coverage, "0.0%", fill=band(coverage), align="right")
        put(summary, r, 12, int(sum(figures.get("fragments", [0]))), "0", align="right")
        put(summary, r, 13, int(sum(figures.get("gaps", [0]))), "0", align="right")
        longest = max(figures.get("longest_gap_seconds", [0]))
        put(summary, r, 14, longest / DAY, "[h]:mm:ss", align="right")
        put(summary, r, 15, sum(figures.get("gap_seconds", [0])) / DAY, "[h]:mm:ss", align="right")
    summary.auto_filter.ref = f"A1:O{len(cameras) + 1}"

    daily_titles = [
        "Camera",
        "Date",
        "Recorded (h)",
        "Coverage",
        "Fragments",
        "Gaps",
        "Longest gap",
    ]
    sheet_no, ws, r = 1, None, EXCEL_MAX_ROWS
    for cam in cameras:
        figures = daily.get(cam, {})
        zeros = [0.0] * days
        name = info[cam].get("name", cam)
        for i, date in enumerate(dates):
            if r >= EXCEL_MAX_ROWS:
                if ws is not None:
                    ws.auto_filter.ref = f"A1:G{r}"
                ws = wb.create_sheet("Daily" if sheet_no == 1 else f"Daily ({sheet_no})")
                header(ws, daily_titles, [24, 12, 12, 10, 10, 8, 12])
                sheet_no, r = sheet_no + 1, 1
            r += 1
            coverage = figures.get("coverage_ratio", zeros)[i]
            put(ws, r, 1, name)
            put(ws, r, 2, date, "yyyy-mm-dd", align="center")
            put(ws, r, 3, figures.get("recorded_seconds", zeros)[i] / 3600, "0.00", align="right")
            put(ws, r, 4, coverage, "0.0%", fill=band(coverage), align="right")
            put(ws, r, 5, int(figures.get("fragments", zeros)[i]), "0", align="right")
            put(ws, r, 6, int(figures.get("gaps", zeros)[i]), "0", align="right")
            put(ws, r, 7, figures.get("longest_gap_seconds", zeros)[i] / DAY, "[h]:mm:ss",
                align="right")  # fmt: skip
    if ws is not None:
        ws.auto_filter.ref = f"A1:G{r}"

    heat = wb.create_sheet("Heatmap")
    header(heat, ["Camera", *(d.isoformat() for d in dates)], [24] + [11] * days)
    for r, cam in enumerate(cameras, start=2):
        put(heat, r, 1, info[cam].get("name", cam))
        row = daily.get(cam, {}).get("coverage_ratio", [0.0] * days)
        for i, coverage in enumerate(row):
            put(heat, r, i + 2, coverage, "0%", fill=band(coverage), align="center")
    t2 = time.perf_counter()
    wb.save(out)
    t3 = time.perf_counter()
    print(f"baseline phases: queries {t1 - t0:.1f} s, cells {t2 - t1:.1f} s, save {t3 - t2:.1f} s")


# --- measuring a child process -------------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    wall_s: float
    hwm_mb: float  # the child's own peak resident set (VmHWM, kept by the kernel since its exec)
    tree_peak_mb: float  # the most its whole process tree held at once (sampled)
    log_tail: str

    @property
    def peak_mb(self) -> float:
        return max(self.hwm_mb, self.tree_peak_mb)


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith(field)), 0)


def _tree_rss_kb(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError, ValueError):
            total += _status_kb(p, "VmRSS:")
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
    return total


def run_measured(cmd: list[str], log_path: Path) -> Run:
    """Run `cmd` to the end; its wall time and peak memory.

    Not getrusage/wait4: a forked child's ru_maxrss starts from the parent's resident set (the
    kernel carries it across exec), which here holds the generated data set. VmHWM belongs to the
    address space created by exec; it is read until the child exits (a peak in its last 20 ms
    could be missed), and the resident sets of the whole tree are summed for writers that fork.
    """
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    hwm = tree = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal hwm, tree
        while not done.wait(0.02):
            with contextlib.suppress(OSError, ValueError):
                hwm = max(hwm, _status_kb(proc.pid, "VmHWM:"))
            tree = max(tree, _tree_rss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        proc.wait(timeout=WRITER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    tail = log_path.read_text(errors="replace")[-3000:]
    return Run(proc.returncode, wall, hwm / 1024, tree / 1024, tail)


# --- the workbook check --------------------------------------------------------------------------


def _is_date(value) -> bool:
    if isinstance(value, dt.date):
        return True
    if isinstance(value, str):
        try:
            dt.date.fromisoformat(value[:10])
            return True
        except ValueError:
            return False
    return False


def daily_rows(path: Path) -> tuple[int, list[str]]:
    """Data rows over every sheet named Daily* (or Посуточно*), from the sheets' dimensions: the
    header rows are those above the first row holding a date."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        total, names = 0, []
        for ws in wb.worksheets:
            if not ws.title.lower().startswith(("daily", "по дням", "посуточ")):
                continue
            names.append(ws.title)
            max_row = ws.max_row or 0
            first_data = next(
                (
                    i
                    for i, row in enumerate(ws.iter_rows(max_row=10, values_only=True), start=1)
                    if any(_is_date(v) for v in row)
                ),
                None,
            )
            if first_data is not None:
                total += max_row - first_data + 1
        return total, names
    finally:
        wb.close()


# --- Prometheus ----------------------------------------------------------------------------------


class Prometheus:
    def __init__(self, storage: Path, run_dir: Path, max_samples: int | None) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise SystemExit("prometheus is not installed (apt-get install prometheus)")
        config = run_dir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = run_dir / "prometheus.log"
        args = [
            binary, f"--config.file={config}", f"--storage.tsdb.path={storage}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=400d",
        ]  # fmt: skip
        if max_samples:
            args.append(f"--query.max-samples={max_samples}")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"prometheus exited:\n{self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("prometheus not ready in time")

    def peak_rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1024

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- the run -------------------------------------------------------------------------------------


SCRAPE_INTERVAL = 15  # prometheus.yml
PROMETHEUS_QUERY_TIMEOUT_S = 120  # Prometheus' default --query.timeout
# what vigil-report reads (reporter/data.py): its first pass reads only the last SHORT_MS of each
# day's range (the daily families of reporter.data.DAILY) and of the period (8 current series per
# camera: info, online, card problem, 4 card states, depth); the whole range only where that found
# nothing (backfilled days)
REPORTER_STATE_SERIES = 8


def scraped_check(
    cache: Path, cameras: int, days: int, reporter: str, probe_cameras: int = 13
) -> list:
    """The reporter on a small history scraped every 15 s (5,760 samples per series and day, where
    the data set above has one), Prometheus' cost per sample for the reporter's first-pass query
    shapes, and what that means for the fleet."""
    import report_data

    from reporter.data import DAILY, SHORT_MS

    run_dir = Path(tempfile.mkdtemp(prefix="scraped-", dir=cache))
    prom = None
    try:
        t0 = time.perf_counter()
        now = time.time()
        daily_n, online_n = report_data.build_scraped(
            run_dir, probe_cameras, days, SCRAPE_INTERVAL, now
        )
        built = time.perf_counter() - t0
        _, _, ends = report_data.history_days(now, days)
        at = f"{int(ends[-1]) + DAY - 0.001:.3f}"
        prom = Prometheus(run_dir / "tsdb", run_dir, None)
        prom.wait_ready()
        short = f"{SHORT_MS // 1000}s"
        shapes = {
            "state": ("/api/v1/query", {
                "query": f"max by (camera) (last_over_time(vigil_camera_online[{short}]))",
                "time": at,
            }, probe_cameras * SHORT_MS // 1000 // SCRAPE_INTERVAL),
            "daily": ("/api/v1/query_range", {
                "query": f'last_over_time(vigil_camera_archive_recorded_seconds{{window="yesterday"}}[{short}])',
                "start": f"{int(ends[0]) + DAY - 0.001:.3f}", "end": at, "step": str(DAY),
            }, probe_cameras * days * SHORT_MS // 1000 // SCRAPE_INTERVAL),
        }  # fmt: skip
        ns = {}
        for shape, (path, params, samples) in shapes.items():
            best = math.inf
            for _ in range(3):
                t1 = time.perf_counter()
                answer = prom_get(prom.url, path, params)
                best = min(best, time.perf_counter() - t1)
            if len(answer) != probe_cameras:
                raise SystemExit(f"scraped check: {len(answer)} series for the {shape} query")
            ns[shape] = best / samples * 1e9
        out = run_dir / "scraped.xlsx"
        cmd = [*reporter.split(), "--prometheus", prom.url, "--days", str(days), "--tz", TZ_NAME,
               "--at", str(int(ends[-1]) + DAY // 2), "-o", str(out)]  # fmt: skip
        rep = run_measured(cmd, run_dir / "reporter.log")
        if rep.returncode != 0 or not out.exists():
            raise SystemExit(f"scraped check: the reporter failed:\n{rep.log_tail}")
    finally:
        if prom is not None:
            prom.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    per_short = SHORT_MS // 1000 // SCRAPE_INTERVAL
    daily_fleet = len(DAILY) * cameras * days * per_short
    state_fleet = REPORTER_STATE_SERIES * cameras * per_short
    cpu = (daily_fleet * ns["daily"] + state_fleet * ns["state"]) / 1e9
    one_family = cameras * days * per_short * ns["daily"] / 1e9
    return [
        (f"scraped history probe ({probe_cameras} cameras, {SCRAPE_INTERVAL} s)",
         f"{(daily_n + online_n) / 1e6:.1f} M", "", f"samples, built in {built:.0f} s"),
        ("  reporter on it: wall time", f"{rep.wall_s:.1f} s", "", "first pass finds every day"),
        (f"  Prometheus: last_over_time over {short}, instant", f"{ns['state']:.0f} ns", "",
         "per sample read"),
        (f"  Prometheus: last_over_time over {short}, 1 d step", f"{ns['daily']:.0f} ns", "",
         "per sample read"),
        (f"  fleet scraped every {SCRAPE_INTERVAL} s: samples the first pass reads",
         f"{(daily_fleet + state_fleet) / 1e6:.0f} M", "", "estimate, not measured"),
        ("  fleet: Prometheus CPU for them", f"{cpu:.0f} s", "", "estimate"),
        ("  fleet: one daily family over the period", f"{one_family:.0f} s",
         f"< {PROMETHEUS_QUERY_TIMEOUT_S} s",
         "estimate vs Prometheus' default --query.timeout"
         + ("" if one_family < PROMETHEUS_QUERY_TIMEOUT_S else ": WOULD TIME OUT")),
    ]  # fmt: skip


def mb(value: float) -> str:
    return f"{value:.0f} MB"


def bench(args: argparse.Namespace) -> int:
    import report_data

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    history = args.history_days or 2 * args.days
    print(f"data set: {args.cameras} cameras x {history} days in {cache}", flush=True)
    data = report_data.build(cache, args.cameras, history)
    if data.generated_s is None:
        print(f"data set taken from the cache: {data.path}", flush=True)
    else:
        print(f"data set generated in {data.generated_s:.1f} s: {data.path}", flush=True)
    expected_rows = data.cameras * args.days
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=cache))
    prom = None
    try:
        storage = report_data.linked_copy(data, run_dir)
        prom = Prometheus(storage, run_dir, args.query_max_samples)
        ready_s = prom.wait_ready()
        print(f"prometheus ready at {prom.url} in {ready_s:.1f} s", flush=True)
        warm0 = time.perf_counter()
        families = [f[0] for f in report_data.DAILY_FAMILIES + report_data.CAMERA_FAMILIES]
        for name in [*families, "vigil_camera_memory_card_state", "vigil_camera_info"]:
            prom_get(
                prom.url,
                "/api/v1/query",
                {"query": f"count(count_over_time({name}[{args.days + 2}d]))"},
            )
        warm_s = time.perf_counter() - warm0

        reporter_out = run_dir / "reporter.xlsx"
        reporter_cmd = [*args.reporter.split(), "--prometheus", prom.url, "--days", str(args.days),
                        "--tz", TZ_NAME, "-o", str(reporter_out)]  # fmt: skip
        yesterday = dt.datetime.now(ZoneInfo(TZ_NAME)).date() - dt.timedelta(days=1)
        if yesterday.isoformat() != data.day_names[-1]:
            # before 03:00 local the newest day in the data set is the day before yesterday
            reporter_cmd += ["--at", str(data.day_ends[-1] + DAY // 2)]
        print("reporter: " + " ".join(reporter_cmd), flush=True)
        rep = run_measured(reporter_cmd, run_dir / "reporter.log")
        rep_ok = rep.returncode == 0 and reporter_out.exists()
        if not rep_ok:
            print(f"reporter FAILED (exit {rep.returncode}):\n{rep.log_tail}", flush=True)
            rep_rows, rep_sheets = 0, []
        else:
            rep_rows, rep_sheets = daily_rows(reporter_out)
        print(f"reporter: {rep.wall_s:.1f} s, {mb(rep.peak_mb)}", flush=True)

        base_out = run_dir / "baseline.xlsx"
        base_cmd = [sys.executable, str(Path(__file__).resolve()), "--baseline-only",
                    "--prometheus", prom.url, "--days", str(args.days),
                    "--last-end", str(data.day_ends[-1]), "-o", str(base_out)]  # fmt: skip
        base_cameras = min(args.baseline_cameras or data.cameras, data.cameras)
        if base_cameras < data.cameras:
            base_cmd += ["--baseline-cameras", str(base_cameras)]
        scale = data.cameras / base_cameras
        print("baseline: " + " ".join(base_cmd), flush=True)
        base = run_measured(base_cmd, run_dir / "baseline.log")
        base_ok = base.returncode == 0 and base_out.exists()
        base_phases = ""
        if not base_ok:
            print(f"baseline FAILED (exit {base.returncode}):\n{base.log_tail}", flush=True)
            base_rows = 0
        else:
            base_phases = next(
                (x.split(": ", 1)[1] for x in base.log_tail.splitlines() if "phases:" in x), ""
            )
            base_rows, _ = daily_rows(base_out)
        print(f"baseline: {base.wall_s:.1f} s, {mb(base.peak_mb)}", flush=True)
        prom_rss = prom.peak_rss_mb()
        sizes = {
            p: f"{p.stat().st_size / 2**20:.1f} MB" if p.exists() else "-"
            for p in (reporter_out, base_out)
        }
    finally:
        if prom is not None:
            prom.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
        if not args.keep_data:
            shutil.rmtree(data.path, ignore_errors=True)

    base_wall = base.wall_s * scale
    speedup = base_wall / rep.wall_s if rep_ok and base_ok else 0.0
    wall_ok = rep_ok and rep.wall_s < GOAL_WALL_S
    rss_ok = rep_ok and rep.peak_mb < GOAL_RSS_MB
    rows_ok = rep_rows == expected_rows
    speed_ok = speedup >= GOAL_SPEEDUP
    base_rows_ok = base_rows == base_cameras * args.days
    generated = "cached" if data.generated_s is None else f"{data.generated_s:.1f} s"
    table = [
        ("cameras x days (report)", f"{data.cameras} x {args.days}", "",
         f"history {data.days} days: {data.day_names[0]}..{data.day_names[-1]}"),
        ("samples in Prometheus", f"{data.samples}", "", f"TSDB {data.tsdb_bytes / 2**20:.0f} MB"),
        ("data set generated (OpenMetrics + promtool)", generated, "", "not timed below"),
        ("Prometheus ready / warm-up queries", f"{ready_s:.1f} s", "", f"warm-up {warm_s:.1f} s"),
        ("reporter: wall time", f"{rep.wall_s:.1f} s", f"< {GOAL_WALL_S:.0f} s",
         f"{GOAL_WALL_S / rep.wall_s:.1f}x under goal" if wall_ok else "MISSED"),
        ("reporter: peak RSS", mb(rep.peak_mb), f"< {GOAL_RSS_MB:.0f} MB",
         f"own {rep.hwm_mb:.0f}, tree {rep.tree_peak_mb:.0f}" + ("" if rss_ok else " MISSED")),
        ("reporter: Daily rows", f"{rep_rows}", f"{expected_rows}",
         ", ".join(rep_sheets) + ("" if rows_ok else " MISSED")),
        ("reporter: workbook size", sizes[reporter_out], "", ""),
    ]  # fmt: skip
    if scale != 1:
        table += [
            (f"baseline: wall time, {base_cameras} cameras", f"{base.wall_s:.1f} s", "",
             "openpyxl, per-cell styles"),
            ("baseline: scaled linearly to the fleet", f"{base_wall:.1f} s", "",
             f"x {data.cameras}/{base_cameras}"),
        ]  # fmt: skip
    else:
        table.append(
            ("baseline: wall time", f"{base.wall_s:.1f} s", "", "openpyxl, per-cell styles")
        )
    table += [
        ("baseline: time by phase", "", "", base_phases),
        ("baseline: peak RSS" + ("" if scale == 1 else f", {base_cameras} cameras"), mb(base.peak_mb),
         "", f"own {base.hwm_mb:.0f}, tree {base.tree_peak_mb:.0f}"),
        ("baseline: Daily rows", f"{base_rows}", f"{base_cameras * args.days}",
         "" if base_rows_ok else "MISSED"),
        ("baseline: workbook size", sizes[base_out], "", ""),
        ("speed-up over the baseline", f"{speedup:.1f}x", f">= {GOAL_SPEEDUP:.0f}x",
         f"{speedup / GOAL_SPEEDUP:.1f}x the goal" if speed_ok else "MISSED"),
        ("memory: baseline / reporter", f"{base.peak_mb / max(rep.peak_mb, 1):.1f}x", "",
         "" if scale == 1 else "baseline not scaled"),
        ("Prometheus peak RSS (served both)", mb(prom_rss), "", ""),
    ]  # fmt: skip
    if args.scraped_check:
        print("scraped-history check ...", flush=True)
        table += scraped_check(cache, data.cameras, args.days, args.reporter)
    print_table(table)
    ok = wall_ok and rss_ok and rows_ok and speed_ok and base_ok and base_rows_ok
    print("all goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--history-days",
        type=int,
        help="days of history in Prometheus (default 2 x --days: the report's period and the "
        "previous one, which the workbook compares with)",
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the generated TSDB for the next run"
    )
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where data sets are kept")
    parser.add_argument("--reporter", default=f"{Path(sys.executable).parent / 'vigil-report'}",
                        help="the reporter command (split on spaces)")  # fmt: skip
    parser.add_argument(
        "--no-scraped-check",
        dest="scraped_check",
        action="store_false",
        help="skip measuring Prometheus' cost per sample on a small scraped history",
    )
    parser.add_argument("--query-max-samples", type=int, help="Prometheus --query.max-samples")
    parser.add_argument(
        "--baseline-cameras",
        type=int,
        help="run the baseline on this many cameras and scale its time linearly (1,000 of 10,000 "
        "came within 1 %% of the full run); default: the whole fleet",
    )
    parser.add_argument("--baseline-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prometheus", help=argparse.SUPPRESS)
    parser.add_argument("--last-end", type=int, help=argparse.SUPPRESS)
    parser.add_argument("-o", "--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_only:
        baseline_report(
            args.prometheus, args.days, args.last_end, Path(args.output), args.baseline_cameras
        )
        return 0
    return bench(args)


if __name__ == "__main__":
    raise SystemExit(main())
