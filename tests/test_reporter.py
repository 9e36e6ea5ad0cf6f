"""vigil-report against a real Prometheus filled through the backfill path with known archives.

Every figure of every sheet is compared with `exporter.analysis.archive.analyse` of the same
fragments (tests/fixtures/reporter_history.py describes the fleet); the workbook is read back with
openpyxl and opened by LibreOffice.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from exporter.analysis.archive import FleetArchive, Window, analyse
from tests.conftest import eventually, free_port, require_binary, serve_app
from tests.fixtures import reporter_history as h

ROOT = Path(__file__).resolve().parent.parent
EN_SHEETS = ["TLDR", "Trend", "By data center", "Summary", "Daily", "Heatmap", "Problems"]
RU_SHEETS = ["Кратко", "Динамика", "По ЦОД", "Сводка", "По дням", "Тепловая карта", "Проблемы"]
CARD_WORDS = {"CardOK": "OK", "CardError": "error"}


def run_report(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reporter", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def report_args(url: str, output: Path, *extra: str) -> list[str]:
    return [
        "--prometheus",
        url,
        "--days",
        str(h.DAYS),
        "--tz",
        "Europe/Berlin",
        "--at",
        "2026-10-29T07:00",
        "-o",
        str(output),
        *extra,
    ]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    directory = tmp_path_factory.mktemp("history")
    cameras = h.fleet()
    return cameras, h.build_blocks(cameras, directory)


@pytest.fixture(scope="module")
def prom(history, tmp_path_factory):
    _, blocks = history
    with h.prometheus(tmp_path_factory.mktemp("prometheus"), blocks) as running:
        yield running


@pytest.fixture(scope="module")
def workbook_en(prom, tmp_path_factory):
    path = tmp_path_factory.mktemp("en") / "report.xlsx"
    result = run_report(*report_args(prom.url, path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(path)
    return path


# -- what the report must say, computed from the analysis ---------------------------------------


class Expected:
    """Per camera and day, straight from analyse(); the period figures by their documented
    definitions, written out here independently of reporter/figures.py."""

    def __init__(self, cameras: list[h.Camera]) -> None:
        self.cameras = cameras
        self.days = h.windows()
        self.stats = h.expected_stats(cameras)
        self.length = np.array([d.end - d.start for d in self.days], dtype=float)
        self.has = np.array(
            [[c.daily_data and d.name not in c.missing_days for d in self.days] for c in cameras]
        )
        period = Window("period", self.days[0].start, self.days[-1].end)
        per_camera = [
            (
                np.array([s for s, _ in c.fragments], dtype=np.int64),
                np.array([t for _, t in c.fragments], dtype=np.int64),
            )
            for c in cameras
        ]
        self.true_period = analyse(
            FleetArchive.from_lists(per_camera), h.AS_OF, [period], h.GAP_THRESHOLD
        )
        self.true_longest = self.true_period.longest_gap_seconds[:, 0]

    def summary(self, i: int) -> dict:
        s, has = self.stats, self.has[i]
        if not has.any():
            return {"days": 0}
        recorded = float(s.recorded_seconds[i][has].sum())
        # the period's figures joined from the days: a fragment counted once, in the first day
        # it overlaps (or, after a day without data, again); a gap open at a midnight between
        # two days with data counted once and measured across it
        fragments = gaps = 0
        longest, run = 0.0, 0.0
        for j in range(len(self.days)):
            if not has[j]:
                run = 0.0
                continue
            before = j > 0 and has[j - 1]
            fragments += int(s.fragments_started[i, j] if before else s.fragments[i, j])
            at_start, at_end = s.gap_at_start_seconds[i, j], s.gap_at_end_seconds[i, j]
            joined = before and s.gap_at_end_seconds[i, j - 1] > 0 and at_start > 0
            gaps += int(s.gaps[i, j]) - int(joined)
            longest = max(longest, float(s.longest_gap_seconds[i, j]))
            if joined and at_start == self.length[j]:
                run += self.length[j]
            else:
                if joined:
                    longest = max(longest, run + at_start)
                run = float(at_end)
            longest = max(longest, run)
        return {
            "days": int(has.sum()),
            "recorded": recorded,
            "coverage": recorded / float(self.length[has].sum()),
            "fragments": fragments,
            "gaps": gaps,
            "longest": longest,
            "gap_time": float(s.gap_seconds[i][has].sum()),
        }

    def band(self, i: int) -> str:
        figures = self.summary(i)
        if figures["days"] == 0:
            return "no_data"
        if figures["recorded"] == 0:
            return "no_archive"
        if figures["coverage"] >= 0.9:
            return "green"
        return "yellow" if figures["coverage"] >= 0.5 else "red"

    def depth(self, i: int) -> float | None:
        camera = self.cameras[i]
        return h.depth_at(camera, h.LIVE_LATEST) if camera.daily_data else None

    def reasons(self, i: int) -> set[str]:
        camera, figures, band = self.cameras[i], self.summary(i), self.band(i)
        out = set()
        if band == "no_data":
            out.add("no_data")
        elif band == "no_archive":
            out.add("no_archive")
        elif figures["coverage"] < 0.5:
            out.add("low_coverage")
        if figures.get("longest", 0) > 3600:
            out.add("long_gap")
        depth = self.depth(i)
        if band != "no_archive" and depth is not None and depth < 86400:
            out.add("shallow")
        if camera.online == 0:
            out.add("offline")
        if camera.card != "CardOK":
            out.add("card")
        return out


@pytest.fixture(scope="module")
def expected(history) -> Expected:
    return Expected(history[0])


def rows(ws) -> list[tuple]:
    return list(ws.iter_rows(values_only=True))


def by_uid(table: list[tuple], uid_col: int = 1) -> dict[str, tuple]:
    return {row[uid_col]: row for row in table[1:]}


# the workbook keeps hours and days to 6 decimals, ratios to 9
def hours(seconds: float):
    return pytest.approx(seconds / 3600, rel=0, abs=5.1e-7)


def days(seconds: float):
    return pytest.approx(seconds / 86400, rel=0, abs=5.1e-7)


def same(ratio: float):
    return pytest.approx(ratio, rel=0, abs=5.1e-10)


# -- the workbook ------------------------------------------------------------------------------


def test_the_period_is_real_local_days_including_the_25_hour_one(expected):
    from reporter.period import report_days

    days = report_days(h.AS_OF, h.TZ, h.DAYS)
    assert [(d.date.isoformat(), d.start, d.end) for d in days] == [
        (w.name, w.start, w.end) for w in expected.days
    ]
    assert [d.length // 3600 for d in days] == [24, 24, 24, 25, 24, 24, 24]


def test_summary_matches_the_analysis(workbook_en, expected):
    wb = openpyxl.load_workbook(workbook_en)
    assert wb.sheetnames == EN_SHEETS
    ws = wb["Summary"]
    table = rows(ws)
    assert table[0] == (
        "Camera",
        "UID",
        "SN",
        "Vendor",
        "Model",
        "Address",
        "Data center",
        "Status",
        "Memory card",
        "Depth (days)",
        "Days with data (of 7)",
        "Recorded (h)",
        "Coverage",
        "Fragments",
        "Avg fragment (h)",
        "Gaps",
        "Longest gap (h)",
        "Gap time (h)",
    )
    got = by_uid(table)
    cameras = expected.cameras
    assert set(got) == {c.uid for c in cameras}
    # report order: by name, then uid (Cyrillic sorts after Latin)
    assert [row[1] for row in table[1:]] == [
        c.uid for c in sorted(cameras, key=lambda c: (c.name.casefold(), c.uid))
    ]
    for i, camera in enumerate(cameras):
        row = got[camera.uid]
        figures = expected.summary(i)
        assert row[0] == camera.name, "the newest name wins over the one before the rename"
        assert row[2:7] == (
            f"SN-{camera.uid[4:].upper()}",
            "Hikvision",
            "DS-2CD2143",
            f"Berlin, {camera.name} street 1",
            "DC-Berlin",
        )
        status = {1: "online", 0: "offline", None: "unknown"}[camera.online]
        assert row[7] == status, camera.uid
        assert row[8] == CARD_WORDS[camera.card], "the card state in words"
        depth = expected.depth(i)
        assert row[9] == (None if depth is None else days(depth)), camera.uid
        assert row[10] == figures["days"], camera.uid
        if figures["days"] == 0:
            assert row[11:] == (None,) * 7, "no data is blank, not 0"
            continue
        assert row[11] == hours(figures["recorded"]), camera.uid
        assert row[12] == same(figures["coverage"]), camera.uid
        assert row[13] == figures["fragments"], camera.uid
        if figures["fragments"]:
            assert row[14] == hours(figures["recorded"] / figures["fragments"]), camera.uid
        else:
            assert row[14] is None, "no fragment: no average"
        assert row[15] == figures["gaps"], camera.uid
        assert row[16] == hours(figures["longest"]), camera.uid
        assert row[17] == hours(figures["gap_time"]), camera.uid
        if has_every_day := bool(expected.has[i].all()):
            # with every day's figures the period is exact: as if analysed in one window
            assert figures["longest"] == expected.true_longest[i], camera.uid
            assert figures["gaps"] == expected.true_period.gaps[i, 0], camera.uid
            assert figures["fragments"] == expected.true_period.fragments[i, 0], camera.uid
        assert has_every_day or figures["longest"] <= expected.true_longest[i]

    foxtrot = cameras.index(next(c for c in cameras if c.uid == "cam-foxtrot"))
    assert got["cam-foxtrot"][16] == hours(73 * 3600) == hours(expected.true_longest[foxtrot])
    assert got["cam-juliet"][10] == 5, "two days without samples are left out"
    assert got["cam-juliet"][12] == 1.0, "...not counted as 0 %"
    alpha = cameras.index(next(c for c in cameras if c.uid == "cam-alpha"))
    # 2.5-hour fragments, some across midnight: each counted once
    assert got["cam-alpha"][13] == expected.true_period.fragments[alpha, 0]

    # formats: numbers are numbers with their format, header frozen and filtered, coverage coloured
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:R{len(cameras) + 1}"
    assert ws["M2"].number_format == "0.0%"
    assert ws["L2"].number_format == "0.00"
    assert ws["J2"].number_format == "0.0"
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb.endswith("1F4E78")
    last = len(cameras) + 1
    # status, depth (report.py's red under 1 day, yellow under 3), days with data, coverage,
    # longest gap (red over 1 h, yellow over 5 min)
    rules = {str(cf.sqref): [r.formula for r in cf.rules] for cf in ws.conditional_formatting}
    assert rules == {
        f"H2:H{last}": [['"online"'], ['"offline"']],
        f"J2:J{last}": [["ISBLANK(J2)"], ["1.0"], ["3.0"]],
        f"K2:K{last}": [["ISBLANK(K2)"], ["7"]],
        f"M2:M{last}": [["ISBLANK(M2)"], ["0.9"], ["0.5", "0.899999999999"], ["0.5"]],
        f"Q2:Q{last}": [["ISBLANK(Q2)"], ["1.0"], [str(300 / 3600)]],
    }
    hotel = next(r for r in ws.iter_rows(min_row=2) if r[1].value == "cam-hotel")
    assert hotel[8].value == "error" and hotel[8].fill.fgColor.rgb.endswith("FFC7CE")
    assert ws.column_dimensions["F"].width > ws.column_dimensions["P"].width


def test_daily_and_heatmap_match_the_analysis(workbook_en, expected):
    wb = openpyxl.load_workbook(workbook_en)
    s = expected.stats
    daily = rows(wb["Daily"])
    assert daily[0] == (
        "Camera",
        "UID",
        "Date",
        "Recorded (h)",
        "Coverage",
        "Fragments",
        "Gaps",
        "Longest gap (h)",
        "Gap time (h)",
    )
    got = {(row[1], row[2].date().isoformat()): row for row in daily[1:]}
    want = {
        (c.uid, d.name): (i, j)
        for i, c in enumerate(expected.cameras)
        for j, d in enumerate(expected.days)
        if expected.has[i, j]
    }
    assert len(daily) - 1 == len(want) == len(got), "one row per camera-day with data"
    assert set(got) == set(want)
    for key, (i, j) in want.items():
        row = got[key]
        assert row[0] == expected.cameras[i].name
        assert row[3] == hours(s.recorded_seconds[i, j]), key
        assert row[4] == same(s.coverage_ratio[i, j]), key
        assert row[5] == s.fragments[i, j], key
        assert row[6] == s.gaps[i, j], key
        assert row[7] == hours(s.longest_gap_seconds[i, j]), key
        assert row[8] == hours(s.gap_seconds[i, j]), key
    # the stale sample scraped at 00:01 (still the day before) does not replace the day's figure
    golf = expected.cameras.index(next(c for c in expected.cameras if c.uid == "cam-golf"))
    assert s.coverage_ratio[golf, -1] == 0.25 and s.coverage_ratio[golf, -2] == 0
    assert got[("cam-golf", "2026-10-28")][4] == 0.25
    ws = wb["Daily"]
    assert ws["C2"].number_format == "yyyy-mm-dd" and ws["E2"].number_format == "0.0%"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:I{len(daily)}"

    heat = rows(wb["Heatmap"])
    assert [c.date().isoformat() for c in heat[0][2:]] == [d.name for d in expected.days]
    grid = by_uid(heat)
    for i, camera in enumerate(expected.cameras):
        cells = grid[camera.uid][2:]
        for j in range(len(expected.days)):
            if expected.has[i, j]:
                assert cells[j] == same(s.coverage_ratio[i, j]), (camera.uid, j)
            else:
                assert cells[j] is None, "no data stays blank"
    assert [str(cf.sqref) for cf in wb["Heatmap"].conditional_formatting] == [
        f"C2:I{len(expected.cameras) + 1}"
    ]


def test_tldr_and_problems_match_the_analysis(workbook_en, expected):
    wb = openpyxl.load_workbook(workbook_en)
    tldr = rows(wb["TLDR"])
    cells = {row[1]: row[2:] for row in tldr if row[1] is not None}
    assert tldr[0][0] == "Camera archive quality"
    assert tldr[1][0] == "Period: 2026-10-22 – 2026-10-28 (7 days, Europe/Berlin)"
    assert tldr[2][0] == "Previous period 2026-10-15 – 2026-10-21: no data to compare with"
    assert tldr[3][0].startswith("Generated 2026-10-29 07:00 (Europe/Berlin) from Prometheus")
    cameras = expected.cameras
    n = len(cameras)
    bands = [expected.band(i) for i in range(n)]
    problems = sum(1 for i in range(n) if expected.reasons(i))
    coverages = [expected.summary(i).get("coverage") for i in range(n)]
    depths = [expected.depth(i) for i in range(n)]
    assert cells["Cameras"][0] == n
    assert cells["Online"][0] == sum(c.online == 1 for c in cameras)
    assert cells["Offline"][0] == sum(c.online == 0 for c in cameras)
    assert cells["Status unknown"][0] == sum(c.online is None for c in cameras)
    assert cells["With archive in the period"][0] == sum(
        b in ("green", "yellow", "red") for b in bands
    )
    assert cells["Without archive in the period"][0] == bands.count("no_archive") == 1
    assert cells["Without data in the period"][0] == bands.count("no_data") == 1
    assert cells["With problems (sheet Problems)"][0] == problems
    assert cells["Average coverage"][0] == same(np.mean([c for c in coverages if c is not None]))
    assert cells["Average archive depth (days)"][0] == days(
        np.mean([d for d in depths if d is not None])
    )
    for label, band in (
        ("≥ 90 %", "green"),
        ("50–89 %", "yellow"),
        ("< 50 %", "red"),
        ("No archive", "no_archive"),
        ("No data", "no_data"),
    ):
        assert cells[label][:2] == (bands.count(band), same(bands.count(band) / n)), label
    assert {"green", "yellow", "red"} <= set(bands), "every colour is exercised"

    # the three top-10 tables, in their order, as (uid, value)
    uid_of = {c.name: c.uid for c in cameras}
    order = sorted(range(n), key=lambda i: (cameras[i].name.casefold(), cameras[i].uid))
    tables, current = [], None
    for row in tldr:
        if isinstance(row[0], str) and row[0].startswith("Top 10"):
            current = []
            tables.append((row[0], current))
        elif current is not None and isinstance(row[0], str) and row[0][:1].isdigit():
            current.append((uid_of[row[1]], row[5]))
            address, datacenter, vendor = row[2:5]
            assert (datacenter, vendor) == ("DC-Berlin", "Hikvision"), row
            assert address == f"Berlin, {row[1]} street 1"
    assert [title for title, _ in tables] == [
        "Top 10: worst coverage (cameras with archive)",
        "Top 10: most gaps",
        "Top 10: longest gap",
    ]

    def top(key, largest, where):
        picked = [i for i in order if where(i)]
        picked.sort(key=lambda i: -key(i) if largest else key(i))
        return [cameras[i].uid for i in picked[:10]]

    summary = [expected.summary(i) for i in range(n)]
    assert [uid for uid, _ in tables[0][1]] == top(
        lambda i: summary[i]["coverage"],
        False,
        lambda i: bands[i] in ("green", "yellow", "red"),
    )
    assert [uid for uid, _ in tables[1][1]] == top(
        lambda i: summary[i]["gaps"], True, lambda i: summary[i].get("gaps", 0) > 0
    )
    assert [uid for uid, _ in tables[2][1]] == top(
        lambda i: summary[i]["longest"], True, lambda i: summary[i].get("longest", 0) > 0
    )
    assert tables[2][1][0] == ("cam-foxtrot", "3 d 1 h"), "73 hours in days and hours"

    with zipfile.ZipFile(workbook_en) as archive:
        chart = archive.read("xl/charts/chart1.xml").decode()
    assert "<c:barChart>" in chart and "$B$" in chart and "$C$" in chart

    problem_rows = rows(wb["Problems"])
    assert problem_rows[0] == (
        "Camera",
        "UID",
        "Vendor",
        "Model",
        "Address",
        "Data center",
        "Status",
        "Coverage",
        "Longest gap",
        "Depth (days)",
        "Reasons",
    )
    listed = by_uid(problem_rows)
    phrases = {
        "no_data": "no archive figures in the period",
        "no_archive": "no archive: nothing recorded in the period",
        "low_coverage": "(below 50 %)",
        "long_gap": "h (over 1 h)",
        "shallow": "days (under 1 day)",
        "offline": "offline",
        "card": "memory card problem (error)",
    }
    want = {c.uid: expected.reasons(i) for i, c in enumerate(cameras) if expected.reasons(i)}
    assert set(listed) == set(want)
    assert want["cam-golf"] == {"low_coverage", "shallow"}
    assert want["cam-hotel"] == {"offline", "card"}
    for uid, codes in want.items():
        text = listed[uid][10]
        assert len(text.split("; ")) == len(codes), (uid, text)
        for code in codes:
            assert phrases[code] in text, (uid, code, text)
    assert listed["cam-foxtrot"][10] == "gap of 73.0 h (over 1 h)"
    assert listed["cam-foxtrot"][8] == "3 d 1 h"
    assert listed["cam-foxtrot"][2:6] == (
        "Hikvision",
        "DS-2CD2143",
        "Berlin, Foxtrot street 1",
        "DC-Berlin",
    )
    assert listed["cam-delta"][10].startswith("coverage 24.9 % (below 50 %)")


def test_russian_workbook_has_russian_sheets_and_the_same_figures(prom, workbook_en, tmp_path):
    path = tmp_path / "report-ru.xlsx"
    result = run_report(*report_args(prom.url, path, "--lang", "ru"))
    assert result.returncode == 0, result.stderr
    ru = openpyxl.load_workbook(path)
    en = openpyxl.load_workbook(workbook_en)
    assert ru.sheetnames == RU_SHEETS
    assert rows(ru["Сводка"])[0][:3] == ("Камера", "UID", "Серийный номер")
    assert rows(ru["Кратко"])[0][0] == "Качество архива камер"
    assert ru["По дням"]["C2"].number_format == "dd.mm.yyyy"
    assert ru["Тепловая карта"]["C1"].number_format == "dd.mm.yyyy", "one date format"
    assert en["Heatmap"]["C1"].number_format == "yyyy-mm-dd"
    assert rows(ru["Кратко"])[1][0] == "Период: 22.10.2026 – 28.10.2026 (7 дн., Europe/Berlin)"
    for en_name, ru_name in zip(EN_SHEETS[1:6], RU_SHEETS[1:6], strict=True):
        en_rows, ru_rows = rows(en[en_name]), rows(ru[ru_name])
        assert len(en_rows) == len(ru_rows)
        for a, b in zip(en_rows[1:], ru_rows[1:], strict=True):
            numbers = [(x, y) for x, y in zip(a, b, strict=True) if not isinstance(x, str)]
            assert all(x == y for x, y in numbers)
    statuses = {row[7] for row in rows(ru["Сводка"])[1:]}
    assert statuses == {"онлайн", "офлайн", "неизвестно"}
    cards = {row[8] for row in rows(ru["Сводка"])[1:]}
    assert cards == {"исправна", "ошибка"}
    reasons = by_uid(rows(ru["Проблемы"]))
    assert reasons["cam-foxtrot"][10] == "разрыв 73,0 ч (больше 1 ч)"
    assert reasons["cam-foxtrot"][8] == "3 дн 1 ч"
    assert reasons["cam-hotel"][10] == "офлайн; проблема с картой памяти (ошибка)"
    assert reasons["cam-golf"][10] == (
        "покрытие 3,6 % (ниже 50 %); глубина архива 0,54 сут (меньше суток)"
    )


class _Cells(HTMLParser):
    """Sheets of LibreOffice's HTML export: per sheet, rows of (text, background colour)."""

    def __init__(self) -> None:
        super().__init__()
        self.sheets: dict[str, list[list[tuple[str, str | None]]]] = {}
        self._sheet: str | None = None
        self._in_em = False
        self._cell: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "em":
            self._in_em = True
        elif tag == "tr" and self._sheet:
            self.sheets[self._sheet].append([])
        elif tag == "td" and self._sheet:
            self._cell = ["", attrs.get("bgcolor")]

    def handle_endtag(self, tag):
        if tag == "em":
            self._in_em = False
        elif tag == "td" and self._cell is not None and self._sheet:
            self.sheets[self._sheet][-1].append((self._cell[0].strip(), self._cell[1]))
            self._cell = None

    def handle_data(self, data):
        if self._in_em:
            self._sheet = data
            self.sheets[data] = []
        elif self._cell is not None:
            self._cell[0] += data


def test_libreoffice_opens_the_workbook_and_colours_coverage(workbook_en, expected, tmp_path):
    binary = require_binary("libreoffice")
    env = {**os.environ, "HOME": str(tmp_path)}
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    for target in ("pdf", "html"):
        result = subprocess.run(
            [
                binary,
                profile,
                "--headless",
                "--convert-to",
                target,
                "--outdir",
                str(tmp_path),
                str(workbook_en),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    pdf = tmp_path / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000

    parser = _Cells()
    parser.feed((tmp_path / "report.html").read_text(encoding="utf-8", errors="replace"))
    heat = parser.sheets["Heatmap"]
    colour = {"green": "#C6EFCE", "yellow": "#FFEB9C", "red": "#FFC7CE"}
    seen = set()
    for row in heat[1:]:
        uid = row[1][0]
        i = next(k for k, c in enumerate(expected.cameras) if c.uid == uid)
        for j, (_, bg) in enumerate(row[2:]):
            if not expected.has[i, j]:
                assert bg is None, "a day without data is not coloured"
                continue
            ratio = expected.stats.coverage_ratio[i, j]
            band = "green" if ratio >= 0.9 else "yellow" if ratio >= 0.5 else "red"
            assert bg == colour[band], (uid, j, ratio, bg)
            seen.add(band)
    assert seen == {"green", "yellow", "red"}
    mike = next(row for row in parser.sheets["Summary"] if row[1][0] == "cam-mike")
    assert mike[0][0] == 'Камера "Ворота" <1> & Co'


def test_daily_sheet_continues_on_new_sheets_at_the_row_limit(prom, workbook_en, tmp_path):
    path = tmp_path / "split.xlsx"
    # 31 rows a sheet: a header and 30 camera-days
    result = run_report(*report_args(prom.url, path, "--row-limit", "31"))
    assert result.returncode == 0, result.stderr
    split = openpyxl.load_workbook(path)
    full = rows(openpyxl.load_workbook(workbook_en)["Daily"])
    assert len(full) - 1 == 82
    assert split.sheetnames == [
        "TLDR",
        "Trend",
        "By data center",
        "Summary",
        "Daily",
        "Daily (2)",
        "Daily (3)",
        "Heatmap",
        "Problems",
    ]
    parts = [rows(split[name]) for name in ("Daily", "Daily (2)", "Daily (3)")]
    assert [len(p) - 1 for p in parts] == [30, 30, 22]
    assert all(p[0] == full[0] for p in parts)
    assert [row for p in parts for row in p[1:]] == full[1:], "nothing lost, nothing repeated"
    for name in ("Daily", "Daily (2)", "Daily (3)"):
        ws = split[name]
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:I{ws.max_row}"


async def test_fast_rows_write_the_same_workbook_as_the_public_api(prom, tmp_path):
    from reporter.data import fetch_report
    from reporter.figures import compute
    from reporter.period import report_days
    from reporter.prom import Prometheus
    from reporter.workbook import write_workbook

    days = report_days(h.AS_OF, h.TZ, h.DAYS)
    async with Prometheus(prom.url) as client:
        data = await fetch_report(client, days, h.AS_OF)
    fig = compute(data)
    paths = {}
    for fast in (True, False):
        paths[fast] = tmp_path / f"fast-{fast}.xlsx"
        write_workbook(
            str(paths[fast]), data, fig, lang="en", tz=h.TZ, source="x", row_limit=40, fast=fast
        )
    a, b = openpyxl.load_workbook(paths[True]), openpyxl.load_workbook(paths[False])
    assert a.sheetnames == b.sheetnames
    for name in a.sheetnames:
        cells_a = [(c.coordinate, c.value, c.number_format) for r in a[name].iter_rows() for c in r]
        cells_b = [(c.coordinate, c.value, c.number_format) for r in b[name].iter_rows() for c in r]
        assert cells_a == cells_b, name
        assert a[name].freeze_panes == b[name].freeze_panes
        fills_a = [c.fill.fgColor.rgb for r in a[name].iter_rows() for c in r]
        fills_b = [c.fill.fgColor.rgb for r in b[name].iter_rows() for c in r]
        assert fills_a == fills_b, name
        heights = [{k: d.ht for k, d in wb[name].row_dimensions.items()} for wb in (a, b)]
        assert heights[0] == heights[1], name


async def test_whole_ranges_are_read_only_where_the_last_hour_had_nothing(prom):
    """Live days are found in their last hour; backfilled days (one sample at the day's end) and
    the one camera not scraped in the report's last hour are read over the whole range."""
    from reporter.data import fetch_report
    from reporter.period import report_days
    from reporter.prom import Prometheus

    seen: list[str] = []
    days = report_days(h.AS_OF, h.TZ, h.DAYS)
    async with (
        serve_app(h.delaying_proxy(prom.url, seen=seen)) as proxy,
        Prometheus(proxy) as client,
    ):
        data = await fetch_report(client, days, h.AS_OF)
    recorded = [q for q in seen if "vigil_camera_archive_recorded_seconds" in q]
    short = [q for q in recorded if q.endswith("[3600s])")]
    assert len(short) == 4, "pass 1: one range query per run of equal days"
    whole = [q for q in recorded if q not in short]
    selector = 'vigil_camera_archive_recorded_seconds{window="yesterday"'
    # the backfilled days, every camera: the 24 h days before and after the 25-hour one
    assert f"last_over_time({selector}}}[86400s])" in whole
    assert f"last_over_time({selector}}}[90000s])" in whole
    # yesterday (read at 07:00, 7 h after its end): only cam-kilo was missing from the last hour
    assert f'last_over_time({selector},camera=~"cam-kilo"}}[25200001ms])' in whole
    assert not any("[25200001ms]" in q and "camera=~" not in q for q in whole)
    info = [q for q in seen if q.startswith("last_over_time(vigil_camera_info{")]
    assert info and all("cam-kilo" in q or "cam-lima" in q for q in info)
    kilo = data.uids.index("cam-kilo")
    assert data.info[kilo]["name"] == "Kilo"
    assert not np.isnan(data.daily["recorded"][kilo]).any()


# -- failures ----------------------------------------------------------------------------------


def assert_nothing_left(directory: Path) -> None:
    assert list(directory.iterdir()) == [], "no report and no partial file left behind"


def test_unreachable_prometheus_exits_1_and_names_it_without_credentials(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    password_file = tmp_path / "password"
    password_file.write_text(h.PASSWORD + "\n")
    port = free_port()
    url = f"http://admin:url-secret-77@127.0.0.1:{port}"
    result = run_report(*report_args(url, out / "r.xlsx", "--timeout", "5"))
    assert result.returncode == 1
    assert f"Prometheus at http://127.0.0.1:{port} is unreachable" in result.stderr
    assert "last_over_time(" in result.stderr, "the failing query is named"
    assert "no report written" in result.stderr
    assert "url-secret-77" not in result.stderr + result.stdout
    assert_nothing_left(out)

    result = run_report(
        *report_args(f"http://127.0.0.1:{port}", out / "r.xlsx"),
        "--user",
        h.USER,
        "--password-file",
        str(password_file),
    )
    assert result.returncode == 1
    assert h.PASSWORD not in result.stderr + result.stdout
    assert_nothing_left(out)


def test_a_query_error_exits_1_with_the_query(history, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _, blocks = history
    with h.prometheus(tmp_path / "limited", blocks, "--query.max-samples=3") as limited:
        result = run_report(*report_args(limited.url, out / "r.xlsx"))
    assert result.returncode == 1
    assert f"Prometheus at {limited.url}: query failed" in result.stderr
    assert "too many samples" in result.stderr
    assert "last_over_time(" in result.stderr
    assert_nothing_left(out)


def test_an_empty_prometheus_exits_1_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with h.prometheus(tmp_path / "empty", None) as empty:
        result = run_report(*report_args(empty.url, out / "r.xlsx"))
    assert result.returncode == 1
    assert "holds no daily archive figures between 2026-10-22 and 2026-10-28" in result.stderr
    assert 'vigil_camera_archive_recorded_seconds{window="yesterday"}' in result.stderr
    assert_nothing_left(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["--prometheus", "127.0.0.1:9090"], "expected an http:// or https:// URL"),
        (["--user", "u", "--password-file", "/nonexistent/pw"], "cannot read the password file"),
        (["--bearer-token-file", "/nonexistent/t", "--user", "u"], "either basic auth"),
        (["--days", "0"], "at least 1"),
        (["--lang", "de"], "invalid choice"),
        (["-o", "/nonexistent/dir/r.xlsx"], "directory /nonexistent/dir does not exist"),
        (["--at", "yesterday"], "expected ISO 8601"),
        (["--ca-file", "/nonexistent/ca.pem"], "--ca-file /nonexistent/ca.pem: No such file"),
        (["--ca-file", __file__], "--ca-file"),
        (["--insecure", "--ca-file", __file__], "contradict each other"),
    ],
)
def test_bad_usage_exits_2(args, message, tmp_path):
    base = ["--prometheus", f"http://127.0.0.1:{free_port()}", "-o", str(tmp_path / "r.xlsx")]
    result = run_report(*base, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_interrupted_while_querying_leaves_nothing(prom, tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    seen: list[str] = []
    gate = asyncio.Event()
    app = h.delaying_proxy(prom.url, 0, "vigil_camera_info", seen, gate)
    async with serve_app(app) as proxy:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "reporter",
            *report_args(proxy, out / "r.xlsx"),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        await eventually(lambda: any("vigil_camera_info" in q for q in seen), timeout=30)
        proc.send_signal(signum)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        gate.set()
    assert proc.returncode == 130, err.decode()
    assert "interrupted; no report written" in err.decode()
    assert_nothing_left(out)


def test_interrupted_while_writing_leaves_nothing(prom, tmp_path, monkeypatch):
    """Ctrl-C is a KeyboardInterrupt wherever the main thread is; here it lands in row 20,
    while XlsxWriter holds the rows in its temporary files."""
    import tempfile

    from reporter import cli, workbook

    out, tmp = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    real_row = workbook._Table.row
    written = []

    def row(self, values, **styling):
        written.append(values)
        if len(written) == 20:
            assert [p.name[:13] for p in tmp.iterdir()] == ["vigil-report-"]
            assert list(next(tmp.iterdir()).iterdir()), "the sheets' rows are on disk"
            raise KeyboardInterrupt
        real_row(self, values, **styling)

    monkeypatch.setattr(workbook._Table, "row", row)
    once, _ = cli.build_parsers()
    opts = cli.make_options(once.parse_args(report_args(prom.url, out / "r.xlsx")))
    with pytest.raises(KeyboardInterrupt):
        cli.make_report(opts, out / "r.xlsx")
    assert len(written) == 20
    assert_nothing_left(out)
    assert_nothing_left(tmp)


# -- authentication and TLS ----------------------------------------------------------------------


def test_basic_auth_and_tls(history, tmp_path):
    _, blocks = history
    cert, key = h.self_signed_cert(tmp_path)
    web = (
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"basic_auth_users:\n  {h.USER}: {h.PASSWORD_BCRYPT}\n"
    )
    password = tmp_path / "password"
    password.write_text(h.PASSWORD + "\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    out = tmp_path / "out"
    out.mkdir()
    auth = ["--user", h.USER, "--password-file", str(password)]
    with h.prometheus(tmp_path / "tls", blocks, web_config=web, ca_file=cert) as secured:
        assert secured.url.startswith("https://")
        ok = run_report(*report_args(secured.url, out / "ok.xlsx", *auth, "--ca-file", str(cert)))
        untrusted = run_report(*report_args(secured.url, out / "r.xlsx", *auth))
        refused = run_report(
            *report_args(
                secured.url,
                out / "r.xlsx",
                "--user",
                h.USER,
                "--password-file",
                str(wrong),
                "--ca-file",
                str(cert),
            )
        )
        insecure = run_report(*report_args(secured.url, out / "insecure.xlsx", *auth, "--insecure"))
    assert ok.returncode == 0, ok.stderr
    assert openpyxl.load_workbook(out / "ok.xlsx").sheetnames == EN_SHEETS
    assert untrusted.returncode == 1
    assert "TLS certificate verification failed" in untrusted.stderr
    assert refused.returncode == 1
    assert "refused the request (HTTP 401" in refused.stderr
    assert insecure.returncode == 0, insecure.stderr
    assert "TLS certificate verification is off (--insecure)" in insecure.stderr
    for result in (ok, untrusted, refused, insecure):
        assert h.PASSWORD not in result.stdout + result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["insecure.xlsx", "ok.xlsx"]


def test_progress_bar_on_a_terminal_and_log_lines_otherwise(prom, tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    # a terminal 120 columns wide (a fresh pty has none, and tqdm draws into the width)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reporter", *report_args(prom.url, tmp_path / "tty.xlsx")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
    finally:
        os.close(master)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, terminal
    assert "querying Prometheus: 100%|" in terminal and "writing workbook: 100%|" in terminal
    assert "\r" in terminal, "a bar redrawn in place"

    piped = run_report(*report_args(prom.url, tmp_path / "piped.xlsx"))
    assert piped.returncode == 0
    assert "%|" not in piped.stderr
    assert re.search(r"INFO vigil.report: querying Prometheus: (\d+)/\1 queries", piped.stderr)
    assert re.search(r"INFO vigil.report: writing workbook: (\d+)/\1 rows", piped.stderr)


def sharded_import(path, instance_of) -> bytes:
    """An OpenMetrics history file as VictoriaMetrics' Prometheus-text import takes it: every
    per-camera sample under the instance of the shard that owns the camera, times in ms."""
    camera = re.compile(r'camera="((?:[^"\\]|\\.)*)"')
    instance = re.compile(r'instance="((?:[^"\\]|\\.)*)"')
    out = []
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        series, value, moment = line.rsplit(" ", 2)
        if found := camera.search(series):
            owner = instance_of(found.group(1))
            series = instance.sub(lambda m, o=owner: f'instance="{o}-{m.group(1)}"', series)
        out.append(f"{series} {value} {int(float(moment) * 1000)}")
    return ("\n".join(out) + "\n").encode()


def test_victoria_metrics_with_two_shards_writes_the_same_workbook_as_one_prometheus(
    history, workbook_en, tmp_path
):
    """The global view of a sharded estate (docs/scaling.md): the same history, each camera's
    series written by the shard that owns it into VictoriaMetrics, gives the same workbook."""
    import urllib.parse
    import urllib.request

    from exporter.sharding import Shard
    from tests.victoria import victoria_metrics

    cameras, _ = history
    shards = Shard(0, 2)
    with victoria_metrics(tmp_path) as vm:
        (tmp_path / "history").mkdir()
        for path in h.build_openmetrics(cameras, tmp_path / "history"):
            body = sharded_import(path, lambda uid: f"shard-{shards.owner(uid)}")
            request = urllib.request.Request(f"{vm}/api/v1/import/prometheus", data=body)
            with urllib.request.urlopen(request, timeout=60) as resp:
                assert resp.status == 204
        with urllib.request.urlopen(f"{vm}/internal/force_flush", timeout=60):
            pass
        # both shards' series are there, every camera under exactly one shard
        query = urllib.parse.quote("count by (instance) (vigil_camera_online)")
        with urllib.request.urlopen(
            f"{vm}/api/v1/query?query={query}&time={h.LIVE_LATEST}", timeout=60
        ) as resp:
            per_shard = json.load(resp)["data"]["result"]
        assert len(per_shard) == 2
        output = tmp_path / "report.xlsx"
        result = run_report(*report_args(vm, output))
        assert result.returncode == 0, result.stderr
    a, b = openpyxl.load_workbook(workbook_en), openpyxl.load_workbook(output)
    assert a.sheetnames == b.sheetnames

    def cells(sheet, url):  # the source's URL is the one thing that may differ
        return [
            (c.coordinate, c.value.replace(url, "URL") if isinstance(c.value, str) else c.value)
            for r in sheet.iter_rows()
            for c in r
        ]

    prom_url = re.search(r"http://127\.0\.0\.1:\d+", str(rows(a["TLDR"]))).group(0)
    for name in a.sheetnames:
        cells_a, cells_b = cells(a[name], prom_url), cells(b[name], vm)
        differ = [(x, y) for x, y in zip(cells_a, cells_b, strict=False) if x != y]
        assert len(cells_a) == len(cells_b) and not differ, (name, differ[:10])


def test_a_disk_that_fills_up_exits_1_with_a_clear_message(prom, tmp_path):
    """No space for the workbook (a file size limit makes the writes fail, as a full disk
    does): exit 1, one line saying so, no traceback, nothing left behind."""
    import resource

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "reporter", *report_args(prom.url, out / "report.xlsx")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )
    assert result.returncode == 1, result.stderr
    assert "cannot write" in result.stderr and "no report written" in result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert_nothing_left(out)


async def test_a_disk_full_while_zipping_is_a_plain_os_error_and_nothing_complains_later(
    prom, tmp_path, monkeypatch
):
    """The workbook's zip is written last; a full disk there is xlsxwriter's FileCreateError,
    turned into the OSError the command line reports, and the half-written zip is closed."""
    import errno
    import gc
    import zipfile

    from reporter.data import fetch_report
    from reporter.figures import compute
    from reporter.period import report_days
    from reporter.prom import Prometheus
    from reporter.workbook import write_workbook

    days = report_days(h.AS_OF, h.TZ, h.DAYS)
    async with Prometheus(prom.url) as client:
        data = await fetch_report(client, days, h.AS_OF)

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full)
    monkeypatch.setattr(zipfile.ZipFile, "write", full)
    complaints = []
    monkeypatch.setattr(sys, "unraisablehook", complaints.append)
    with pytest.raises(OSError) as info:
        write_workbook(
            str(tmp_path / "r.xlsx"), data, compute(data), lang="en", tz=h.TZ, source="x"
        )
    assert type(info.value) is OSError and info.value.errno == errno.ENOSPC
    del info
    gc.collect()
    assert complaints == []
