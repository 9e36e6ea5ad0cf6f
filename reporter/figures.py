"""Per-camera period figures, quality bands and problems from the daily figures (pure NumPy).

Definitions (docs/reporter.md repeats them for readers of the workbook):

* A camera-day *has data* when Prometheus holds its recorded seconds for that day. Days without data
  are left out of every sum and of the coverage's denominator: they are "no data", not 0 %.
* coverage = sum of recorded seconds / sum of the lengths of the days with data.
* fragments: distinct fragments overlapping the period, counted once however many midnights they
  cross: the first day's fragments, then for each later day the fragments that start in it. After
  a day without data the day's own count stands in (a fragment reaching over the missing day is
  then counted again).
* gaps: gaps overlapping the period, each once: the sum of the daily counts minus the midnights a
  gap is open at (the day before ends in a gap, the day after begins in it; both days with data).
* gap time: sum of the daily gap seconds, exact for the period (days do not overlap).
* longest gap: the longest overlap of one gap with the period: the largest daily one, or a gap
  joined across midnights (its part at the end of one day, the whole days it covers, its part at
  the start of the day it ends in). A 30-hour outage from 21:00 to 03:00 two days later is 30 h.

The joins read three daily series the exporter publishes for the finished day (fragments started,
gap at start, gap at end; docs/metrics.md). Days from an exporter older than them have none: then
a fragment or gap crossing midnight counts in every day it touches, and only gaps covering whole
days are joined (the figures are lower or upper bounds, as before those series existed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reporter.data import ReportData

GREEN = 0.9
YELLOW = 0.5
LONG_GAP = 3600
SHALLOW = 86400

BANDS = ("green", "yellow", "red", "no_archive", "no_data")


@dataclass
class Figures:
    day_length: np.ndarray  # (days,) seconds
    has_data: np.ndarray  # (cameras, days) bool
    coverage_daily: np.ndarray  # (cameras, days), NaN without data
    days_with_data: np.ndarray  # (cameras,) int
    recorded: np.ndarray  # (cameras,) seconds, NaN without data
    coverage: np.ndarray
    fragments: np.ndarray
    gaps: np.ndarray
    longest_gap: np.ndarray
    gap_time: np.ndarray
    band: list[str]  # one of BANDS per camera
    reasons: list[list[tuple[str, float | str]]]  # (code, value) per camera, possibly empty


def _sum(values: np.ndarray, has_data: np.ndarray) -> np.ndarray:
    """Sum over days with data; NaN for a camera without any (a missing value in a day with data,
    e.g. gap seconds from an exporter older than that metric, makes the sum unknown too)."""
    masked = np.where(has_data, values, 0.0)
    out = masked.sum(axis=1)
    unknown = (has_data & np.isnan(values)).any(axis=1) | ~has_data.any(axis=1)
    out[unknown] = np.nan
    return out


def period_fragments(
    fragments: np.ndarray, started: np.ndarray, has_data: np.ndarray
) -> np.ndarray:
    """Distinct fragments overlapping the period: (cameras, days) daily figures -> (cameras,)."""
    after_data = np.zeros_like(has_data)
    after_data[:, 1:] = has_data[:, :-1]
    # a day after a day with data adds the fragments starting in it; otherwise all it overlaps
    per_day = np.where(after_data & ~np.isnan(started), started, fragments)
    return _sum(per_day, has_data)


def _crossings(at_start: np.ndarray, at_end: np.ndarray, has_data: np.ndarray) -> np.ndarray:
    """(cameras, days - 1): a gap is open at the midnight between day j and day j + 1."""
    both = has_data[:, :-1] & has_data[:, 1:]
    return both & (at_end[:, :-1] > 0) & (at_start[:, 1:] > 0)  # NaN compares False


def period_gaps(
    gaps: np.ndarray, at_start: np.ndarray, at_end: np.ndarray, has_data: np.ndarray
) -> np.ndarray:
    """Gaps overlapping the period, each counted once: (cameras, days) -> (cameras,)."""
    total = _sum(gaps, has_data)
    return total - _crossings(at_start, at_end, has_data).sum(axis=1)


def longest_gap(
    longest_daily: np.ndarray,
    day_length: np.ndarray,
    at_start: np.ndarray | None = None,
    at_end: np.ndarray | None = None,
) -> np.ndarray:
    """Per camera: the longest overlap of one gap with the period (NaN without data).

    A gap open at a midnight is joined with the day after: its part at the end of the day before,
    the whole days it covers, its part at the start of the day it ends in. Without the at-start
    and at-end figures (NaN), a day whose longest gap is the whole day stands for both, so whole
    days still join as before those series existed.
    """
    n_cam, n_days = longest_daily.shape
    if at_start is None:
        at_start = np.full((n_cam, n_days), np.nan)
    if at_end is None:
        at_end = np.full((n_cam, n_days), np.nan)
    whole = longest_daily == day_length[None, :]  # NaN compares False: no data breaks a chain
    start = np.where(np.isnan(at_start), np.where(whole, day_length[None, :], 0.0), at_start)
    end = np.where(np.isnan(at_end), np.where(whole, day_length[None, :], 0.0), at_end)
    has = ~np.isnan(longest_daily)
    start = np.where(has, start, 0.0)
    end = np.where(has, end, 0.0)
    best = np.where(has, longest_daily, -1.0).max(axis=1, initial=-1.0)
    run = np.zeros(n_cam)  # the open gap's length up to the previous midnight (0: none)
    for col in range(n_days):
        length = day_length[col]
        through = (run > 0) & (start[:, col] >= length)  # the gap covers this whole day
        ends_here = (run > 0) & (start[:, col] > 0) & ~through
        np.maximum(best, np.where(ends_here, run + start[:, col], -1.0), out=best)
        run = np.where(through, run + length, np.where(end[:, col] > 0, end[:, col], 0.0))
        np.maximum(best, np.where(has[:, col], run, -1.0), out=best)
    out = best.astype(np.float64)
    out[~has.any(axis=1)] = np.nan
    return out


def compute(data: ReportData) -> Figures:
    daily = data.daily
    day_length = np.array([d.length for d in data.days], dtype=np.float64)
    recorded_daily = daily["recorded"]
    has_data = ~np.isnan(recorded_daily)
    days_with_data = has_data.sum(axis=1)
    recorded = _sum(recorded_daily, has_data)
    known_length = np.where(has_data, day_length[None, :], 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(days_with_data > 0, recorded / known_length, np.nan)
        coverage_daily = recorded_daily / day_length[None, :]
    fig = Figures(
        day_length=day_length,
        has_data=has_data,
        coverage_daily=coverage_daily,
        days_with_data=days_with_data,
        recorded=recorded,
        coverage=coverage,
        fragments=period_fragments(daily["fragments"], daily["fragments_started"], has_data),
        gaps=period_gaps(daily["gaps"], daily["gap_at_start"], daily["gap_at_end"], has_data),
        longest_gap=longest_gap(
            np.where(has_data, daily["longest_gap"], np.nan),
            day_length,
            daily["gap_at_start"],
            daily["gap_at_end"],
        ),
        gap_time=_sum(daily["gap_time"], has_data),
        band=[],
        reasons=[],
    )
    for i in range(len(data.uids)):
        fig.band.append(_band(days_with_data[i], recorded[i], coverage[i]))
        fig.reasons.append(_reasons(data, fig, i))
    return fig


def _band(days: int, recorded: float, coverage: float) -> str:
    if days == 0:
        return "no_data"
    if recorded == 0:
        return "no_archive"
    if coverage >= GREEN:
        return "green"
    return "yellow" if coverage >= YELLOW else "red"


def _reasons(data: ReportData, fig: Figures, i: int) -> list[tuple[str, float | str]]:
    out: list[tuple[str, float | str]] = []
    band = fig.band[i]
    if band == "no_data":
        out.append(("no_data", ""))
    elif band == "no_archive":
        out.append(("no_archive", ""))
    elif fig.coverage[i] < YELLOW:
        out.append(("low_coverage", float(fig.coverage[i])))
    if fig.longest_gap[i] > LONG_GAP:
        out.append(("long_gap", float(fig.longest_gap[i])))
    if band != "no_archive" and data.depth[i] < SHALLOW:
        out.append(("shallow", float(data.depth[i])))
    if data.online[i] == 0:
        out.append(("offline", ""))
    if data.card_problem[i] == 1:
        out.append(("card", data.card_state[i]))
    return out


def top(values: np.ndarray, n: int, largest: bool, where: np.ndarray) -> np.ndarray:
    """Indexes of the n cameras with the largest (or smallest) values among `where`; ties keep
    report order (name, uid)."""
    idx = np.flatnonzero(where & ~np.isnan(values))
    key = -values[idx] if largest else values[idx]
    return idx[np.argsort(key, kind="stable")[:n]]
