"""The .xlsx workbook, streamed with XlsxWriter's constant-memory mode.

Rows go to disk as they are written, so memory does not grow with the fleet. Cells share one
format object per column, and the green/yellow/red colours are conditional formats over whole
columns, not styles per cell: Excel and LibreOffice colour a 900,000-row sheet from three rules.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import re
import tempfile
import threading
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import xlsxwriter
import xlsxwriter.exceptions

from reporter.data import INFO_FIELDS, ReportData
from reporter.figures import BANDS, Figures, top
from reporter.i18n import TEXT, reason_text

EXCEL_ROWS = 1_048_576  # rows per sheet in Excel, the header row included
EXCEL_EPOCH = date(1899, 12, 30)
TOP = 10
CHECK_EVERY = 2_000  # rows between looks at the stop flag and progress reports

GREEN = {"bg_color": "#C6EFCE", "font_color": "#006100"}
YELLOW = {"bg_color": "#FFEB9C", "font_color": "#9C5700"}
RED = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}
BAND_COLOURS = {
    "green": "#63BE7B",
    "yellow": "#FFD966",
    "red": "#F8696B",
    "no_archive": "#7F7F7F",
    "no_data": "#D9D9D9",
}


class Stopped(Exception):
    """The workbook was abandoned because the stop flag was set."""


def _col(n: int) -> str:
    return xlsxwriter.utility.xl_col_to_name(n)


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
    ) -> None:
        self.fast = fast
        self.data = data
        self.fig = fig
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
        self.rows_total = self.daily_rows + 2 * n + int(sum(1 for r in fig.reasons if r))
        self.wb = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": tmpdir})
        wb = self.wb
        self.f_header = wb.add_format(
            {
                "bold": True,
                "font_color": "#FFFFFF",
                "bg_color": "#1F4E78",
                "text_wrap": True,
                "valign": "top",
                "border": 1,
            }
        )
        self.f_title = wb.add_format({"bold": True, "font_size": 16})
        self.f_section = wb.add_format({"bold": True, "font_size": 12})
        self.f_text = wb.add_format({"num_format": "@"})  # Excel's Text format
        self.f_pct = wb.add_format({"num_format": "0.0%"})
        self.f_pct0 = wb.add_format({"num_format": "0%", "align": "center"})
        self.f_hours = wb.add_format({"num_format": "0.00"})
        self.f_days = wb.add_format({"num_format": "0.0"})
        self.f_int = wb.add_format({"num_format": "0"})
        self.f_date = wb.add_format({"num_format": self.t["date_format"]})
        self.f_date_header = wb.add_format(
            {
                "bold": True,
                "font_color": "#FFFFFF",
                "bg_color": "#1F4E78",
                "num_format": self.t["day_format"],
                "align": "center",
                "border": 1,
            }
        )
        self.f_green = wb.add_format(GREEN)
        self.f_yellow = wb.add_format(YELLOW)
        self.f_red = wb.add_format(RED)

    # -- helpers ---------------------------------------------------------------------------

    def _tick(self, rows: int = 1) -> None:
        self.rows_done += rows
        if self.rows_done % CHECK_EVERY < rows:
            if self.stop is not None and self.stop.is_set():
                raise Stopped()
            if self.progress:
                self.progress(self.rows_done, self.rows_total)

    def _header(self, ws, columns: list[tuple[str, float, object]]) -> None:
        """Header row of (text key, width, column format) columns, frozen."""
        for col, (key, width, fmt) in enumerate(columns):
            ws.set_column(col, col, width, fmt)
            ws.write_string(0, col, self.t[key], self.f_header)
        ws.set_row(0, 30)
        ws.freeze_panes(1, 0)

    def _colour_coverage(self, ws, first_row: int, first_col: int, last_row: int, last_col: int):
        """Green >= 90 %, yellow 50-89 %, red < 50 %; blank cells (no data) stay uncoloured."""
        if last_row < first_row:
            return
        cell = f"{_col(first_col)}{first_row + 1}"
        area = (first_row, first_col, last_row, last_col)
        ws.conditional_format(
            *area, {"type": "formula", "criteria": f"=ISBLANK({cell})", "stop_if_true": True}
        )
        ws.conditional_format(
            *area,
            {"type": "cell", "criteria": ">=", "value": 0.9, "format": self.f_green},
        )
        ws.conditional_format(
            *area,
            {
                "type": "cell",
                "criteria": "between",
                "minimum": 0.5,
                "maximum": 0.9 - 1e-12,
                "format": self.f_yellow,
            },
        )
        ws.conditional_format(
            *area, {"type": "cell", "criteria": "<", "value": 0.5, "format": self.f_red}
        )

    def _status(self, i: int) -> str:
        online = self.data.online[i]
        if np.isnan(online):
            return self.t["status_unknown_value"]
        return self.t["status_online"] if online == 1 else self.t["status_offline"]

    def _num(self, ws, row: int, col: int, value: float, fmt) -> None:
        if value == value:  # not NaN: no data stays a blank cell
            ws.write_number(row, col, value, fmt)

    # -- sheets ----------------------------------------------------------------------------

    def write(self) -> None:
        t = self.t
        per_sheet = self.row_limit - 1
        n_daily = max(1, -(-self.daily_rows // per_sheet))
        tldr = self.wb.add_worksheet(t["sheet_tldr"])
        summary = self.wb.add_worksheet(t["sheet_summary"])
        dailies = [self.wb.add_worksheet(t["sheet_daily"])] + [
            self.wb.add_worksheet(f"{t['sheet_daily']} ({k})") for k in range(2, n_daily + 1)
        ]
        heatmap = self.wb.add_worksheet(t["sheet_heatmap"])
        problems = self.wb.add_worksheet(t["sheet_problems"])
        self._tldr(tldr)
        self._summary(summary)
        self._daily(dailies, per_sheet)
        self._heatmap(heatmap)
        self._problems(problems)

    def _tldr(self, ws) -> None:
        t, data, fig = self.t, self.data, self.fig
        n = len(data.uids)
        days = data.days
        ws.set_column(0, 0, 44)
        ws.set_column(1, 1, 40)
        ws.set_column(2, 3, 16)
        ws.write_string(0, 0, t["title"], self.f_title)
        ws.write_string(
            1,
            0,
            t["period"].format(
                first=days[0].date.isoformat(),
                last=days[-1].date.isoformat(),
                days=len(days),
                tz=self.tz.key,
            ),
        )
        when = datetime.fromtimestamp(data.as_of, self.tz).strftime("%Y-%m-%d %H:%M")
        ws.write_string(2, 0, t["generated"].format(when=when, tz=self.tz.key, source=self.source))
        row = 4
        ws.write_string(row, 0, t["totals"], self.f_section)
        bands = np.array(fig.band)
        with_archive = np.isin(bands, ("green", "yellow", "red"))
        totals = [
            ("cameras", n, self.f_int),
            ("online", int((data.online == 1).sum()), self.f_int),
            ("offline", int((data.online == 0).sum()), self.f_int),
            ("status_unknown", int(np.isnan(data.online).sum()), self.f_int),
            ("with_archive", int(with_archive.sum()), self.f_int),
            ("without_archive", int((bands == "no_archive").sum()), self.f_int),
            ("no_data_cameras", int((bands == "no_data").sum()), self.f_int),
            ("with_problems", sum(1 for r in fig.reasons if r), self.f_int),
            ("avg_coverage", _ratio(_nanmean(fig.coverage)), self.f_pct),
            ("avg_depth", _days(_nanmean(data.depth)), self.f_days),
        ]
        for key, value, fmt in totals:
            row += 1
            ws.write_string(row, 0, t[key])
            self._num(ws, row, 1, float(value), fmt)

        row += 2
        ws.write_string(row, 0, t["distribution"], self.f_section)
        row += 1
        for col, key in enumerate(("band", "col_count", "share")):
            ws.write_string(row, col, t[key], self.f_header)
        first_band_row = row + 1
        for band in BANDS:
            row += 1
            count = int((bands == band).sum())
            ws.write_string(row, 0, t[f"band_{band}"])
            ws.write_number(row, 1, count, self.f_int)
            ws.write_number(row, 2, count / n if n else 0.0, self.f_pct)
        chart = self.wb.add_chart({"type": "column"})
        sheet = self.t["sheet_tldr"].replace("'", "''")
        chart.add_series(
            {
                "name": t["col_count"],
                "categories": f"='{sheet}'!$A${first_band_row + 1}:$A${row + 1}",
                "values": f"='{sheet}'!$B${first_band_row + 1}:$B${row + 1}",
                "points": [{"fill": {"color": BAND_COLOURS[b]}} for b in BANDS],
                "data_labels": {"value": True},
            }
        )
        chart.set_title({"name": t["chart_title"]})
        chart.set_legend({"none": True})
        chart.set_size({"width": 480, "height": 288})
        ws.insert_chart(4, 4, chart)

        named = np.array([b in ("green", "yellow", "red") for b in fig.band], dtype=bool)
        tables = (
            (
                "top_coverage",
                top(fig.coverage, TOP, False, named),
                _ratio(fig.coverage),
                self.f_pct,
            ),
            ("top_gaps", top(fig.gaps, TOP, True, fig.gaps > 0), fig.gaps, self.f_int),
            (
                "top_longest",
                top(fig.longest_gap, TOP, True, fig.longest_gap > 0),
                _hours(fig.longest_gap),
                self.f_hours,
            ),
        )
        row = max(row, 4 + 16) + 2  # below the chart
        value_header = {"top_coverage": "col_coverage", "top_gaps": "col_gaps"}
        for key, picked, values, fmt in tables:
            ws.write_string(row, 0, t[key], self.f_section)
            row += 1
            headers = (t["col_name"], t["col_uid"], t[value_header.get(key, "col_longest")])
            ws.write_string(row, 0, f"{t['rank']}  {headers[0]}", self.f_header)
            ws.write_string(row, 1, headers[1], self.f_header)
            ws.write_string(row, 2, headers[2], self.f_header)
            for rank, i in enumerate(picked, start=1):
                row += 1
                ws.write_string(row, 0, f"{rank}. {data.info[i]['name'] or data.uids[i]}")
                ws.write_string(row, 1, data.uids[i])
                ws.write_number(row, 2, float(values[i]), fmt)
            row += 2

    def _summary(self, ws) -> None:
        data, fig = self.data, self.fig
        columns = [
            ("col_name", 30, self.f_text),
            ("col_uid", 24, self.f_text),
            ("col_sn", 16, self.f_text),
            ("col_vendor", 14, self.f_text),
            ("col_model", 16, self.f_text),
            ("col_address", 36, self.f_text),
            ("col_datacenter", 14, self.f_text),
            ("col_status", 11, self.f_text),
            ("col_card", 14, self.f_text),
            ("col_depth", 10, self.f_days),
            ("col_days", 10, self.f_int),
            ("col_recorded", 11, self.f_hours),
            ("col_coverage", 10, self.f_pct),
            ("col_fragments", 11, self.f_int),
            ("col_gaps", 9, self.f_int),
            ("col_longest", 12, self.f_hours),
            ("col_gap_time", 11, self.f_hours),
        ]
        n = len(data.uids)
        table = self._table(ws, columns, n)
        self._colour_coverage(ws, 1, 12, n, 12)
        numbers = zip(
            _days(data.depth).tolist(),
            fig.days_with_data.tolist(),
            _hours(fig.recorded).tolist(),
            _ratio(fig.coverage).tolist(),
            fig.fragments.tolist(),
            fig.gaps.tolist(),
            _hours(fig.longest_gap).tolist(),
            _hours(fig.gap_time).tolist(),
            strict=True,
        )
        for i, (uid, figures) in enumerate(zip(data.uids, numbers, strict=True)):
            info = data.info[i]
            fields = [info[f] for f in INFO_FIELDS[1:]]
            table.row([info["name"], uid, *fields, self._status(i), data.card_state[i], *figures])
            self._tick()
        table.close()

    def _daily(self, sheets: list, per_sheet: int) -> None:
        data, fig = self.data, self.fig
        columns = [
            ("col_name", 30, self.f_text),
            ("col_uid", 24, self.f_text),
            ("col_date", 11, self.f_date),
            ("col_recorded", 11, self.f_hours),
            ("col_coverage", 10, self.f_pct),
            ("col_fragments", 11, self.f_int),
            ("col_gaps", 9, self.f_int),
            ("col_longest", 12, self.f_hours),
            ("col_gap_time", 11, self.f_hours),
        ]
        tables = []
        remaining = self.daily_rows
        for ws in sheets:
            rows = min(per_sheet, remaining)
            tables.append(self._table(ws, columns, rows))
            self._colour_coverage(ws, 1, 4, rows, 4)
            remaining -= rows
        serial = [(d.date - EXCEL_EPOCH).days for d in data.days]
        daily = data.daily
        sheet_no = 0
        table = tables[0]
        for i, uid in enumerate(data.uids):
            cols = np.flatnonzero(fig.has_data[i])
            if not len(cols):
                continue
            name = data.info[i]["name"]
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
                table.row([name, uid, serial[col], *figures])
            self._tick(len(cols))
        table.close()

    def _heatmap(self, ws) -> None:
        t, data, fig = self.t, self.data, self.fig
        n, n_days = len(data.uids), len(data.days)
        ws.set_column(0, 0, 30)
        ws.set_column(1, 1, 24)
        ws.set_column(2, 1 + n_days, 6, self.f_pct0)
        ws.write_string(0, 0, t["col_name"], self.f_header)
        ws.write_string(0, 1, t["col_uid"], self.f_header)
        for j, day in enumerate(data.days):
            ws.write_number(0, 2 + j, (day.date - EXCEL_EPOCH).days, self.f_date_header)
        ws.freeze_panes(1, 2)
        ws.autofilter(0, 0, n, 1 + n_days)
        self._colour_coverage(ws, 1, 2, n, 1 + n_days)
        formats = [self.f_text, self.f_text] + [self.f_pct0] * n_days
        table = _Table(ws, formats, n, fast=self.fast)
        for i, uid in enumerate(data.uids):
            table.row([data.info[i]["name"], uid, *_ratio(fig.coverage_daily[i]).tolist()])
            self._tick()
        table.close()

    def _problems(self, ws) -> None:
        data, fig = self.data, self.fig
        columns = [
            ("col_name", 30, self.f_text),
            ("col_uid", 24, self.f_text),
            ("col_address", 36, self.f_text),
            ("col_status", 11, self.f_text),
            ("col_coverage", 10, self.f_pct),
            ("col_longest", 12, self.f_hours),
            ("col_depth", 10, self.f_days),
            ("col_reasons", 70, self.f_text),
        ]
        picked = [i for i, reasons in enumerate(fig.reasons) if reasons]
        # most reasons first, then the worst coverage; stable, so report order breaks ties
        picked.sort(
            key=lambda i: (
                -len(fig.reasons[i]),
                fig.coverage[i] if fig.coverage[i] == fig.coverage[i] else -1.0,
            )
        )
        table = self._table(ws, columns, len(picked))
        self._colour_coverage(ws, 1, 4, len(picked), 4)
        for i in picked:
            table.row(
                [
                    data.info[i]["name"],
                    data.uids[i],
                    data.info[i]["address"],
                    self._status(i),
                    float(_ratio(fig.coverage[i])),
                    float(_hours(fig.longest_gap[i])),
                    float(_days(data.depth[i])),
                    "; ".join(reason_text(self.lang, c, v) for c, v in fig.reasons[i]),
                ]
            )
            self._tick()
        table.close()

    def _table(self, ws, columns: list[tuple[str, float, object]], rows: int) -> _Table:
        """Header, widths, frozen header row and auto-filter; returns the writer of the rows."""
        self._header(ws, columns)
        ws.autofilter(0, 0, rows, len(columns) - 1)
        return _Table(ws, [fmt for _, _, fmt in columns], rows, fast=self.fast)


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

    def __init__(self, ws, formats: list, rows: int, *, fast: bool) -> None:
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

    def row(self, values: list) -> None:
        if self.written >= self.rows:
            raise IndexError("more rows than announced")
        self.written += 1
        r = self.written
        if not self.fast:
            ws = self.ws
            for col, (value, fmt, text) in enumerate(
                zip(values, self.formats, self.text, strict=True)
            ):
                if text:
                    if value:
                        ws.write_string(r, col, value, fmt)
                elif value is not None and value == value:
                    ws.write_number(r, col, value, fmt)
            return
        r1 = r + 1
        parts = [f'<row r="{r1}">']
        for (letter, style, text), value in zip(self.cells, values, strict=True):
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
) -> None:
    """Write the workbook to `path` (the caller renames it into place).

    `fast=False` writes every cell through XlsxWriter's public API (slower, same workbook).
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
