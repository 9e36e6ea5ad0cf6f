"""The report's calendar days and when to read each day's figures from Prometheus.

Day D's figures are the exporter's `window="yesterday"` series as they stand at the end of D+1
(docs/metrics.md, "Daily history"): the backfill stamps them at D's end, the live exporter publishes
them all through D+1. So D is read with `last_over_time(...[r])` evaluated at `at` = the last
millisecond of D+1 (or the report time, if D+1 has not ended yet), with `r` reaching back to D's
end: the range holds D's backfilled sample and D+1's live samples, never D+1's backfilled one.
Days are real local days, 23 or 25 hours long on DST changes, so `r` is not always 24 h.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def local_midnight(day: date, tz: ZoneInfo) -> int:
    """The first unix second of `day` in `tz`, as the exporter's analysis defines it.

    fold=0 is the first occurrence of a repeated midnight; a midnight skipped by a DST jump maps
    (PEP 495) to the jump itself, the day's first instant.
    """
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


@dataclass(frozen=True)
class Day:
    date: date
    start: int  # unix seconds, inclusive
    end: int  # exclusive: the next local midnight
    at_ms: int  # when to evaluate the day's figures (unix ms)
    range_ms: int  # how far back from at_ms the range selector reaches

    @property
    def length(self) -> int:
        return self.end - self.start


def _day(day: date, tz: ZoneInfo, as_of_ms: int) -> Day:
    start = local_midnight(day, tz)
    end = local_midnight(day + timedelta(days=1), tz)
    after_next = local_midnight(day + timedelta(days=2), tz)
    at_ms = min(after_next * 1000 - 1, as_of_ms)
    # covers [end - 1 ms, at] on Prometheus 2 (closed range) and [end, at] on Prometheus 3
    # (left-open): the backfilled sample stamped at `end` is inside either way
    return Day(day, start, end, at_ms, at_ms - end * 1000 + 1)


def report_days(as_of: float, tz: ZoneInfo, days: int) -> list[Day]:
    """The `days` whole calendar days before the one containing `as_of`, oldest first."""
    as_of_ms = int(as_of * 1000)
    today = datetime.fromtimestamp(as_of, tz).date()
    return [_day(today - timedelta(days=back), tz, as_of_ms) for back in range(days, 0, -1)]


def previous_days(days: list[Day], tz: ZoneInfo) -> tuple[list[Day], float]:
    """The period of the same number of calendar days just before `days`, and the moment its
    report is read at (the last millisecond of `days`' first day: every day of it has ended and
    its figures are final by then)."""
    as_of_ms = days[0].end * 1000 - 1
    first = days[0].date
    out = [_day(first - timedelta(days=back), tz, as_of_ms) for back in range(len(days), 0, -1)]
    return out, as_of_ms / 1000


@dataclass(frozen=True)
class Run:
    """Consecutive days that one range query reads: equal ranges, evaluated `step_ms` apart."""

    first: int  # index of the first day in the report's day list
    count: int
    start_ms: int
    step_ms: int


def query_runs(days: list[Day], max_days: int) -> list[Run]:
    """Split the days into range queries of at most `max_days` points each.

    Day i+1 is evaluated exactly `days[i + 1].range_ms` after day i (both points are one day-length
    of D+2 apart), so consecutive days with equal ranges form one range query with that step.
    """
    runs: list[Run] = []
    i = 0
    while i < len(days):
        j = i + 1
        while j < len(days) and j - i < max_days and days[j].range_ms == days[i].range_ms:
            j += 1
        runs.append(Run(i, j - i, days[i].at_ms, days[i].range_ms))
        i = j
    return runs


def duration(ms: int) -> str:
    """A PromQL duration of exactly `ms` milliseconds."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
