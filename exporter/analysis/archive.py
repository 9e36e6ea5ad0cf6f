"""Archive integrity of a whole camera fleet, vectorised with NumPy.

Every camera's recorded archive arrives as fragments ``[since, till)`` in integer unix seconds. They
may overlap, repeat exactly, touch, have zero or negative length and come in any order. `analyse`
turns the fragments of every camera into per-camera, per-window figures (recorded seconds,
coverage, gaps, longest gap, fragments) plus archive depth and the end of the newest recording.

Definitions (the tests check them against a second-by-second reference):

* A fragment is valid when ``till > since``; valid fragments are clipped to end at ``now``, and a
  fragment starting at or after ``now`` is dropped. The recorded set of a camera is the union of
  its valid clipped fragments (overlapping and touching fragments merge).
* ``archive_start`` is the first recorded second, ``last_end`` the end of the newest recorded second
  (NaN without archive); depth is ``now - archive_start`` (0 without archive).
* Holes are the maximal stretches of ``[archive_start, now)`` outside the recorded set: the time
  before the archive began is not a hole, the time since the last recording is. A hole is a *gap*
  when its full length is strictly greater than ``gap_threshold``.
* For a window ``[a, b)``: recorded seconds are ``|recorded ∩ [a, b)|``; coverage is that over
  ``b - a`` (0 for an empty window); gaps counts the gaps overlapping the window by a positive
  length; the longest gap is the largest such overlap (a gap crossing the window edge counts with
  its clipped part); gap seconds are the total overlap of the gaps with the window; fragments
  counts distinct valid fragments (exact duplicate ``(since, clipped
  till)`` pairs once) overlapping the window by a positive length.
* What joins consecutive windows (calendar days) into an exact period: fragments started counts the
  distinct fragments whose start lies in ``[a, b)``; the gap at start is the part of the window
  covered by a gap open at ``a`` (one that began before ``a`` and ends after it), the gap at end
  the part covered by a gap open at ``b``; both 0 when no gap is open there. A period of
  consecutive days then has: fragments = the first day's fragments plus the later days' fragments
  started; gaps = the sum of the days' gaps minus the midnights a gap is open at (a gap at end of
  one day and at start of the next); longest gap = the largest daily one or the chain gap at end,
  whole days, gap at start across midnights (reporter/figures.py).

How it is fast: all fragments of the fleet live in one CSR layout. Times are rebased to the
earliest valid fragment and every camera gets its own key range (``camera * K + time``, with ``K``
larger than the time span), so one sort, one ``np.maximum.accumulate`` and a handful of
``np.searchsorted`` calls over the whole fleet replace the per-camera loops. Window figures are
differences of prefix functions evaluated at the (few, shared) window boundaries for every camera:
cost ``O((fragments + cameras * boundaries) log fragments)`` plus a range-maximum for the longest
gap. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

DAY = 86400
ROLLING = (("1d", 1), ("7d", 7), ("30d", 30), ("90d", 90))

_KEY_LIMIT = 2**62  # camera * K + time must stay well inside int64


@dataclass(frozen=True)
class Window:
    """A time window ``[start, end)`` in unix seconds, the same for every camera."""

    name: str
    start: int
    end: int


def rolling_windows(now: int) -> list[Window]:
    """The rolling windows of `ROLLING` (1d, 7d, 30d, 90d), each ending at `now`."""
    now = int(now)
    return [Window(name, now - days * DAY, now) for name, days in ROLLING]


def _first_instant(day: date, tz: ZoneInfo) -> int:
    """The first unix second whose local date in `tz` is `day`.

    Local midnight with ``fold=0`` is exactly that: when midnight repeats, fold 0 is its first
    occurrence; when midnight does not exist (a DST jump at 00:00), PEP 495 maps it with the offset
    from before the jump, which lands on the jump itself, the first instant of the day.
    """
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def calendar_days(now: int, tz: ZoneInfo, days: int) -> list[Window]:
    """The last `days` calendar days in `tz`, oldest first, ending with today (partial, up to now).

    Each day runs from its local midnight to the next one, so DST days last 23 or 25 hours; a
    window is named by its ISO date.
    """
    now = int(now)
    today = datetime.fromtimestamp(now, tz).date()
    out = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        start = _first_instant(day, tz)
        end = now if back == 0 else _first_instant(day + timedelta(days=1), tz)
        out.append(Window(day.isoformat(), start, end))
    return out


@dataclass(frozen=True)
class FleetArchive:
    """The fragments of many cameras in CSR layout.

    Camera ``i`` owns rows ``offsets[i]:offsets[i + 1]`` of `since` and `till`.
    """

    offsets: np.ndarray  # int64, (n_cameras + 1,)
    since: np.ndarray  # int64
    till: np.ndarray  # int64

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or len(self.offsets) < 1 or self.offsets[0] != 0:
            raise ValueError("offsets must be a 1-d array starting at 0")
        if self.since.shape != self.till.shape or self.since.ndim != 1:
            raise ValueError("since and till must be 1-d arrays of the same length")
        if self.offsets[-1] != len(self.since) or np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must be non-decreasing and end at the number of fragments")

    @property
    def n_cameras(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_lists(cls, per_camera: Sequence[tuple[np.ndarray, np.ndarray]]) -> FleetArchive:
        """Build from one ``(since, till)`` pair of arrays per camera."""
        lengths = np.array([len(s) for s, _ in per_camera], dtype=np.int64)
        offsets = np.zeros(len(per_camera) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if per_camera:
            since = np.concatenate([np.asarray(s, dtype=np.int64) for s, _ in per_camera])
            till = np.concatenate([np.asarray(t, dtype=np.int64) for _, t in per_camera])
        else:
            since = np.zeros(0, dtype=np.int64)
            till = np.zeros(0, dtype=np.int64)
        return cls(offsets, since, till)


@dataclass(frozen=True)
class ArchiveStats:
    """Per-camera, per-window archive figures: arrays of shape (n_cameras, n_windows) unless noted."""

    windows: list[Window]
    recorded_seconds: np.ndarray  # int64
    coverage_ratio: np.ndarray  # float64
    gaps: np.ndarray  # int64
    longest_gap_seconds: np.ndarray  # int64
    gap_seconds: np.ndarray  # int64, total length of the gaps' parts inside the window
    fragments: np.ndarray  # int64
    fragments_started: np.ndarray  # int64, distinct fragments starting inside the window
    gap_at_start_seconds: np.ndarray  # int64, part of the window in a gap open at its start
    gap_at_end_seconds: np.ndarray  # int64, part of the window in a gap open at its end
    depth_seconds: np.ndarray  # (n_cameras,), int64, 0 without archive
    last_end: np.ndarray  # (n_cameras,), float64, NaN without archive


def merge_fragments(since: np.ndarray, till: np.ndarray, now: int) -> tuple[np.ndarray, np.ndarray]:
    """One camera's recorded set: sorted, disjoint, non-touching ``[start, end)`` intervals.

    Invalid fragments (``till <= since``) are dropped and the rest clipped to end at `now`.
    """
    archive = FleetArchive(
        np.array([0, len(since)], dtype=np.int64),
        np.asarray(since, dtype=np.int64),
        np.asarray(till, dtype=np.int64),
    )
    prep = _prepare(archive, int(now))
    return prep.seg_start + prep.base, prep.seg_end + prep.base  # camera 0: key = time - base


@dataclass(frozen=True)
class _Prepared:
    """The fleet after validation, sorting, de-duplication and merging, in camera-keyed form.

    A time ``x`` of camera ``c`` is the key ``c * k + (x - base)``; keys of different cameras never
    meet because every valid time lies in ``[base, now]`` and ``k = now - base + 1``.
    """

    n_cameras: int
    base: int
    span: int  # now - base
    k: int
    frag_since: np.ndarray  # keys of distinct valid fragments, sorted
    frag_till: np.ndarray  # keys of their clipped ends, sorted independently
    seg_start: np.ndarray  # merged recorded segments, sorted
    seg_end: np.ndarray
    seg_camera: np.ndarray


def _prepare(archive: FleetArchive, now: int) -> _Prepared:
    n_cameras = archive.n_cameras
    since = np.asarray(archive.since, dtype=np.int64)
    till = np.minimum(np.asarray(archive.till, dtype=np.int64), now)
    valid = till > since  # drops till <= since and since >= now alike
    camera = np.repeat(np.arange(n_cameras, dtype=np.int64), np.diff(archive.offsets))[valid]
    since = since[valid]
    till = till[valid]

    base = int(since.min()) if len(since) else now
    span = now - base
    k = span + 1
    if n_cameras * k >= _KEY_LIMIT:
        raise ValueError(f"time span {span} s is too large for {n_cameras} cameras")
    offset = camera * k - base
    skey = since + offset
    tkey = till + offset
    del camera, offset, since, till

    # sort by (camera, since), ties by till so exact duplicates sit side by side; a stable sort
    # of an already (mostly) ordered key is nearly free, and ties are rare so they are fixed apart
    order = np.argsort(skey, kind="stable")
    skey = skey[order]
    tkey = tkey[order]
    del order
    tie = skey[1:] == skey[:-1]
    if tie.any():
        in_group = np.zeros(len(skey), dtype=bool)
        in_group[1:] |= tie
        in_group[:-1] |= tie
        pos = np.flatnonzero(in_group)
        sub = tkey[pos]
        tkey[pos] = sub[np.lexsort((sub, skey[pos]))]
        distinct = np.ones(len(skey), dtype=bool)
        distinct[1:] = ~tie | (tkey[1:] != tkey[:-1])
        skey = skey[distinct]
        tkey = tkey[distinct]

    # merge: a new segment starts where a fragment begins after everything before it has ended;
    # the running maximum never carries over to the next camera, whose keys are all larger
    n = len(skey)
    if n:
        reach = np.maximum.accumulate(tkey)
        new = np.ones(n, dtype=bool)
        new[1:] = skey[1:] > reach[:-1]
        first = np.flatnonzero(new)
        last = np.empty_like(first)
        last[:-1] = first[1:] - 1
        last[-1] = n - 1
        seg_start = skey[first]
        seg_end = reach[last]
        del reach, new, first, last
    else:
        seg_start = seg_end = np.zeros(0, dtype=np.int64)
    return _Prepared(
        n_cameras=n_cameras,
        base=base,
        span=span,
        k=k,
        frag_since=skey,
        frag_till=np.sort(tkey, kind="stable"),
        seg_start=seg_start,
        seg_end=seg_end,
        seg_camera=seg_start // k,
    )


def _range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``values[lo[i]:hi[i]].max()`` for every i; every range must be non-empty.

    Uses ``np.maximum.reduceat`` over interleaved bounds when the ranges are cheap to walk (the
    usual case: nested rolling windows and disjoint calendar days), else a sparse table whose
    height only reaches the longest range.
    """
    n = len(lo)
    if n == 0:
        return np.zeros(0, dtype=values.dtype)
    size = len(values)
    # reduceat walks [lo0, hi0), [hi0, lo1) (one element when lo1 <= hi0), [lo1, hi1), ... [hiN, end)
    walk = int((hi - lo).sum()) + int(np.maximum(lo[1:] - hi[:-1], 1).sum()) + size - int(hi[-1])
    height = int((hi - lo).max()).bit_length()  # levels 0 .. height-1 cover the longest range
    if walk <= 2 * size * height + 4 * n:
        if hi.max() >= size:  # reduceat cannot take len(values) as an index: pad one element
            values = np.append(values, values[-1])
        bounds = np.empty(2 * n, dtype=np.intp)
        bounds[0::2] = lo
        bounds[1::2] = hi
        return np.maximum.reduceat(values, bounds)[0::2]
    return _sparse_table_max(values, lo, hi, height)


def _sparse_table_max(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, height: int
) -> np.ndarray:
    table = [values]
    for level in range(1, height):
        prev = table[-1]
        step = 1 << (level - 1)
        cur = prev.copy()
        np.maximum(prev[:-step], prev[step:], out=cur[:-step])
        table.append(cur)
    length = hi - lo
    level = np.frexp(length.astype(np.float64))[1] - 1  # floor(log2(length)), exact below 2**53
    out = np.empty(len(lo), dtype=values.dtype)
    for lv in np.unique(level):
        sel = np.flatnonzero(level == lv)
        row = table[lv]
        out[sel] = np.maximum(row[lo[sel]], row[hi[sel] - (1 << int(lv))])
    return out


def analyse(
    archive: FleetArchive, now: int, windows: Sequence[Window], gap_threshold: int = 60
) -> ArchiveStats:
    """Archive figures for every camera of `archive` and every window (see the module docstring)."""
    now = int(now)
    windows = list(windows)
    prep = _prepare(archive, now)
    n_cam, k, base, span = prep.n_cameras, prep.k, prep.base, prep.span
    n_win = len(windows)
    starts = np.array([w.start for w in windows], dtype=np.int64)
    ends = np.array([w.end for w in windows], dtype=np.int64)

    # per camera: first and last segment
    per_cam = np.bincount(prep.seg_camera, minlength=n_cam)
    has = per_cam > 0
    first_seg = np.zeros(n_cam + 1, dtype=np.int64)
    np.cumsum(per_cam, out=first_seg[1:])
    cam_key = np.arange(n_cam, dtype=np.int64) * k
    depth = np.zeros(n_cam, dtype=np.int64)
    last_end = np.full(n_cam, np.nan)
    if has.any():
        depth[has] = now - (prep.seg_start[first_seg[:-1][has]] - cam_key[has] + base)
        last_end[has] = prep.seg_end[first_seg[1:][has] - 1] - cam_key[has] + base

    # holes: after every segment up to the next one of the same camera, or up to now
    seg_start, seg_end, n_seg = prep.seg_start, prep.seg_end, len(prep.seg_start)
    hole_end = prep.seg_camera * k + span
    if n_seg > 1:
        same = prep.seg_camera[1:] == prep.seg_camera[:-1]
        hole_end[:-1][same] = seg_start[1:][same]
    hole_len = hole_end - seg_end
    is_gap = (hole_len > gap_threshold) & (hole_len > 0)
    gap_start = seg_end[is_gap]
    gap_end = hole_end[is_gap]
    gap_len = hole_len[is_gap]
    del hole_end, hole_len, is_gap

    # prefix functions at every (camera, window boundary): the keys come out sorted, which keeps
    # searchsorted fast
    bounds = np.unique(np.concatenate([starts, ends]))
    query = (cam_key[:, None] + np.clip(bounds - base, 0, span)[None, :]).ravel()
    ia = np.searchsorted(bounds, starts)
    ib = np.searchsorted(bounds, ends)

    def at_start(table: np.ndarray) -> np.ndarray:
        return table.reshape(n_cam, len(bounds))[:, ia]

    def at_end(table: np.ndarray) -> np.ndarray:
        return table.reshape(n_cam, len(bounds))[:, ib]

    # R(t): recorded seconds of the camera's segments before t (plus those of earlier cameras,
    # which cancel in R(b) - R(a))
    cum = np.zeros(n_seg + 1, dtype=np.int64)
    np.cumsum(seg_end - seg_start, out=cum[1:])
    i = np.searchsorted(seg_end, query, side="right")
    within = i < n_seg
    part = np.zeros(len(query), dtype=np.int64)
    part[within] = np.maximum(query[within] - seg_start[i[within]], 0)
    recorded_before = cum[i] + part
    del i, within, part

    nonempty = ends > starts
    recorded = np.where(nonempty, at_end(recorded_before) - at_start(recorded_before), 0)
    del recorded_before
    length = np.where(nonempty, ends - starts, 1)
    coverage = np.where(nonempty, recorded / length, 0.0)

    # distinct fragments overlapping [a, b): since < b minus till <= a (for a < b the second set
    # is inside the first)
    frags = at_end(np.searchsorted(prep.frag_since, query, side="left")) - at_start(
        np.searchsorted(prep.frag_till, query, side="right")
    )
    frags = np.where(nonempty, frags, 0)
    started = at_end(np.searchsorted(prep.frag_since, query, side="left")) - at_start(
        np.searchsorted(prep.frag_since, query, side="left")
    )
    started = np.where(nonempty, started, 0)

    # gaps overlapping [a, b) are the index range [lo, hi): gap end > a and gap start < b
    lo = at_start(np.searchsorted(gap_end, query, side="right"))
    hi = at_end(np.searchsorted(gap_start, query, side="left"))

    # G(t): gap seconds before t, built like R(t) (gaps are disjoint and sorted by key)
    gap_cum = np.zeros(len(gap_len) + 1, dtype=np.int64)
    np.cumsum(gap_len, out=gap_cum[1:])
    j = np.searchsorted(gap_end, query, side="right")
    inside = j < len(gap_len)
    part = np.zeros(len(query), dtype=np.int64)
    part[inside] = np.maximum(query[inside] - gap_start[j[inside]], 0)
    gap_before = gap_cum[j] + part
    gap_seconds = np.where(nonempty, at_end(gap_before) - at_start(gap_before), 0)

    # the gap open at a boundary t: the first gap ending after t, if it began before t
    j_open = np.minimum(j, max(len(gap_len) - 1, 0))
    open_at = inside & (gap_start[j_open] < query) if len(gap_len) else inside
    open_start = np.where(open_at, gap_start[j_open] if len(gap_len) else 0, 0)
    open_end = np.where(open_at, gap_end[j_open] if len(gap_len) else 0, 0)
    qa = at_start(query.reshape(n_cam, len(bounds)))
    qb = at_end(query.reshape(n_cam, len(bounds)))
    gap_at_start = np.where(
        at_start(open_at) & nonempty, np.minimum(at_start(open_end), qb) - qa, 0
    )
    gap_at_end = np.where(at_end(open_at) & nonempty, qb - np.maximum(at_end(open_start), qa), 0)
    del query, j, j_open, inside, part, gap_before, open_at, open_start, open_end, qa, qb
    gaps = np.where(nonempty, np.maximum(hi - lo, 0), 0)
    longest = np.zeros((n_cam, n_win), dtype=np.int64)
    pair = np.flatnonzero(gaps.ravel() > 0)
    if len(pair):
        lo = lo.ravel()[pair]
        hi = hi.ravel()[pair]
        wa = np.clip(starts - base, 0, span)
        wb = np.clip(ends - base, 0, span)
        cam = pair // n_win
        win = pair % n_win
        qa = cam_key[cam] + wa[win]
        qb = cam_key[cam] + wb[win]
        del cam, win
        best = np.minimum(gap_end[lo], qb) - np.maximum(gap_start[lo], qa)
        last = hi - 1
        np.maximum(best, np.minimum(gap_end[last], qb) - np.maximum(gap_start[last], qa), out=best)
        inner = np.flatnonzero(hi - lo > 2)
        if len(inner):
            inner_max = _range_max(gap_len, lo[inner] + 1, last[inner])
            best[inner] = np.maximum(best[inner], inner_max)
        longest.ravel()[pair] = best

    return ArchiveStats(
        windows=windows,
        recorded_seconds=recorded.astype(np.int64, copy=False),
        coverage_ratio=coverage.astype(np.float64, copy=False),
        gaps=gaps.astype(np.int64, copy=False),
        longest_gap_seconds=longest,
        gap_seconds=gap_seconds.astype(np.int64, copy=False),
        fragments=frags.astype(np.int64, copy=False),
        fragments_started=started.astype(np.int64, copy=False),
        gap_at_start_seconds=np.maximum(gap_at_start, 0).astype(np.int64, copy=False),
        gap_at_end_seconds=np.maximum(gap_at_end, 0).astype(np.int64, copy=False),
        depth_seconds=depth,
        last_end=last_end,
    )
