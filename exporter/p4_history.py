"""`vigil p4-import-history`: the old P4 Stream Monitor's SQLite history as OpenMetrics for promtool.

The old monitor (Flask-SQLAlchemy, `instance/prod.db` or `dev.db`) kept three tables: `servers` (id,
name, p4port, ...), `streams` (id, name = the stream path, size_bytes, file_count, last_updated,
server_id) and `stream_history` (stream_id, size_bytes, file_count, recorded_at). It wrote a history
row when a stream was first measured and whenever its size or file count changed, stamped with the
old host's local wall-clock time (`datetime.now()`, no zone); `streams.last_updated` is the last
time it measured the stream at all.

A row's figures therefore hold from its time until the next row, and the last row's until the
stream's last measurement. Written under Vigil's names and labels (`vigil_p4_stream_size_bytes` and
`vigil_p4_stream_files`, `server` = the old server name, `stream` = the stream path), one sample
every `step` across those stretches: Prometheus looks back 5 minutes for an instant value, so a
step of at most 5 minutes draws the old history as a continuous line, like the live series.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from exporter.exposition import escape_label_value, family_header, format_value
from exporter.sources.p4.metrics import P4_STREAM_FILES, P4_STREAM_SIZE

HEAD_MARGIN = 3 * 3600  # promtool leaves the newest hours to the running Prometheus's head block
TABLES = ("servers", "streams", "stream_history")


class HistoryError(Exception):
    """The file is not a history this command can read; the message says why."""


@dataclasses.dataclass
class ImportResult:
    servers: int
    streams: int
    rows: int
    samples: int
    first: float | None
    last: float | None


@dataclasses.dataclass
class _Stream:
    server: str
    name: str
    last_updated: float | None
    rows: list[tuple[float, int, int]]  # (unix time, bytes, files), in time order


def _timestamp(text: object, tz: ZoneInfo, where: str) -> float:
    """SQLAlchemy's SQLite DateTime text ('2025-03-01 12:00:00.123456', local, no zone)."""
    if not isinstance(text, str):
        raise HistoryError(f"{where}: not a date and time: {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HistoryError(f"{where}: not a date and time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)  # fold 0: a repeated hour is read as its first pass
    return moment.timestamp()


def read_history(path: Path, tz: ZoneInfo) -> list[_Stream]:
    """Every stream with at least one history row, by server and stream name."""
    if not path.is_file():
        raise HistoryError(f"{path}: no such file")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: cannot open: {exc}") from None
    try:
        try:
            found = {
                r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError:
            raise HistoryError(f"{path}: not an SQLite database") from None
        missing = [t for t in TABLES if t not in found]
        if missing:
            raise HistoryError(
                f"{path}: not the P4 Stream Monitor's database (no table {', '.join(missing)})"
            )
        query = """
            SELECT servers.name, streams.id, streams.name, streams.last_updated,
                   stream_history.recorded_at, stream_history.size_bytes,
                   stream_history.file_count
            FROM stream_history
            JOIN streams ON streams.id = stream_history.stream_id
            JOIN servers ON servers.id = streams.server_id
            ORDER BY servers.name, streams.name, streams.id, stream_history.recorded_at,
                     stream_history.id
        """
        try:
            rows = db.execute(query).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"{path}: unexpected tables ({exc})") from None
    finally:
        db.close()
    streams: dict[tuple[str, str], _Stream] = {}
    for server, stream_id, name, last_updated, recorded_at, size, files in rows:
        where = f"{path}: stream {name!r} (id {stream_id})"
        key = (str(server), str(name))
        entry = streams.get(key)
        if entry is None:
            last = _timestamp(last_updated, tz, where) if last_updated is not None else None
            entry = streams[key] = _Stream(key[0], key[1], last, [])
        if not isinstance(size, int) or not isinstance(files, int | None):
            raise HistoryError(f"{where}: size {size!r} or file count {files!r} is not a number")
        entry.rows.append((_timestamp(recorded_at, tz, where), size, files or 0))
    return list(streams.values())


def _samples(stream: _Stream, step: float, cutoff: float) -> Iterator[tuple[float, int, int]]:
    """(time, bytes, files) every `step` from each row to the next, the last row's to the stream's
    last measurement; strictly increasing times, none after `cutoff`."""
    rows = stream.rows
    last_time = -math.inf
    for i, (start, size, files) in enumerate(rows):
        if i + 1 < len(rows):
            end, inclusive = rows[i + 1][0], False
        else:
            end, inclusive = max(start, stream.last_updated or start), True
        t = start
        while (t < end or (inclusive and t == end)) and t <= cutoff:
            if t > last_time:
                yield t, size, files
                last_time = t
            t += step
        if inclusive and end > last_time and end <= cutoff:
            yield end, size, files
            last_time = end


def write_openmetrics(
    out: TextIO, streams: list[_Stream], labels: dict[str, str], step: float, cutoff: float
) -> int:
    extra = "".join(f',{k}="{escape_label_value(v)}"' for k, v in sorted(labels.items()))
    samples = 0
    for spec, column in ((P4_STREAM_SIZE, 1), (P4_STREAM_FILES, 2)):
        out.write(family_header(spec.name, spec.help, spec.type))
        for stream in streams:
            prefix = (
                f'{spec.name}{{server="{escape_label_value(stream.server)}",'
                f'stream="{escape_label_value(stream.name)}"{extra}}} '
            )
            for sample in _samples(stream, step, cutoff):
                out.write(f"{prefix}{format_value(float(sample[column]))} {sample[0]:.3f}\n")
                samples += 1
    out.write("# EOF\n")
    return samples


def import_history(
    path: Path,
    output: Path,
    *,
    tz: ZoneInfo,
    step: float = 300.0,
    job: str = "vigil",
    instance: str | None = None,
    now: float,
) -> ImportResult:
    """Read the old database and write `output` (atomically); raises HistoryError."""
    if step <= 0:
        raise HistoryError("--step must be longer than 0")
    streams = read_history(path, tz)
    labels = {"job": job}
    if instance:
        labels["instance"] = instance
    cutoff = now - HEAD_MARGIN
    tmp = output.with_name(output.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            samples = write_openmetrics(out, streams, labels, step, cutoff)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    times = [t for s in streams for t, _, _ in s.rows]
    return ImportResult(
        servers=len({s.server for s in streams}),
        streams=len(streams),
        rows=len(times),
        samples=samples,
        first=min(times) if times else None,
        last=max(times) if times else None,
    )
