"""`vigil p4-import-history`: the old P4 Stream Monitor's SQLite history, made here with its schema,
through the CLI, the real promtool and a real Prometheus, read back under Vigil's names."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.conftest import eventually, require_binary, running_prometheus

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Europe/Moscow")

# the tables Flask-SQLAlchemy created for the old monitor's app/models.py (SQLite dialect)
OLD_SCHEMA = """
CREATE TABLE servers (
    id INTEGER NOT NULL, name VARCHAR(100) NOT NULL, p4port VARCHAR(200) NOT NULL,
    p4user VARCHAR(100) NOT NULL, stream_mask VARCHAR(100), created_at DATETIME,
    PRIMARY KEY (id), UNIQUE (p4port)
);
CREATE TABLE streams (
    id INTEGER NOT NULL, name VARCHAR(500) NOT NULL, size_bytes BIGINT, file_count INTEGER,
    last_updated DATETIME, server_id INTEGER NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(server_id) REFERENCES servers (id)
);
CREATE TABLE stream_history (
    id INTEGER NOT NULL, stream_id INTEGER NOT NULL, size_bytes BIGINT NOT NULL,
    file_count INTEGER, recorded_at DATETIME NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(stream_id) REFERENCES streams (id) ON DELETE CASCADE
);
"""


def local(t: float) -> str:
    """How SQLAlchemy stored datetime.now() in SQLite: local wall-clock time, no zone."""
    return datetime.fromtimestamp(t, TZ).replace(tzinfo=None).isoformat(" ", "microseconds")


def make_old_db(path: Path, now: float) -> dict[str, float]:
    day = 86400
    t = {
        "a1": now - 10 * day,  # //depot/role-a first measured
        "a2": now - 5 * day,  # ... grew
        "a_last": now - 1 * day,  # ... measured for the last time (unchanged, so no row)
        "b1": now - 8 * day,
        "b_last": now - 2 * day,
        "c1": now - 6 * day,
    }
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.executemany(
        "INSERT INTO servers VALUES (?, ?, ?, ?, ?, ?)",
        [
            (1, "Production Server", "p4-server1:1666", "p4monitor", "*role*", local(t["a1"])),
            (2, "Development Server", "p4-server2:1666", "p4monitor", "*dev*", local(t["a1"])),
        ],
    )
    db.executemany(
        "INSERT INTO streams VALUES (?, ?, ?, ?, ?, ?)",
        [
            (1, "//depot/role-a", 1500, 12, local(t["a_last"]), 1),
            (2, "//depot/role-b", 70, 1, local(t["b_last"]), 1),
            (3, "//dev/dev-x", 5, 1, local(t["c1"]), 2),
            (4, "//depot/role-never", 0, 0, None, 1),  # listed, never measured: no history
        ],
    )
    db.executemany(
        "INSERT INTO stream_history VALUES (?, ?, ?, ?, ?)",
        [
            (1, 1, 1000, 10, local(t["a1"])),
            (2, 2, 70, 1, local(t["b1"])),
            (3, 1, 1500, 12, local(t["a2"])),
            (4, 3, 5, 1, local(t["c1"])),
        ],
    )
    db.commit()
    db.close()
    return t


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


async def test_old_history_reads_back_from_prometheus_under_vigils_names(tmp_path):
    promtool = require_binary("promtool")
    now = time.time()
    times = make_old_db(tmp_path / "prod.db", now)
    history = tmp_path / "p4-history.om"
    result = run_cli(
        "p4-import-history",
        str(tmp_path / "prod.db"),
        "-o",
        str(history),
        "--timezone",
        "Europe/Moscow",
        "--step",
        "1h",
        "--instance",
        "localhost:9830",
    )
    assert result.returncode == 0, result.stderr
    assert "4 history rows of 3 streams on 2 servers" in result.stdout
    text = history.read_text()
    assert text.endswith("# EOF\n")
    assert "role-never" not in text

    blocks = tmp_path / "blocks"
    created = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(history), str(blocks)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert created.returncode == 0, created.stdout + created.stderr

    config = {"global": {"scrape_interval": "1m"}}
    async with running_prometheus(
        tmp_path, config, blocks, "--storage.tsdb.retention.time=400d"
    ) as query:

        async def at(expr: str, t: float) -> dict[str, float]:
            rows = await query(expr, t) or []
            return {r["metric"]["stream"]: float(r["value"][1]) for r in rows}

        await eventually(lambda: query("vigil_p4_stream_size_bytes", times["a1"]), timeout=30)
        rows = await query('vigil_p4_stream_size_bytes{stream="//depot/role-a"}', times["a1"])
        assert rows[0]["metric"] == {
            "__name__": "vigil_p4_stream_size_bytes",
            "server": "Production Server",
            "stream": "//depot/role-a",
            "job": "vigil",
            "instance": "localhost:9830",
        }
        hour = 3600
        # the first row holds until the next one: a continuous line at the step's resolution
        middle = (times["a1"] + times["a2"]) / 2
        size = "last_over_time(vigil_p4_stream_size_bytes[1h])"
        assert await at(size, middle) == {"//depot/role-a": 1000, "//depot/role-b": 70}
        assert await at("vigil_p4_stream_files", times["a1"] + hour) == {"//depot/role-a": 10}
        # the grown size from its row on, to the last time the old monitor measured the stream
        assert (await at(size, times["a2"] + 2 * hour))["//depot/role-a"] == 1500
        assert await at("vigil_p4_stream_size_bytes", times["a_last"]) == {"//depot/role-a": 1500}
        assert await at("vigil_p4_stream_files", times["a_last"]) == {"//depot/role-a": 12}
        # nothing invented after the last measurement
        assert await at(size, times["a_last"] + 2 * hour) == {}
        # the local wall-clock times were read in the old host's zone (UTC+3): the first sample
        # is at the row's instant, not three hours off
        dev = 'vigil_p4_stream_size_bytes{server="Development Server"}'
        assert await at(dev, times["c1"]) == {"//dev/dev-x": 5}
        assert await at(dev, times["c1"] - 10) == {}
        # Vigil's growth rule reads the imported history like the live series
        grown = await at("delta(vigil_p4_stream_size_bytes[1d])", times["a2"] + 12 * hour)
        assert grown["//depot/role-a"] == 500


def test_a_file_that_is_not_the_old_history_writes_nothing(tmp_path):
    output = tmp_path / "out.om"
    (tmp_path / "notes.db").write_text("not a database at all, just text " * 100)
    result = run_cli("p4-import-history", str(tmp_path / "notes.db"), "-o", str(output))
    assert result.returncode == 2
    assert "not an SQLite database; nothing written" in result.stderr

    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE servers (id INTEGER)")
    other.close()
    result = run_cli("p4-import-history", str(tmp_path / "other.db"), "-o", str(output))
    assert result.returncode == 2
    assert "not the P4 Stream Monitor's database (no table streams, stream_history)" in (
        result.stderr
    )
    result = run_cli("p4-import-history", str(tmp_path / "x.db"), "-o", str(output), "--step", "0")
    assert result.returncode == 2
    assert not output.exists() and not list(tmp_path.glob("*.tmp"))


def test_a_row_of_a_repeated_dst_hour_and_step_edges(tmp_path):
    from exporter.p4_history import _samples, _Stream

    start = datetime(2025, 1, 1, 12, tzinfo=TZ).timestamp()
    stream = _Stream("s", "//d/x", start + 2.5 * 3600, [(start, 1, 1), (start + 3600, 2, 2)])
    got = list(_samples(stream, 1800.0, cutoff=start + timedelta(days=1).total_seconds()))
    assert got == [
        (start, 1, 1),
        (start + 1800, 1, 1),
        (start + 3600, 2, 2),
        (start + 5400, 2, 2),
        (start + 7200, 2, 2),
        (start + 9000, 2, 2),  # the last measurement itself
    ]
    # nothing after the cutoff (promtool leaves the newest hours to the running head block)
    assert list(_samples(stream, 1800.0, cutoff=start + 1000)) == [(start, 1, 1)]
