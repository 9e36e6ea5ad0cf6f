"""The workbook's period figures are exact, not sums of days: a multi-day outage that starts and
ends inside days, gaps across every midnight, fragments across every midnight. Through the
backfill's writer, promtool, a real Prometheus and vigil-report, as the other reporter tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.analysis.archive import FleetArchive, Window, analyse, calendar_days
from reporter.figures import longest_gap, period_fragments, period_gaps
from tests.fixtures import reporter_history as h
from tests.test_archive_analysis import DST_CASES, fleets

ROOT = Path(__file__).resolve().parent.parent

FULL = h.continuous(h.HISTORY_START, h.AS_OF)  # 2.5-hour fragments: many cross midnight
# 21:00 on 22 October to 03:00 on 24 October: 30 hours over three days of the period
OUTAGE = (h.at(22, 21), h.at(24, 3))
# 23:00 to 01:00 around every midnight (the one into the 25-hour day too)
MIDNIGHTS = [(h.at(d, 23), h.at(d + 1, 1)) for d in range(15, 29)]

CAMERAS = [
    h.Camera("cam-outage", "Outage", h._without(FULL, [OUTAGE])),
    h.Camera("cam-midnight", "Midnight", h._without(FULL, MIDNIGHTS)),
    h.Camera("cam-steady", "Steady", FULL),
]


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("exact")
    blocks = h.build_blocks(CAMERAS, directory)
    path = directory / "report.xlsx"
    with h.prometheus(directory / "prometheus", blocks) as running:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "reporter",
                "--prometheus",
                running.url,
                "--days",
                str(h.DAYS),
                "--tz",
                "Europe/Berlin",
                "--at",
                "2026-10-29T07:00",
                "-o",
                str(path),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    return path


def truth() -> dict[str, dict[str, float]]:
    """The period as one window of the analysis: what the workbook must say."""
    days = h.windows()
    period = Window("period", days[0].start, days[-1].end)
    fleet = FleetArchive.from_lists(
        [
            (
                np.array([s for s, _ in c.fragments], dtype=np.int64),
                np.array([t for _, t in c.fragments], dtype=np.int64),
            )
            for c in CAMERAS
        ]
    )
    stats = analyse(fleet, h.AS_OF, [period], h.GAP_THRESHOLD)
    return {
        c.uid: {
            "fragments": int(stats.fragments[i, 0]),
            "gaps": int(stats.gaps[i, 0]),
            "longest": float(stats.longest_gap_seconds[i, 0]),
            "gap_time": float(stats.gap_seconds[i, 0]),
        }
        for i, c in enumerate(CAMERAS)
    }


def summary(path: Path) -> dict[str, dict[str, object]]:
    ws = openpyxl.load_workbook(path)["Summary"]
    table = list(ws.iter_rows(values_only=True))
    header = table[0]
    return {row[header.index("UID")]: dict(zip(header, row, strict=True)) for row in table[1:]}


def test_a_30_hour_outage_is_one_gap_of_30_hours(workbook):
    row = summary(workbook)["cam-outage"]
    want = truth()["cam-outage"]
    assert want["longest"] == 30 * 3600 and want["gaps"] == 1
    # the daily figures alone said 3 gaps, the longest 24 h (the whole 23rd)
    assert row["Gaps"] == 1
    assert row["Longest gap (h)"] == pytest.approx(30.0, abs=5.1e-7)
    assert row["Gap time (h)"] == pytest.approx(30.0, abs=5.1e-7)
    assert row["Fragments"] == want["fragments"]


def test_gaps_across_every_midnight_are_counted_once_and_whole(workbook):
    row = summary(workbook)["cam-midnight"]
    want = truth()["cam-midnight"]
    # eight gaps overlap the seven days (the first and last reach out of the period by an hour);
    # the daily figures alone said 14 gaps of at most 1 h
    assert want["gaps"] == 8 and want["longest"] == 2 * 3600
    assert row["Gaps"] == 8
    assert row["Longest gap (h)"] == pytest.approx(2.0, abs=5.1e-7)
    assert row["Gap time (h)"] == pytest.approx(want["gap_time"] / 3600, abs=5.1e-7)
    assert row["Fragments"] == want["fragments"]


def test_fragments_across_midnight_count_once(workbook):
    got = summary(workbook)
    for uid, want in truth().items():
        assert got[uid]["Fragments"] == want["fragments"], uid
        assert got[uid]["Gaps"] == want["gaps"], uid
        assert got[uid]["Longest gap (h)"] == pytest.approx(want["longest"] / 3600, abs=5.1e-7)
    # 2.5-hour fragments: the sum of the days would count each one crossing midnight twice
    assert got["cam-steady"]["Fragments"] == truth()["cam-steady"]["fragments"]
    assert got["cam-steady"]["Gaps"] == 0


# -- the joins themselves, on any archive: the period from the days == the period analysed --------


@st.composite
def days_case(draw):
    tz, anchor = draw(st.sampled_from(DST_CASES))
    now = anchor + draw(st.integers(2 * 86400, 3 * 86400))
    n_days = draw(st.integers(1, 4))
    days = calendar_days(now, tz, n_days + 1)[:-1]  # finished days, DST ones among them
    origin = days[0].start - draw(st.integers(0, 86400))
    per_camera = draw(fleets(origin, now - origin))
    return per_camera, now, days, draw(st.sampled_from([0, 60, 600]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days_case())
def test_period_figures_from_the_days_equal_the_period_analysed(case):
    per_camera, now, days, gap_threshold = case
    fleet = FleetArchive.from_lists(
        [(np.asarray(s, dtype=np.int64), np.asarray(t, dtype=np.int64)) for s, t in per_camera]
    )
    daily = analyse(fleet, now, days, gap_threshold)
    whole = analyse(fleet, now, [Window("p", days[0].start, days[-1].end)], gap_threshold)
    has = np.ones(daily.gaps.shape, dtype=bool)
    length = np.array([d.end - d.start for d in days], dtype=np.float64)

    def f(a):
        return a.astype(np.float64)

    got_frags = period_fragments(f(daily.fragments), f(daily.fragments_started), has)
    np.testing.assert_array_equal(got_frags, whole.fragments[:, 0])
    got_gaps = period_gaps(
        f(daily.gaps), f(daily.gap_at_start_seconds), f(daily.gap_at_end_seconds), has
    )
    np.testing.assert_array_equal(got_gaps, whole.gaps[:, 0])
    got_longest = longest_gap(
        f(daily.longest_gap_seconds),
        length,
        f(daily.gap_at_start_seconds),
        f(daily.gap_at_end_seconds),
    )
    np.testing.assert_array_equal(got_longest, whole.longest_gap_seconds[:, 0])


def test_days_from_an_older_exporter_fall_back_to_sums_and_whole_day_joins():
    """Without the joining series (NaN) the figures are what they were before them."""
    nan = np.nan
    length = np.array([86400.0, 86400.0, 86400.0])
    has = np.ones((1, 3), dtype=bool)
    unknown = np.full((1, 3), nan)
    # a gap from 21:00 over a whole day to 03:00: 3 h, 24 h, 3 h in the days' figures
    longest = np.array([[3 * 3600.0, 86400.0, 3 * 3600.0]])
    assert longest_gap(longest, length, unknown, unknown)[0] == 86400.0  # the lower bound
    assert period_gaps(np.array([[1.0, 1.0, 1.0]]), unknown, unknown, has)[0] == 3
    assert period_fragments(np.array([[5.0, 6.0, 7.0]]), unknown, has)[0] == 18
    # with them: one gap of 30 h, fragments counted once
    start = np.array([[0.0, 86400.0, 3 * 3600.0]])
    end = np.array([[3 * 3600.0, 86400.0, 0.0]])
    assert longest_gap(longest, length, start, end)[0] == 30 * 3600.0
    assert period_gaps(np.array([[1.0, 1.0, 1.0]]), start, end, has)[0] == 1
    assert period_fragments(np.array([[5.0, 6.0, 7.0]]), np.array([[5.0, 2.0, 3.0]]), has)[0] == 10
    # a day without data in between: nothing joins across it
    gap_day = np.array([[True, False, True]])
    assert period_gaps(np.array([[1.0, nan, 1.0]]), start, end, gap_day)[0] == 2
    assert (
        period_fragments(np.array([[5.0, nan, 7.0]]), np.array([[5.0, nan, 3.0]]), gap_day)[0] == 12
    )
    assert np.isnan(longest_gap(np.full((1, 3), nan), length, unknown, unknown)[0])
