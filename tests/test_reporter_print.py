"""The workbook as a manager sees it: printed (LibreOffice to PDF), compared with the period before.

A fleet of 60 cameras in four data centers (one camera with none), two weeks of history written
through the backfill's own writer (`exporter.backfill.write_openmetrics`) and `promtool`, served
by a real Prometheus. The report covers the second week; the first is its previous period. Long
Russian names and addresses make columns wrap. The workbooks (English and Russian) are converted
to PDF by LibreOffice inside the test and read back with pdftotext; the column widths are checked
against the text measured in the font LibreOffice prints with.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from exporter.analysis.archive import FleetArchive, analyse, calendar_days
from exporter.backfill import write_openmetrics
from exporter.sources.rt_api.payloads import Camera
from tests.conftest import require_binary
from tests.fixtures import reporter_history as h
from tests.test_reporter import run_report

TZ = ZoneInfo("Europe/Moscow")
AS_OF = int(datetime(2026, 11, 16, 7, 0, tzinfo=TZ).timestamp())
HISTORY = calendar_days(AS_OF, TZ, 15)[:-1]  # 2026-11-02 .. 2026-11-15
LABELS = {"job": "vigil", "instance": "localhost:9830"}
DCS = ["DC-Moscow-North", "ЦОД Санкт-Петербург, Васильевский остров", "DC-Kazan", ""]
LONG_NAME = "Камера подъезд 3, этаж 12, лестничная площадка у грузового лифта"
LONG_ADDRESS = (
    "Российская Федерация, г. Санкт-Петербург, Васильевский остров, 12-я линия В.О., "
    "дом 45, корпус 2, литера А, помещение 17-Н"
)
EN_SHEETS = ["TLDR", "Trend", "By data center", "Summary", "Daily", "Heatmap", "Problems"]
RU_SHEETS = ["Кратко", "Динамика", "По ЦОД", "Сводка", "По дням", "Тепловая карта", "Проблемы"]
CARDS = ["CardOK", "CardOK", "CardNotFound", "CardOK", "CardError", "CardOK"]


def _fleet() -> tuple[list[Camera], list[list[tuple[int, int]]]]:
    rng = np.random.default_rng(16)
    start, end = HISTORY[0].start, HISTORY[-1].end
    week2 = HISTORY[7].start
    cameras, fragments = [], []
    for k in range(60):
        uid = f"cam-{k:02d}"
        name = LONG_NAME if k == 7 else f"Camera {k:02d} {'east gate' if k % 2 else 'yard'}"
        address = LONG_ADDRESS if k == 7 else f"Moscow, Tverskaya street {k + 1}"
        online = None if k % 17 == 5 else (0 if k % 9 == 4 else 1)
        cameras.append(
            Camera(
                uid=uid,
                name=name,
                sn=f"SN{k:06d}",
                vendor="Hikvision" if k % 3 else "Dahua Technology",
                model="DS-2CD2143G2-IU" if k % 3 else "IPC-HDW2431T",
                datacenter=DCS[k % 4] if k != 11 else "",
                address=address,
                online=None if online is None else bool(online),
                card_state=CARDS[k % len(CARDS)],
            )
        )
        pieces = []
        t = start
        while t < end:
            # cameras 0-9 record worse in the second week, 10-19 better
            worse = (k < 10 and t >= week2) or (10 <= k < 20 and t < week2)
            loss = 0.25 if worse else 0.02
            length = int(rng.integers(1800, 7200))
            if rng.random() > loss:
                pieces.append((t, min(t + length, end)))
            t += length + int(rng.integers(0, 120))
        if k == 3:
            outage = (HISTORY[9].start + 5 * 3600, HISTORY[12].start + 5 * 3600)
            pieces = [p for p in pieces if p[1] <= outage[0] or p[0] >= outage[1]]
        if k == 42:  # no archive at all
            pieces = []
        fragments.append(pieces)
    return cameras, fragments


def _openmetrics(cameras: list[Camera], fragments) -> str:
    per_camera = [
        (np.array([s for s, _ in f], dtype=np.int64), np.array([e for _, e in f], dtype=np.int64))
        for f in fragments
    ]
    stats = analyse(FleetArchive.from_lists(per_camera), AS_OF, HISTORY, h.GAP_THRESHOLD)
    out = io.StringIO()
    uids = [c.uid for c in cameras]
    write_openmetrics(out, uids, stats, LABELS, now=AS_OF, cameras={c.uid: c for c in cameras})
    text = out.getvalue().removesuffix("# EOF\n")
    # what the backfill does not write: the latest status and memory card, from the live exporter
    ends = [d.end for d in HISTORY]
    lines = ["# HELP vigil_camera_online test", "# TYPE vigil_camera_online gauge"]
    for c in cameras:
        if c.online is not None:
            lines += [f'vigil_camera_online{{camera="{c.uid}"}} {int(c.online)} {e}' for e in ends]
    lines += ["# HELP vigil_camera_memory_card_problem test"]
    lines += ["# TYPE vigil_camera_memory_card_problem gauge"]
    for c in cameras:
        problem = int(bool(c.card_problem))
        lines += [
            f'vigil_camera_memory_card_problem{{camera="{c.uid}"}} {problem} {e}' for e in ends
        ]
    lines += ["# HELP vigil_camera_memory_card_state test"]
    lines += ["# TYPE vigil_camera_memory_card_state gauge"]
    for c in cameras:
        label = f'camera="{c.uid}",state="{c.card_state}"'
        lines += [f"vigil_camera_memory_card_state{{{label}}} 1 {e}" for e in ends]
    return text + "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def fleet():
    return _fleet()


@pytest.fixture(scope="module")
def prom(fleet, tmp_path_factory):
    directory = tmp_path_factory.mktemp("print-history")
    source = directory / "history.om"
    source.write_text(_openmetrics(*fleet))
    blocks = directory / "blocks"
    result = subprocess.run(
        [
            require_binary("promtool"),
            *("tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(blocks)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with h.prometheus(directory / "prometheus", blocks) as running:
        yield running


def report(prom, path: Path, *extra: str, days: int = 7, at: str = "2026-11-16T07:00") -> Path:
    result = run_report(
        "--prometheus", prom.url, "--days", str(days), "--tz", TZ.key, "--at", at,
        "-o", str(path), *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return path


def to_pdf(xlsx: Path, workdir: Path) -> Path:
    binary = require_binary("soffice")
    result = subprocess.run(
        [binary, f"-env:UserInstallation=file://{workdir / 'lo-profile'}", "--headless",
         "--convert-to", "pdf", "--outdir", str(xlsx.parent), str(xlsx)],
        capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(workdir)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    pdf = xlsx.with_suffix(".pdf")
    assert pdf.exists(), result.stdout + result.stderr
    return pdf


def pdf_pages(pdf: Path) -> list[str]:
    result = subprocess.run(
        [require_binary("pdftotext"), "-layout", str(pdf), "-"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.split("\f")[:-1]


@pytest.fixture(scope="module")
def workbooks(prom, tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """The report in both languages: the workbook and its printed pages' text."""
    out = {}
    for lang in ("en", "ru"):
        directory = tmp_path_factory.mktemp(f"print-{lang}")
        xlsx = report(prom, directory / f"report-{lang}.xlsx", "--lang", lang)
        out[lang] = (xlsx, pdf_pages(to_pdf(xlsx, directory)))
    return out


@pytest.fixture(params=["en", "ru"])
def printed(request, workbooks):
    return request.param, *workbooks[request.param]


@pytest.fixture(scope="module")
def previous_week(prom, tmp_path_factory):
    """The report of the week before, as it was made then: the base of every change."""
    path = tmp_path_factory.mktemp("prev") / "previous.xlsx"
    return openpyxl.load_workbook(report(prom, path, at="2026-11-09T07:00"))


def rows(ws) -> list[tuple]:
    return list(ws.iter_rows(values_only=True))


# -- printing ------------------------------------------------------------------------------------


def sheet_of(page: str) -> str:
    """The sheet a printed page belongs to: the footer names it ("Summary ... Page 2 of 9")."""
    footer = [line for line in page.splitlines() if line.strip()][-1]
    match = re.match(r"\s*(.+?)\s{2,}(Page|Стр\.) \d+ (of|из) \d+\s*$", footer)
    assert match, footer
    return match.group(1)


def test_tldr_prints_on_one_page_and_every_page_repeats_its_header_row(printed):
    lang, xlsx, pages = printed
    names = RU_SHEETS if lang == "ru" else EN_SHEETS
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == names
    by_sheet: dict[str, list[str]] = {}
    for page in pages:
        by_sheet.setdefault(sheet_of(page), []).append(page)
    assert list(by_sheet) == names, "every sheet prints, in order"
    assert len(by_sheet[names[0]]) == 1, "TLDR is one page"
    assert len(by_sheet[names[4]]) > 1, "Daily spans pages"
    total = len(pages)
    title = "Качество архива камер" if lang == "ru" else "Camera archive quality"
    period = "09.11.2026 – 15.11.2026" if lang == "ru" else "2026-11-09 – 2026-11-15"
    for number, page in enumerate(pages, start=1):
        top = page.strip().splitlines()[0]
        assert title in top and period in top, f"page {number}: header {top!r}"
        word = "Стр." if lang == "ru" else "Page"
        assert re.search(rf"{word} {number} (of|из) {total}\s*$", page.rstrip()), number
    for name in names[1:]:
        header = [c for c in rows(wb[name])[0] if isinstance(c, str)]
        first_word = header[0].split()[0]
        for page in by_sheet[name]:
            body = page.strip().splitlines()[1:4]  # the header row comes right after the page top
            assert any(first_word in line for line in body), (name, body)
            if name in (names[3], names[4], names[6]):  # the UID column's header too
                assert any("UID" in line for line in body), (name, body)


def test_pdftotext_finds_the_tldr_figures(printed, fleet):
    lang, xlsx, pages = printed
    tldr = pages[0]
    wb = openpyxl.load_workbook(xlsx)
    cells = [c for row in rows(wb.worksheets[0]) for c in row if c is not None]
    avg = next(
        row[2]
        for row in rows(wb.worksheets[0])
        if isinstance(row[1], str) and row[1].startswith(("Average coverage", "Среднее покрытие"))
    )
    shown = f"{avg * 100:.1f}%"
    # LibreOffice shows numbers in its own locale: a decimal point or comma
    assert shown in tldr or shown.replace(".", ",") in tldr
    assert "60" in tldr  # cameras
    # the top of the longest gaps: the camera that lost three days, in days and hours
    table = rows(wb.worksheets[0])
    title = "Топ-10: самый длинный разрыв" if lang == "ru" else "Top 10: longest gap"
    first = table[next(k for k, r in enumerate(table) if r[0] == title) + 2]
    assert first[1] == "Camera 03 east gate"
    unit = r"\d+ дн \d+ ч" if lang == "ru" else r"\d+ d \d+ h"
    assert re.fullmatch(unit, first[5]), first
    # (pdftotext may drop the spaces of right-aligned text: compared without them)
    assert re.search(rf"Camera03eastgate.*{first[5].replace(' ', '')}", re.sub(r"[ \t]", "", tldr))
    # the data center of a listed camera is printed next to it
    assert any(dc and dc.split(",")[0] in tldr for dc in DCS)
    assert "CardNotFound" not in " ".join(pages) and "CardError" not in " ".join(pages)
    no_card = "нет карты" if lang == "ru" else "no card"
    assert any(no_card in page for page in pages), "the card state in words"
    assert cells


# -- no text is cut ------------------------------------------------------------------------------


class Fonts:
    """Text measured in the font LibreOffice prints Calibri with (fc-match), at 96 dpi."""

    def __init__(self) -> None:
        from PIL import ImageFont

        self.fonts = {}
        for bold in (False, True):
            pattern = "Calibri:bold" if bold else "Calibri"
            path = subprocess.run(
                [require_binary("fc-match"), "-f", "%{file}", pattern],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            self.fonts[bold] = (path, ImageFont)

    def width_px(self, text: str, size_pt: float, bold: bool) -> float:
        path, module = self.fonts[bold]
        font = module.truetype(path, round(size_pt * 96 / 72 * 8))
        return font.getlength(text) / 8


def column_px(ws, col: int) -> float:
    """Excel's width in pixels: width units of the digit of Calibri 11 (7 px) plus 5 px."""
    letter = get_column_letter(col)
    for key, dim in ws.column_dimensions.items():
        if dim.min and dim.max and dim.min <= col <= dim.max:
            return int(dim.width * 7 + 5) if dim.width else 64
        if key == letter and dim.width:
            return int(dim.width * 7 + 5)
    return 64


def shown(value, number_format: str) -> str:
    """A number as its format shows it (the formats the workbook uses)."""
    fmt = number_format.split(";")[0]
    suffix = re.search(r'"([^"]*)"', fmt)
    suffix = suffix.group(1) if suffix else ""
    sign = "+" if fmt.startswith("+") else ""
    if "%" in fmt:
        decimals = len(fmt.split(".")[1].rstrip("%")) if "." in fmt else 0
        return f"{sign}{value * 100:.{decimals}f}%"
    core = re.sub(r'"[^"]*"', "", fmt).lstrip("+")
    if core in ("yyyy-mm-dd", "dd.mm.yyyy"):
        return "2026-11-15"
    decimals = len(core.split(".")[1]) if "." in core else 0
    return f"{sign}{abs(value):.{decimals}f}{suffix}"


def test_no_cell_text_is_cut(printed):
    _, xlsx, _ = printed
    fonts = Fonts()
    wb = openpyxl.load_workbook(xlsx)
    checked = 0
    for ws in wb.worksheets:
        merged = {(r.min_row, r.min_col): r for r in ws.merged_cells.ranges}
        heights = {i: d.ht for i, d in ws.row_dimensions.items() if d.ht}
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None or (
                    cell.coordinate in ws.merged_cells and ((cell.row, cell.column) not in merged)
                ):
                    continue
                font = cell.font
                size = font.sz or 11
                if isinstance(cell.value, str):
                    text = cell.value
                elif isinstance(cell.value, int | float):
                    text = shown(cell.value, cell.number_format)
                else:  # a date
                    text = "2026-11-15"
                need = fonts.width_px(text, size, bool(font.b)) + 4
                span = merged.get((cell.row, cell.column))
                cols = range(span.min_col, span.max_col + 1) if span else [cell.column]
                width = sum(column_px(ws, c) for c in cols)
                height_pt = heights.get(cell.row, 15.0)
                where = f"{ws.title}!{cell.coordinate} {text!r}"
                if cell.alignment.textRotation == 90:
                    assert need <= height_pt * 96 / 72, where
                elif cell.alignment.wrap_text:
                    lines = wrapped_lines(text, width - 4, fonts, size, bool(font.b))
                    assert lines * 15 <= height_pt + 3, f"{where}: {lines} lines"
                elif isinstance(cell.value, str) and cell.alignment.horizontal in (None, "left"):
                    # left-aligned text runs on into empty cells to its right
                    c = cell.column + 1
                    while need > width and ws.cell(cell.row, c).value is None and c < 60:
                        width += column_px(ws, c)
                        c += 1
                    assert need <= width, where
                else:
                    assert need <= width, where
                checked += 1
    assert checked > 1000


def wrapped_lines(text: str, width: float, fonts: Fonts, size: float, bold: bool) -> int:
    lines, line = 1, ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if fonts.width_px(candidate, size, bold) <= width or not line:
            line = candidate
        else:
            lines += 1
            line = word
    return lines


# -- trend, data centers, changes ----------------------------------------------------------------


def test_trend_is_the_fleet_coverage_per_day_with_a_line_chart(workbooks):
    xlsx, _ = workbooks["en"]
    wb = openpyxl.load_workbook(xlsx)
    daily = rows(wb["Daily"])[1:]
    trend = rows(wb["Trend"])
    assert trend[0][:4] == ("Date", "Fleet coverage", "Cameras with data", "Cameras")
    days = [r for r in trend[1:8]]
    assert len(days) == 7
    for day in days:
        same_day = [r[4] for r in daily if r[2] == day[0]]
        assert day[2] == len(same_day)
        assert day[1] == pytest.approx(np.mean(same_day), abs=1e-8)
        assert day[3] == 60
        # the previous period's day, a week before
        assert (day[0] - day[4]).days == 7 and day[5] is not None
    with zipfile.ZipFile(xlsx) as archive:
        charts = [archive.read(n).decode() for n in archive.namelist() if "charts/chart" in n]
    assert sum("<c:lineChart>" in c for c in charts) == 2, "on the Trend sheet and on TLDR"


def test_by_data_center_counts_its_cameras(printed):
    lang, xlsx, _ = printed
    wb = openpyxl.load_workbook(xlsx)
    table = rows(wb.worksheets[2])
    summary = rows(wb.worksheets[3])
    head = summary[0]
    status_col = head.index("Status" if lang == "en" else "Статус")
    dc_col = head.index("Data center" if lang == "en" else "ЦОД")
    none = "(no data center)" if lang == "en" else "(ЦОД не указан)"
    every = "All data centers" if lang == "en" else "Все ЦОД"
    names = [r[0] for r in table[1:]]
    assert names == ["DC-Kazan", "DC-Moscow-North", DCS[1], none, every]
    online = "online" if lang == "en" else "онлайн"
    for row in table[1:]:
        mine = [r for r in summary[1:] if (r[dc_col] or none) == row[0] or row[0] == every]
        assert row[1] == len(mine), row[0]
        assert row[2] == sum(r[status_col] == online for r in mine), row[0]
        assert sum(row[5:10]) == row[1], "the bands add up to the cameras"
    assert table[-1][1] == 60


def test_every_figure_has_its_change_against_the_previous_period(workbooks, previous_week):
    xlsx, _ = workbooks["en"]
    now = rows(openpyxl.load_workbook(xlsx)["Summary"])
    before = {r[1]: r for r in rows(previous_week["Summary"])[1:]}
    head = now[0]
    changes = [k for k, h_ in enumerate(head) if h_.startswith("Δ ")]
    assert [head[k] for k in changes] == [
        "Δ Recorded (h)", "Δ Coverage", "Δ Fragments", "Δ Avg fragment (h)", "Δ Gaps",
        "Δ Longest gap (h)", "Δ Gap time (h)",
    ]  # fmt: skip
    prev_head = rows(previous_week["Summary"])[0]
    worse = 0
    for row in now[1:]:
        old = before[row[1]]
        for k in changes:
            figure = head[k - 1]
            if old[prev_head.index(figure)] is None or row[k - 1] is None:
                assert row[k] is None
                continue
            diff = row[k - 1] - old[prev_head.index(figure)]
            expected = diff * 100 if figure == "Coverage" else diff
            assert row[k] == pytest.approx(expected, abs=1e-5), (row[1], figure)
        worse += row[changes[1]] < -10
    assert worse >= 9, "the cameras that lost a quarter of their recording this week"


def test_averages_over_missing_days_say_so(prom, tmp_path):
    path = report(prom, tmp_path / "month.xlsx", days=30)
    wb = openpyxl.load_workbook(path)
    labels = [r[1] for r in rows(wb["TLDR"]) if isinstance(r[1], str)]
    assert "Average coverage (days with data: 14 of 30)" in labels
    head = rows(wb["Summary"])[0]
    assert "Days with data (of 30)" in head
    assert not [c for c in head if c.startswith("Δ")], "no previous period: no change columns"
    trend = rows(wb["Trend"])
    assert sum(1 for r in trend[1:31] if r[1] is None) == 16, "days without data stay blank"
