"""The report's days and query plan: real local midnights, and range queries that hit every day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from exporter.analysis.archive import calendar_days
from reporter.period import duration, query_runs, report_days


def moment(tz: str, *args: int) -> float:
    return datetime(*args, tzinfo=ZoneInfo(tz)).timestamp()


@pytest.mark.parametrize(
    ("tz", "as_of", "lengths"),
    [
        # spring forward on 2026-03-29: a 23-hour day
        ("Europe/Berlin", (2026, 4, 1, 7), [24, 24, 24, 24, 23, 24, 24]),
        # autumn: 25 hours
        ("Europe/Berlin", (2026, 10, 29, 7), [24, 24, 24, 25, 24, 24, 24]),
        # Chile moves its clocks at midnight: 2026-09-06 begins at 01:00 and lasts 23 hours
        ("America/Santiago", (2026, 9, 9, 7), [24, 24, 24, 24, 23, 24, 24]),
        ("Europe/Moscow", (2026, 11, 21, 7), [24] * 7),
    ],
)
def test_days_are_the_exporters_calendar_days(tz, as_of, lengths):
    zone = ZoneInfo(tz)
    at = moment(tz, *as_of)
    days = report_days(at, zone, 7)
    assert [d.length // 3600 for d in days] == lengths
    # the same days the exporter's analysis (and the backfill) names and stamps
    assert [(d.date.isoformat(), d.start, d.end) for d in days] == [
        (w.name, w.start, w.end) for w in calendar_days(int(at), zone, 8)[:-1]
    ]
    assert days[-1].date == date(*as_of[:3]) - timedelta(days=1), "up to yesterday"


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/Santiago", "Europe/Moscow"])
@pytest.mark.parametrize("as_of", [(2026, 4, 1, 7), (2026, 9, 9, 0, 30), (2026, 10, 29, 23)])
def test_each_day_is_read_at_the_end_of_the_next_day_reaching_back_to_its_end(tz, as_of):
    zone = ZoneInfo(tz)
    at = moment(tz, *as_of)
    days = report_days(at, zone, 40)
    for i, day in enumerate(days):
        following_end = days[i + 1].end if i + 1 < len(days) else None
        if following_end is not None:
            assert day.at_ms == following_end * 1000 - 1, "the last millisecond of D+1"
        else:
            assert day.at_ms == int(at * 1000), "yesterday is read now"
        # the range starts 1 ms before the day's end: it holds the sample stamped at the end
        assert day.at_ms - day.range_ms == day.end * 1000 - 1
    runs = query_runs(days, 31)
    assert sum(r.count for r in runs) == len(days)
    assert all(r.count <= 31 for r in runs)
    for run in runs:
        for k in range(run.count):
            day = days[run.first + k]
            assert run.start_ms + k * run.step_ms == day.at_ms, "a range query hits each day"
            assert day.range_ms == run.step_ms
    if tz == "Europe/Moscow":
        # no DST: 40 days are two range queries of whole days plus today's partial read
        assert [r.count for r in runs] == [31, 8, 1]


def test_durations_are_exact():
    assert duration(86_400_000) == "86400s"
    assert duration(90_000_000) == "90000s"
    assert duration(25_200_001) == "25200001ms"
