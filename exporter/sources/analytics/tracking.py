"""What Vigil follows across polls of a scenario table: time in state and prediction freshness.

Pure and synchronous: the source feeds each poll's rows with the poll's time. A scenario seen for the
first time is taken to have entered its status (or produced its predictions) at that poll: Vigil
never claims more than it saw.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping


class StateClock:
    """When each followed scenario entered its current status, as observed across polls."""

    def __init__(self) -> None:
        self._since: dict[str, tuple[str, float]] = {}  # id -> (status, first poll that saw it)

    def __len__(self) -> int:
        return len(self._since)

    def update(self, rows: Iterable[tuple[str, str]], now: float) -> None:
        old, new = self._since, {}
        for scenario, status in rows:
            seen = old.get(scenario)
            new[scenario] = seen if seen is not None and seen[0] == status else (status, now)
        self._since = new  # scenarios that are gone are forgotten

    def oldest(self, now: float) -> dict[str, float]:
        """Status -> time in state of its longest-standing scenario."""
        first: dict[str, float] = {}
        for status, since in self._since.values():
            if since < first.get(status, now + 1):
                first[status] = since
        return {status: now - since for status, since in first.items()}

    def stuck(
        self, limits: Mapping[str, float], now: float, list_limit: int
    ) -> tuple[dict[str, int], list[tuple[str, str, float]]]:
        """Counts of stuck scenarios by status (every limited status, 0 included) and the stuck
        ones as (id, status, seconds in state), newest first, at most `list_limit`."""
        counts = dict.fromkeys(limits, 0)
        found = []
        for scenario, (status, since) in self._since.items():
            after = limits.get(status)
            if after is not None and now - since > after:
                counts[status] += 1
                found.append((scenario, status, now - since))
        found.sort(key=lambda item: item[2])
        return counts, found[:list_limit]


class PredictionWatch:
    """When each active scenario's predictions last changed, hashing as few of them as it can.

    Each poll says, per active scenario, whether its row was rewritten since the previous poll (the
    row's xmin, free to read). A row never rewritten kept its predictions, so only rewritten rows
    need their predictions hashed, and not at once: a scenario whose predictions changed at most
    `stale_after - 2 * interval` ago cannot turn stale before the next poll. So a rewritten
    scenario is hashed on its phase poll (one poll in every `cycle`, its phase fixed by its id),
    or as soon as it could turn stale, or when it is new (the hash to compare with later). On a
    platform whose active scenarios all keep predicting, a poll hashes 1/`cycle` of them.

    A differing hash dates the change to the latest poll that saw the row rewritten: exactly when
    hashing every poll would date it, unless the row was rewritten again with identical
    predictions after the change, where the date is later (an alert delayed, never one invented).
    """

    def __init__(self, stale_after: float, interval: float) -> None:
        self._after = stale_after
        # the age of the last change below which a scenario cannot be stale at the next poll, with
        # a poll's worth of slack for a late poll
        self._safe_age = stale_after - 2 * interval
        self.cycle = max(1, int(self._safe_age // interval))
        self._polls = 0
        # id -> [hash or None, when it last changed, latest poll that saw it rewritten and not
        # yet hashed (None: hashed since), phase]
        self._watched: dict[str, list] = {}

    def __len__(self) -> int:
        return len(self._watched)

    def observe(
        self,
        rows: Iterable[tuple[str, str, bool]],
        rewrites_known: bool = True,
        *,
        active: str,
        now: float,
    ) -> list[str]:
        """Take one poll's (id, status, rewritten since the previous poll) and return the ids
        whose predictions must be hashed now (then pass the hashes to `record`). Without
        `rewrites_known` (a view has no xmin: every row comes as rewritten) every active scenario
        is hashed every poll, or a change would be dated up to a cycle late."""
        old, new, due = self._watched, {}, []
        turn = self._polls % self.cycle if rewrites_known else None
        self._polls += 1
        for scenario, status, rewritten in rows:
            if status != active:
                continue  # a scenario that leaves `active` starts afresh when it comes back
            entry = old.get(scenario)
            if entry is None:
                entry = [None, now, now, zlib.crc32(scenario.encode()) % self.cycle]
            elif rewritten:
                entry[2] = now
            new[scenario] = entry
            if entry[2] is not None and (
                turn is None
                or entry[0] is None
                or entry[3] == turn
                or now - entry[1] > self._safe_age
            ):
                due.append(scenario)
        self._watched = new
        return due

    def record(self, hashes: Mapping[str, int]) -> None:
        """The hashes PostgreSQL computed for the ids `observe` returned."""
        for scenario, digest in hashes.items():
            entry = self._watched.get(scenario)
            if entry is None:
                continue
            if entry[0] is not None and entry[0] != digest:
                entry[1] = entry[2]
            entry[0], entry[2] = digest, None

    def stale(self, now: float, list_limit: int) -> tuple[int, list[tuple[str, float]]]:
        """Active scenarios whose predictions have not changed for `stale_after`, and the newest
        of them as (id, seconds since the last change)."""
        after = self._after
        found = [(s, now - e[1]) for s, e in self._watched.items() if now - e[1] > after]
        found.sort(key=lambda item: item[1])
        return len(found), found[:list_limit]
