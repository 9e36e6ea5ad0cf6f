"""The .xlsx workbook, streamed with XlsxWriter's constant-memory mode.

Rows go to disk as they are written, so memory does not grow with the fleet. Cells share one
format object per column, and the colours of the big sheets are conditional formats over whole
columns, not styles per cell: Excel and LibreOffice colour a 900,000-row sheet from a few rules.

Every sheet is set up for printing: A4 landscape, fitted to the page width, the header row
repeated on every page, the report's title and period in the page header, the sheet and page
number in the footer; TLDR fits on one page. Column widths come from the text they hold (see
`text_width`); longer names, addresses and reasons wrap in a taller row instead of being cut.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import re
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import xlsxwriter
import xlsxwriter.exceptions

from reporter import views
from reporter.data import INFO_FIELDS, ReportData
from reporter.figures import BANDS, LONG_GAP, SHALLOW, Figures, top
from reporter.i18n import TEXT, card_text, date_text, duration_text, reason_text
from reporter.period import previous_days

EXCEL_ROWS = 1_048_576  # rows per sheet in Excel, the header row included
EXCEL_EPOCH = date(1899, 12, 30)
TOP = 10
CHECK_EVERY = 2_000  # rows between looks at the stop flag and progress reports

GREEN = {"bg_color": "#C6EFCE", "font_color": "#006100"}
YELLOW = {"bg_color": "#FFEB9C", "font_color": "#9C5700"}
RED = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}
GOOD_FONT = {"font_color": "#006100"}
BAD_FONT = {"font_color": "#9C0006"}
HEADER = {
    "bold": True,
    "font_color": "#FFFFFF",
    "bg_color": "#1F4E78",
    "text_wrap": True,
    "valign": "top",
    "border": 1,
}
BAND_COLOURS = {
    "green": "#63BE7B",
    "yellow": "#FFD966",
    "red": "#F8696B",
    "no_archive": "#7F7F7F",
    "no_data": "#D9D9D9",
}
# report.py's thresholds for the colours users knew (a depth of days, a longest gap of seconds)
DEPTH_RED_DAYS = SHALLOW / 86400  # under 1 day
DEPTH_YELLOW_DAYS = 3.0
GAP_RED_S = LONG_GAP  # over 1 h
GAP_YELLOW_S = 300  # over 5 min

# -- how wide text is ---------------------------------------------------------------------------

# Advance widths of Calibri 11 (measured on Carlito, its metric twin) in units of the digit "0",
# the unit of Excel's column widths. Other characters count as 1.25 (2 for wide scripts).
_CHAR_WIDTHS = {
    0.4: " '",
    0.5: ",.:;Iijl·",
    0.6: "!()-J[]`f{}",
    0.7: "rtг°",
    0.8: '"/L\\cszГзст',
    0.9: "?FSZagkvxy|Завкухчьэя",
    1.0: "#$*+0123456789<=>EKPTXY^_bdehnopqu~ЕРТУХЬелопрёЁ–≥«»−±",
    1.1: "ABCRVАБВКСЧЭЯбдийнцъΔ",
    1.2: "DGHЛНПЪф",
    1.3: "&NOQUДИЙОЦмы",
    1.4: "%wФжшю",
    1.5: "Ыщ",
    1.6: "mЖ",
    1.7: "MМШЮ",
    1.8: "@WЩ—",
    2.0: "№",
}
_CHAR = {ch: w for w, chars in _CHAR_WIDTHS.items() for ch in chars}
PAGE_UNITS = 200  # column units on one A4 landscape page at about 75 % (fit to width)
LINE_PT = 15.0  # one line of Calibri 11, in points (Excel's default row height)
PAD = 1.0  # a cell's inner margins, in column units


@functools.lru_cache(maxsize=65_536)
def text_width(text: str, bold: bool = False) -> float:
    """The column width (Excel units) that shows `text` in Calibri 11 without cutting it."""
    units = sum(_CHAR.get(ch, 2.0 if ord(ch) >= 0x2E80 else 1.25) for ch in text)
    return units * (1.1 if bold else 1.06) + PAD


def wrap_lines(text: str, width: float, bold: bool = False) -> int:
    """Lines `text` takes in a wrapping cell `width` units wide (words are not split unless a
    single word is wider than the cell)."""
    lines = 0
    for paragraph in text.split("\n"):
        lines += 1
        used = 0.0
        for word in paragraph.split(" "):
            w = text_width(word, bold) - PAD
            space = text_width(" ", bold) - PAD if used else 0.0
            if used and used + space + w > width - PAD:
                lines += 1
                used = 0.0
                space = 0.0
            while w > width - PAD:  # a word longer than a line breaks anywhere
                lines += 1
                w -= width - PAD
            used += space + w
    return lines


def _up(width: float) -> float:
    """Round a width up to XlsxWriter's step (whole pixels, 1/7 of a unit), with a pixel to spare:
    a column never ends up narrower than computed."""
    return math.ceil(width * 7 + 1) / 7


def fit(texts, cap: float, floor: float = 6.0, bold: bool = False) -> float:
    """A column width for these texts: the widest, but at most `cap` (wider ones wrap)."""
    widest = max((text_width(t, bold) for t in texts if t), default=floor)
    return _up(min(max(widest, floor), cap))


def header_width(text: str, cap: float = 16.0) -> float:
    """The width a wrapping header wants: the whole header when it is short (up to `cap`),
    otherwise its longest word (the rest wraps)."""
    whole = text_width(text, bold=True)
    longest = max(text_width(word, bold=True) for word in text.split(" "))
    return _up(max(longest, whole if whole <= cap else 0.0))


def _col(n: int) -> str:
    return xlsxwriter.utility.xl_col_to_name(n)


def _escape_hf(text: str) -> str:
    """Text for a page header or footer: '&' starts a control code there."""
    return text.replace("&", "&&")


class Stopped(Exception):
    """The workbook was abandoned because the stop flag was set."""


@dataclass
class Column:
    header: str
    fmt: object  # the column's xlsxwriter Format
    width: float
    wrap: bool = False  # long text wraps (the row grows) instead of widening the column


class _Writer:
    def __init__(
        self,
        path: str,
        data: ReportData,
        fig: Figures,
        *,
        lang: str,
        tz: ZoneInfo,
        source: str,
        row_limit: int,
        progress: Callable[[int, int], None] | None,
        stop: threading.Event | None,
        fast: bool,
        tmpdir: str,
        prev: views.Compared | None,
    ) -> None:
        self.fast = fast
        self.data = data
        self.fig = fig
        self.prev = prev
        self.t = TEXT[lang]
        self.lang = lang
        self.tz = tz
        self.source = source
        self.row_limit = row_limit
        self.progress = progress
        self.stop = stop
        self.rows_done = 0
        self.daily_rows = int(fig.has_data.sum())
        n = len(data.uids)
        self.n_days = len(data.days)
        self.rows_total = self.daily_rows + 2 * n + int(sum(1 for r in fig.reasons if r))
        self.current = views.current(fig)
        self.avg_fragment = self.current["avg_fragment"]
        self.fleet = views.fleet_days(fig)
        self.days_with_data = views.days_with_any_data(fig)
        self.names = [info["name"] or uid for info, uid in zip(data.info, data.uids, strict=True)]
        self.cards = [card_text(lang, s) for s in data.card_state]
        self.wb = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": tmpdir})
        wb = self.wb
        self._formats: dict[tuple, object] = {}
        self.f_header = self.fmt(**HEADER)
        self.f_title = self.fmt(bold=True, font_size=16)
        self.f_section = self.fmt(bold=True, font_size=12, font_color="#1F4E78")
        self.f_label = self.fmt()
        self.f_warn = self.fmt(bold=True, font_color="#9C0006")
        self.f_note = self.fmt(italic=True, font_color="#595959")
        self.f_text = self.fmt(num_format="@", valign="top")  # Excel's Text format
        self.f_wrap = self.fmt(num_format="@", valign="top", text_wrap=True)
        self.f_pct = self.fmt(num_format="0.0%", valign="top")
        self.f_pct0 = self.fmt(num_format="0%", align="center")
        self.f_hours = self.fmt(num_format="0.00", valign="top")
        self.f_days = self.fmt(num_format="0.0", valign="top")
        self.f_int = self.fmt(num_format="0", valign="top")
        self.f_date = self.fmt(num_format=self.t["date_format"], valign="top", align="left")
        self.pp = " п.п." if lang == "ru" else " pp"
        self.f_d_pp = self.fmt(num_format=f'+0.0"{self.pp}";-0.0"{self.pp}";0.0"{self.pp}"')
        self.f_d_hours = self.fmt(num_format="+0.00;-0.00;0.00", valign="top")
        self.f_d_int = self.fmt(num_format="+0;-0;0", valign="top")
        self.f_green = wb.add_format(GREEN)
        self.f_yellow = wb.add_format(YELLOW)
        self.f_red = wb.add_format(RED)
        self.f_good = wb.add_format(GOOD_FONT)
        self.f_bad = wb.add_format(BAD_FONT)
        self.f_online = wb.add_format({**GREEN, "bold": True})
        self.f_offline = wb.add_format({**RED, "bold": True})
        first, last = (date_text(lang, d.date) for d in (data.days[0], data.days[-1]))
        self.period_text = self.t["period"].format(
            first=first, last=last, days=self.n_days, tz=self.tz.key
        )

    def fmt(self, **props):
        """One shared Format per distinct set of properties."""
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format(props)
        return self._formats[key]

    # -- helpers ---------------------------------------------------------------------------

    def _tick(self, rows: int = 1) -> None:
        self.rows_done += rows
        if self.rows_done % CHECK_EVERY < rows:
            if self.stop is not None and self.stop.is_set():
                raise Stopped()
            if self.progress:
                self.progress(self.rows_done, self.rows_total)

    def _page(self, ws, *, header_rows: int = 1, pages_wide: int = 1, pages_tall: int = 0):
        """A4 landscape fitted to `pages_wide` pages across, the header row on every page, the
        title and period on top, the sheet and page number below."""
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(pages_wide, pages_tall)
        ws.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.6)
        title, period = _escape_hf(self.t["title"]), _escape_hf(self.period_text)
        ws.set_header(f'&L&"-,Bold"{title}&R{period}', {"margin": 0.3})
        ws.set_footer(f"&L&A&R{self.t['page_of']}", {"margin": 0.3})
        if header_rows:
            ws.repeat_rows(0, header_rows - 1)

    def _header(self, ws, columns: Sequence[Column], row: int = 0) -> None:
        """Header row (wrapping, as tall as its longest header needs), widths, frozen."""
        lines = 1
        for col, c in enumerate(columns):
            ws.set_column(col, col, c.width, c.fmt)
            lines = max(lines, wrap_lines(c.header, c.width, bold=True))
        ws.set_row(row, LINE_PT * lines + 3)
        for col, c in enumerate(columns):
            ws.write_string(row, col, c.header, self.f_header)
        ws.freeze_panes(row + 1, 0)

    def _colour_coverage(self, ws, first_row: int, first_col: int, last_row: int, last_col: int):
        """Green >= 90 %, yellow 50-89 %, red < 50 %; blank cells (no data) stay uncoloured."""
        self._colour(
            ws,
            (first_row, first_col, last_row, last_col),
            [
                (">=", 0.9, self.f_green),
                ("between", (0.5, 0.9 - 1e-12), self.f_yellow),
                ("<", 0.5, self.f_red),
            ],
        )

    def _colour(self, ws, area, rules) -> None:
        """Conditional formats (criteria, value, format) over `area`, blank cells left alone."""
        first_row, first_col, last_row, _ = area
        if last_row < first_row:
            return
        cell = f"{_col(first_col)}{first_row + 1}"
        ws.conditional_format(
            *area, {"type": "formula", "criteria": f"=ISBLANK({cell})", "stop_if_true": True}
        )
        for criteria, value, fmt in rules:
            rule = {"type": "cell", "criteria": criteria, "format": fmt}
            if criteria == "between":
                rule["minimum"], rule["maximum"] = value
            else:
                rule["value"] = value
            ws.conditional_format(*area, rule)

    def _colour_change(self, ws, col: int, rows: int, higher_is_better: bool) -> None:
        good, bad = (self.f_good, self.f_bad) if higher_is_better else (self.f_bad, self.f_good)
        self._colour(ws, (1, col, rows, col), [(">", 0, good), ("<", 0, bad)])

    def _status(self, i: int) -> str:
        online = self.data.online[i]
        if np.isnan(online):
            return self.t["status_unknown_value"]
        return self.t["status_online"] if online == 1 else self.t["status_offline"]

    def _colour_status(self, ws, col: int, rows: int) -> None:
        area = (1, col, rows, col)
        for text, fmt in (
            (self.t["status_online"], self.f_online),
            (self.t["status_offline"], self.f_offline),
        ):
            ws.conditional_format(
                *area, {"type": "cell", "criteria": "==", "value": f'"{text}"', "format": fmt}
            )

    def _card_style(self, i: int, base) -> object | None:
        """The memory-card cell's colour: red for a problem, green for a working card."""
        if self.data.card_problem[i] == 1:
            return self._with(base, RED)
        if self.data.card_state[i] == "CardOK":
            return self._with(base, GREEN)
        return None

    def _with(self, base, extra: dict):
        return self.fmt(**_props(base), **extra)

    def _gap_colour(self, seconds: float) -> dict | None:
        if seconds > GAP_RED_S:
            return RED
        if seconds > GAP_YELLOW_S:
            return YELLOW
        return None

    def _band_colour(self, ratio: float) -> dict | None:
        if ratio != ratio:
            return None
        return GREEN if ratio >= 0.9 else YELLOW if ratio >= 0.5 else RED

    def _table(self, ws, columns: Sequence[Column], rows: int) -> _Table:
        """Header, widths, frozen header row, auto-filter and page setup; returns the writer of
        the rows."""
        self._header(ws, columns)
        ws.autofilter(0, 0, rows, len(columns) - 1)
        # a wide sheet (Summary with its changes) prints on pages side by side rather than
        # shrunk below legibility, each page starting with the camera's name and UID
        wide = math.ceil(sum(c.width for c in columns) / PAGE_UNITS)
        self._page(ws, pages_wide=wide)
        if wide > 1 and columns[0].header == self.t["col_name"]:
            ws.repeat_columns(0, 1)
        return _Table(
            ws,
            [c.fmt for c in columns],
            rows,
            fast=self.fast,
            wrap=[(k, c.width) for k, c in enumerate(columns) if c.wrap],
        )

    def _name_columns(self, cap_name: float = 40.0) -> list[Column]:
        t = self.t
        return [
            Column(
                t["col_name"],
                self.f_wrap,
                max(fit(self.names, cap_name), header_width(t["col_name"])),
                wrap=True,
            ),
            Column(t["col_uid"], self.f_text, fit(self.data.uids, 40)),
        ]

    def _info_column(self, key: str, field: str, cap: float) -> Column:
        values = [info[field] for info in self.data.info]
        width = max(fit(values, cap), header_width(self.t[key]))
        return Column(self.t[key], self.f_wrap, width, wrap=True)

    # -- sheets ----------------------------------------------------------------------------

    def write(self) -> None:
        t = self.t
        per_sheet = self.row_limit - 1
        n_daily = max(1, -(-self.daily_rows // per_sheet))
        tldr = self.wb.add_worksheet(t["sheet_tldr"])
        trend = self.wb.add_worksheet(t["sheet_trend"])
        centers = self.wb.add_worksheet(t["sheet_datacenters"])
        summary = self.wb.add_worksheet(t["sheet_summary"])
        dailies = [self.wb.add_worksheet(t["sheet_daily"])] + [
            self.wb.add_worksheet(f"{t['sheet_daily']} ({k})") for k in range(2, n_daily + 1)
        ]
        heatmap = self.wb.add_worksheet(t["sheet_heatmap"])
        problems = self.wb.add_worksheet(t["sheet_problems"])
        self._tldr(tldr)
        self._trend(trend)
        self._datacenters(centers)
        self._summary(summary)
        self._daily(dailies, per_sheet)
        self._heatmap(heatmap)
        self._problems(problems)

    # TLDR ----------------------------------------------------------------------------------

    def _top_tables(self) -> list[tuple[str, list[str], list[list[tuple[object, object]]]]]:
        """The three top-10 tables as (title, headers, rows of (value, format)) cells, with
        report.py's columns: name, address, data center, vendor, the value, its change and the
        two secondary figures."""
        t, data, fig, prev, lang = self.t, self.data, self.fig, self.prev, self.lang
        named = np.array([b in ("green", "yellow", "red") for b in fig.band], dtype=bool)
        identity = [t["rank"], t["col_name"], t["col_address"], t["col_datacenter"]]
        identity.append(t["col_vendor"])
        delta = t["col_value_change"]

        def pct(i):
            colour = self._band_colour(fig.coverage[i])
            fmt = self.fmt(num_format="0.0%", valign="top", **(colour or {}))
            return (float(_ratio(fig.coverage[i])), fmt)

        def gap(seconds):
            colour = self._gap_colour(seconds) or {}
            return (duration_text(lang, seconds), self.fmt(valign="top", align="right", **colour))

        def count(value):
            return (float(value), self.f_int) if value == value else ("", None)

        def change(i, key):
            if prev is None:
                return ("", None)
            diff = float(views.change(self.current[key][i], getattr(prev, key)[i]))
            if diff != diff:
                return ("", None)
            better = diff > 0 if key == "coverage" else diff < 0
            font = {"valign": "top", **((GOOD_FONT if better else BAD_FONT) if diff else {})}
            if key == "coverage":
                return (round(diff * 100, 6), self.fmt(num_format=self.f_d_pp.num_format, **font))
            if key in ("longest_gap", "gap_time"):
                return (duration_text(lang, diff, signed=True), self.fmt(align="right", **font))
            return (diff, self.fmt(num_format="+0;-0;0", **font))

        specs = (
            (
                "top_coverage",
                top(fig.coverage, TOP, False, named),
                [t["col_coverage"], delta, t["col_max_gap"], t["col_gaps"]],
                lambda i: [
                    pct(i),
                    change(i, "coverage"),
                    gap(fig.longest_gap[i]),
                    count(fig.gaps[i]),
                ],
            ),
            (
                "top_gaps",
                top(fig.gaps, TOP, True, fig.gaps > 0),
                [t["col_gaps"], delta, t["col_gap_time_text"], t["col_coverage"]],
                lambda i: [
                    count(fig.gaps[i]),
                    change(i, "gaps"),
                    gap(fig.gap_time[i]),
                    pct(i),
                ],
            ),
            (
                "top_longest",
                top(fig.longest_gap, TOP, True, fig.longest_gap > 0),
                [t["col_max_gap"], delta, t["col_gaps"], t["col_coverage"]],
                lambda i: [
                    gap(fig.longest_gap[i]),
                    change(i, "longest_gap"),
                    count(fig.gaps[i]),
                    pct(i),
                ],
            ),
        )
        out = []
        for key, picked, headers, values in specs:
            rows = []
            for rank, i in enumerate(picked, start=1):
                info = data.info[i]
                cells = [(f"{rank}.", self.f_text), (self.names[i], self.f_wrap)]
                cells += [(info["address"], self.f_wrap), (info["datacenter"], self.f_wrap)]
                cells += [(info["vendor"], self.f_wrap), *values(i)]
                rows.append(cells)
            out.append((t[key], identity + headers, rows))
        return out

    def _tldr(self, ws) -> None:
        t, data, fig, prev, lang = self.t, self.data, self.fig, self.prev, self.lang
        n = len(data.uids)
        bands = np.array(fig.band)
        with_archive = np.isin(bands, ("green", "yellow", "red"))
        avg = views.average_coverage(fig.coverage)
        missing = self.days_with_data < self.n_days
        avg_label = t["avg_coverage"]
        if missing:
            note = t["days_with_data_note"].format(have=self.days_with_data, total=self.n_days)
            avg_label = f"{avg_label} ({note})"
        avg_change = round((avg - prev.avg_coverage) * 100, 6) if prev is not None else float("nan")
        totals = [
            (t["cameras"], n, self.f_int, float("nan")),
            (t["online"], int((data.online == 1).sum()), self.f_int, float("nan")),
            (t["offline"], int((data.online == 0).sum()), self.f_int, float("nan")),
            (t["status_unknown"], int(np.isnan(data.online).sum()), self.f_int, float("nan")),
            (t["with_archive"], int(with_archive.sum()), self.f_int, float("nan")),
            (t["without_archive"], int((bands == "no_archive").sum()), self.f_int, float("nan")),
            (t["no_data_cameras"], int((bands == "no_data").sum()), self.f_int, float("nan")),
            (t["with_problems"], sum(1 for r in fig.reasons if r), self.f_int, float("nan")),
            (avg_label, _ratio(avg), self.f_pct, avg_change),
            (t["avg_depth"], _days(_nanmean(data.depth)), self.f_days, float("nan")),
        ]
        band_counts = {b: int((bands == b).sum()) for b in BANDS}
        tables = self._top_tables()

        # widths: A rank, B name (and the labels), C address, D data center, E vendor, F-I values
        labels = [label for label, *_ in totals] + [t[f"band_{b}"] for b in BANDS]
        columns_text: list[list[str]] = [[] for _ in range(9)]
        for _, _, rows in tables:
            for row in rows:
                for k, (value, _) in enumerate(row):
                    columns_text[k].append(value if isinstance(value, str) else "")
        widths = [4.0]
        widths.append(max(fit(columns_text[1], 40), fit(labels, 48), header_width(t["col_name"])))
        widths.append(max(fit(columns_text[2], 36), header_width(t["col_address"]), 11.0))
        for k, key in ((3, "col_datacenter"), (4, "col_vendor")):
            widths.append(max(fit(columns_text[k], 24), header_width(t[key]), 10.0))
        for k in range(5, 9):
            heads = [headers[k] for _, headers, _ in tables]
            widths.append(max(fit(columns_text[k], 20), *(header_width(h) for h in heads), 11.0))
        for col, width in enumerate(widths):
            ws.set_column(col, col, width)

        ws.write_string(0, 0, t["title"], self.f_title)
        ws.set_row(0, 24)
        ws.write_string(1, 0, self.period_text)
        ws.write_string(2, 0, self._previous_text(), self.f_note)
        when = datetime.fromtimestamp(data.as_of, self.tz)
        stamp = f"{date_text(lang, when)} {when:%H:%M}"
        ws.write_string(3, 0, t["generated"].format(when=stamp, tz=self.tz.key, source=self.source))

        row = 5
        ws.write_string(row, 1, t["totals"], self.f_section)
        if prev is not None:
            ws.write_string(row, 3, t["col_value_change"], self.f_note)
        for label, value, fmt, change in totals:
            row += 1
            warn = label == avg_label and missing
            ws.write_string(row, 1, label, self.f_warn if warn else self.f_label)
            if value == value:
                ws.write_number(row, 2, float(value), fmt)
            if change == change:
                colour = GOOD_FONT if change > 0 else BAD_FONT if change < 0 else {}
                ws.write_number(
                    row, 3, change, self.fmt(num_format=self.f_d_pp.num_format, **colour)
                )
        row += 2
        ws.write_string(row, 1, t["distribution"], self.f_section)
        row += 1
        heads = [t["band"], t["col_count"], t["share"]]
        if prev is not None:
            heads.append(t["col_value_change"])
        for k, head in enumerate(heads):
            ws.write_string(row, 1 + k, head, self.f_header)
        first_band_row = row + 1
        for band in BANDS:
            row += 1
            count = band_counts[band]
            ws.write_string(row, 1, t[f"band_{band}"], self.fmt(bg_color=BAND_COLOURS[band]))
            ws.write_number(row, 2, count, self.f_int)
            ws.write_number(row, 3, count / n if n else 0.0, self.f_pct)
            if prev is not None:
                ws.write_number(row, 4, count - prev.bands[band], self.f_d_int)
        last_band_row = row

        # the two charts right of the totals: quality distribution and the trend
        chart_px = int(sum(w * 7 + 5 for w in widths[5:9]))
        sheet = t["sheet_tldr"].replace("'", "''")
        bars = self.wb.add_chart({"type": "column"})
        bars.add_series(
            {
                "name": t["col_count"],
                "categories": f"='{sheet}'!$B${first_band_row + 1}:$B${last_band_row + 1}",
                "values": f"='{sheet}'!$C${first_band_row + 1}:$C${last_band_row + 1}",
                "points": [{"fill": {"color": BAND_COLOURS[b]}} for b in BANDS],
                "data_labels": {"value": True},
            }
        )
        bars.set_title({"name": t["chart_title"], "name_font": {"size": 11}})
        bars.set_legend({"none": True})
        bars.set_size({"width": chart_px, "height": 200})
        ws.insert_chart(5, 5, bars, {"y_offset": 2})
        trend = self._trend_chart(chart_px, 200)
        trend.set_size({"width": chart_px, "height": 200})
        ws.insert_chart(16, 5, trend, {"y_offset": 2})
        row = max(row, 26) + 2

        for title, headers, rows in tables:
            ws.write_string(row, 0, title, self.f_section)
            row += 1
            lines = max(wrap_lines(h, widths[k], bold=True) for k, h in enumerate(headers))
            ws.set_row(row, LINE_PT * lines + 3)
            for k, head in enumerate(headers):
                ws.write_string(row, k, head, self.f_header)
            for cells in rows:
                row += 1
                lines = max(
                    wrap_lines(v, widths[k]) if isinstance(v, str) and f is self.f_wrap else 1
                    for k, (v, f) in enumerate(cells)
                )
                ws.set_row(row, LINE_PT * lines)  # LibreOffice squeezes some rows otherwise
                for k, (value, fmt) in enumerate(cells):
                    if isinstance(value, str):
                        if value:
                            ws.write_string(row, k, value, fmt)
                    elif value == value:
                        ws.write_number(row, k, value, fmt)
            row += 2
        self._page(ws, header_rows=0, pages_wide=1, pages_tall=1)
        ws.print_area(0, 0, row, 8)

    def _previous_text(self) -> str:
        """Which period the changes (Δ) are against, or that there was none to compare with."""
        prev = self.prev
        days = prev.days if prev is not None else previous_days(self.data.days, self.tz)[0]
        first, last = (date_text(self.lang, d.date) for d in (days[0], days[-1]))
        return self.t["previous" if prev is not None else "no_previous"].format(
            first=first, last=last
        )

    def _trend_chart(self, width: int, height: int):
        """Fleet coverage per day as a line (the previous period's as a second one), read from
        the Trend sheet."""
        t = self.t
        sheet = t["sheet_trend"].replace("'", "''")
        last = self.n_days + 1
        chart = self.wb.add_chart({"type": "line"})
        chart.add_series(
            {
                "name": t["trend_current"],
                "categories": f"='{sheet}'!$A$2:$A${last}",
                "values": f"='{sheet}'!$B$2:$B${last}",
                "line": {"color": "#1F4E78", "width": 2.25},
                "marker": {"type": "circle", "size": 4},
            }
        )
        if self.prev is not None:
            chart.add_series(
                {
                    "name": t["trend_previous"],
                    "categories": f"='{sheet}'!$A$2:$A${last}",
                    "values": f"='{sheet}'!$F$2:$F${last}",
                    "line": {"color": "#A6A6A6", "width": 1.5, "dash_type": "dash"},
                }
            )
        chart.set_title({"name": t["trend_title"], "name_font": {"size": 11}})
        chart.set_y_axis({"num_format": "0%", "max": 1, "major_gridlines": {"visible": True}})
        chart.set_x_axis({"num_format": self.t["date_format"], "num_font": {"rotation": -45}})
        chart.set_legend({"position": "bottom"} if self.prev is not None else {"none": True})
        chart.show_blanks_as("gap")
        return chart

    # Trend ---------------------------------------------------------------------------------

    def _trend(self, ws) -> None:
        t, data, prev = self.t, self.data, self.prev
        n = len(data.uids)
        columns = [
            Column(t["col_date"], self.f_date, max(12.0, header_width(t["col_date"]))),
            Column(t["col_fleet_coverage"], self.f_pct, header_width(t["col_fleet_coverage"])),
            Column(t["col_cameras_with_data"], self.f_int, 14.0),
            Column(t["cameras"], self.f_int, max(9.0, header_width(t["cameras"]))),
        ]
        if prev is not None:
            columns.append(Column(t["col_previous_date"], self.f_date, 14.0))
            columns.append(Column(t["col_previous_coverage"], self.f_pct, 16.0))
        for c in columns:
            c.width = max(c.width, 11.0)
        rows = self.n_days
        table = self._table(ws, columns, rows)
        self._colour_coverage(ws, 1, 1, rows, 1)
        if prev is not None:
            self._colour_coverage(ws, 1, 5, rows, 5)
        for j, day in enumerate(data.days):
            values = [
                float((day.date - EXCEL_EPOCH).days),
                float(_ratio(self.fleet.coverage[j])),
                float(self.fleet.cameras[j]),
                float(n),
            ]
            if prev is not None:
                values.append(float((prev.days[j].date - EXCEL_EPOCH).days))
                values.append(float(_ratio(prev.fleet.coverage[j])))
            table.row(values)
        table.close()
        chart = self._trend_chart(760, 380)
        chart.set_size({"width": 760, "height": 380})
        ws.insert_chart(0, len(columns) + 1, chart)
        span = sum(c.width for c in columns)
        ws.set_row(rows + 2, LINE_PT * wrap_lines(t["trend_note"], span))
        note = self.fmt(italic=True, font_color="#595959", text_wrap=True, valign="top")
        ws.merge_range(rows + 2, 0, rows + 2, len(columns) - 1, t["trend_note"], note)

    # By data center ------------------------------------------------------------------------

    def _datacenters(self, ws) -> None:
        t, prev = self.t, self.prev
        rows, total = views.by_datacenter(self.data, self.fig, prev)
        names = [r.name or t["dc_none"] for r in rows] + [t["dc_all"]]
        keys = ["col_count", "col_online", "col_offline", "col_status_unknown"]
        keys += [f"col_band_{b}" for b in BANDS] + ["col_problems", "col_avg_coverage"]
        columns = [Column(t["col_datacenter"], self.f_wrap, fit(names, 40, 14.0), wrap=True)]
        for key in keys:
            fmt = self.f_pct if key == "col_avg_coverage" else self.f_int
            columns.append(Column(t[key], fmt, max(header_width(t[key]), 9.0)))
        if prev is not None:
            columns.append(Column(t["col_coverage_change"], self.f_d_pp, 11.0))
        days_header = t["col_days_of"].format(days=self.n_days)
        columns.append(Column(days_header, self.f_int, max(header_width(days_header), 9.0)))
        table = self._table(ws, columns, len(rows) + 1)
        cov_col = 1 + len(keys) - 1
        self._colour_coverage(ws, 1, cov_col, len(rows) + 1, cov_col)
        if prev is not None:
            self._colour_change(ws, cov_col + 1, len(rows) + 1, higher_is_better=True)
        self._colour(
            ws,
            (1, len(columns) - 1, len(rows) + 1, len(columns) - 1),
            [("<", self.n_days, self.f_yellow)],
        )
        bold = self.fmt(bold=True, valign="top", num_format="@", text_wrap=True)
        for k, r in enumerate([*rows, total]):
            values: list = [names[k], r.cameras, r.online, r.offline, r.unknown]
            values += [r.bands[b] for b in BANDS] + [r.problems, float(_ratio(r.avg_coverage))]
            if prev is not None:
                values.append(float(np.round((r.avg_coverage - r.prev_avg_coverage) * 100, 6)))
            values.append(r.days_with_data)
            styles = {0: bold} if r is total else None
            table.row(values, styles=styles, height=self._height(names[k], columns[0].width))
        table.close()

    @staticmethod
    def _height(text: str, width: float) -> float | None:
        lines = wrap_lines(text, width) if text else 1
        return LINE_PT * lines if lines > 1 else None

    # Summary -------------------------------------------------------------------------------

    def _summary(self, ws) -> None:
        t, data, fig, prev = self.t, self.data, self.fig, self.prev
        delta = t["col_value_change"]
        name_cols = self._name_columns()
        info_cols = [
            Column(t["col_sn"], self.f_text, max(fit([i["sn"] for i in data.info], 30), 9.0)),
            self._info_column("col_vendor", "vendor", 20),
            self._info_column("col_model", "model", 24),
            self._info_column("col_address", "address", 45),
            self._info_column("col_datacenter", "datacenter", 24),
        ]
        statuses = [t["status_online"], t["status_offline"], t["status_unknown_value"]]
        columns = name_cols + info_cols
        columns.append(Column(t["col_status"], self.f_text, fit([*statuses, t["col_status"]], 20)))
        columns.append(
            Column(
                t["col_card"],
                self.f_wrap,
                max(fit(self.cards, 24), header_width(t["col_card"]), 10.0),
                wrap=True,
            )
        )
        columns.append(Column(t["col_depth"], self.f_days, 9.0))
        columns.append(Column(t["col_days_of"].format(days=self.n_days), self.f_int, 9.0))
        figures = [
            ("recorded", "col_recorded", self.f_hours, self.f_d_hours, True),
            ("coverage", "col_coverage", self.f_pct, self.f_d_pp, True),
            ("fragments", "col_fragments", self.f_int, self.f_d_int, None),
            ("avg_fragment", "col_avg_fragment", self.f_hours, self.f_d_hours, None),
            ("gaps", "col_gaps", self.f_int, self.f_d_int, False),
            ("longest_gap", "col_longest", self.f_hours, self.f_d_hours, False),
            ("gap_time", "col_gap_time", self.f_hours, self.f_d_hours, False),
        ]
        first_figure = len(columns)
        positions = {}
        for key, header, fmt, dfmt, _ in figures:
            positions[key] = len(columns)
            columns.append(Column(t[header], fmt, 10.0))
            if prev is not None:
                columns.append(Column(f"{delta} {t[header]}", dfmt, 10.0))
        for c in columns[first_figure - 2 :]:
            c.width = max(c.width, header_width(c.header))
        n = len(data.uids)
        table = self._table(ws, columns, n)
        status_col = len(name_cols) + len(info_cols)
        self._colour_status(ws, status_col, n)
        depth_col, days_col = status_col + 2, status_col + 3
        self._colour(
            ws,
            (1, depth_col, n, depth_col),
            [("<", DEPTH_RED_DAYS, self.f_red), ("<", DEPTH_YELLOW_DAYS, self.f_yellow)],
        )
        self._colour(ws, (1, days_col, n, days_col), [("<", self.n_days, self.f_yellow)])
        cov = positions["coverage"]
        self._colour_coverage(ws, 1, cov, n, cov)
        longest = positions["longest_gap"]
        self._colour(
            ws,
            (1, longest, n, longest),
            [(">", GAP_RED_S / 3600, self.f_red), (">", GAP_YELLOW_S / 3600, self.f_yellow)],
        )
        if prev is not None:
            for key, _, _, _, better in figures:
                if better is not None:
                    self._colour_change(ws, positions[key] + 1, n, higher_is_better=better)
        scale = {
            "recorded": _hours,
            "coverage": _ratio,
            "fragments": np.asarray,
            "avg_fragment": _hours,
            "gaps": np.asarray,
            "longest_gap": _hours,
            "gap_time": _hours,
        }
        change_scale = {**scale, "coverage": lambda v: np.round(np.asarray(v) * 100, 6)}
        per_camera = []
        for key, *_ in figures:
            per_camera.append(scale[key](self.current[key]).tolist())
            if prev is not None:
                diff = views.change(self.current[key], getattr(prev, key))
                per_camera.append(change_scale[key](diff).tolist())
        depth = _days(data.depth).tolist()
        days_with = fig.days_with_data.tolist()
        card_col = status_col + 1
        wrap_cols = [(k, c.width) for k, c in enumerate(columns) if c.wrap]
        for i, uid in enumerate(data.uids):
            info = data.info[i]
            text = [self.names[i], uid, *(info[f] for f in INFO_FIELDS[1:])]
            text += [self._status(i), self.cards[i]]
            numbers = [depth[i], days_with[i], *(column[i] for column in per_camera)]
            values = text + numbers
            style = self._card_style(i, self.f_wrap)
            table.row(
                values,
                styles={card_col: style} if style is not None else None,
                height=_row_height(values, wrap_cols),
            )
            self._tick()
        table.close()

    # Daily ---------------------------------------------------------------------------------

    def _daily(self, sheets: list, per_sheet: int) -> None:
        t, data, fig = self.t, self.data, self.fig
        columns = self._name_columns()
        columns.append(Column(t["col_date"], self.f_date, 11.5))
        for key, fmt in (
            ("col_recorded", self.f_hours),
            ("col_coverage", self.f_pct),
            ("col_fragments", self.f_int),
            ("col_gaps", self.f_int),
            ("col_longest", self.f_hours),
            ("col_gap_time", self.f_hours),
        ):
            columns.append(Column(t[key], fmt, max(10.0, header_width(t[key]))))
        tables = []
        remaining = self.daily_rows
        for ws in sheets:
            rows = min(per_sheet, remaining)
            tables.append(self._table(ws, columns, rows))
            self._colour_coverage(ws, 1, 4, rows, 4)
            self._colour(
                ws,
                (1, 7, rows, 7),
                [(">", GAP_RED_S / 3600, self.f_red), (">", GAP_YELLOW_S / 3600, self.f_yellow)],
            )
            remaining -= rows
        serial = [(d.date - EXCEL_EPOCH).days for d in data.days]
        daily = data.daily
        sheet_no = 0
        table = tables[0]
        name_width = columns[0].width
        for i, uid in enumerate(data.uids):
            cols = np.flatnonzero(fig.has_data[i])
            if not len(cols):
                continue
            name = self.names[i]
            height = self._height(name, name_width)
            values = zip(
                cols.tolist(),
                _hours(daily["recorded"][i, cols]).tolist(),
                _ratio(fig.coverage_daily[i, cols]).tolist(),
                daily["fragments"][i, cols].tolist(),
                daily["gaps"][i, cols].tolist(),
                _hours(daily["longest_gap"][i, cols]).tolist(),
                _hours(daily["gap_time"][i, cols]).tolist(),
                strict=True,
            )
            for col, *figures in values:
                if table.full:
                    table.close()
                    sheet_no += 1
                    table = tables[sheet_no]
                table.row([name, uid, serial[col], *figures], height=height)
            self._tick(len(cols))
        table.close()

    # Heatmap -------------------------------------------------------------------------------

    def _heatmap(self, ws) -> None:
        t, data, fig = self.t, self.data, self.fig
        n, n_days = len(data.uids), len(data.days)
        name_cols = self._name_columns(cap_name=32)
        for col, c in enumerate(name_cols):
            ws.set_column(col, col, c.width, c.fmt)
        ws.set_column(2, 1 + n_days, 5.5, self.f_pct0)
        rotated = self.fmt(**HEADER, num_format=t["date_format"], rotation=90, align="center")
        ws.set_row(0, 66)
        for col, c in enumerate(name_cols):
            ws.write_string(0, col, c.header, self.f_header)
        for j, day in enumerate(data.days):
            ws.write_number(0, 2 + j, (day.date - EXCEL_EPOCH).days, rotated)
        ws.freeze_panes(1, 2)
        ws.autofilter(0, 0, n, 1 + n_days)
        self._colour_coverage(ws, 1, 2, n, 1 + n_days)
        # up to a month fits the width of one page; longer periods continue on pages to the
        # right, each starting with the camera's name
        self._page(ws, pages_wide=max(1, math.ceil(n_days / 31)))
        if n_days > 31:
            ws.repeat_columns(0)
        formats = [c.fmt for c in name_cols] + [self.f_pct0] * n_days
        table = _Table(ws, formats, n, fast=self.fast, wrap=[(0, name_cols[0].width)])
        for i, uid in enumerate(data.uids):
            values = [self.names[i], uid, *_ratio(fig.coverage_daily[i]).tolist()]
            table.row(values, height=self._height(self.names[i], name_cols[0].width))
            self._tick()
        table.close()

    # Problems ------------------------------------------------------------------------------

    def _problems(self, ws) -> None:
        t, data, fig, lang = self.t, self.data, self.fig, self.lang
        picked = [i for i, reasons in enumerate(fig.reasons) if reasons]
        # most reasons first, then the worst coverage; stable, so report order breaks ties
        picked.sort(
            key=lambda i: (
                -len(fig.reasons[i]),
                fig.coverage[i] if fig.coverage[i] == fig.coverage[i] else -1.0,
            )
        )
        reasons = {i: "; ".join(reason_text(lang, c, v) for c, v in fig.reasons[i]) for i in picked}
        gaps = {i: duration_text(lang, fig.longest_gap[i]) for i in picked}
        statuses = [t["status_online"], t["status_offline"], t["status_unknown_value"]]
        f_reason = self.fmt(num_format="@", valign="top", text_wrap=True, **RED)
        columns = [
            *self._name_columns(),
            self._info_column("col_vendor", "vendor", 20),
            self._info_column("col_model", "model", 24),
            self._info_column("col_address", "address", 45),
            self._info_column("col_datacenter", "datacenter", 24),
            Column(t["col_status"], self.f_text, fit([*statuses, t["col_status"]], 20)),
            Column(t["col_coverage"], self.f_pct, max(10.0, header_width(t["col_coverage"]))),
            Column(
                t["col_max_gap"],
                self.f_text,
                max(fit(gaps.values(), 20), header_width(t["col_max_gap"]), 10.0),
            ),
            Column(t["col_depth"], self.f_days, max(9.0, header_width(t["col_depth"]))),
            Column(t["col_reasons"], f_reason, fit(reasons.values(), 60, 20.0), wrap=True),
        ]
        table = self._table(ws, columns, len(picked))
        self._colour_status(ws, 6, len(picked))
        self._colour_coverage(ws, 1, 7, len(picked), 7)
        self._colour(
            ws,
            (1, 9, len(picked), 9),
            [("<", DEPTH_RED_DAYS, self.f_red), ("<", DEPTH_YELLOW_DAYS, self.f_yellow)],
        )
        wrap_cols = [(k, c.width) for k, c in enumerate(columns) if c.wrap]
        for i in picked:
            info = data.info[i]
            values = [
                self.names[i],
                data.uids[i],
                info["vendor"],
                info["model"],
                info["address"],
                info["datacenter"],
                self._status(i),
                float(_ratio(fig.coverage[i])),
                gaps[i],
                float(_days(data.depth[i])),
                reasons[i],
            ]
            colour = self._gap_colour(fig.longest_gap[i])
            styles = {8: self._with(self.f_text, colour)} if colour else None
            table.row(values, styles=styles, height=_row_height(values, wrap_cols))
            self._tick()
        table.close()


def _props(fmt) -> dict:
    """The properties a Format was made with (for a variant with a colour added)."""
    out = {}
    if fmt.num_format:
        out["num_format"] = fmt.num_format
    if fmt.text_wrap:
        out["text_wrap"] = True
    if fmt.text_v_align == 1:
        out["valign"] = "top"
    return out


def _row_height(values: list, wrap_cols: list[tuple[int, float]]) -> float | None:
    lines = 1
    for col, width in wrap_cols:
        value = values[col]
        if value:
            lines = max(lines, wrap_lines(value, width))
    return LINE_PT * lines if lines > 1 else None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_ESCAPED_CONTROL = re.compile(r"(_x[0-9a-fA-F]{4}_)")


@functools.lru_cache(maxsize=65_536)  # names and uids repeat on every day of a camera
def _inline_string(text: str) -> str:
    """The XML of a text cell's content as XlsxWriter writes it in constant-memory mode."""
    text = _ESCAPED_CONTROL.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f"<is><t{space}>{text}</t></is>"


class _Table:
    """Writes the data rows (1..rows) of a constant-memory worksheet, one list of values a row.

    A column whose format is Excel's Text format ("@") takes str ('' is a blank cell); the others
    take numbers (NaN or None is a blank cell). XlsxWriter's cell
    API costs about 6 us a cell in bookkeeping; the fast path renders each row's XML in one
    string and appends it to the worksheet's row stream, as XlsxWriter itself does in this
    mode. It relies on XlsxWriter internals, so it is used only when they are present; the
    public API gives the same workbook otherwise (tests compare the two).
    """

    BATCH = 2_000

    def __init__(
        self,
        ws,
        formats: list,
        rows: int,
        *,
        fast: bool,
        wrap: list[tuple[int, float]] | None = None,
    ) -> None:
        self.ws = ws
        self.formats = formats
        self.rows = rows
        self.written = 0
        self.fast = fast and _fast_path_available(ws)
        self.text = [fmt.num_format == "@" for fmt in formats]
        if self.fast and rows:
            letters = [xlsxwriter.utility.xl_col_to_name(c) for c in range(len(formats))]
            self.cells = [
                (letter, f' s="{fmt._get_xf_index()}"', text)
                for letter, fmt, text in zip(letters, formats, self.text, strict=True)
            ]
            ws._check_dimensions(rows, len(formats) - 1)
            ws._write_single_row(1)  # flushes the header row; row 1 is next
            self.buffer: list[str] = []

    @property
    def full(self) -> bool:
        return self.written >= self.rows

    def row(self, values: list, styles: dict | None = None, height: float | None = None) -> None:
        """One row; `styles` gives some cells a format of their own (column -> Format),
        `height` the row's height in points (wrapped text)."""
        if self.written >= self.rows:
            raise IndexError("more rows than announced")
        self.written += 1
        r = self.written
        if not self.fast:
            ws = self.ws
            if height is not None:
                ws.set_row(r, height)
            formats = self.formats
            if styles:
                formats = [styles.get(k, f) for k, f in enumerate(formats)]
            for col, (value, fmt, text) in enumerate(zip(values, formats, self.text, strict=True)):
                if text:
                    if value:
                        ws.write_string(r, col, value, fmt)
                elif value is not None and value == value:
                    ws.write_number(r, col, value, fmt)
            return
        r1 = r + 1
        cells = self.cells
        if styles:
            cells = [
                (letter, f' s="{styles[k]._get_xf_index()}"', text) if k in styles else cell
                for k, (letter, style, text) in enumerate(cells)
                for cell in [(letter, style, text)]
            ]
        parts = [
            f'<row r="{r1}" ht="{height:g}" customHeight="1">' if height else f'<row r="{r1}">'
        ]
        for (letter, style, text), value in zip(cells, values, strict=True):
            if text:
                if value:
                    parts.append(
                        f'<c r="{letter}{r1}"{style} t="inlineStr">{_inline_string(value)}</c>'
                    )
            elif value is not None and value == value:
                parts.append(f'<c r="{letter}{r1}"{style}><v>{value:.16G}</v></c>')
        parts.append("</row>")
        self.buffer.append("".join(parts))
        if len(self.buffer) >= self.BATCH:
            self.ws.fh.write("".join(self.buffer))
            self.buffer.clear()

    def close(self) -> None:
        if self.written != self.rows:
            raise AssertionError(f"{self.written} rows written, {self.rows} announced")
        if self.fast and self.rows:
            self.ws.fh.write("".join(self.buffer))
            self.buffer.clear()
            self.ws.previous_row = self.rows + 1


def _fast_path_available(ws) -> bool:
    return (
        getattr(ws, "constant_memory", False)
        and getattr(ws, "previous_row", None) == 0
        and all(
            callable(getattr(ws, name, None)) for name in ("_check_dimensions", "_write_single_row")
        )
        and hasattr(ws, "fh")
    )


# Cells hold hours and days to a millionth and ratios to a billionth: far below what the
# figures mean, and numbers like 23.833333 instead of 23.833333333333332 in every cell.
def _hours(seconds):
    return np.round(np.asarray(seconds, dtype=np.float64) / 3600, 6)


def _days(seconds):
    return np.round(np.asarray(seconds, dtype=np.float64) / 86400, 6)


def _ratio(values):
    return np.round(np.asarray(values, dtype=np.float64), 9)


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def close_workbook(wb: xlsxwriter.Workbook) -> None:
    """Write the workbook's zip; a full disk or a read-only directory is a plain OSError (the
    caller's clean "cannot write" and exit 1), not xlsxwriter's own exception, and the half-written
    zip is closed here rather than complaining later from its finaliser."""
    try:
        wb.close()
    except xlsxwriter.exceptions.FileCreateError as exc:
        failure: BaseException | None = exc
        while failure is not None:  # the zip is a local of the frame that met the disk error
            tb = failure.__traceback__
            while tb is not None:
                for value in list(tb.tb_frame.f_locals.values()):
                    if isinstance(value, zipfile.ZipFile):
                        with contextlib.suppress(OSError):
                            value.close()
                tb = tb.tb_next
            failure = failure.__context__
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else None
        if cause is not None:
            raise OSError(cause.errno, cause.strerror, cause.filename) from None
        raise OSError(errno.EIO, str(exc)) from None


def write_workbook(
    path: str,
    data: ReportData,
    fig: Figures,
    *,
    lang: str,
    tz: ZoneInfo,
    source: str,
    row_limit: int = EXCEL_ROWS,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    fast: bool = True,
    prev: views.Compared | None = None,
) -> None:
    """Write the workbook to `path` (the caller renames it into place).

    `prev`: the previous period's figures (views.compare) for the changes; None leaves the
    change columns out. `fast=False` writes every cell through XlsxWriter's public API (slower,
    same workbook).
    """
    # XlsxWriter keeps each sheet's rows in temporary files until close(); a private directory
    # makes sure none survives a failure or Ctrl-C
    with tempfile.TemporaryDirectory(prefix="vigil-report-") as tmpdir:
        writer = _Writer(
            path,
            data,
            fig,
            lang=lang,
            tz=tz,
            source=source,
            row_limit=row_limit,
            progress=progress,
            stop=stop,
            fast=fast,
            tmpdir=tmpdir,
            prev=prev,
        )
        try:
            writer.write()
        except BaseException:
            writer.wb.fileclosed = True  # no zip of a workbook that is thrown away
            for ws in writer.wb.worksheets():
                handle = getattr(ws, "row_data_fh", None)  # the constant-memory row file
                if handle is not None:
                    handle.close()
            raise
        close_workbook(writer.wb)
    if progress:
        progress(writer.rows_total, writer.rows_total)
