"""The words of the exporter's pages in English and Russian, and which language a request gets.

The language is, in this order: `?lang=en|ru` (which also sets the `vigil_lang` cookie, so the
choice sticks as the visitor moves between pages), the `vigil_lang` cookie, the best of English and
Russian in `Accept-Language` (RFC 9110 quality values), English. Times are shown in the configured
time zone, one format per language.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

LANGUAGES = ("en", "ru")
DEFAULT = "en"
COOKIE = "vigil_lang"
COOKIE_MAX_AGE = 365 * 86400

TIME_FORMAT = {"en": "%Y-%m-%d %H:%M:%S", "ru": "%d.%m.%Y %H:%M:%S"}

# key -> (English, Russian)
_WORDS: dict[str, tuple[str, str]] = {
    "title": ("Vigil exporter", "Экспортер Vigil"),
    "version": ("Version", "Версия"),
    "metrics": ("Metrics", "Метрики"),
    "health": ("Health", "Живость"),
    "readiness": ("Readiness", "Готовность"),
    "api_doc": ("API (OpenAPI)", "API (OpenAPI)"),
    "evidence_link": ("Frame evidence", "Кадры-доказательства"),
    "prometheus": ("Prometheus", "Prometheus"),
    "grafana": ("Grafana", "Grafana"),
    "search": ("Find a camera", "Найти камеру"),
    "search_hint": (
        "name, address, serial number or id",
        "название, адрес, серийный номер или id",
    ),
    "search_button": ("Search", "Найти"),
    "search_none": ("No camera matches “{q}”.", "Ни одна камера не подходит под «{q}»."),
    "search_found": ("Cameras matching “{q}”: {n}.", "Найдено камер по «{q}»: {n}."),
    "search_more": (
        "The first {shown} are shown: make the search longer to narrow it.",
        "Показаны первые {shown}: уточните запрос.",
    ),
    "fleet": ("Fleet", "Парк камер"),
    "problems": ("Cameras with a problem now", "Камеры с проблемами сейчас"),
    "no_problems": ("No camera has a problem now.", "Сейчас проблем нет ни у одной камеры."),
    "and_more": ("… and {n} more", "… и ещё {n}"),
    "checks": ("Checks", "Проверки"),
    "no_sources": ("No sources configured.", "Источники не настроены."),
    "source_notes": ("As the sources report it", "Как сообщают источники"),
    "updated": (
        "Updated {time}; refreshes every {n} s.",
        "Обновлено {time}; обновляется каждые {n} с.",
    ),
    "times_in": ("Times in {tz}.", "Время — {tz}."),
    # check table
    "col_source": ("source", "источник"),
    "col_check": ("check", "проверка"),
    "col_instance": ("instance", "экземпляр"),
    "col_state": ("state", "состояние"),
    "col_last_success": ("last success", "последний успех"),
    "col_last_error": ("last error", "последняя ошибка"),
    "col_cameras": ("cameras", "камеры"),
    "col_duration": ("last duration", "длительность"),
    "state_ok": ("ok", "в норме"),
    "state_failing": ("failing: {reason}", "сбой: {reason}"),
    "state_running": ("running", "выполняется"),
    "state_pending": ("pending", "ожидает"),
    "never": ("never", "никогда"),
    "s_ago": ("{n}s ago", "{n} с назад"),
    "m_ago": ("{n}m ago", "{n} мин назад"),
    "h_ago": ("{n}h ago", "{n} ч назад"),
    "whose_camera": ("camera", "камера"),
    "whose_source": ("source", "источник"),
    "n_failing": ("{n} failing", "сбоев: {n}"),
    # tiles
    "tile_rt": ("RT API cameras", "Камеры RT API"),
    "tile_rt_none": ("no cameras known yet", "камеры пока неизвестны"),
    "online": ("online", "в сети"),
    "offline": ("offline", "не в сети"),
    "card_problems": ("memory-card problem", "с проблемой карты памяти"),
    "below_90": ("under 90 % archive in 24 h", "с архивом менее 90 % за 24 ч"),
    "tile_network": ("Cameras on the network", "Камеры в сети (прямые проверки)"),
    "failing_check": ("failing {check}", "сбой {check}"),
    "tile_frames": ("Frame checks", "Проверки кадров"),
    "frame_problem_now": ("showing a problem", "с проблемой в кадре"),
    "frame_not_fetched": ("frame not fetched", "кадр не получен"),
    "tile_p4": ("Perforce servers", "Серверы Perforce"),
    "up": ("up", "работают"),
    "tile_analytics": ("Analytics platforms", "Платформы аналитики"),
    "stuck": ("stuck", "зависли"),
    "stale": ("with stale predictions", "с устаревшими предсказаниями"),
    # problems list
    "why_offline": ("offline since {time}", "не в сети с {time}"),
    "why_offline_plain": ("offline", "не в сети"),
    "why_card": ("memory card: {state}", "карта памяти: {state}"),
    "why_probe": ("{check} check fails", "не проходит проверка {check}"),
    "why_frame": ("frame: {problem}", "кадр: {problem}"),
    "why_no_frame": ("frame not fetched", "кадр не получен"),
    # camera figures
    "f_id": ("id", "id"),
    "f_name": ("name", "название"),
    "f_address": ("address", "адрес"),
    "f_sn": ("serial number", "серийный номер"),
    "f_ip": ("IP", "IP"),
    "f_host": ("host", "хост"),
    "f_datacenter": ("data center", "дата-центр"),
    "f_model": ("model", "модель"),
    "f_online": ("online", "в сети"),
    "f_card": ("memory card", "карта памяти"),
    "f_coverage": ("archive coverage", "полнота архива"),
    "f_archive_depth": ("archive depth", "глубина архива"),
    "f_probes": ("network checks", "сетевые проверки"),
    "f_frame": ("frame", "кадр"),
    "f_evidence": ("latest evidence", "последний кадр"),
    "yes": ("yes", "да"),
    "no": ("no", "нет"),
    "unknown": ("unknown", "неизвестно"),
    "ok": ("ok", "в норме"),
    "fails": ("fails", "сбой"),
    "fetched": ("fetched", "получен"),
    "not_fetched": ("not fetched", "не получен"),
    "no_problem": ("no problem", "без проблем"),
    "days": ("{n} d", "{n} дн."),
    "w_today": ("today", "сегодня"),
    "w_yesterday": ("yesterday", "вчера"),
    "w_1d": ("24 h", "24 ч"),
    "w_7d": ("7 d", "7 дн."),
    "w_30d": ("30 d", "30 дн."),
    "w_90d": ("90 d", "90 дн."),
    "sign_in_for_pictures": (
        "pictures are shown to signed-in visitors",
        "кадры видны только после входа",
    ),
    "no_evidence": ("none kept", "нет"),
    # evidence page
    "evidence_title": ("Frame evidence", "Кадры-доказательства"),
    "evidence_intro": (
        "The newest frame kept for every camera and problem, newest first.",
        "Последний сохранённый кадр для каждой камеры и проблемы, сначала новые.",
    ),
    "back": ("Back to the status page", "К странице состояния"),
    "col_camera": ("camera", "камера"),
    "col_problem": ("problem", "проблема"),
    "col_started": ("captured", "снят"),
    "col_frame": ("frame", "кадр"),
    "no_evidence_kept": ("No evidence kept yet.", "Кадров пока нет."),
}

# frame problems, card states and check reasons as the metrics name them
_TERMS_RU = {
    "black": "чёрный кадр",
    "blur": "размытие",
    "occluded": "перекрыт",
    "displaced": "сдвинут",
    "frozen": "застыл",
    "CardOK": "в норме",
    "CardNotFound": "не найдена",
    "Unknown": "неизвестно",
    "none": "нет данных",
    "CardError": "ошибка карты",
    "CardReadOnly": "только чтение",
    "CardNeedsFormat": "нужно форматирование",
    "timeout": "тайм-аут",
    "connection": "нет соединения",
    "http_5xx": "ошибка сервера (5xx)",
    "http_4xx": "отказ (4xx)",
    "rate_limited": "лимит запросов",
    "bad_payload": "неверный ответ",
    "internal": "внутренняя ошибка",
    "refused": "соединение отклонено",
    "unreachable": "недоступен",
    "icmp_not_permitted": "ICMP запрещён",
    "no_inventory": "нет списка камер",
    "target_failed": "сбой цели",
}
_TERMS_EN = {
    "none": "no state",
    "CardOK": "ok",
    "CardNotFound": "not found",
    "Unknown": "unknown",
    "CardError": "error",
    "CardReadOnly": "read-only",
    "CardNeedsFormat": "needs formatting",
}

# counted nouns: English singular and plural; Russian for 1, 2-4 and 5+ (21 like 1, 12 like 5)
_PLURALS: dict[str, tuple[str, str, str, str, str]] = {
    "cameras": ("camera", "cameras", "камера", "камеры", "камер"),
    "servers": ("server", "servers", "сервер", "сервера", "серверов"),
    "platforms": ("platform", "platforms", "платформа", "платформы", "платформ"),
    "scenarios": ("scenario", "scenarios", "сценарий", "сценария", "сценариев"),
    "streams": (
        "stream measured",
        "streams measured",
        "поток измерен",
        "потока измерено",
        "потоков измерено",
    ),
}


def russian_form(n: int) -> int:
    """0, 1 or 2: which Russian form goes with n (1 камера, 2 камеры, 5 камер)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return 0
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return 1
    return 2


def negotiate(request: web.Request) -> tuple[str, bool]:
    """(language, whether to set the cookie to it) for this request."""
    asked = request.query.get("lang", "")
    if asked in LANGUAGES:
        return asked, request.cookies.get(COOKIE) != asked
    cookie = request.cookies.get(COOKIE, "")
    if cookie in LANGUAGES:
        return cookie, False
    return from_accept_language(request.headers.get("Accept-Language", "")), False


def from_accept_language(header: str) -> str:
    """The language of LANGUAGES the header prefers most (ties: the first listed); else DEFAULT."""
    candidates = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary in LANGUAGES and q > 0:
            candidates.append((q, -position, primary))
    return max(candidates)[2] if candidates else DEFAULT


def remember(response: web.StreamResponse, lang: str) -> None:
    response.set_cookie(COOKIE, lang, max_age=COOKIE_MAX_AGE, path="/", samesite="Lax")


class Words:
    """The words of one language: `t(key, **values)`, `term(code)`, `time(ts)`, `ago(ts, now)`."""

    def __init__(self, lang: str, tz: ZoneInfo) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self.tz = tz
        self._index = LANGUAGES.index(self.lang)

    def t(self, key: str, **values: object) -> str:
        text = _WORDS[key][self._index]
        return text.format(**values) if values else text

    def noun(self, n: int, key: str) -> str:
        """The noun of `key` as it goes with the number n."""
        forms = _PLURALS[key]
        if self.lang == "ru":
            return forms[2 + russian_form(n)]
        return forms[0] if n == 1 else forms[1]

    def seconds(self, value: float) -> str:
        """A short duration in seconds with two decimals."""
        return f"{value:.2f}".replace(".", ",") + " с" if self.lang == "ru" else f"{value:.2f}s"

    def term(self, code: str) -> str:
        """A problem, card state or failure reason in this language (unknown codes as they are)."""
        table = _TERMS_RU if self.lang == "ru" else _TERMS_EN
        return table.get(code, code)

    def time(self, ts: float | None) -> str:
        if ts is None:
            return "—"
        return datetime.fromtimestamp(ts, self.tz).strftime(TIME_FORMAT[self.lang])

    def ago(self, ts: float | None, now: float) -> str:
        if ts is None:
            return self.t("never")
        seconds = max(0, int(now - ts))
        if seconds < 120:
            return self.t("s_ago", n=seconds)
        if seconds < 7200:
            return self.t("m_ago", n=seconds // 60)
        return self.t("h_ago", n=seconds // 3600)

    def percent(self, ratio: float | None) -> str:
        if ratio is None:
            return "—"
        text = f"{ratio * 100:.1f} %"
        return text.replace(".", ",") if self.lang == "ru" else text
