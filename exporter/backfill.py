"""`vigil backfill`: past calendar days of archive figures as an OpenMetrics file for promtool.

Prometheus only knows what it scraped. This fetches the fleet's archive history once, analyses every
past calendar day in the configured time zone, and writes one sample per camera per day and series,
stamped at the day's end, under the same names and labels the live exporter uses for the finished day
(`window="yesterday"`): the sample at the end of day D says what D looked like, exactly as the live
series does all through D+1. That includes the figures that join the days into exact periods
(fragments started, gap at start and at end of the day). `promtool tsdb create-blocks-from openmetrics` turns the file into blocks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from exporter.analysis.archive import ArchiveStats, FleetArchive, Window, analyse, calendar_days
from exporter.catalogue import FamilySpec
from exporter.config import Config
from exporter.errors import CheckFailed
from exporter.exposition import escape_label_value, family_header, format_value
from exporter.service import client_session, compose
from exporter.sources.rt_api.metrics import (
    ARCHIVE_DAY_JOINS,
    ARCHIVE_DEPTH,
    ARCHIVE_PER_WINDOW,
    CAMERA_INFO,
    CAMERA_INFO_LABELS,
    DAILY_WINDOW,
)
from exporter.sources.rt_api.payloads import Camera

log = logging.getLogger("vigil.backfill")

HEAD_MARGIN = 3 * 3600  # promtool refuses samples too close to now (they belong in the head block)


@dataclasses.dataclass
class BackfillResult:
    cameras: int
    failed: int
    days: int
    samples: int
    first_day: str | None
    last_day: str | None


def backfill_days(now: int, tz, days: int) -> list[Window]:
    """The last `days` finished calendar days whose end is at least HEAD_MARGIN before now."""
    candidates = calendar_days(now, tz, days + 2)[:-1]  # drop today (unfinished)
    finished = [d for d in candidates if d.end <= now - HEAD_MARGIN]
    return finished[-days:]


INFO_LABELS = CAMERA_INFO_LABELS[1:]  # after `camera`


def _header(spec: FamilySpec) -> str:
    """The family's HELP and TYPE lines, as the catalogue declares them."""
    return family_header(spec.name, spec.help, spec.type)


def depth_at_day_ends(stats: ArchiveStats, now: int) -> np.ndarray:
    """Archive depth as it stood at each day's end: (n_cameras, n_days), 0 before the archive began."""
    ends = np.array([w.end for w in stats.windows], dtype=np.int64)
    origin = now - stats.depth_seconds  # the oldest recorded second, for cameras with archive
    depth = ends[None, :] - origin[:, None]
    depth[stats.depth_seconds == 0] = 0
    return np.maximum(depth, 0)


def write_openmetrics(
    out: TextIO,
    uids: list[str],
    stats: ArchiveStats,
    extra_labels: dict[str, str],
    *,
    now: int | None = None,
    cameras: dict[str, Camera] | None = None,
) -> int:
    """Write every family, camera by camera, day by day (promtool wants each series in time order).

    With `cameras`, each day end also gets the camera's `vigil_camera_info` (as the inventory
    describes it today: the platform keeps no history of names and addresses); with `now`, the
    archive depth as it stood at each day's end. Online state and memory card are not written:
    the platform keeps no history of them and Vigil does not guess.
    """
    extra = "".join(f',{k}="{escape_label_value(v)}"' for k, v in sorted(extra_labels.items()))
    ends = [w.end for w in stats.windows]
    samples = 0
    if cameras is not None:
        name = CAMERA_INFO.name
        out.write(_header(CAMERA_INFO))
        for uid in uids:
            camera = cameras[uid]
            labels = "".join(
                f',{k}="{escape_label_value(getattr(camera, k) or "")}"' for k in INFO_LABELS
            )
            prefix = f'{name}{{camera="{escape_label_value(uid)}"{labels}{extra}}} '
            out.writelines(f"{prefix}1 {end}\n" for end in ends)
            samples += len(ends)
    if now is not None:
        name = ARCHIVE_DEPTH.name
        out.write(_header(ARCHIVE_DEPTH))
        depth = depth_at_day_ends(stats, now)
        for row, uid in enumerate(uids):
            prefix = f'{name}{{camera="{escape_label_value(uid)}"{extra}}} '
            out.writelines(
                f"{prefix}{int(v)} {end}\n" for v, end in zip(depth[row], ends, strict=True)
            )
            samples += len(ends)
    for spec, attribute in (*ARCHIVE_PER_WINDOW, *ARCHIVE_DAY_JOINS):
        out.write(_header(spec))
        values: np.ndarray = getattr(stats, attribute)
        for row, uid in enumerate(uids):
            prefix = (
                f'{spec.name}{{camera="{escape_label_value(uid)}",window="{DAILY_WINDOW}"{extra}}} '
            )

            out.writelines(
                f"{prefix}{format_value(float(v))} {end}\n"
                for v, end in zip(values[row], ends, strict=True)
            )
            samples += len(ends)
    out.write("# EOF\n")
    return samples


async def run_backfill(
    config: Config,
    days: int,
    output: Path,
    *,
    job: str = "vigil",
    instance: str | None = None,
    clock: Callable[[], float] = time.time,
    progress: Callable[[int, int], None] | None = None,
) -> BackfillResult:
    rt = config.rt_api
    if rt is None:
        raise CheckFailed("config", "the configuration has no rt_api section to backfill from")
    now = int(clock())
    windows = backfill_days(now, config.tz, days)
    if not windows:
        raise CheckFailed("config", "no finished day is old enough to backfill yet")
    history_days = (now - windows[0].start) // 86400 + 1
    rt = dataclasses.replace(rt, archive_days=max(rt.archive_days, history_days))
    config = dataclasses.replace(config, rt_api=rt)
    async with client_session(config) as session:
        # built like `vigil run` builds it; its checks are registered but never scheduled
        source: Any = compose(config, session, clock=clock, only={"rt_api"}).sources["rt_api"]
        cameras = await source.fetch_cameras()
        uids = list(cameras)
        done = 0

        async def fetch(uid: str):
            nonlocal done
            try:
                return await source.fetch_archive(uid, now)
            except CheckFailed as exc:
                log.warning("camera %s: archive not fetched (%s)", uid, exc.reason)
                return None
            finally:
                done += 1
                if progress:
                    progress(done, len(uids))

        entries = await asyncio.gather(*(fetch(uid) for uid in uids))
    fetched = [(uid, e) for uid, e in zip(uids, entries, strict=True) if e is not None]
    fleet = FleetArchive.from_lists([(e.since, e.till) for _, e in fetched])
    stats = analyse(fleet, now, windows, int(rt.gap_threshold))
    labels = {"job": job}
    if instance:
        labels["instance"] = instance
    tmp = output.with_name(output.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            samples = write_openmetrics(
                out, [uid for uid, _ in fetched], stats, labels, now=now, cameras=cameras
            )
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return BackfillResult(
        cameras=len(fetched),
        failed=len(uids) - len(fetched),
        days=len(windows),
        samples=samples,
        first_day=windows[0].name,
        last_day=windows[-1].name,
    )
