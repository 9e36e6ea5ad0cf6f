"""Everything the workbook shows, read from Prometheus into per-camera arrays.

Daily figures come from range queries (one per metric and run of days of equal length, at most
RUN_DAYS long so no answer is huge); the cameras' identity and latest state from instant queries
at the report time. Both in two passes: the last hour first, the whole range where that found
nothing. docs/reporter.md, "What is read from Prometheus", gives every query.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from exporter.sources.rt_api import metrics as rt
from reporter.period import Day, Run, duration, query_runs
from reporter.prom import Prometheus, Series

# (key, metric): the daily-window series read for every day. Coverage is not read: it is recorded
# seconds over the day's length by definition, and one query fewer. Names, card states and the
# window come from the exporter's own declarations (exporter/sources/rt_api/metrics.py).
DAILY = (
    ("recorded", rt.ARCHIVE_RECORDED.name),
    ("fragments", rt.ARCHIVE_FRAGMENTS.name),
    ("gaps", rt.ARCHIVE_GAPS.name),
    ("longest_gap", rt.ARCHIVE_LONGEST_GAP.name),
    ("gap_time", rt.ARCHIVE_GAP_SECONDS.name),
    # what joins the days into exact period figures (reporter/figures.py)
    ("fragments_started", rt.ARCHIVE_FRAGMENTS_STARTED.name),
    ("gap_at_start", rt.ARCHIVE_GAP_AT_START.name),
    ("gap_at_end", rt.ARCHIVE_GAP_AT_END.name),
)
DAILY_WINDOW = rt.DAILY_WINDOW
INFO_FIELDS = ("name", "sn", "vendor", "model", "address", "datacenter")
SHORT_MS = 3_600_000  # pass 1 reads the last hour of each day's range
REGEX_LIMIT = 1_000  # pass 2 names at most this many cameras in a regex; more: all of them
RUN_DAYS = 31  # days per range query: bounds the size of one answer (about 9 MB at 10,000 cameras)


class EmptyReport(Exception):
    """Prometheus answered, but holds nothing to report on."""


@dataclass
class ReportData:
    days: list[Day]
    as_of: float
    uids: list[str]  # in report order (name, then uid)
    info: list[dict[str, str]]  # INFO_FIELDS per camera; empty strings when unknown
    daily: dict[str, np.ndarray]  # key of DAILY -> (cameras, days) float64, NaN = no sample
    online: np.ndarray  # (cameras,) 1, 0 or NaN (unknown)
    card_problem: np.ndarray  # (cameras,) 1, 0 or NaN
    card_state: list[str]  # the memory card's state name(s), '' when unknown
    depth: np.ndarray  # (cameras,) seconds, NaN when unknown


class _Rows:
    """Camera uid -> row of growing (rows, days) arrays."""

    def __init__(self, n_days: int) -> None:
        self.index: dict[str, int] = {}
        self.n_days = n_days
        self.arrays: dict[str, np.ndarray] = {}

    def row(self, uid: str) -> int:
        row = self.index.get(uid)
        if row is None:
            row = self.index[uid] = len(self.index)
            for key, arr in self.arrays.items():
                if row >= len(arr):
                    grown = np.full((max(64, 2 * len(arr)), self.n_days), np.nan)
                    grown[: len(arr)] = arr
                    self.arrays[key] = grown
        return row

    def array(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            self.arrays[key] = np.full((max(64, len(self.index)), self.n_days), np.nan)
        return self.arrays[key]


_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _camera_in(uids) -> str:
    """A label matcher selecting exactly these cameras (an RE2 alternation of literals)."""
    alternatives = "|".join(_RE2_SPECIAL.sub(r"\\\1", u) for u in sorted(uids))
    return f"camera=~{json.dumps(alternatives)}"


def _stretches(run: Run, wanted: np.ndarray) -> list[Run]:
    """The parts of a run made of consecutive days with `wanted` set."""
    out = []
    k = 0
    while k < run.count:
        if not wanted[run.first + k]:
            k += 1
            continue
        lo = k
        while k < run.count and wanted[run.first + k]:
            k += 1
        out.append(Run(run.first + lo, k - lo, run.start_ms + lo * run.step_ms, run.step_ms))
    return out


def _gaps_of(
    have: np.ndarray,
    run: Run,
    known: set[str],
    index: dict[str, int],
    everything: bool,
    done: np.ndarray,
) -> list[tuple[int, int, str]]:
    """Stretches [lo, hi) of a run's days to read again, with the matcher of the cameras to read.

    everything=True: the days without any figure (read for all cameras); otherwise the days where
    some known camera lacks one (read for those cameras, or all when they are too many). Days in
    `done` were read for all cameras already.
    """
    cols = have[:, run.first : run.first + run.count]
    rows_known = np.array(sorted(index[u] for u in known if u in index), dtype=np.int64)

    def wanted(k: int) -> bool:
        if done[k]:
            return False
        if everything:
            return not cols[:, k].any()
        return len(rows_known) > 0 and cols[:, k].any() and not cols[rows_known, k].all()

    out: list[tuple[int, int, str]] = []
    k = 0
    while k < run.count:
        if not wanted(k):
            k += 1
            continue
        lo = k
        missing: set[int] = set()
        while k < run.count and wanted(k):
            if not everything:
                missing.update(rows_known[~cols[rows_known, k]].tolist())
            k += 1
        if everything or len(missing) > REGEX_LIMIT:
            out.append((lo, k, ""))
        else:
            names = {uid for uid, row in index.items() if row in missing}
            out.append((lo, k, _camera_in(names)))
    return out


async def fetch_report(
    prom: Prometheus,
    days: list[Day],
    as_of: float,
    progress: Callable[[int, int], None] | None = None,
) -> ReportData:
    """Read the period's figures in two passes.

    `last_over_time` reads every sample of its range: on a Prometheus fed by 15-second scrapes a
    day holds 5,760 samples per series, so the first pass looks only at the last hour of each
    range, where the live exporter's final figure of the day sits. What it does not find (days
    that came from the backfill, one sample at the day's end; cameras that were not scraped in
    that hour) the second pass reads over the whole range, for those days and, when they are
    few, those cameras only.
    """
    runs = query_runs(days, RUN_DAYS)
    at_ms = int(as_of * 1000)
    period_ms = at_ms - days[0].start * 1000 + 1
    at = at_ms / 1000
    total = 0
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    def more(requests: int) -> None:
        nonlocal total
        total += requests

    rows = _Rows(len(days))

    async def daily(key: str, metric: str, run: Run, range_ms: int, cameras: str = "") -> None:
        selector = f'{metric}{{window="{DAILY_WINDOW}"{"," if cameras else ""}{cameras}}}'
        matrix = await prom.range(
            f"last_over_time({selector}[{duration(range_ms)}])",
            run.start_ms / 1000,
            (run.start_ms + (run.count - 1) * run.step_ms) / 1000,
            run.step_ms / 1000,
        )
        _store(rows, key, matrix, run)
        tick()

    async def instant(query: str) -> list[dict]:
        result = await prom.instant(query, at)
        tick()
        return result

    # (name, query with {sel} and {range}) of the cameras' latest state
    latest = {
        "info": f"last_over_time({rt.CAMERA_INFO.name}{{sel}}[{{range}}])",
        "online": f"max by (camera) (last_over_time({rt.CAMERA_ONLINE.name}{{sel}}[{{range}}]))",
        "problem": (
            f"max by (camera) (last_over_time({rt.CAMERA_CARD_PROBLEM.name}{{sel}}[{{range}}]))"
        ),
        "card": (
            "max by (camera, state) "
            f"(last_over_time({rt.CAMERA_CARD_STATE.name}{{sel}}[{{range}}]))"
        ),
        "depth": (f"max by (camera) (last_over_time({rt.ARCHIVE_DEPTH.name}{{sel}}[{{range}}]))"),
    }
    short_ms = min(SHORT_MS, period_ms)

    # pass 1: the last hour of every range; the first metric tells which days hold live
    # samples at all, and only those days are asked for the other metrics
    (key0, metric0), *others = DAILY
    first = [daily(key0, metric0, run, min(SHORT_MS, run.step_ms)) for run in runs]
    more(len(first) + len(latest))
    state_tasks = [instant(q.format(sel="", range=duration(short_ms))) for q in latest.values()]
    found = await _gather(*state_tasks, *first)
    state = dict(zip(latest, found[: len(latest)], strict=True))
    live_days = ~np.isnan(rows.array(key0)[: len(rows.index)]).all(axis=0)
    first = [
        daily(key, metric, sub, min(SHORT_MS, sub.step_ms))
        for key, metric in others
        for run in runs
        for sub in _stretches(run, live_days)
    ]
    more(len(first))
    await _gather(*first)
    # what pass 2 read for every camera: nothing is missing there any more
    state_complete: set[str] = set()
    days_complete = {key: np.zeros(len(days), dtype=bool) for key, _ in DAILY}

    async def whole_range(everything: bool) -> None:
        """Pass 2 over the whole ranges: first the days and states pass 1 found empty (backfilled
        history: every camera), then, knowing the fleet, the cameras missing elsewhere."""
        known = set(rows.index) | {
            item["metric"]["camera"] for item in state["info"] if "camera" in item["metric"]
        }
        tasks: list = []
        names: list[str] = []
        for name, query in latest.items():
            if name in state_complete or (everything and state[name]):
                continue
            missing = known - {item["metric"].get("camera") for item in state[name]}
            if not everything and not missing:
                continue
            every = everything or len(missing) > REGEX_LIMIT
            sel = "" if every else f"{{{_camera_in(missing)}}}"
            if every:
                state_complete.add(name)
            names.append(name)
            tasks.append(instant(query.format(sel=sel, range=duration(period_ms))))
        for key, metric in DAILY:
            have = ~np.isnan(rows.array(key)[: len(rows.index)])
            for run in runs:
                if run.step_ms <= SHORT_MS:
                    continue
                done_days = days_complete[key][run.first : run.first + run.count]
                for lo, hi, cameras in _gaps_of(
                    have, run, known, rows.index, everything, done_days
                ):
                    if not cameras:
                        done_days[lo:hi] = True
                    sub = Run(run.first + lo, hi - lo, run.start_ms + lo * run.step_ms, run.step_ms)
                    tasks.append(daily(key, metric, sub, run.step_ms, cameras))
        more(len(tasks))
        found = await _gather(*tasks)
        for name, result in zip(names, found, strict=False):
            state[name] = state[name] + result

    if period_ms > short_ms:
        await whole_range(everything=True)
        await whole_range(everything=False)
    info_rows, online, problem, card, depth = (state[name] for name in latest)
    recorded = rows.array("recorded")[: len(rows.index)]
    if not np.isfinite(recorded).any():
        since, until = days[0].date.isoformat(), days[-1].date.isoformat()
        raise EmptyReport(
            f"Prometheus at {prom.shown} holds no daily archive figures between {since} and "
            f'{until} (query: {DAILY[0][1]}{{window="{DAILY_WINDOW}"}}); is the exporter\'s archive '
            "check running, or was the history backfilled (vigil backfill)?"
        )

    labels = await _camera_labels(prom, info_rows, runs, tick, more)
    for uid in labels:
        rows.row(uid)
    n = len(rows.index)
    uids = sorted(rows.index, key=lambda u: (labels.get(u, {}).get("name", "").casefold(), u))
    order = np.array([rows.index[u] for u in uids], dtype=np.int64)

    def per_camera(result: list[dict]) -> np.ndarray:
        out = np.full(n, np.nan)
        for item in result:
            row = rows.index.get(item["metric"].get("camera", ""))
            if row is not None:
                out[row] = float(item["value"][1])
        return out[order]

    states: dict[str, list[str]] = {}
    for item in card:
        if float(item["value"][1]) == 1:
            states.setdefault(item["metric"].get("camera", ""), []).append(
                item["metric"].get("state", "")
            )
    problems = per_camera(problem)
    card_state = []
    for uid, flag in zip(uids, problems, strict=True):
        names = _consistent_states(states.get(uid, []), flag)
        card_state.append(", ".join(names))
    return ReportData(
        days=days,
        as_of=as_of,
        uids=uids,
        info=[{f: labels.get(u, {}).get(f, "") for f in INFO_FIELDS} for u in uids],
        daily={key: rows.array(key)[:n][order] for key, _ in DAILY},
        online=per_camera(online),
        card_problem=problems,
        card_state=card_state,
        depth=per_camera(depth),
    )


# the memory-card states that are not a problem
CARD_FINE = frozenset(rt.CARD_STATES_FINE)


def _consistent_states(names: list[str], problem: float) -> list[str]:
    """The card states last seen at 1, narrowed to those that agree with the problem flag.

    A state that ended (a card error that cleared) keeps its last 1 in `last_over_time`, so more
    than one state can show 1; the problem flag's latest value tells which side is current.
    """
    if len(names) > 1 and not np.isnan(problem):
        fitting = [s for s in names if (s not in CARD_FINE) == bool(problem)]
        names = fitting or names
    return sorted(names)


def _store(rows: _Rows, key: str, matrix: list[Series], run: Run) -> None:
    """Put the points of a range answer into the (cameras, days) array of `key`.

    Several series of one camera (e.g. two exporters, or backfilled and live labels that differ)
    are merged by taking the larger value of a day.
    """
    for series in matrix:
        uid = series.metric.get("camera")
        if uid is None:
            continue
        row = rows.row(uid)
        arr = rows.array(key)  # after row(): it may have grown
        cols = run.first + np.rint((series.times * 1000 - run.start_ms) / run.step_ms).astype(int)
        current = arr[row, cols]
        arr[row, cols] = np.where(np.isnan(current), series.values, np.fmax(current, series.values))


async def _camera_labels(
    prom: Prometheus,
    info_rows: list[dict],
    runs: list[Run],
    tick: Callable[[], None],
    more: Callable[[int], None],
) -> dict[str, dict[str, str]]:
    """uid -> the labels of its newest vigil_camera_info series in the period.

    A camera whose descriptive fields changed during the period has several info series; the
    one present on the latest day wins, read with a range query for those cameras only.
    """

    def fields(metric: dict[str, str]) -> tuple[str, ...]:
        return tuple(metric.get(f, "") for f in INFO_FIELDS)

    # several series of one camera differ in job/instance only (backfilled and scraped) or in
    # the descriptive fields (the camera was renamed or moved)
    by_uid: dict[str, set[tuple[str, ...]]] = {}
    for item in info_rows:
        metric = item["metric"]
        if "camera" in metric:
            by_uid.setdefault(metric["camera"], set()).add(fields(metric))
    labels = {uid: dict(zip(INFO_FIELDS, min(found), strict=True)) for uid, found in by_uid.items()}
    changed = sorted(uid for uid, found in by_uid.items() if len(found) > 1)
    if not changed:
        return labels
    newest: dict[tuple[str, tuple[str, ...]], int] = {}
    selector = f"{rt.CAMERA_INFO.name}{{{_camera_in(changed)}}}"
    more(len(runs))

    async def read(run: Run) -> list[tuple[Run, Series]]:
        matrix = await prom.range(
            f"last_over_time({selector}[{duration(run.step_ms)}])",
            run.start_ms / 1000,
            (run.start_ms + (run.count - 1) * run.step_ms) / 1000,
            run.step_ms / 1000,
        )
        tick()
        return [(run, series) for series in matrix]

    for found in await _gather(*(read(run) for run in runs)):
        for run, series in found:
            key = (series.metric.get("camera", ""), fields(series.metric))
            last = run.first + round((series.times.max() * 1000 - run.start_ms) / run.step_ms)
            newest[key] = max(newest.get(key, -1), last)
    for uid in changed:
        # the fields seen on the latest day; a tie (changed that day) goes to the larger tuple
        best = max(by_uid[uid], key=lambda f, uid=uid: (newest.get((uid, f), -1), f))
        labels[uid] = dict(zip(INFO_FIELDS, best, strict=True))
    return labels


async def _gather(*coros):
    """asyncio.gather that cancels the other requests as soon as one fails."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
