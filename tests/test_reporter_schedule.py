"""`vigil-report schedule`: reports on a cron, never two at once, only the newest N kept."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import openpyxl
import pytest

from reporter.cli import NAME_PATTERN, prune
from tests.conftest import eventually, free_port, serve_app
from tests.fixtures import reporter_history as h
from tests.test_reporter import ROOT, history, prom, run_report  # noqa: F401 (fixtures)

FOREIGN = [
    "notes.txt",
    "report_manual.xlsx",
    "report_2026-01-01_000000.xlsx.bak",
    "Report_2026-01-01_000000.xlsx",
    ".report_2026-10-01_000000.xlsx.partial-1",
]


async def test_schedule_keeps_the_newest_reports_and_never_overlaps(prom, tmp_path):  # noqa: F811
    out = tmp_path / "reports"
    out.mkdir()
    for name in FOREIGN:
        (out / name).write_text("not a report of this scheduler")
    (out / "report_2020-01-01_000000.xlsx").write_text("an old report of ours")
    log_path = tmp_path / "schedule.log"
    # every report waits 1.5 s for its inventory query, the cron fires every second: without
    # the single-instance rule the runs would overlap
    app = h.delaying_proxy(prom.url, 1.5, "vigil_camera_info[")
    async with serve_app(app) as proxy:
        with open(log_path, "wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "reporter",
                "schedule",
                "--prometheus",
                proxy,
                "--days",
                "7",
                "--tz",
                "Europe/Berlin",
                "--at",
                "2026-10-29T07:00",
                "--cron",
                "* * * * * *",
                "--out-dir",
                str(out),
                "--keep",
                "2",
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
        try:
            await eventually(lambda: log_path.read_text().count("report written:") >= 3, timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
    text = log_path.read_text()
    assert proc.returncode == 0, text
    events = re.findall(r"report (started|written): (report_\S+?\.xlsx)", text)
    # strictly one report at a time: started, written, started, written, ...
    kinds = [kind for kind, _ in events]
    finished = kinds[: len(kinds) // 2 * 2]
    assert finished == ["started", "written"] * (len(finished) // 2), text
    assert "maximum number of running instances reached" in text, "a fire found one running"
    written = [name for kind, name in events if kind == "written"]
    assert len(written) >= 3 and len(set(written)) == len(written)
    kept = sorted(p.name for p in out.iterdir() if NAME_PATTERN.fullmatch(p.name))
    assert kept == sorted(written)[-2:], "the newest two reports of this scheduler"
    for name in kept:
        assert openpyxl.load_workbook(out / name).sheetnames[0] == "TLDR"
    assert sorted(p.name for p in out.iterdir() if p.name not in kept) == sorted(FOREIGN)
    assert "scheduled: '* * * * * *' in Europe/Berlin" in text


async def test_a_failing_report_keeps_the_schedule_and_the_old_reports(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    old = out / "report_2026-01-01_070000.xlsx"
    old.write_text("the last good report")
    password = tmp_path / "password"
    password.write_text(h.PASSWORD)
    log_path = tmp_path / "schedule.log"
    with open(log_path, "wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "reporter",
            "schedule",
            "--prometheus",
            f"http://127.0.0.1:{free_port()}",
            "--user",
            h.USER,
            "--password-file",
            str(password),
            "--cron",
            "* * * * * *",
            "--out-dir",
            str(out),
            "--keep",
            "1",
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
    try:
        await eventually(
            lambda: log_path.read_text().count("report failed, nothing written") >= 1, timeout=30
        )
        assert proc.returncode is None, "the scheduler keeps running after a failed report"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    text = log_path.read_text()
    assert proc.returncode == 0
    assert "is unreachable" in text
    assert h.PASSWORD not in text
    assert [p.name for p in out.iterdir()] == [old.name], "nothing written, nothing pruned"


def test_prune_deletes_only_the_oldest_files_named_like_reports(tmp_path):
    names = [f"report_2026-11-{day:02d}_070000.xlsx" for day in range(1, 6)]
    for name in [*names, *FOREIGN]:
        (tmp_path / name).write_text("x")
    (tmp_path / "report_2026-10-01_070000.xlsx").mkdir()  # a directory is never ours
    os.symlink(tmp_path / names[0], tmp_path / "report_2026-09-01_070000.xlsx")
    deleted = prune(tmp_path, 2)
    assert [p.name for p in deleted] == names[:3]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(
        [*names[3:], *FOREIGN, "report_2026-10-01_070000.xlsx", "report_2026-09-01_070000.xlsx"]
    )
    assert prune(tmp_path, 2) == []


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("61 * * * *", "--cron '61 * * * *'"),
        ("every day", "expected 5 fields"),
        ("0 7 31 2 *", "never fires"),  # 31 February: it would wait forever
    ],
)
def test_a_bad_schedule_exits_2(cron, message, tmp_path):
    result = run_report(
        "schedule",
        "--prometheus",
        "http://127.0.0.1:9",
        "--cron",
        cron,
        "--out-dir",
        str(tmp_path),
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_schedule_needs_an_existing_directory(tmp_path):
    missing = tmp_path / "missing"
    result = run_report(
        "schedule",
        "--prometheus",
        "http://127.0.0.1:9",
        "--cron",
        "0 7 * * *",
        "--out-dir",
        str(missing),
    )
    assert result.returncode == 2
    assert f"directory {missing} does not exist" in result.stderr
    assert not Path(missing).exists()


def test_version():
    result = run_report("--version")
    assert result.returncode == 0 and result.stdout.startswith("vigil-report ")
