"""What the workbook's overview sheets add to the per-camera figures (pure NumPy).

Everything here is derived from `ReportData` and `Figures` (reporter/figures.py) and does not
change them: the average fragment, the fleet's coverage per day (Trend), the breakdown by data
center, and the previous period's figures lined up with this period's cameras for the changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reporter.data import ReportData
from reporter.figures import BANDS, Figures
from reporter.period import Day

# the per-camera figures that get a change against the previous period (attributes of Compared)
COMPARED = ("recorded", "coverage", "fragments", "avg_fragment", "gaps", "longest_gap", "gap_time")


def avg_fragment(fig: Figures) -> np.ndarray:
    """Recorded seconds per fragment over the period (report.py's "Avg Fragment"); NaN without
    data or without fragments."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(fig.fragments > 0, fig.recorded / fig.fragments, np.nan)


@dataclass
class FleetDays:
    coverage: np.ndarray  # (days,) recorded over the day length of the cameras with data; NaN: none
    cameras: np.ndarray  # (days,) cameras with data that day


def fleet_days(fig: Figures) -> FleetDays:
    """The fleet's coverage of each day: the mean daily coverage of the cameras with data that day
    (every camera's day has the same length, so it is also recorded time over day lengths)."""
    counts = fig.has_data.sum(axis=0)
    total = np.where(fig.has_data, fig.coverage_daily, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(counts > 0, total / counts, np.nan)
    return FleetDays(coverage=coverage, cameras=counts)


def days_with_any_data(fig: Figures) -> int:
    """Days of the period on which at least one camera has data."""
    return int(fig.has_data.any(axis=0).sum())


def average_coverage(coverage: np.ndarray) -> float:
    """Mean of the cameras' period coverage, cameras without data left out (TLDR's average)."""
    finite = coverage[~np.isnan(coverage)]
    return float(finite.mean()) if len(finite) else float("nan")


@dataclass
class Compared:
    """The previous period's figures of this report's cameras (NaN: no data for the camera then)."""

    days: list[Day]
    recorded: np.ndarray
    coverage: np.ndarray
    fragments: np.ndarray
    avg_fragment: np.ndarray
    gaps: np.ndarray
    longest_gap: np.ndarray
    gap_time: np.ndarray
    fleet: FleetDays
    avg_coverage: float
    problems: int
    bands: dict[str, int]  # BANDS -> cameras (of the previous period's report)


def compare(data: ReportData, prev_data: ReportData, prev_fig: Figures) -> Compared:
    """Line the previous period's figures up with this period's cameras (by UID)."""
    index = {uid: k for k, uid in enumerate(prev_data.uids)}
    rows = np.array([index.get(uid, -1) for uid in data.uids], dtype=np.int64)
    present = rows >= 0

    def aligned(values: np.ndarray) -> np.ndarray:
        out = np.full(len(data.uids), np.nan)
        out[present] = np.asarray(values, dtype=np.float64)[rows[present]]
        return out

    return Compared(
        days=prev_data.days,
        recorded=aligned(prev_fig.recorded),
        coverage=aligned(prev_fig.coverage),
        fragments=aligned(prev_fig.fragments),
        avg_fragment=aligned(avg_fragment(prev_fig)),
        gaps=aligned(prev_fig.gaps),
        longest_gap=aligned(prev_fig.longest_gap),
        gap_time=aligned(prev_fig.gap_time),
        fleet=fleet_days(prev_fig),
        avg_coverage=average_coverage(prev_fig.coverage),
        problems=sum(1 for r in prev_fig.reasons if r),
        bands={b: prev_fig.band.count(b) for b in BANDS},
    )


def current(fig: Figures) -> dict[str, np.ndarray]:
    """This period's values of the COMPARED figures."""
    return {
        "recorded": fig.recorded,
        "coverage": fig.coverage,
        "fragments": fig.fragments,
        "avg_fragment": avg_fragment(fig),
        "gaps": fig.gaps,
        "longest_gap": fig.longest_gap,
        "gap_time": fig.gap_time,
    }


def change(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    """now - before; NaN where either is unknown."""
    return np.asarray(now, dtype=np.float64) - np.asarray(before, dtype=np.float64)


@dataclass
class DataCenter:
    name: str  # '' for cameras without one
    cameras: int
    online: int
    offline: int
    unknown: int
    bands: dict[str, int]  # BANDS -> cameras
    problems: int
    avg_coverage: float  # mean period coverage of its cameras with data; NaN: none
    days_with_data: int  # days on which any of its cameras has data
    prev_avg_coverage: float  # the same in the previous period; NaN: unknown


def by_datacenter(
    data: ReportData, fig: Figures, prev: Compared | None
) -> tuple[list[DataCenter], DataCenter]:
    """One row per data center (by name, the cameras without one last), and the fleet's row."""
    names = np.array([info["datacenter"] for info in data.info], dtype=object)
    bands = np.array(fig.band, dtype=object)
    problems = np.array([bool(r) for r in fig.reasons], dtype=bool)

    def row(name: str, mask: np.ndarray) -> DataCenter:
        return DataCenter(
            name=name,
            cameras=int(mask.sum()),
            online=int((data.online[mask] == 1).sum()),
            offline=int((data.online[mask] == 0).sum()),
            unknown=int(np.isnan(data.online[mask]).sum()),
            bands={b: int((bands[mask] == b).sum()) for b in BANDS},
            problems=int(problems[mask].sum()),
            avg_coverage=average_coverage(fig.coverage[mask]),
            days_with_data=int(fig.has_data[mask].any(axis=0).sum()),
            prev_avg_coverage=(
                average_coverage(prev.coverage[mask]) if prev is not None else float("nan")
            ),
        )

    order = sorted(set(names), key=lambda n: (n == "", n.casefold()))
    rows = [row(n, names == n) for n in order]
    return rows, row("", np.ones(len(data.uids), dtype=bool))


def headline(data: ReportData, fig: Figures, prev: Compared | None, lang: str, tz: str):
    """The TLDR figures a mail body repeats (the same definitions as the TLDR sheet)."""
    from reporter.i18n import date_text
    from reporter.mail import Headline

    avg = average_coverage(fig.coverage)
    change = (avg - prev.avg_coverage) * 100 if prev is not None else float("nan")
    return Headline(
        first=date_text(lang, data.days[0].date),
        last=date_text(lang, data.days[-1].date),
        days=len(data.days),
        tz=tz,
        days_with_data=days_with_any_data(fig),
        cameras=len(data.uids),
        online=int((data.online == 1).sum()),
        offline=int((data.online == 0).sum()),
        unknown=int(np.isnan(data.online).sum()),
        avg_coverage=avg,
        coverage_change=float(np.round(change, 1)) if change == change else float("nan"),
        bands={b: fig.band.count(b) for b in BANDS},
        problems=sum(1 for r in fig.reasons if r),
    )
