"""Per-camera period figures, quality bands and problems from the daily figures (pure NumPy).

Definitions (docs/reporter.md repeats them for readers of the workbook):

* A camera-day *has data* when Prometheus holds its recorded seconds for that day. Days without data
  are left out of every sum and of the coverage's denominator: they are "no data", not 0 %.
* coverage = sum of recorded seconds / sum of the lengths of the days with data.
* fragments, gaps: sums of the daily counts. A fragment or gap that crosses midnight is counted in
  every day it touches (the daily figures cannot tell it apart from two).
* gap time: sum of the daily gap seconds, exact for the period (days do not overlap).
* longest gap: the larger of the longest daily gap and the total length of the longest run of
  consecutive days that one gap covers entirely (a day whose longest gap is the whole day). A
  lower bound of the longest real gap: the parts of a gap in partly recorded days around midnight
  are not joined, because the daily figures do not say where in the day a gap lies.
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


def longest_gap(longest_daily: np.ndarray, day_length: np.ndarray) -> np.ndarray:
    """Per camera: max(longest daily gap, longest run of whole days inside one gap, in seconds)."""
    daily_max = np.where(np.isnan(longest_daily), -1.0, longest_daily).max(axis=1, initial=-1.0)
    whole = longest_daily == day_length[None, :]  # NaN compares False: no data breaks a run
    best = np.zeros(len(longest_daily))
    run = np.zeros(len(longest_daily))
    for col in range(longest_daily.shape[1]):
        run = np.where(whole[:, col], run + day_length[col], 0.0)
        np.maximum(best, run, out=best)
    out = np.maximum(daily_max, best)
    out[daily_max < 0] = np.nan
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
        fragments=_sum(daily["fragments"], has_data),
        gaps=_sum(daily["gaps"], has_data),
        longest_gap=longest_gap(np.where(has_data, daily["longest_gap"], np.nan), day_length),
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
