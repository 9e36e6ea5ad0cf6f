"""Fleet archive analysis (exporter.analysis.archive) against a literal second-by-second reference."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.analysis import archive as arch
from exporter.analysis.archive import (
    DAY,
    FleetArchive,
    Window,
    analyse,
    calendar_days,
    merge_fragments,
    rolling_windows,
)

HOUR = 3600
MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = 1_795_000_000  # 2026-11-18, a Wednesday


# --- the reference: the definitions, literally, over a boolean array of seconds ---------------


def reference(per_camera, now, windows, gap_threshold=60):
    n_win = len(windows)
    out = {
        name: np.zeros((len(per_camera), n_win), dtype=np.int64)
        for name in (
            "recorded",
            "gaps",
            "longest",
            "gap_seconds",
            "fragments",
            "started",
            "gap_at_start",
            "gap_at_end",
        )
    }
    out["coverage"] = np.zeros((len(per_camera), n_win))
    out["depth"] = np.zeros(len(per_camera), dtype=np.int64)
    out["last_end"] = np.full(len(per_camera), np.nan)
    for c, (since, till) in enumerate(per_camera):
        valid = {(int(s), min(int(t), now)) for s, t in zip(since, till, strict=True) if t > s}
        valid = {(s, t) for s, t in valid if t > s}  # drops what started at or after now
        if not valid:
            continue
        origin = min(s for s, _ in valid)  # the archive start
        recorded = np.zeros(now - origin, dtype=bool)  # second origin + i recorded?
        for s, t in valid:
            recorded[s - origin : t - origin] = True
        out["depth"][c] = now - origin
        out["last_end"][c] = max(t for _, t in valid)
        # holes: maximal runs of unrecorded seconds in [origin, now)
        edges = np.diff(np.concatenate([[0], (~recorded).astype(np.int8), [0]]))
        hole_starts = np.flatnonzero(edges == 1) + origin
        hole_ends = np.flatnonzero(edges == -1) + origin
        gaps = [
            (s, e) for s, e in zip(hole_starts, hole_ends, strict=True) if e - s > gap_threshold
        ]
        for w, win in enumerate(windows):
            a, b = win.start, win.end
            if b <= a:
                continue
            lo, hi = min(max(a, origin), now), min(max(b, origin), now)
            out["recorded"][c, w] = recorded[lo - origin : hi - origin].sum()
            out["coverage"][c, w] = out["recorded"][c, w] / (b - a)
            overlaps = [min(e, b) - max(s, a) for s, e in gaps]
            overlaps = [o for o in overlaps if o > 0]
            out["gaps"][c, w] = len(overlaps)
            out["longest"][c, w] = max(overlaps, default=0)
            out["gap_seconds"][c, w] = sum(overlaps)
            out["fragments"][c, w] = sum(1 for s, t in valid if min(t, b) - max(s, a) > 0)
            out["started"][c, w] = sum(1 for s, _ in valid if a <= s < b)
            # a gap open at a boundary began before it and ends after it
            out["gap_at_start"][c, w] = sum(min(e, b) - a for s, e in gaps if s < a < e)
            out["gap_at_end"][c, w] = sum(b - max(s, a) for s, e in gaps if s < b < e)
    return out


def fleet(per_camera) -> FleetArchive:
    return FleetArchive.from_lists(
        [(np.asarray(s, dtype=np.int64), np.asarray(t, dtype=np.int64)) for s, t in per_camera]
    )


def assert_matches(per_camera, now, windows, gap_threshold=60):
    got = analyse(fleet(per_camera), now, windows, gap_threshold)
    want = reference(per_camera, now, windows, gap_threshold)
    shape = (len(per_camera), len(windows))
    assert got.windows == list(windows)
    for field, dtype in (
        ("recorded_seconds", np.int64),
        ("gaps", np.int64),
        ("longest_gap_seconds", np.int64),
        ("gap_seconds", np.int64),
        ("fragments", np.int64),
        ("fragments_started", np.int64),
        ("gap_at_start_seconds", np.int64),
        ("gap_at_end_seconds", np.int64),
        ("coverage_ratio", np.float64),
    ):
        assert getattr(got, field).shape == shape, field
        assert getattr(got, field).dtype == dtype, field
    np.testing.assert_array_equal(got.recorded_seconds, want["recorded"])
    np.testing.assert_allclose(got.coverage_ratio, want["coverage"], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(got.gaps, want["gaps"])
    np.testing.assert_array_equal(got.longest_gap_seconds, want["longest"])
    np.testing.assert_array_equal(got.gap_seconds, want["gap_seconds"])
    np.testing.assert_array_equal(got.fragments, want["fragments"])
    np.testing.assert_array_equal(got.fragments_started, want["started"])
    np.testing.assert_array_equal(got.gap_at_start_seconds, want["gap_at_start"])
    np.testing.assert_array_equal(got.gap_at_end_seconds, want["gap_at_end"])
    np.testing.assert_array_equal(got.depth_seconds, want["depth"])
    assert got.depth_seconds.dtype == np.int64
    np.testing.assert_array_equal(got.last_end, want["last_end"])  # NaN == NaN here
    assert np.all(got.coverage_ratio <= 1.0) and np.all(got.coverage_ratio >= 0.0)
    return got


# --- strategies -----------------------------------------------------------------------------


@st.composite
def camera_fragments(draw, origin: int, extent: int):
    """Fragments of one camera in [origin, origin + extent) and a bit past it, snapped to a grid
    so touching, overlapping and duplicate fragments are common; lengths may be zero or negative.
    """
    unit = draw(st.sampled_from([1, 7, 59, 60, 61, 600, 3600]))
    steps = max(extent // unit, 1)
    n = draw(st.one_of(st.integers(0, 12), st.integers(0, 60)))
    pairs = []
    for _ in range(n):
        s = origin + unit * draw(st.integers(-2, steps + 1))
        length = unit * draw(st.integers(-2, max(steps // 3, 2))) + draw(st.integers(-1, 1))
        pairs.append((s, s + length))
    if pairs and draw(st.booleans()):  # exact duplicates and touching neighbours
        for _ in range(draw(st.integers(1, 3))):
            s, t = draw(st.sampled_from(pairs))
            pairs.append(draw(st.sampled_from([(s, t), (t, 2 * t - s), (t, t + unit), (s, t + 1)])))
    order = draw(st.permutations(range(len(pairs))))
    since = [pairs[i][0] for i in order]
    till = [pairs[i][1] for i in order]
    return since, till


@st.composite
def fleets(draw, origin: int, extent: int):
    return [draw(camera_fragments(origin, extent)) for _ in range(draw(st.integers(1, 6)))]


@st.composite
def random_case(draw):
    extent = draw(st.sampled_from([300, 4000, 2 * DAY, 3 * DAY]))
    origin = 1_790_000_000 + draw(st.integers(0, DAY))
    now = origin + draw(st.integers(0, extent))
    per_camera = draw(fleets(origin, extent))
    # window edges: anywhere, or right on a fragment edge (where off-by-one errors live)
    edges = sorted({x for s, t in per_camera for x in (*s, *t) if origin - extent // 4 <= x <= now})
    bound = st.integers(origin - extent // 4, now)
    if edges:
        bound = st.one_of(bound, st.sampled_from(edges))
    windows = [
        Window(f"w{i}", draw(bound), draw(bound)) for i in range(draw(st.integers(0, 6)))
    ]  # random order, some empty or reversed
    windows += draw(st.sampled_from([[], [Window("all", origin - 100, now)]]))
    gap_threshold = draw(st.sampled_from([0, 1, 59, 60, 61, 600, 3599]))
    return per_camera, now, windows, gap_threshold


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(random_case())
def test_analyse_matches_the_second_by_second_reference(case):
    per_camera, now, windows, gap_threshold = case
    assert_matches(per_camera, now, windows, gap_threshold)


# DST transitions in 2026: Berlin last Sundays of March and October, New York March 8 and Nov 1
DST_CASES = [
    (MOSCOW, int(datetime(2026, 11, 20, 13, 30, tzinfo=MOSCOW).timestamp())),
    (BERLIN, int(datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN).timestamp())),
    (BERLIN, int(datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN).timestamp())),
    (NEW_YORK, int(datetime(2026, 3, 8, 3, 0, tzinfo=NEW_YORK).timestamp())),
    (NEW_YORK, int(datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK).timestamp())),
]


@st.composite
def calendar_case(draw):
    tz, anchor = draw(st.sampled_from(DST_CASES))
    now = anchor + draw(st.integers(0, 2 * DAY))
    days = 3
    windows = rolling_windows(now) + calendar_days(now, tz, days)
    origin = windows[-days].start - draw(st.integers(0, 6 * HOUR))
    per_camera = draw(fleets(origin, now - origin + HOUR))
    # a fragment across each midnight for the first camera
    since, till = per_camera[0]
    for w in windows[-days + 1 :]:
        half = draw(st.integers(1, 2 * HOUR))
        since, till = [*since, w.start - half], [*till, w.start + half]
    per_camera[0] = (since, till)
    return per_camera, now, windows, draw(st.sampled_from([60, 600]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar_case())
def test_analyse_matches_the_reference_on_calendar_days_across_dst(case):
    per_camera, now, windows, gap_threshold = case
    lengths = {w.end - w.start for w in windows[4:-1]}
    assert lengths <= {23 * HOUR, 24 * HOUR, 25 * HOUR}
    assert_matches(per_camera, now, windows, gap_threshold)


# --- windows --------------------------------------------------------------------------------


def test_rolling_windows_end_at_now():
    assert rolling_windows(NOW) == [
        Window("1d", NOW - DAY, NOW),
        Window("7d", NOW - 7 * DAY, NOW),
        Window("30d", NOW - 30 * DAY, NOW),
        Window("90d", NOW - 90 * DAY, NOW),
    ]


def test_calendar_days_end_with_today_up_to_now():
    now = int(datetime(2026, 11, 20, 13, 45, 10, tzinfo=MOSCOW).timestamp())
    days = calendar_days(now, MOSCOW, 91)
    assert len(days) == 91
    assert [d.name for d in days[-2:]] == ["2026-11-19", "2026-11-20"]
    assert days[0].name == "2026-08-22"
    today = days[-1]
    assert today.start == int(datetime(2026, 11, 20, tzinfo=MOSCOW).timestamp())
    assert today.end == now and today.end - today.start == 13 * HOUR + 45 * 60 + 10
    assert all(d.end - d.start == DAY for d in days[:-1])  # Moscow keeps UTC+3 all year
    assert all(prev.end == nxt.start for prev, nxt in itertools.pairwise(days))


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        (BERLIN, date(2026, 3, 29), 23),
        (BERLIN, date(2026, 10, 25), 25),
        (NEW_YORK, date(2026, 3, 8), 23),
        (NEW_YORK, date(2026, 11, 1), 25),
        (BERLIN, date(2026, 3, 30), 24),
    ],
)
def test_a_dst_day_lasts_23_or_25_hours(tz, day, hours):
    now = int(datetime.combine(day + timedelta(days=1), datetime.min.time(), tz).timestamp()) + 60
    days = {w.name: w for w in calendar_days(now, tz, 3)}
    window = days[day.isoformat()]
    assert window.end - window.start == hours * HOUR
    # a camera recording all the time has the whole (short or long) day recorded
    stats = analyse(fleet([([window.start - DAY], [now])]), now, [window])
    assert stats.recorded_seconds[0, 0] == hours * HOUR
    assert stats.coverage_ratio[0, 0] == 1.0


def first_instant_by_search(day: date, tz: ZoneInfo) -> int:
    """The first unix second of a local date, by scanning (offsets here are whole quarter hours)."""
    t = (int(datetime(day.year, day.month, day.day, 12).timestamp()) - 2 * DAY) // 900 * 900
    while datetime.fromtimestamp(t, tz).date() < day:
        t += 900
    assert datetime.fromtimestamp(t - 1, tz).date() < day
    return t


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/Sao_Paulo", date(2018, 11, 4), 23),  # midnight does not exist: day starts 01:00
        ("Asia/Beirut", date(2020, 3, 29), 23),  # likewise
        ("America/Havana", date(2020, 11, 1), 25),  # midnight happens twice
        ("Asia/Beirut", date(2020, 10, 24), 25),  # 23:00 happens twice
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("Australia/Lord_Howe", date(2026, 4, 5), 24.5),  # half-hour DST
    ],
)
def test_calendar_days_start_at_the_first_instant_of_the_local_date(zone, day, hours):
    tz = ZoneInfo(zone)
    now = first_instant_by_search(day + timedelta(days=2), tz) + 10
    days = calendar_days(now, tz, 4)
    assert [w.name for w in days] == [(day + timedelta(days=i)).isoformat() for i in range(-1, 3)]
    for w in days:
        assert w.start == first_instant_by_search(date.fromisoformat(w.name), tz)
    assert days[1].end - days[1].start == hours * HOUR


# --- cases a user would recognise ----------------------------------------------------------


def moscow(y, m, d, hh=0, mm=0) -> int:
    return int(datetime(y, m, d, hh, mm, tzinfo=MOSCOW).timestamp())


def test_a_fragment_across_midnight_is_split_between_the_two_days():
    now = moscow(2026, 11, 20, 12)
    days = calendar_days(now, MOSCOW, 3)  # 18th, 19th, 20th (today)
    frag = ([moscow(2026, 11, 18, 22)], [moscow(2026, 11, 19, 3)])  # 22:00 to 03:00
    stats = analyse(fleet([frag]), now, days)
    assert stats.recorded_seconds[0].tolist() == [2 * HOUR, 3 * HOUR, 0]
    assert stats.fragments[0].tolist() == [1, 1, 0]
    assert stats.coverage_ratio[0, 0] == pytest.approx(2 / 24)
    # the hole after it runs up to now: 21 h on the 19th, 12 h today
    assert stats.gaps[0].tolist() == [0, 1, 1]
    assert stats.longest_gap_seconds[0].tolist() == [0, 21 * HOUR, 12 * HOUR]


def test_coverage_never_exceeds_one_with_overlapping_duplicates():
    now = NOW
    s, t = now - 2 * DAY, now
    frag = ([s, s, s + 10, s - 100, s + HOUR], [t, t, t - 10, t + 500, t - HOUR])
    stats = analyse(fleet([frag]), now, rolling_windows(now))
    assert stats.coverage_ratio[0, 0] == 1.0
    assert stats.recorded_seconds[0, 0] == DAY
    assert np.all(stats.coverage_ratio <= 1.0)
    assert stats.fragments[0, 0] == 4  # (s, t) twice counts once
    assert stats.gaps[0].tolist() == [0, 0, 0, 0]
    assert stats.depth_seconds[0] == 2 * DAY + 100


def test_today_is_measured_up_to_now():
    now = moscow(2026, 11, 20, 9, 30)
    today = calendar_days(now, MOSCOW, 1)[0]
    assert (today.name, today.start, today.end) == ("2026-11-20", moscow(2026, 11, 20), now)
    stats = analyse(fleet([([now - 30 * DAY], [now + HOUR])]), now, [today])
    assert stats.recorded_seconds[0, 0] == 9 * HOUR + 30 * 60
    assert stats.coverage_ratio[0, 0] == 1.0  # the day is not over yet: no hole at 9:30


def test_a_camera_without_archive_has_zeros_and_nan():
    empty = np.zeros(0, dtype=np.int64)
    cams = [
        (empty, empty),
        ([NOW - 100, NOW - 50], [NOW - 200, NOW - 50]),  # only negative and zero lengths
        ([NOW, NOW + 100], [NOW + 50, NOW + 200]),  # only the future
        ([NOW - HOUR], [NOW]),
    ]
    stats = analyse(fleet(cams), NOW, rolling_windows(NOW))
    for c in range(3):
        assert stats.recorded_seconds[c].tolist() == [0, 0, 0, 0]
        assert stats.coverage_ratio[c].tolist() == [0, 0, 0, 0]
        assert stats.gaps[c].tolist() == [0, 0, 0, 0]
        assert stats.longest_gap_seconds[c].tolist() == [0, 0, 0, 0]
        assert stats.fragments[c].tolist() == [0, 0, 0, 0]
        assert stats.depth_seconds[c] == 0
        assert math.isnan(stats.last_end[c])
    assert stats.recorded_seconds[3, 0] == HOUR
    assert stats.depth_seconds[3] == HOUR and stats.last_end[3] == NOW
    assert stats.gaps[3].tolist() == [0, 0, 0, 0]  # the time before the archive is not a gap


def test_a_camera_that_stopped_three_hours_ago_has_a_trailing_gap():
    frag = ([NOW - 10 * DAY], [NOW - 3 * HOUR])
    stats = analyse(fleet([frag]), NOW, rolling_windows(NOW))
    assert stats.gaps[0].tolist() == [1, 1, 1, 1]
    assert stats.longest_gap_seconds[0, 0] == 3 * HOUR
    assert stats.recorded_seconds[0, 0] == 21 * HOUR
    assert stats.last_end[0] == NOW - 3 * HOUR
    assert stats.depth_seconds[0] == 10 * DAY


@pytest.mark.parametrize(("hole", "is_gap"), [(59, False), (60, False), (61, True)])
def test_a_hole_is_a_gap_only_when_longer_than_the_threshold(hole, is_gap):
    a = NOW - HOUR
    frag = ([a, a + 600 + hole], [a + 600, NOW])
    stats = analyse(fleet([frag]), NOW, rolling_windows(NOW), gap_threshold=60)
    assert stats.gaps[0, 0] == int(is_gap)
    assert stats.longest_gap_seconds[0, 0] == (hole if is_gap else 0)
    assert stats.recorded_seconds[0, 0] == HOUR - hole


def test_a_gap_crossing_the_window_edge_counts_with_its_clipped_part():
    frag = ([NOW - 3 * DAY, NOW - DAY + HOUR], [NOW - DAY - 5 * HOUR, NOW])  # 6 h hole
    stats = analyse(fleet([frag]), NOW, rolling_windows(NOW))
    assert stats.gaps[0].tolist() == [1, 1, 1, 1]
    assert stats.longest_gap_seconds[0].tolist() == [HOUR, 6 * HOUR, 6 * HOUR, 6 * HOUR]
    assert stats.gap_seconds[0].tolist() == [HOUR, 6 * HOUR, 6 * HOUR, 6 * HOUR]


def test_gap_seconds_add_up_every_gap_inside_the_window():
    # recorded 00-02, 03-05, 08-24 of the last day: gaps of 1 h and 3 h, 4 h in all
    day = NOW - DAY
    frag = ([day, day + 3 * HOUR, day + 8 * HOUR], [day + 2 * HOUR, day + 5 * HOUR, NOW])
    stats = analyse(fleet([frag]), NOW, rolling_windows(NOW))
    assert stats.gaps[0, 0] == 2
    assert stats.gap_seconds[0, 0] == 4 * HOUR
    assert stats.recorded_seconds[0, 0] + stats.gap_seconds[0, 0] == DAY


def test_merge_fragments_unions_overlapping_and_touching_fragments():
    since = np.array([50, 10, 20, 25, 100, 5, 200, 90])
    till = np.array([60, 20, 25, 40, 120, 5, 400, 80])
    start, end = merge_fragments(since, till, now=300)
    assert start.tolist() == [10, 50, 100, 200]
    assert end.tolist() == [40, 60, 120, 300]
    start, end = merge_fragments(np.zeros(0, np.int64), np.zeros(0, np.int64), now=300)
    assert len(start) == len(end) == 0


def test_an_empty_fleet_and_no_windows():
    stats = analyse(FleetArchive.from_lists([]), NOW, rolling_windows(NOW))
    assert stats.recorded_seconds.shape == (0, 4)
    assert stats.depth_seconds.shape == (0,)
    stats = analyse(fleet([([1], [2])]), NOW, [])
    assert stats.recorded_seconds.shape == (1, 0)
    assert stats.depth_seconds.tolist() == [NOW - 1]


def test_from_lists_builds_the_csr_layout():
    fa = fleet([([1, 2], [3, 4]), ([], []), ([5], [6])])
    assert fa.offsets.tolist() == [0, 2, 2, 3]
    assert fa.since.tolist() == [1, 2, 5] and fa.till.tolist() == [3, 4, 6]
    assert fa.offsets.dtype == fa.since.dtype == fa.till.dtype == np.int64
    with pytest.raises(ValueError):
        FleetArchive(np.array([0, 3]), np.array([1, 2]), np.array([3, 4]))


# --- the range maximum behind the longest gap, both strategies --------------------------------


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_range_max_both_strategies(data):
    values = np.array(data.draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=60)))
    n = len(values)
    starts = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=30))
    ranges = [(a, a + data.draw(st.integers(1, n - a))) for a in starts]
    lo = np.array([r[0] for r in ranges])
    hi = np.array([r[1] for r in ranges])
    want = [values[a:b].max() for a, b in ranges]
    assert arch._range_max(values, lo, hi).tolist() == want
    height = int((hi - lo).max()).bit_length()
    assert arch._sparse_table_max(values, lo, hi, height).tolist() == want


@SETTINGS
@given(random_case())
def test_analyse_matches_the_reference_with_the_sparse_table(case):
    """The longest gap through the sparse table, the strategy for costly window layouts."""
    per_camera, now, windows, gap_threshold = case

    def sparse(values, lo, hi):
        return arch._sparse_table_max(values, lo, hi, int((hi - lo).max()).bit_length())

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(arch, "_range_max", sparse)
        assert_matches(per_camera, now, windows, gap_threshold)
