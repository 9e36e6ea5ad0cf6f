"""Which baked archives become series of their own: those not DONE, a bounded number of them.

A finished (DONE) archive is history; one that is NEW, ENQUEUED or in ERROR is something an operator
may have to act on, so each gets a series (`vigil_baked_archive_created_timestamp_seconds`) that the
Archives dashboard lists and the BakedArchiveFailed alert reads. At most `limit` are published:
ERROR first, then ENQUEUED, then NEW, newest first within a status; the rest are only counted
(`vigil_baked_archives_unlisted`), so a platform with thousands of stuck exports cannot blow up the
series count.
"""

from __future__ import annotations

from typing import Any

from exporter.sources.rt_api.metrics import BAKED_ARCHIVE_STATUSES
from exporter.sources.rt_api.payloads import baked_status, read_number

LISTED_MAX = 200  # non-DONE baked archives published one by one per exporter (per shard)
_ORDER = {"ERROR": 0, "ENQUEUED": 1, "NEW": 2}  # who gets a series first when there are too many


def _when(item: dict[str, Any]) -> float | None:
    """The archive's creation time (its last update when the record has none), in Unix seconds."""
    for key in ("created_at", "updated_at"):
        value = read_number(item.get(key))  # a number or a numeric string, as the poll reads them
        if value is not None and 0 < value < 1e11:
            return float(value)
    return None


def not_done(
    items: list[Any], limit: int = LISTED_MAX
) -> tuple[list[tuple[tuple[str, str, str], float]], int]:
    """(samples `((archive, camera, status), created)` of the archives to list, how many not-DONE
    archives were left out). Records without an id or a time are left out too: they cannot be a
    row of the list, but they still count."""
    rows: list[tuple[int, float, tuple[str, str, str]]] = []
    left_out = 0
    for item in items:
        code = baked_status(item)
        if code is None:
            continue  # counted as bad_payload by the poll
        status = BAKED_ARCHIVE_STATUSES.get(code)
        if status is None or status == "DONE":
            continue
        archive, when = item.get("id"), _when(item)
        if isinstance(archive, bool) or not isinstance(archive, int | str) or when is None:
            left_out += 1
            continue
        camera = item.get("camera_uid")
        camera = camera if isinstance(camera, str) else ""
        rows.append((_ORDER[status], -when, (str(archive), camera, status)))
    rows.sort()
    left_out += max(0, len(rows) - limit)
    return [(labels, -negative) for _, negative, labels in rows[:limit]], left_out
