"""Every word the dashboards show, in English and Russian: one place, as the reporter's i18n.

`TEXT[lang][key]`, like `reporter/i18n.py`, with the same terms (ЦОД, покрытие, разрыв, глубина
архива...). A panel `key` has its title under `key` and its description under `key.d`; a
dashboard's under `key.title` and `key.description`; a variable's label under `var.NAME`. Label values
that are identifiers (check names, API statuses such as ERROR, memory-card states such as CardOK)
stay as the exporter publishes them, so that what a dashboard shows can be searched in PromQL.
"""

from __future__ import annotations

LANGUAGES = ("en", "ru")

# key: (English, Russian)
_PAIRS: dict[str, tuple[str, str]] = {
    # ---- dashboards (title after the common prefix "Vigil / ") and their descriptions
    "fleet.title": ("Fleet overview", "Обзор парка камер"),
    "fleet.description": (
        "The whole camera fleet at a glance: online share, problems, archives, network checks.",
        "Весь парк камер одним взглядом: доля онлайн, проблемы, архивы, сетевые проверки.",
    ),
    "cameras.title": ("Cameras", "Камеры"),
    "cameras.description": (
        "Find a camera by a part of its name, address, serial number or UID, filter by data center, "
        "vendor, status and memory card, and open its detail.",
        "Поиск камеры по части названия, адреса, серийного номера или UID, фильтры по ЦОД, "
        "производителю, статусу и карте памяти, переход к карточке камеры.",
    ),
    "camera.title": ("Camera", "Камера"),
    "camera.description": (
        "One camera: identity, status over time, memory card, archive integrity with 90 days of "
        "daily history, network checks, frame quality and evidence.",
        "Одна камера: сведения, статус во времени, карта памяти, целостность архива с посуточной "
        "историей за 90 дней, сетевые проверки, качество кадра и кадры-доказательства.",
    ),
    "archives.title": ("Archives", "Архивы"),
    "archives.description": (
        "Archive integrity across the fleet (coverage, worst cameras, gaps, archives that stopped "
        "growing, depth, daily quality) and the baked archives that are not DONE.",
        "Целостность архивов по всему парку (покрытие, худшие камеры, разрывы, архивы, которые "
        "перестали расти, глубина, качество по дням) и выгрузки архивов, не завершённые (не DONE).",
    ),
    "frames.title": ("Frame quality", "Качество кадра"),
    "frames.description": (
        "Frame quality of the cameras Vigil analyses: current problems with evidence, frame values "
        "over time, analysis performance.",
        "Качество кадра камер, которые анализирует Vigil: текущие проблемы с кадрами-"
        "доказательствами, показатели кадра во времени, скорость анализа.",
    ),
    "p4.title": ("Perforce streams", "Стримы Perforce"),
    "p4.description": (
        "Stream sizes and growth on the Perforce servers Vigil measures, searchable by server and "
        "stream.",
        "Размер и рост стримов на серверах Perforce, которые измеряет Vigil, с поиском по серверу "
        "и стриму.",
    ),
    "analytics.title": ("Analytics pipeline", "Конвейер видеоаналитики"),
    "analytics.description": (
        "Scenario states, stuck scenarios, stale predictions, runners and Kafka lag of the "
        "video-analytics platforms Vigil watches.",
        "Состояния сценариев, зависшие сценарии, устаревшие предсказания, раннеры и отставание "
        "Kafka платформ видеоаналитики, за которыми следит Vigil.",
    ),
    "self.title": ("Vigil itself", "Сам Vigil"),
    "self.description": (
        "Vigil itself: sources and checks, their durations and errors, and how Prometheus scrapes "
        "the exporters.",
        "Сам Vigil: источники и проверки, их длительность и ошибки, сбор метрик экспортёров "
        "Prometheus.",
    ),
    # ---- variables
    "var.window": ("Archive window", "Окно архива"),
    "var.datacenter": ("Data center", "ЦОД"),
    "var.vendor": ("Vendor", "Производитель"),
    "var.status": ("Status", "Статус"),
    "var.card": ("Memory card", "Карта памяти"),
    "var.search": ("Search", "Поиск"),
    "var.search.d": (
        "A part of the name, address, serial number or UID, in any case (a regular expression).",
        "Часть названия, адреса, серийного номера или UID в любом регистре (регулярное выражение).",
    ),
    "var.camera": ("Camera", "Камера"),
    "var.baked_status": ("Baked archive status", "Статус выгрузки"),
    "var.server": ("Server", "Сервер"),
    "var.stream": ("Stream", "Стрим"),
    "var.stream.d": (
        "A part of the stream's path, in any case (a regular expression).",
        "Часть пути стрима в любом регистре (регулярное выражение).",
    ),
    "var.platform": ("Platform", "Платформа"),
    "status.any": ("any", "любой"),
    "status.online": ("online", "онлайн"),
    "status.offline": ("offline", "офлайн"),
    "status.unknown": ("unknown", "неизвестен"),
    # ---- links
    "link.camera": ("Camera detail", "Карточка камеры"),
    "link.evidence": ("Open the evidence frame", "Открыть кадр-доказательство"),
    # ---- linter exceptions (the reason written into .lint)
    "lint.rule": (
        "A recording rule of alerting/vigil.rules.yml: it sums over every exporter (all jobs and "
        "instances, shards included) to stay fast at 10,000 cameras, so its series have no job or "
        "instance label to match.",
        "Правило записи из alerting/vigil.rules.yml: оно суммирует по всем экспортёрам (все job и "
        "instance, включая шарды), чтобы оставаться быстрым на 10 000 камер, поэтому у его рядов "
        "нет меток job и instance.",
    ),
    "lint.kafka": (
        "kafka_exporter's series: another scrape job than Vigil's, which the job and instance "
        "variables (Vigil's exporters) do not list.",
        "Ряды kafka_exporter: другое задание сбора, не Vigil; переменные job и instance "
        "перечисляют экспортёры Vigil.",
    ),
    # ---- legends
    "lg.cameras": ("cameras", "камер"),
    "lg.online": ("online", "онлайн"),
    "lg.offline": ("offline", "офлайн"),
    "lg.offline_day": ("offline > 1 day", "офлайн > 1 сут"),
    "lg.problems": ("problems", "проблем"),
    "lg.card_problems": ("memory-card problems", "проблемы карт памяти"),
    "lg.fleet": ("fleet", "весь парк"),
    "lg.failing": ("failing", "с ошибкой"),
    "lg.alive": ("alive", "alive"),
    "lg.offline_for": ("offline for", "офлайн"),
    "lg.depth": ("depth", "глубина"),
    "lg.since_newest": ("since newest recording", "с последней записи"),
    "lg.recording": ("recording", "запись"),
    "lg.coverage": ("coverage", "покрытие"),
    "lg.recorded": ("recorded", "записано"),
    "lg.gap_time": ("gap time", "время разрывов"),
    "lg.fetch_failed": ("fetch failed", "кадр не получен"),
    "lg.brightness": ("brightness", "яркость"),
    "lg.occlusion": ("occlusion", "перекрытие"),
    "lg.sharpness": ("sharpness", "резкость"),
    "lg.unchanged": ("unchanged for", "без изменений"),
    "lg.displacement": ("displacement", "смещение"),
    "lg.no_recording": ("no recording", "без записи"),
    "lg.gap_hour": ("gap > 1 h", "разрыв > 1 ч"),
    "lg.not_growing": ("not growing", "не растёт"),
    "lg.average": ("average", "среднее"),
    "lg.unlisted": ("not listed", "не в списке"),
    "lg.with_problem": ("with a problem", "с проблемой"),
    "lg.analysed": ("analysed", "проанализировано"),
    "lg.skipped": ("skipped", "пропущено"),
    "lg.partition": ("partition", "раздел"),
    "window.today": ("today", "сегодня"),
    "window.yesterday": ("yesterday", "вчера"),
    "window.1d": ("1d", "1 сут"),
    "window.7d": ("7d", "7 сут"),
    "window.30d": ("30d", "30 сут"),
    "window.90d": ("90d", "90 сут"),
    "band.good": ("good (≥ 90 %)", "хорошо (≥ 90 %)"),
    "band.degraded": ("degraded (50–90 %)", "ухудшено (50–90 %)"),
    "band.poor": ("poor (< 50 %)", "плохо (< 50 %)"),
    "band.none": ("no recording", "нет записи"),
    "depth.lt1": ("< 1 day", "< 1 сут"),
    "depth.1to7": ("1-7 days", "1–7 сут"),
    "depth.7to30": ("7-30 days", "7–30 сут"),
    "depth.ge30": ("30 days and more", "30 сут и больше"),
    # ---- values shown instead of numbers
    "val.online": ("online", "онлайн"),
    "val.offline": ("offline", "офлайн"),
    "val.unknown": ("unknown", "неизвестно"),
    "val.checks_pass": ("all checks pass", "все проверки проходят"),
    "val.failing": ("failing", "ошибка"),
    "val.not_checked": ("not checked", "не проверялась"),
    "val.yes": ("yes", "да"),
    "val.no": ("no", "нет"),
    "val.alive": ("alive", "alive"),
    "val.not_alive": ("not alive", "не alive"),
    "val.not_offline": ("not offline", "не офлайн"),
    "val.ok": ("OK", "в норме"),
    "val.problem": ("problem", "проблема"),
    "val.recording": ("recording", "пишет"),
    "val.not_recording": ("not recording", "не пишет"),
    "val.no_evidence": ("no evidence kept", "кадр не сохранён"),
    "val.up": ("up", "работает"),
    "val.down": ("down", "не работает"),
    # ---- table columns
    "col.name": ("Name", "Название"),
    "col.address": ("Address", "Адрес"),
    "col.sn": ("SN", "Серийный номер"),
    "col.status": ("Status", "Статус"),
    "col.vendor": ("Vendor", "Производитель"),
    "col.model": ("Model", "Модель"),
    "col.firmware": ("Firmware", "Прошивка"),
    "col.mac": ("MAC", "MAC"),
    "col.ip": ("IP", "IP"),
    "col.datacenter": ("Data center", "ЦОД"),
    "col.uid": ("UID", "UID"),
    "col.camera": ("Camera", "Камера"),
    "col.host": ("Host", "Хост"),
    "col.port": ("Port", "Порт"),
    "col.offline_for": ("Offline for", "Офлайн"),
    "col.card_state": ("Card state", "Состояние карты"),
    "col.coverage": ("Coverage", "Покрытие"),
    "col.longest_gap": ("Longest gap", "Самый длинный разрыв"),
    "col.newest_ended": ("Newest recording ended", "Последняя запись закончилась"),
    "col.depth": ("Archive depth", "Глубина архива"),
    "col.window": ("Window", "Окно"),
    "col.recorded": ("Recorded", "Записано"),
    "col.gaps": ("Gaps", "Разрывы"),
    "col.gap_time": ("Gap time", "Время разрывов"),
    "col.fragments": ("Fragments", "Фрагменты"),
    "col.problem": ("Problem", "Проблема"),
    "col.captured": ("Captured", "Снят"),
    "col.evidence_captured": ("Evidence captured", "Кадр снят"),
    "col.exporter": ("Exporter", "Экспортёр"),
    "col.baked_status": ("Status", "Статус"),
    "col.age": ("Requested ago", "Запрошена назад"),
    "col.archive": ("Archive id", "Номер выгрузки"),
    "col.server": ("Server", "Сервер"),
    "col.stream": ("Stream", "Стрим"),
    "col.size": ("Size", "Размер"),
    "col.growth": ("Growth per day", "Рост за сутки"),
    "col.files": ("Files", "Файлы"),
}

# ---- panels: title under the key, description under key.d
_PANELS: dict[str, tuple[str, str, str, str]] = {
    # key: (English title, English description, Russian title, Russian description)
    "fleet.row.cameras": ("Cameras", "", "Камеры", ""),
    "fleet.cameras": (
        "Cameras",
        "Cameras in the RT inventory (vigil_camera_info).",
        "Камер",
        "Камеры в инвентаре RT (vigil_camera_info).",
    ),
    "fleet.online": (
        "Online",
        "Cameras the platform reports online.",
        "Онлайн",
        "Камеры, которые платформа считает онлайн.",
    ),
    "fleet.offline": (
        "Offline",
        "Cameras the platform reports offline.",
        "Офлайн",
        "Камеры, которые платформа считает офлайн.",
    ),
    "fleet.online_share": (
        "Online %",
        "Share of cameras online, among those whose record says online or offline.",
        "Онлайн, %",
        "Доля камер онлайн среди тех, у кого в записи есть статус онлайн/офлайн.",
    ),
    "fleet.offline_day": (
        "Offline for over a day",
        "Cameras whose offline-since time is more than 24 hours ago.",
        "Офлайн больше суток",
        "Камеры, офлайн дольше 24 часов (по времени offline_since).",
    ),
    "fleet.card_problems": (
        "Memory-card problems",
        "Cameras whose memory card is in a problem state (anything but CardOK, CardNotFound, "
        "Unknown or empty).",
        "Проблемы карт памяти",
        "Камеры, у которых карта памяти в проблемном состоянии (любом, кроме CardOK, "
        "CardNotFound, Unknown и пустого).",
    ),
    "fleet.online_pie": (
        "Online / offline",
        "Cameras online and offline right now.",
        "Онлайн / офлайн",
        "Камеры онлайн и офлайн сейчас.",
    ),
    "fleet.by_vendor": (
        "Online % by vendor",
        "Share of each vendor's cameras online.",
        "Онлайн по производителям",
        "Доля камер онлайн у каждого производителя.",
    ),
    "fleet.by_datacenter": (
        "Online % by data center",
        "Share of each data center's cameras online.",
        "Онлайн по ЦОД",
        "Доля камер онлайн в каждом ЦОД.",
    ),
    "fleet.card_states": (
        "Memory-card states",
        "Cameras by memory-card state; 'none' is the API's empty state.",
        "Состояния карт памяти",
        "Камеры по состоянию карты памяти; 'none' — пустое состояние в API.",
    ),
    "fleet.online_over_time": (
        "Online % over time",
        "Share of cameras online, for the selected exporters and per data center (recording rule "
        "vigil:camera_online:ratio_by_datacenter, all exporters).",
        "Онлайн во времени",
        "Доля камер онлайн по выбранным экспортёрам и по каждому ЦОД (правило записи "
        "vigil:camera_online:ratio_by_datacenter, все экспортёры).",
    ),
    "fleet.offline_over_time": (
        "Offline cameras and card problems",
        "How many cameras were offline, and how many had a memory-card problem, over time.",
        "Офлайн и проблемы карт",
        "Сколько камер было офлайн и сколько с проблемой карты памяти, во времени.",
    ),
    "fleet.row.problems": ("Problems", "", "Проблемы", ""),
    "fleet.longest_offline": (
        "Longest offline",
        "The 20 cameras offline for longest. Click a name for the camera's detail.",
        "Дольше всех офлайн",
        "20 камер, которые дольше всех офлайн. Название открывает карточку камеры.",
    ),
    "fleet.card_problem_list": (
        "Memory-card problem list",
        "Cameras whose memory card is in a problem state, with the state the platform reports.",
        "Список проблем карт памяти",
        "Камеры с картой памяти в проблемном состоянии и это состояние по данным платформы.",
    ),
    "fleet.row.archives": ("Archives", "", "Архивы", ""),
    "fleet.quality": (
        "Archive quality ($window)",
        "Cameras by recorded share of the window: good >= 90 %, degraded 50-90 %, poor < 50 % "
        "with some recording, none without recording (recording rule "
        "vigil:cameras:count_by_archive_quality, all exporters).",
        "Качество архива ($window)",
        "Камеры по доле записанного в окне: хорошо ≥ 90 %, ухудшено 50–90 %, плохо < 50 % при "
        "какой-то записи, нет записи (правило записи vigil:cameras:count_by_archive_quality, все "
        "экспортёры).",
    ),
    "fleet.quality_over_time": (
        "Archive quality over time ($window)",
        "Cameras in each archive quality band over time (all exporters).",
        "Качество архива во времени ($window)",
        "Камеры в каждой полосе качества архива во времени (все экспортёры).",
    ),
    "fleet.baked": (
        "Baked archives by status",
        "Baked (exported) archives by status among the newest 5,000; the Archives dashboard lists "
        "those not DONE.",
        "Выгрузки архивов по статусам",
        "Выгрузки (baked-архивы) по статусам среди 5000 последних; незавершённые перечислены на "
        "дашборде «Архивы».",
    ),
    "fleet.row.network": ("Network", "", "Сеть", ""),
    "fleet.network_failing": (
        "Cameras failing network checks",
        "Directly checked cameras whose latest ICMP or TCP check failed.",
        "Камеры с ошибками сетевых проверок",
        "Камеры с прямой проверкой, у которых последняя проверка ICMP или TCP не прошла.",
    ),
    "fleet.rtt": (
        "Network round trip percentiles",
        "Median, 90th and 99th percentile of successful ICMP and TCP check round trips across the "
        "fleet.",
        "Перцентили сетевой задержки",
        "Медиана, 90-й и 99-й перцентили времени успешных проверок ICMP и TCP по всему парку.",
    ),
    # ---- camera list
    "cameras.matching": (
        "Matching cameras",
        "Cameras matching the search and the filters.",
        "Найдено камер",
        "Камеры, подходящие под поиск и фильтры.",
    ),
    "cameras.online": (
        "Online",
        "Matching cameras that the platform reports online.",
        "Онлайн",
        "Найденные камеры, которые платформа считает онлайн.",
    ),
    "cameras.offline": (
        "Offline",
        "Matching cameras that the platform reports offline.",
        "Офлайн",
        "Найденные камеры, которые платформа считает офлайн.",
    ),
    "cameras.card_problems": (
        "Memory-card problems",
        "Matching cameras whose memory card is in a problem state.",
        "Проблемы карт памяти",
        "Найденные камеры с картой памяти в проблемном состоянии.",
    ),
    "cameras.list": (
        "Camera list",
        "Every camera of the RT inventory matching the search (a case-insensitive part of the "
        "name, address, serial number or UID) and the filters. Status is the platform's online "
        "flag, unknown when its record has none; the memory-card filter lists cameras without a "
        "reported card state only when every state is chosen. Click a name for the camera's "
        "detail; each column can be filtered and sorted.",
        "Список камер",
        "Все камеры инвентаря RT, подходящие под поиск (часть названия, адреса, серийного номера "
        "или UID в любом регистре) и фильтры. Статус — флаг онлайн от платформы, «неизвестно», "
        "если его нет в записи; камеры без сведений о карте памяти показываются, только когда "
        "выбраны все состояния карты. Название открывает карточку камеры; столбцы можно "
        "фильтровать и сортировать.",
    ),
    "cameras.network": (
        "Cameras checked on the network",
        "Cameras Vigil checks directly (ICMP/TCP), with where they are checked and whether all "
        "their latest checks passed. The search applies to the camera id and host here; these "
        "cameras carry no data center or vendor.",
        "Камеры с сетевой проверкой",
        "Камеры, которые Vigil проверяет напрямую (ICMP/TCP): где они проверяются и прошли ли все "
        "последние проверки. Поиск здесь идёт по идентификатору камеры и хосту; ЦОД и "
        "производителя у этих камер нет.",
    ),
}

_PANELS.update(
    {
        # ---- camera detail
        "camera.row.identity": ("Identity", "", "Сведения", ""),
        "camera.identity": (
            "Identity",
            "What the RT inventory says about the camera (empty for cameras checked only on the "
            "network).",
            "Паспорт камеры",
            "Что говорит о камере инвентарь RT (пусто для камер только с сетевой проверкой).",
        ),
        "camera.target": (
            "Network target",
            "Where Vigil checks the camera directly (empty for cameras it does not check on the "
            "network).",
            "Сетевая цель",
            "Где Vigil проверяет камеру напрямую (пусто, если сетевой проверки нет).",
        ),
        "camera.platform_status": (
            "Platform status",
            "Online or offline as the RT platform reports it.",
            "Статус на платформе",
            "Онлайн или офлайн по данным платформы RT.",
        ),
        "camera.alive": (
            "Alive",
            "The platform's alive flag, for cameras whose record carries it.",
            "Alive",
            "Флаг alive от платформы, если он есть в записи камеры.",
        ),
        "camera.offline_for": (
            "Offline for",
            "How long the camera has been offline, from the platform's offline-since time.",
            "Офлайн в течение",
            "Сколько камера офлайн, по времени offline_since от платформы.",
        ),
        "camera.card": (
            "Memory card",
            "The memory-card state the platform reports; red when it is a problem state.",
            "Карта памяти",
            "Состояние карты памяти по данным платформы; красное, если это проблема.",
        ),
        "camera.depth": (
            "Archive depth",
            "How far back the kept archive reaches (now minus the oldest recorded second).",
            "Глубина архива",
            "Насколько далеко в прошлое уходит архив (сейчас минус самая старая записанная "
            "секунда).",
        ),
        "camera.newest": (
            "Newest recording",
            "Time since the end of the newest recorded fragment; above 30 minutes while online, "
            "the archive has stopped growing.",
            "Последняя запись",
            "Время с конца последнего записанного фрагмента; больше 30 минут у камеры онлайн — "
            "архив перестал расти.",
        ),
        "camera.row.status": ("Status over time", "", "Статус во времени", ""),
        "camera.online_alive": (
            "Online / alive",
            "The platform's online and alive flags over the time range.",
            "Онлайн / alive",
            "Флаги онлайн и alive от платформы за выбранный период.",
        ),
        "camera.recording": (
            "Recording",
            "Whether the archive keeps growing: the newest recorded second is less than 30 "
            "minutes old (the archive is fetched every archive_interval, 10 minutes by default).",
            "Запись",
            "Растёт ли архив: последняя записанная секунда моложе 30 минут (архив запрашивается "
            "раз в archive_interval, по умолчанию 10 минут).",
        ),
        "camera.network": (
            "Network checks",
            "Result of each direct check (ICMP echo, TCP connect) over time.",
            "Сетевые проверки",
            "Результат каждой прямой проверки (ICMP echo, TCP connect) во времени.",
        ),
        "camera.rtt": (
            "Network round trip",
            "ICMP round trip and TCP connect time of successful checks.",
            "Сетевая задержка",
            "Время ответа ICMP и установки TCP-соединения в успешных проверках.",
        ),
        "camera.row.archive": ("Archive", "", "Архив", ""),
        "camera.coverage": (
            "Coverage by window",
            "Recorded share of each window: today and yesterday are calendar days in the "
            "exporter's time zone, the others end at the latest archive fetch.",
            "Покрытие по окнам",
            "Доля записанного в каждом окне: сегодня и вчера — календарные сутки в часовом поясе "
            "экспортёра, остальные окна заканчиваются последним запросом архива.",
        ),
        "camera.by_window": (
            "Archive by window",
            "Recorded time, gaps (holes longer than gap_threshold) and fragments in each window.",
            "Архив по окнам",
            "Записанное время, разрывы (пропуски длиннее gap_threshold) и фрагменты в каждом окне.",
        ),
        "camera.daily_coverage": (
            "Coverage per day (last 90 days)",
            "Recorded share of each calendar day (green >= 90 %, yellow 50-90 %, red < 50 %), "
            'from window="yesterday" and the backfilled history. Set the dashboard time zone to '
            "the exporter's timezone for the columns to line up with its calendar days.",
            "Покрытие по дням (90 дней)",
            "Доля записанного за каждые календарные сутки (зелёный ≥ 90 %, жёлтый 50–90 %, "
            'красный < 50 %) по window="yesterday" и загруженной истории. Поставьте часовой пояс '
            "дашборда как у экспортёра, чтобы столбцы совпали с его сутками.",
        ),
        "camera.daily_time": (
            "Recorded and gap time per day (last 90 days)",
            "Recorded time and gap time of each calendar day, from the daily history.",
            "Запись и разрывы по дням (90 дней)",
            "Записанное время и время разрывов за каждые календарные сутки, по суточной истории.",
        ),
        "camera.row.frames": ("Frames", "", "Кадры", ""),
        "camera.frame_problems": (
            "Frame problems",
            "Problems found in the camera's frames over time, and whether frames could be "
            "fetched at all (the problem flags keep their last value while they cannot).",
            "Проблемы кадра",
            "Проблемы, найденные в кадрах камеры, во времени, и удавалось ли вообще получить "
            "кадр (пока нет, флаги проблем сохраняют последнее значение).",
        ),
        "camera.evidence": (
            "Latest evidence",
            "The newest frame kept as evidence for each problem, served by the exporter that "
            "analysed it (its scrape address, the instance label). Click the problem to open "
            "the frame.",
            "Последние кадры-доказательства",
            "Самый новый сохранённый кадр по каждой проблеме; его отдаёт экспортёр, который его "
            "анализировал (адрес сбора, метка instance). Проблема открывает кадр.",
        ),
        "camera.brightness": (
            "Brightness and occlusion",
            "Mean brightness (0 black, 1 white) and the share of the picture without texture.",
            "Яркость и перекрытие",
            "Средняя яркость (0 — чёрный, 1 — белый) и доля изображения без текстуры.",
        ),
        "camera.sharpness": (
            "Sharpness",
            "Variance of the Laplacian: compare the camera with itself. It also drops when the "
            "light dims; blur is judged on it over the local contrast, against the camera's usual "
            "level.",
            "Резкость",
            "Дисперсия лапласиана: сравнивайте камеру с ней самой. Она падает и при слабом свете; "
            "размытие оценивается по ней относительно локального контраста и обычного уровня "
            "камеры.",
        ),
        "camera.unchanged": (
            "Unchanged picture and displacement",
            "How long the picture has not changed (frozen when long), and its shift against the "
            "camera's reference picture.",
            "Неизменное изображение и смещение",
            "Сколько изображение не менялось (долго — зависло) и его сдвиг относительно "
            "эталонного кадра камеры.",
        ),
        # ---- archives
        "archives.row.fleet": ("Fleet", "", "Парк", ""),
        "archives.avg": (
            "Average coverage",
            "Mean recorded share of the window over the cameras of the selected data centers.",
            "Среднее покрытие",
            "Средняя доля записанного в окне по камерам выбранных ЦОД.",
        ),
        "archives.none": (
            "Without any recording",
            "Cameras with no recorded second in the window.",
            "Без записи",
            "Камеры, у которых в окне не записано ни секунды.",
        ),
        "archives.gap_hour": (
            "Gap over an hour",
            "Cameras whose longest gap in the window is over an hour.",
            "Разрыв больше часа",
            "Камеры, у которых самый длинный разрыв в окне больше часа.",
        ),
        "archives.not_growing": (
            "Not growing",
            "Online cameras whose newest recording ended more than 30 minutes ago (any window).",
            "Архив не растёт",
            "Камеры онлайн, у которых последняя запись закончилась больше 30 минут назад (в "
            "любом окне).",
        ),
        "archives.distribution": (
            "Coverage distribution",
            "Cameras of the selected data centers by recorded share of the window.",
            "Распределение покрытия",
            "Камеры выбранных ЦОД по доле записанного в окне.",
        ),
        "archives.quality": (
            "Quality bands (whole fleet)",
            "Cameras by archive quality band over the window: good >= 90 %, degraded 50-90 %, "
            "poor < 50 % with some recording, none without recording (recording rule "
            "vigil:cameras:count_by_archive_quality; every exporter and data center).",
            "Полосы качества (весь парк)",
            "Камеры по полосам качества архива в окне: хорошо ≥ 90 %, ухудшено 50–90 %, плохо "
            "< 50 % при какой-то записи, нет записи (правило записи "
            "vigil:cameras:count_by_archive_quality; все экспортёры и ЦОД).",
        ),
        "archives.avg_over_time": (
            "Average coverage over time",
            "Mean recorded share of the window over the selected data centers' cameras, as each "
            "archive fetch computed it.",
            "Среднее покрытие во времени",
            "Средняя доля записанного в окне по камерам выбранных ЦОД, как её считал каждый "
            "запрос архива.",
        ),
        "archives.row.cameras": ("Cameras", "", "Камеры", ""),
        "archives.worst": (
            "Worst coverage",
            "The 20 cameras of the selected data centers with the lowest recorded share of the "
            "window.",
            "Худшее покрытие",
            "20 камер выбранных ЦОД с наименьшей долей записанного в окне.",
        ),
        "archives.longest": (
            "Longest gaps",
            "The 20 cameras with the longest gap (hole longer than gap_threshold) in the window.",
            "Самые длинные разрывы",
            "20 камер с самым длинным разрывом (пропуск длиннее gap_threshold) в окне.",
        ),
        "archives.not_growing_list": (
            "Archive not growing",
            "Online cameras whose newest recording ended more than 30 minutes ago, longest first: "
            "a dying memory card or a recording problem.",
            "Архив перестал расти",
            "Камеры онлайн, у которых последняя запись закончилась больше 30 минут назад, самые "
            "давние сверху: умирающая карта памяти или сбой записи.",
        ),
        "archives.shallowest": (
            "Shallowest archives",
            "The 20 cameras whose kept archive reaches back the least (archive depth).",
            "Самые короткие архивы",
            "20 камер с наименьшей глубиной архива.",
        ),
        "archives.row.baked": ("Baked archives", "", "Выгрузки архивов", ""),
        "archives.baked_status": (
            "Baked archives by status",
            "Baked (exported) archives by status among the newest 5,000 the platform lists.",
            "Выгрузки по статусам",
            "Выгрузки архивов (baked) по статусам среди 5000 последних на платформе.",
        ),
        "archives.baked_list": (
            "Baked archives not DONE",
            "Every baked archive that is NEW, ENQUEUED or in ERROR (filter: Baked archive "
            "status), with its camera and how long ago it was requested; failed ones first when "
            "there are more than the exporter lists (200). Click a name for the camera's detail.",
            "Незавершённые выгрузки",
            "Все выгрузки архивов в статусе NEW, ENQUEUED или ERROR (фильтр «Статус выгрузки») с "
            "камерой и давностью запроса; если их больше, чем перечисляет экспортёр (200), "
            "первыми идут ошибочные. Название открывает карточку камеры.",
        ),
        "archives.baked_unlisted": (
            "Not listed",
            "Baked archives not DONE that the list leaves out: beyond the exporter's bound of 200, "
            "or records without an id or a time (vigil_baked_archives_unlisted).",
            "Не вошли в список",
            "Незавершённые выгрузки, которых нет в списке: сверх предела экспортёра (200) или "
            "записи без номера или времени (vigil_baked_archives_unlisted).",
        ),
        "archives.row.depth": ("Depth and history", "", "Глубина и история", ""),
        "archives.depth": (
            "Archive depth",
            "Cameras of the selected data centers by how far back their kept archive reaches.",
            "Глубина архива",
            "Камеры выбранных ЦОД по глубине хранимого архива.",
        ),
        "archives.daily_quality": (
            "Quality bands per day (last 90 days)",
            'Cameras in each quality band for each calendar day, from the window="yesterday" '
            "figures (days before Prometheus evaluated the recording rule are empty unless the "
            "rule was backfilled, see dashboards/README.md).",
            "Полосы качества по дням (90 дней)",
            "Камеры в каждой полосе качества за каждые календарные сутки по показателям "
            'window="yesterday" (дни до начала вычисления правила записи пусты, если правило не '
            "досчитано задним числом, см. dashboards/README.md).",
        ),
    }
)

_PANELS.update(
    {
        # ---- frames
        "frames.analysed": (
            "Cameras analysed",
            "Cameras whose frames Vigil analyses (snapshot, RTSP or Redis stream).",
            "Камер анализируется",
            "Камеры, кадры которых анализирует Vigil (снимок, RTSP или поток Redis).",
        ),
        "frames.not_fetched": (
            "Frames not fetched",
            "Cameras whose latest frame could not be fetched or decoded (reason in the failures "
            "panel below).",
            "Кадр не получен",
            "Камеры, последний кадр которых не удалось получить или декодировать (причина — на "
            "панели ошибок ниже).",
        ),
        "frames.with_problem": (
            "Cameras with a problem",
            "Cameras whose latest analysed frame shows any problem.",
            "Камеры с проблемой",
            "Камеры, в последнем проанализированном кадре которых есть проблема.",
        ),
        "frames.p90": (
            "Analysis time p90",
            "90th percentile of decode and analysis time of one frame, right now.",
            "Время анализа, p90",
            "90-й перцентиль времени декодирования и анализа одного кадра сейчас.",
        ),
        "frames.by_problem": (
            "Cameras by problem",
            "How many cameras show each problem in their latest analysed frame.",
            "Камеры по проблемам",
            "Сколько камер показывают каждую проблему в последнем проанализированном кадре.",
        ),
        "frames.current": (
            "Current problems",
            "Every current frame problem with the time of the newest evidence frame kept for it. "
            "Click the problem to open that frame on the exporter that analysed it (its scrape "
            "address, the instance label), the camera for its detail.",
            "Текущие проблемы",
            "Все текущие проблемы кадра со временем самого нового сохранённого кадра-"
            "доказательства. Проблема открывает этот кадр на экспортёре, который его "
            "анализировал (адрес сбора, метка instance), камера — её карточку.",
        ),
        "frames.row.values": ("Frame values", "", "Показатели кадра", ""),
        "frames.brightness": (
            "Brightness",
            "Mean brightness of each camera's latest frame, 0 black to 1 white.",
            "Яркость",
            "Средняя яркость последнего кадра каждой камеры, от 0 (чёрный) до 1 (белый).",
        ),
        "frames.sharpness": (
            "Sharpness",
            "Variance of the Laplacian; compare a camera with itself. It also drops when the "
            "light dims: blur is judged on it over the local contrast.",
            "Резкость",
            "Дисперсия лапласиана; сравнивайте камеру с ней самой. Она падает и при слабом "
            "свете: размытие оценивается по ней относительно локального контраста.",
        ),
        "frames.occlusion": (
            "Occlusion",
            "Share of the picture without texture. It decides occlusion only until the camera "
            "has a reference picture (filming a wall); then the reference's lost structure does, "
            "so a dark room is not occluded.",
            "Перекрытие",
            "Доля изображения без текстуры. Она решает о перекрытии, только пока у камеры нет "
            "эталонного кадра (смотрит в стену); потом решает потеря структуры эталона, поэтому "
            "тёмная комната не перекрыта.",
        ),
        "frames.unchanged": (
            "Unchanged for",
            "How long each camera's picture has not changed beyond noise; long is a frozen "
            "picture.",
            "Без изменений",
            "Сколько изображение каждой камеры не менялось сверх шума; долго — зависшая картинка.",
        ),
        "frames.displacement": (
            "Displacement",
            "Shift against the camera's reference picture; absent without a reference or a "
            "confident alignment. Displaced needs a jump: a PTZ camera panning step by step is "
            "not.",
            "Смещение",
            "Сдвиг относительно эталонного кадра камеры; нет значения без эталона или надёжного "
            "совмещения. Смещение — это скачок: PTZ-камера, поворачивающая шаг за шагом, не "
            "смещена.",
        ),
        "frames.problems_over_time": (
            "Cameras with each problem",
            "How many cameras showed each problem over time.",
            "Камеры с каждой проблемой",
            "Сколько камер показывали каждую проблему во времени.",
        ),
        "frames.row.analysis": ("Analysis", "", "Анализ", ""),
        "frames.analysis_time": (
            "Analysis time percentiles",
            "Decode and analysis time of one frame by frame source (http, rtsp, redis): median, "
            "90th and 99th percentile.",
            "Перцентили времени анализа",
            "Время декодирования и анализа одного кадра по источнику (http, rtsp, redis): "
            "медиана, 90-й и 99-й перцентили.",
        ),
        "frames.rate": (
            "Frames analysed and skipped",
            "Frames analysed per second, and Redis frames skipped because a newer frame of the "
            "same camera was waiting.",
            "Кадры проанализированные и пропущенные",
            "Кадров в секунду проанализировано и пропущено из Redis, потому что ждал более новый "
            "кадр той же камеры.",
        ),
        "frames.failures": (
            "Fetch failures by reason",
            "Frames that could not be fetched or decoded, per second, by reason.",
            "Ошибки получения по причинам",
            "Кадры, которые не удалось получить или декодировать, в секунду, по причинам.",
        ),
        # ---- Perforce
        "p4.up": (
            "Servers up",
            "Whether the latest refresh of each Perforce server succeeded.",
            "Серверы",
            "Удалось ли последнее обновление каждого сервера Perforce.",
        ),
        "p4.ticket": (
            "Ticket expires in",
            "Time left on the login ticket Vigil uses; renew with vigil p4-login.",
            "Билет истекает через",
            "Сколько осталось жить билету входа, с которым работает Vigil; продлить — "
            "vigil p4-login.",
        ),
        "p4.streams": (
            "Streams measured",
            "Streams matching the servers' stream masks and the stream search.",
            "Измерено стримов",
            "Стримы, подходящие под маски серверов и поиск по стриму.",
        ),
        "p4.size": (
            "Stream size",
            "Size of each stream's files, computed by the server (p4 sizes -s).",
            "Размер стримов",
            "Размер файлов каждого стрима по подсчёту сервера (p4 sizes -s).",
        ),
        "p4.growth": (
            "Growth per day",
            "How much each stream grew over the preceding 24 hours "
            "(vigil:p4_stream_growth_bytes_per_day).",
            "Рост за сутки",
            "На сколько вырос каждый стрим за предыдущие 24 часа "
            "(vigil:p4_stream_growth_bytes_per_day).",
        ),
        "p4.top": (
            "Top growers (last day)",
            "The ten streams that grew most over the last day.",
            "Быстрее всех растут (сутки)",
            "Десять стримов, которые больше всех выросли за последние сутки.",
        ),
        "p4.list": (
            "Streams",
            "Every measured stream matching the search with its size, growth over the last day "
            "and files; sort or filter by a column.",
            "Стримы",
            "Все измеренные стримы, подходящие под поиск, с размером, ростом за сутки и числом "
            "файлов; сортировка и фильтр по столбцам.",
        ),
        # ---- analytics
        "analytics.scenarios": (
            "Scenarios",
            "Scenarios of the selected platforms, all statuses.",
            "Сценарии",
            "Сценарии выбранных платформ во всех статусах.",
        ),
        "analytics.stuck": (
            "Stuck",
            "Scenarios in a transitional status for longer than its stuck_after. The ids: the "
            "exporter's status page and /api/v1/analytics/PLATFORM/stuck.",
            "Зависшие",
            "Сценарии в промежуточном статусе дольше его stuck_after. Их идентификаторы — на "
            "странице состояния экспортёра и в /api/v1/analytics/PLATFORM/stuck.",
        ),
        "analytics.stale": (
            "Stale predictions",
            "Active scenarios whose predictions have not changed for predictions_stale_after.",
            "Устаревшие предсказания",
            "Активные сценарии, предсказания которых не менялись дольше predictions_stale_after.",
        ),
        "analytics.database": (
            "Database",
            "Whether Vigil can read the platform's scenario table (vigil_source_up of the "
            "analytics source); the reason of a failure is in vigil_probe_errors_total.",
            "База данных",
            "Может ли Vigil читать таблицу сценариев платформы (vigil_source_up источника "
            "analytics); причина сбоя — в vigil_probe_errors_total.",
        ),
        "analytics.api": (
            "API",
            "Whether the platform's HTTP API answered its latest check with 200.",
            "API",
            "Ответил ли HTTP API платформы на последнюю проверку кодом 200.",
        ),
        "analytics.runners": (
            "Runners",
            "Members of the runners' consumer group (kafka_exporter); 0 means nothing takes "
            "scenario events.",
            "Раннеры",
            "Участники группы потребителей раннеров (kafka_exporter); 0 — события сценариев "
            "никто не забирает.",
        ),
        "analytics.by_status": (
            "Scenarios by status",
            "How many scenarios are in each status, over time.",
            "Сценарии по статусам",
            "Сколько сценариев в каждом статусе, во времени.",
        ),
        "analytics.stuck_by_status": (
            "Stuck by status",
            "Scenarios stuck in each transitional status.",
            "Зависшие по статусам",
            "Зависшие сценарии в каждом промежуточном статусе.",
        ),
        "analytics.oldest": (
            "Oldest scenario per status",
            "Time in state of the scenario longest in each status (from updated_at, or observed "
            "across polls; see vigil_analytics_platform_info).",
            "Самый старый сценарий по статусам",
            "Время в статусе у сценария, дольше всех находящегося в каждом статусе (по "
            "updated_at или по наблюдению между опросами; см. vigil_analytics_platform_info).",
        ),
        "analytics.lag": (
            "Lag of the runners on scenarios",
            "Messages of the scenarios topic not yet taken by runners_group (kafka_exporter), "
            "per partition.",
            "Отставание раннеров по scenarios",
            "Сообщения топика scenarios, ещё не забранные runners_group (kafka_exporter), по "
            "разделам.",
        ),
        "analytics.retries": (
            "Retries",
            "Messages per second into retry_topic: failed scenarios the orchestrator restarts.",
            "Повторы",
            "Сообщений в секунду в retry_topic: упавшие сценарии, которые оркестратор "
            "перезапускает.",
        ),
        "analytics.api_latency": (
            "API latency",
            "Time the platform's API took to answer Vigil's check.",
            "Задержка API",
            "Сколько API платформы отвечал на проверку Vigil.",
        ),
        "analytics.poll": (
            "Poll duration",
            "How long one poll of the scenario table took.",
            "Длительность опроса",
            "Сколько длился один опрос таблицы сценариев.",
        ),
        # ---- Vigil itself
        "self.version": (
            "Version",
            "The running Vigil version of each exporter.",
            "Версия",
            "Работающая версия Vigil на каждом экспортёре.",
        ),
        "self.scraped": (
            "Exporter scraped",
            "Whether Prometheus could scrape each exporter.",
            "Сбор метрик",
            "Удаётся ли Prometheus собрать метрики с каждого экспортёра.",
        ),
        "self.sources": (
            "Sources up",
            "1 when the latest run of every check of the source succeeded (label "
            "exported_instance: the API host or Perforce server).",
            "Источники",
            "1, когда последний запуск каждой проверки источника удался (метка "
            "exported_instance: хост API или сервер Perforce).",
        ),
        "self.age_intervals": (
            "Last success age in check intervals",
            "Time since each check last succeeded, divided by its interval: around 1 is normal, "
            "3 makes the VigilSourceStale alert fire.",
            "Давность успеха в интервалах проверки",
            "Время с последнего успеха каждой проверки, делённое на её интервал: около 1 — "
            "норма, при 3 срабатывает оповещение VigilSourceStale.",
        ),
        "self.age": (
            "Last success age",
            "Time since each check last succeeded.",
            "Давность последнего успеха",
            "Время с последнего успеха каждой проверки.",
        ),
        "self.durations": (
            "Check duration percentiles",
            "Median and 99th percentile duration of one run of each check (an RT inventory poll "
            "covers all its pages and retries).",
            "Перцентили длительности проверок",
            "Медиана и 99-й перцентиль длительности одного запуска каждой проверки (опрос "
            "инвентаря RT включает все страницы и повторы).",
        ),
        "self.runs": (
            "Check runs",
            "Runs of each check per second.",
            "Запуски проверок",
            "Запусков каждой проверки в секунду.",
        ),
        "self.errors": (
            "Errors by reason",
            "Failed attempts per second by source, check and reason (retried attempts included); "
            "only non-zero rates are drawn.",
            "Ошибки по причинам",
            "Неудачных попыток в секунду по источнику, проверке и причине (с повторами); "
            "показаны только ненулевые.",
        ),
        "self.row.scrapes": ("Scrapes", "", "Сбор метрик", ""),
        "self.scrape_duration": (
            "Scrape duration",
            "How long Prometheus takes to scrape each exporter.",
            "Длительность сбора",
            "Сколько Prometheus собирает метрики с каждого экспортёра.",
        ),
        "self.samples": (
            "Samples per scrape",
            "Samples in each scrape: roughly 50 per camera of the RT inventory.",
            "Отсчётов за сбор",
            "Отсчётов в каждом сборе: примерно 50 на камеру инвентаря RT.",
        ),
        "self.new_series": (
            "New series per scrape",
            "Series that appeared in each scrape (cameras or windows coming and going).",
            "Новых рядов за сбор",
            "Ряды, появившиеся в каждом сборе (камеры или окна появляются и исчезают).",
        ),
    }
)


def _table() -> dict[str, dict[str, str]]:
    text: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for key, (en, ru) in _PAIRS.items():
        text["en"][key], text["ru"][key] = en, ru
    for key, (en_title, en_desc, ru_title, ru_desc) in _PANELS.items():
        assert key not in _PAIRS, key
        text["en"][key], text["ru"][key] = en_title, ru_title
        if en_desc or ru_desc:
            text["en"][f"{key}.d"], text["ru"][f"{key}.d"] = en_desc, ru_desc
    return text


TEXT: dict[str, dict[str, str]] = _table()


class Text:
    """The strings of one language; remembers which keys a rendering used."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.used: set[str] = set()

    def __call__(self, key: str) -> str:
        self.used.add(key)
        return TEXT[self.lang][key]
