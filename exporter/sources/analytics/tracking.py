"""What Vigil follows across polls of a scenario table: time in state and prediction freshness.

Pure and synchronous: the source feeds each poll's rows with the poll's time. A scenario seen for the
first time is taken to have entered its status (or produced its predictions) at that poll: Vigil
never claims more than it saw.
"""

from __future__ import annotations

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
    """When each active scenario's predictions last changed (by the hash PostgreSQL computed)."""

    def __init__(self) -> None:
        self._changed: dict[str, tuple[int | None, float]] = {}  # id -> (hash, when it changed)

    def __len__(self) -> int:
        return len(self._changed)

    def update(self, rows: Iterable[tuple[str, str, int | None]], active: str, now: float) -> None:
        """`rows` of one poll; a digest of None means "row unchanged since the previous poll"."""
        old, new = self._changed, {}
        for scenario, status, digest in rows:
            if status != active:
                continue  # a scenario that leaves `active` starts afresh when it comes back
            seen = old.get(scenario)
            if seen is not None and (digest is None or seen[0] == digest):
                new[scenario] = seen
            else:
                new[scenario] = (digest, now)
        self._changed = new

    def stale(
        self, after: float, now: float, list_limit: int
    ) -> tuple[int, list[tuple[str, float]]]:
        """Active scenarios whose predictions have not changed for `after`, and the newest of them
        as (id, seconds since the last change)."""
        found = [(s, now - when) for s, (_, when) in self._changed.items() if now - when > after]
        found.sort(key=lambda item: item[1])
        return len(found), found[:list_limit]
