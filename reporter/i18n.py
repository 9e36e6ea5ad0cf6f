"""Every word the workbook shows, in English and Russian."""

from __future__ import annotations

LANGUAGES = ("en", "ru")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        # sheet names (Excel: at most 31 characters, none of []:*?/\)
        "sheet_tldr": "TLDR",
        "sheet_summary": "Summary",
        "sheet_daily": "Daily",
        "sheet_heatmap": "Heatmap",
        "sheet_problems": "Problems",
        "sheet_trend": "Trend",
        "sheet_datacenters": "By data center",
        # page header and footer (XlsxWriter codes: &P page, &N pages, &A sheet)
        "page_of": "Page &P of &N",
        "previous": "Changes (Δ) against the previous period: {first} – {last}",
        "no_previous": "Previous period {first} – {last}: no data to compare with",
        "days_with_data_note": "days with data: {have} of {total}",
        "trend_title": "Fleet coverage per day",
        "trend_current": "This period",
        "trend_previous": "Previous period",
        "col_fleet_coverage": "Fleet coverage",
        "col_cameras_with_data": "Cameras with data",
        "col_previous_date": "Previous period: date",
        "col_previous_coverage": "Previous period: fleet coverage",
        "trend_note": "Fleet coverage of a day: recorded time of the cameras with data that day over their day length. A blank day has no data.",
        "dc_none": "(no data center)",
        "dc_all": "All data centers",
        "col_band_green": "Coverage ≥ 90 %",
        "col_band_yellow": "Coverage 50–89 %",
        "col_band_red": "Coverage < 50 %",
        "col_band_no_archive": "No archive",
        "col_band_no_data": "No data",
        "col_problems": "With problems",
        "col_avg_coverage": "Average coverage",
        "col_online": "Online",
        "col_offline": "Offline",
        "col_status_unknown": "Status unknown",
        "col_avg_fragment": "Avg fragment (h)",
        "col_days_of": "Days with data (of {days})",
        "col_max_gap": "Longest gap",
        "col_gap_time_text": "Gap time",
        "col_coverage_change": "Δ coverage",
        "col_value_change": "Δ",
        # TLDR
        "title": "Camera archive quality",
        "period": "Period: {first} – {last} ({days} days, {tz})",
        "generated": "Generated {when} ({tz}) from Prometheus at {source}",
        "totals": "Totals",
        "cameras": "Cameras",
        "online": "Online",
        "offline": "Offline",
        "status_unknown": "Status unknown",
        "with_archive": "With archive in the period",
        "without_archive": "Without archive in the period",
        "no_data_cameras": "Without data in the period",
        "with_problems": "With problems (sheet Problems)",
        "avg_coverage": "Average coverage",
        "avg_depth": "Average archive depth (days)",
        "distribution": "Quality distribution (coverage over the period)",
        "band": "Coverage",
        "share": "Share",
        "band_green": "≥ 90 %",
        "band_yellow": "50–89 %",
        "band_red": "< 50 %",
        "band_no_archive": "No archive",
        "band_no_data": "No data",
        "top_coverage": "Top 10: worst coverage (cameras with archive)",
        "top_gaps": "Top 10: most gaps",
        "top_longest": "Top 10: longest gap",
        "rank": "#",
        "chart_title": "Cameras by coverage",
        # columns
        "col_name": "Camera",
        "col_uid": "UID",
        "col_sn": "SN",
        "col_vendor": "Vendor",
        "col_model": "Model",
        "col_address": "Address",
        "col_datacenter": "Data center",
        "col_status": "Status",
        "col_card": "Memory card",
        "col_depth": "Depth (days)",
        "col_recorded": "Recorded (h)",
        "col_coverage": "Coverage",
        "col_fragments": "Fragments",
        "col_gaps": "Gaps",
        "col_longest": "Longest gap (h)",
        "col_gap_time": "Gap time (h)",
        "col_date": "Date",
        "col_reasons": "Reasons",
        "col_count": "Cameras",
        # values
        "status_online": "online",
        "status_offline": "offline",
        "status_unknown_value": "unknown",
        # problem reasons
        "reason_no_data": "no archive figures in the period",
        "reason_no_archive": "no archive: nothing recorded in the period",
        "reason_low_coverage": "coverage {value} (below 50 %)",
        "reason_long_gap": "gap of {value} h (over 1 h)",
        "reason_shallow": "archive depth {value} days (under 1 day)",
        "reason_offline": "offline",
        "reason_card": "memory card problem ({value})",
        "reason_card_unnamed": "memory card problem",
        "decimal": ".",
        "date_format": "yyyy-mm-dd",
    },
    "ru": {
        "sheet_tldr": "Кратко",
        "sheet_summary": "Сводка",
        "sheet_daily": "По дням",
        "sheet_heatmap": "Тепловая карта",
        "sheet_problems": "Проблемы",
        "sheet_trend": "Динамика",
        "sheet_datacenters": "По ЦОД",
        "page_of": "Стр. &P из &N",
        "previous": "Изменения (Δ) к предыдущему периоду: {first} – {last}",
        "no_previous": "Предыдущий период {first} – {last}: нет данных для сравнения",
        "days_with_data_note": "дней с данными: {have} из {total}",
        "trend_title": "Покрытие по парку камер по дням",
        "trend_current": "Этот период",
        "trend_previous": "Предыдущий период",
        "col_fleet_coverage": "Покрытие по парку",
        "col_cameras_with_data": "Камер с данными",
        "col_previous_date": "Предыдущий период: дата",
        "col_previous_coverage": "Предыдущий период: покрытие по парку",
        "trend_note": "Покрытие по парку за день: записанное время камер, у которых есть данные за этот день, к длине дня. Пустой день: данных нет.",
        "dc_none": "(ЦОД не указан)",
        "dc_all": "Все ЦОД",
        "col_band_green": "Покрытие ≥ 90 %",
        "col_band_yellow": "Покрытие 50–89 %",
        "col_band_red": "Покрытие < 50 %",
        "col_band_no_archive": "Нет архива",
        "col_band_no_data": "Нет данных",
        "col_problems": "С проблемами",
        "col_avg_coverage": "Среднее покрытие",
        "col_online": "Онлайн",
        "col_offline": "Офлайн",
        "col_status_unknown": "Статус неизвестен",
        "col_avg_fragment": "Средний фрагмент (ч)",
        "col_days_of": "Дней с данными (из {days})",
        "col_max_gap": "Самый длинный разрыв",
        "col_gap_time_text": "Время разрывов",
        "col_coverage_change": "Δ покрытия",
        "col_value_change": "Δ",
        "title": "Качество архива камер",
        "period": "Период: {first} – {last} ({days} дн., {tz})",
        "generated": "Сформирован {when} ({tz}) по данным Prometheus {source}",
        "totals": "Итого",
        "cameras": "Камер",
        "online": "Онлайн",
        "offline": "Офлайн",
        "status_unknown": "Статус неизвестен",
        "with_archive": "С архивом за период",
        "without_archive": "Без архива за период",
        "no_data_cameras": "Без данных за период",
        "with_problems": "С проблемами (лист «Проблемы»)",
        "avg_coverage": "Среднее покрытие",
        "avg_depth": "Средняя глубина архива (сут)",
        "distribution": "Распределение по качеству (покрытие за период)",
        "band": "Покрытие",
        "share": "Доля",
        "band_green": "≥ 90 %",
        "band_yellow": "50–89 %",
        "band_red": "< 50 %",
        "band_no_archive": "Нет архива",
        "band_no_data": "Нет данных",
        "top_coverage": "Топ-10: наихудшее покрытие (камеры с архивом)",
        "top_gaps": "Топ-10: больше всего разрывов",
        "top_longest": "Топ-10: самый длинный разрыв",
        "rank": "№",
        "chart_title": "Камеры по покрытию",
        "col_name": "Камера",
        "col_uid": "UID",
        "col_sn": "Серийный номер",
        "col_vendor": "Производитель",
        "col_model": "Модель",
        "col_address": "Адрес",
        "col_datacenter": "ЦОД",
        "col_status": "Статус",
        "col_card": "Карта памяти",
        "col_depth": "Глубина (сут)",
        "col_recorded": "Записано (ч)",
        "col_coverage": "Покрытие",
        "col_fragments": "Фрагменты",
        "col_gaps": "Разрывы",
        "col_longest": "Самый длинный разрыв (ч)",
        "col_gap_time": "Время разрывов (ч)",
        "col_date": "Дата",
        "col_reasons": "Причины",
        "col_count": "Камер",
        "status_online": "онлайн",
        "status_offline": "офлайн",
        "status_unknown_value": "неизвестно",
        "reason_no_data": "нет данных об архиве за период",
        "reason_no_archive": "нет архива: за период ничего не записано",
        "reason_low_coverage": "покрытие {value} (ниже 50 %)",
        "reason_long_gap": "разрыв {value} ч (больше 1 ч)",
        "reason_shallow": "глубина архива {value} сут (меньше суток)",
        "reason_offline": "офлайн",
        "reason_card": "проблема с картой памяти ({value})",
        "reason_card_unnamed": "проблема с картой памяти",
        "decimal": ",",
        "date_format": "dd.mm.yyyy",
    },
}


def reason_text(lang: str, code: str, value: float | str) -> str:
    t = TEXT[lang]
    if code == "low_coverage":
        shown = f"{value * 100:.1f} %"
    elif code == "long_gap":
        shown = f"{value / 3600:.1f}"
    elif code == "shallow":
        shown = f"{value / 86400:.2f}"
    elif code == "card" and not value:
        return t["reason_card_unnamed"]
    elif code == "card":
        shown = card_text(lang, str(value))
    else:
        shown = str(value)
    if code in ("low_coverage", "long_gap", "shallow"):
        shown = shown.replace(".", t["decimal"])
    return t[f"reason_{code}"].format(value=shown)


# memory-card states as the RT API names them (docs/metrics.md), in words; other codes are shown
# as they come
CARD_STATES: dict[str, dict[str, str]] = {
    "en": {
        "CardOK": "OK",
        "CardNotFound": "no card",
        "Unknown": "unknown",
        "none": "not reported",
        "CardError": "error",
        "CardBroken": "broken",
        "CardFull": "full",
        "CardReadOnly": "read-only",
        "CardNeedsFormat": "needs formatting",
        "CardProblem": "problem",
    },
    "ru": {
        "CardOK": "исправна",
        "CardNotFound": "нет карты",
        "Unknown": "неизвестно",
        "none": "нет сведений",
        "CardError": "ошибка",
        "CardBroken": "неисправна",
        "CardFull": "заполнена",
        "CardReadOnly": "только чтение",
        "CardNeedsFormat": "требует форматирования",
        "CardProblem": "проблема",
    },
}

# duration units: days, hours, minutes, seconds
UNITS = {"en": ("d", "h", "min", "s"), "ru": ("дн", "ч", "мин", "с")}


def card_text(lang: str, states: str) -> str:
    """The card state(s) of ReportData.card_state ("CardError, CardOK") in words."""
    names = CARD_STATES[lang]
    return ", ".join(names.get(s, s) for s in states.split(", ")) if states else ""


def duration_text(lang: str, seconds: float, *, signed: bool = False) -> str:
    """ "26 d 0 h", "5 h 12 min", "12 min", "45 s" (Russian: "26 дн 0 ч", ...); '' for NaN.

    Whole units, rounded down from the exact value, as report.py showed them. `signed` puts a
    "+" or "−" in front (a change against the previous period).
    """
    if seconds != seconds:
        return ""
    sign = ("+" if seconds > 0 else "−" if seconds < 0 else "±") if signed else ""
    s = int(abs(seconds))
    d, h, m = UNITS[lang][:3]
    if s >= 86400:
        text = f"{s // 86400} {d} {s % 86400 // 3600} {h}"
    elif s >= 3600:
        text = f"{s // 3600} {h} {s % 3600 // 60} {m}"
    elif s >= 60:
        text = f"{s // 60} {m}"
    else:
        text = f"{s} {UNITS[lang][3]}"
    return sign + text


def date_text(lang: str, day) -> str:
    """A date as the workbook's cells show it in this language (the one date format)."""
    return day.strftime("%d.%m.%Y" if lang == "ru" else "%Y-%m-%d")


# the mail that carries the workbook (reporter/mail.py)
MAIL: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Camera archive quality, {period}",
        "intro": "Camera archive quality, {period} ({days} days, {tz}).",
        "cameras": "Cameras: {cameras} (online {online}, offline {offline}, status unknown {unknown})",
        "coverage": "Average coverage: {value} %",
        "days_with_data": "(days with data: {have} of {total})",
        "change": "({value} pp against the previous period)",
        "no_coverage": "Average coverage: no camera has data in the period",
        "problems": "With problems: {problems} (sheet Problems)",
        "attached": "The workbook is attached: {name}",
        "signature": "vigil-report",
    },
    "ru": {
        "subject": "Качество архива камер, {period}",
        "intro": "Качество архива камер, {period} ({days} дн., {tz}).",
        "cameras": "Камер: {cameras} (онлайн {online}, офлайн {offline}, статус неизвестен {unknown})",
        "coverage": "Среднее покрытие: {value} %",
        "days_with_data": "(дней с данными: {have} из {total})",
        "change": "({value} п.п. к предыдущему периоду)",
        "no_coverage": "Среднее покрытие: ни у одной камеры нет данных за период",
        "problems": "С проблемами: {problems} (лист «Проблемы»)",
        "attached": "Отчёт во вложении: {name}",
        "signature": "vigil-report",
    },
}
