"""The reporter benchmark's data set: a fleet's daily history in a real Prometheus TSDB.

Every camera gets one sample per calendar day (Europe/Moscow) and series, stamped at the day's end as
`vigil backfill` writes them (docs/metrics.md, "Daily history"): the six daily archive families with
`window="yesterday"`, plus depth, info, online and memory-card problem. Values come from NumPy with a
fixed seed: most cameras record 95-100 % with a bad day now and then, some are poor, some started
later or stopped recording, about 2 % have no archive at all. The newest day is the last one whose end
lies at least three hours before now (promtool and a running Prometheus disagree about samples in
the head block's range), as after a real backfill.

The OpenMetrics text goes through `promtool tsdb create-blocks-from openmetrics` into a single block
(the hidden `--max-block-duration` flag: with the default 2 h blocks promtool re-reads the whole file
once per block, about a thousand times for 90 days). The block is cached under a directory named
after the parameters and the newest day, so a re-run on the same day skips generation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import numpy as np

from exporter.backfill import backfill_days
from exporter.exposition import escape_label_value

TZ = ZoneInfo("Europe/Moscow")
SEED = 20261121
DATA_VERSION = 2  # bump when the generated values or series change, to invalidate old caches
DAY = 86400
JOB_LABELS = 'job="vigil",instance="127.0.0.1:9830"'
BLOCK_DURATION = "4374h"  # promtool's largest compatible range below 1 year: one block for 90 days

DAILY_FAMILIES = (  # (name, help, attribute of DailyData)
    ("vigil_camera_archive_coverage_ratio", "Recorded share of the window.", "coverage"),
    ("vigil_camera_archive_recorded_seconds", "Recorded seconds in the window.", "recorded"),
    ("vigil_camera_archive_gaps", "Gaps overlapping the window.", "gaps"),
    ("vigil_camera_archive_longest_gap_seconds", "Longest gap part in the window.", "longest"),
    ("vigil_camera_archive_fragments", "Distinct fragments in the window.", "fragments"),
    ("vigil_camera_archive_gap_seconds", "Total gap time in the window.", "gap_seconds"),
)
CAMERA_FAMILIES = (  # per camera, no window label
    ("vigil_camera_archive_depth_seconds", "Now minus the oldest recorded second.", "depth"),
    ("vigil_camera_online", "1 when the platform reports the camera online.", "online"),
    ("vigil_camera_memory_card_problem", "1 when the card state is a problem.", "card_problem"),
)
CARD_STATES = ("CardOK", "CardNotFound", "Unknown", "none")  # always present (docs/metrics.md)
CARD_BAD = "CardError"
INFO_LABELS = ("name", "sn", "mac", "ip", "vendor", "model", "firmware", "datacenter", "address")

VENDORS = {
    "Hikvision": ("DS-2CD2043G2-I", "DS-2CD1023G0E-I"),
    "Dahua": ("IPC-HFW2431S", "IPC-HDW1230T1"),
    "Uniview": ("IPC2122LB-SF40",),
    "Polyvision": ("PVC-IP2L-NF2.8P",),
    "iFlow": ("F-IC-2122C2M",),
}
DATACENTERS = ("MSK-1", "MSK-2", "SPB-1", "EKB-1", "NSK-1")
CITIES = ("Москва", "Санкт-Петербург", "Екатеринбург", "Новосибирск", "Казань", "Самара")
STREETS = ("ул. Ленина", "пр. Мира", "ул. Гагарина", "Садовая ул.", 'ТЦ "Радуга", ул. Школьная')


@dataclass
class DailyData:
    """Per camera (rows) and day (columns), plus the identity of every camera."""

    uids: list[str]
    info: list[dict[str, str]]
    day_names: list[str]  # ISO dates, oldest first
    day_ends: np.ndarray  # (days,) int64, Unix seconds of each day's closing midnight
    coverage: np.ndarray
    recorded: np.ndarray
    gaps: np.ndarray
    longest: np.ndarray
    fragments: np.ndarray
    gap_seconds: np.ndarray
    depth: np.ndarray
    online: np.ndarray
    card_problem: np.ndarray
    card_ok: np.ndarray  # (cameras,) bool: the card's state when it has no problem is CardOK


def history_days(now: float, days: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, starts, ends) of the `days` finished days ending at least 3 h before `now`."""
    windows = backfill_days(int(now), TZ, days)
    if len(windows) != days:
        raise SystemExit(f"only {len(windows)} finished days before now, {days} asked")
    return (
        [w.name for w in windows],
        np.array([w.start for w in windows], dtype=np.int64),
        np.array([w.end for w in windows], dtype=np.int64),
    )


def generate(cameras: int, days: int, now: float) -> DailyData:
    names, starts, ends = history_days(now, days)
    length = (ends - starts)[None, :]
    rng = np.random.default_rng(SEED)
    day = np.arange(days)[None, :]

    kind = rng.random(cameras)
    none = kind < 0.02  # no archive at all
    poor = (kind >= 0.02) & (kind < 0.10)
    first = np.zeros(cameras, dtype=np.int64)  # first day with archive
    late = rng.random(cameras) < 0.10
    first[late] = rng.integers(1, days, late.sum())
    stop = np.full(cameras, days)  # first day without recording
    stopped = rng.random(cameras) < 0.03
    stop[stopped] = rng.integers(max(days - 10, 1), days + 1, stopped.sum())
    active = (day >= first[:, None]) & (day < stop[:, None]) & ~none[:, None]
    after_stop = (day >= stop[:, None]) & (day >= first[:, None]) & ~none[:, None]

    cov = 1.0 - np.minimum(rng.exponential(0.004, (cameras, days)), 0.08)
    bad_day = rng.random((cameras, days)) < 0.03
    cov[bad_day] = rng.uniform(0.0, 0.9, bad_day.sum())
    cov[poor] = rng.uniform(0.05, 0.75, (poor.sum(), days))
    recorded = np.where(active, np.rint(cov * length), 0).astype(np.int64)
    missing = np.where(active, length - recorded, 0)
    missing = np.where(after_stop, length, missing)

    drops = np.rint(missing * rng.uniform(0.0, 0.15, missing.shape)).astype(np.int64)  # < threshold
    gap_seconds = np.where(missing > 60, missing - drops, 0)
    gaps = np.where(gap_seconds > 0, 1 + rng.poisson(gap_seconds / 7200.0), 0)
    gaps = np.minimum(gaps, np.maximum(gap_seconds // 61, 1) * (gap_seconds > 0))
    share = rng.uniform(0.0, 1.0, gaps.shape)
    longest = np.ceil(gap_seconds / np.maximum(gaps, 1) * (1 + share * (gaps - 1))).astype(np.int64)
    longest = np.minimum(longest, gap_seconds)
    fragments = np.where(recorded > 0, gaps + 1 + rng.poisson(1.5, gaps.shape), 0)

    history = rng.integers(0, 60 * DAY, cameras)  # archive kept from before the first day
    archive_start = np.where(first > 0, starts[first.clip(0, days - 1)], starts[0] - history)
    depth = np.minimum(ends[None, :] - archive_start[:, None], 90 * DAY)
    depth = np.where((ends[None, :] > archive_start[:, None]) & ~none[:, None], depth, 0)

    online = np.ones((cameras, days), dtype=np.int64)
    offline = rng.random(cameras) < 0.04
    went_offline = days - rng.integers(1, 6, offline.sum())[:, None]
    online[offline] = np.where(day >= went_offline, 0, 1)
    online[after_stop & stopped[:, None]] = 0
    card_problem = np.zeros((cameras, days), dtype=np.int64)
    card = rng.random(cameras) < 0.03
    card_problem[card] = (day >= rng.integers(0, days, card.sum())[:, None]).astype(np.int64)
    # a card without a problem reports CardOK; the rest CardNotFound (no card, cloud recording)
    card_ok = rng.random(cameras) < 0.9

    uids = [f"{u:016x}" for u in rng.integers(0, 2**63, cameras).tolist()]
    if len(set(uids)) != cameras:
        raise SystemExit("duplicate camera uid drawn; change SEED")
    vendors = list(VENDORS)
    info = []
    for i, uid in enumerate(uids):
        vendor = vendors[i % len(vendors)]
        models = VENDORS[vendor]
        info.append(
            {
                "name": f"Камера {i + 1:05d}" if i % 3 else f"Cam-{i + 1:05d} вход",
                "sn": f"RT{uid[:10].upper()}",
                "mac": ":".join(uid[j : j + 2] for j in range(0, 12, 2)),
                "ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                "vendor": vendor,
                "model": models[i % len(models)],
                "firmware": f"V5.{i % 8}.{i % 13}",
                "datacenter": DATACENTERS[i % len(DATACENTERS)],
                "address": f"г. {CITIES[i % len(CITIES)]}, {STREETS[i % len(STREETS)]}, "
                f"д. {i % 97 + 1}",
            }
        )
    return DailyData(
        uids=uids,
        info=info,
        day_names=names,
        day_ends=ends,
        coverage=recorded / length,
        recorded=recorded,
        gaps=gaps,
        longest=longest,
        fragments=fragments,
        gap_seconds=gap_seconds,
        depth=depth,
        online=online,
        card_problem=card_problem,
        card_ok=card_ok,
    )


def write_openmetrics(out: TextIO, data: DailyData) -> int:
    """Every family, camera by camera, day by day; returns the number of samples."""
    stamps = [f" {e}\n" for e in data.day_ends.tolist()]
    samples = 0

    def family(name: str, help_text: str, labels: list[str], values: np.ndarray) -> None:
        nonlocal samples
        out.write(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n")
        text = values.astype(str)  # shortest round-trip repr for floats, plain digits for ints
        for row, label in enumerate(labels):
            prefix = f"{name}{{{label}}} "
            out.write(
                "".join([prefix + v + t for v, t in zip(text[row].tolist(), stamps, strict=True)])
            )
        samples += values.size

    cams = [f'camera="{escape_label_value(u)}"' for u in data.uids]
    daily = [f'{c},window="yesterday",{JOB_LABELS}' for c in cams]
    for name, help_text, attribute in DAILY_FAMILIES:
        family(name, help_text, daily, getattr(data, attribute))
    plain = [f"{c},{JOB_LABELS}" for c in cams]
    for name, help_text, attribute in CAMERA_FAMILIES:
        family(name, help_text, plain, getattr(data, attribute))
    # the state set: 1 for the current state; a camera whose card fails gets a CardError series
    fine_state = np.where(data.card_ok, "CardOK", "CardNotFound")[:, None]
    states = {
        name: (((fine_state == name) & (data.card_problem == 0)).astype(np.int64), range(len(cams)))
        for name in CARD_STATES
    }
    problem_rows = np.flatnonzero(data.card_problem.any(axis=1))
    states[CARD_BAD] = (data.card_problem[problem_rows], problem_rows.tolist())
    out.write("# HELP vigil_camera_memory_card_state State set of the memory card.\n")
    out.write("# TYPE vigil_camera_memory_card_state gauge\n")
    for name, (values, rows) in states.items():
        text = values.astype(str)
        for k, row in enumerate(rows):
            prefix = f'vigil_camera_memory_card_state{{{plain[row]},state="{name}"}} '
            out.write(
                "".join([prefix + v + t for v, t in zip(text[k].tolist(), stamps, strict=True)])
            )
        samples += values.size
    info = [
        c + "".join(f',{k}="{escape_label_value(i[k])}"' for k in INFO_LABELS) + f",{JOB_LABELS}"
        for c, i in zip(cams, data.info, strict=True)
    ]
    family(
        "vigil_camera_info",
        "Always 1; descriptive fields from the camera list.",
        info,
        np.ones((len(cams), len(stamps)), dtype=np.int64),
    )
    out.write("# EOF\n")
    return samples


@dataclass
class DataSet:
    path: Path  # the cached directory; blocks under path / "tsdb"
    cameras: int
    days: int
    day_names: list[str]
    day_ends: list[int]
    samples: int
    generated_s: float | None  # None when it came from the cache
    om_bytes: int
    tsdb_bytes: int


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build(cache: Path, cameras: int, days: int, now: float | None = None) -> DataSet:
    """The cached TSDB for these parameters and today's newest day; generated when missing."""
    now = time.time() if now is None else now
    names, _, _ = history_days(now, days)
    path = cache / f"report-{cameras}x{days}-to-{names[-1]}-s{SEED}-v{DATA_VERSION}"
    meta_file = path / "meta.json"
    if meta_file.exists():
        meta = json.loads(meta_file.read_text())
        return DataSet(path=path, generated_s=None, **meta)

    promtool = shutil.which("promtool")
    if promtool is None:
        raise SystemExit("promtool is not installed (apt-get install prometheus)")
    for stale in cache.glob(f"report-{cameras}x{days}-*"):  # older days or data versions
        shutil.rmtree(stale, ignore_errors=True)
    (path / "tsdb").mkdir(parents=True)
    t0 = time.perf_counter()
    data = generate(cameras, days, now)
    om = path / "history.om"
    with open(om, "w", encoding="utf-8", buffering=1 << 22) as out:
        samples = write_openmetrics(out, data)
    om_bytes = om.stat().st_size
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
         f"--max-block-duration={BLOCK_DURATION}", str(om), str(path / "tsdb")],
        capture_output=True, text=True,
    )  # fmt: skip
    om.unlink()
    if result.returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
        raise SystemExit(f"promtool failed:\n{result.stderr[-2000:]}")
    elapsed = time.perf_counter() - t0
    meta = {
        "cameras": cameras,
        "days": days,
        "day_names": data.day_names,
        "day_ends": data.day_ends.tolist(),
        "samples": samples,
        "om_bytes": om_bytes,
        "tsdb_bytes": dir_bytes(path / "tsdb"),
    }
    tmp = meta_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, meta_file)  # written last: a directory without it is an interrupted build
    return DataSet(path=path, generated_s=elapsed, **meta)


def linked_copy(data: DataSet, run_dir: Path) -> Path:
    """A Prometheus data directory whose blocks are hard links to the cache (blocks are immutable;
    Prometheus writes its WAL, lock and query log beside them, never into the cache)."""
    storage = run_dir / "tsdb"
    shutil.rmtree(storage, ignore_errors=True)
    for src in (data.path / "tsdb").rglob("*"):
        dst = storage / src.relative_to(data.path / "tsdb")
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst)
    return storage


def write_scraped(out: TextIO, cameras: int, day_ends: np.ndarray, step: int) -> tuple[int, int]:
    """A live-scraped history of two families, one sample every `step` seconds: the daily series
    (day D's value all through D+1, as the exporter publishes `window="yesterday"`) and a current
    one (`vigil_camera_online`). Returns the samples written per family."""
    name = "vigil_camera_archive_recorded_seconds"
    out.write(f"# HELP {name} Recorded seconds in the window.\n# TYPE {name} gauge\n")
    daily = online = 0
    for c in range(cameras):
        prefix = f'{name}{{camera="c{c:05d}",window="yesterday",{JOB_LABELS}}} '
        for d, end in enumerate(day_ends.tolist()):
            value = f"{86000 + (c * 7 + d) % 400} "
            stamps = range(end, end + DAY, step)
            out.write("".join([f"{prefix}{value}{t}\n" for t in stamps]))
            daily += len(stamps)
    out.write("# HELP vigil_camera_online Online.\n# TYPE vigil_camera_online gauge\n")
    first, last = int(day_ends[0]) - DAY, int(day_ends[-1]) + DAY
    for c in range(cameras):
        prefix = f'vigil_camera_online{{camera="c{c:05d}",{JOB_LABELS}}} 1 '
        stamps = range(first, last, step)
        out.write("".join([f"{prefix}{t}\n" for t in stamps]))
        online += len(stamps)
    out.write("# EOF\n")
    return daily, online


def build_scraped(path: Path, cameras: int, days: int, step: int, now: float) -> tuple[int, int]:
    """The TSDB of write_scraped under path / "tsdb" (not cached: it takes seconds)."""
    _, _, ends = history_days(now, days)
    shutil.rmtree(path, ignore_errors=True)
    (path / "tsdb").mkdir(parents=True)
    om = path / "scraped.om"
    with open(om, "w", encoding="utf-8", buffering=1 << 22) as out:
        counts = write_scraped(out, cameras, ends, step)
    try:
        subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet",
             f"--max-block-duration={BLOCK_DURATION}", str(om), str(path / "tsdb")],
            check=True, capture_output=True,
        )  # fmt: skip
    finally:
        om.unlink()
    return counts
