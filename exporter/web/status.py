"""The status page (`/`) and the camera search (`/api/v1/search`), in English and Russian.

The page shows, from the published state only (fleet.py) and the recorder's check statuses: a
search box that finds a camera by name, address, serial number or id and shows its current figures;
a tile per configured source; the cameras with a problem now, by name; every check of every source
with its state. It refreshes itself (unless the visitor is typing a search) and links to
Prometheus and Grafana when `links:` names them. Thumbnails of evidence frames are shown only to a
visitor the gate would serve the pictures to (auth.py); nothing on the page is a secret: network
cameras appear by host and port, never by frame URL.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from aiohttp import web

from exporter.recorder import CheckStatus
from exporter.web.app import EXTERNAL_KEY, LINKS_KEY, METRICS_KEY, RECORDER_KEY, SOURCES_KEY, TZ_KEY
from exporter.web.auth import error, sees_pictures
from exporter.web.fleet import SEARCH_LIMIT, SEARCH_MAX, WINDOWS, Camera, FleetView
from exporter.web.i18n import Words, negotiate
from exporter.web.layout import esc, render

FLEET_KEY = web.AppKey("fleet_view", FleetView)
REFRESH_SECONDS = 30
MAX_QUERY = 200  # characters of a search
PROBLEMS_SHOWN = 60


def words_for(request: web.Request) -> tuple[Words, bool]:
    lang, set_cookie = negotiate(request)
    return Words(lang, request.app[TZ_KEY]), set_cookie


def nav(request: web.Request, words: Words) -> list[tuple[str, str]]:
    """The header's links: the exporter's own pages, the sources' pages, Prometheus, Grafana."""
    links = [
        ("metrics", words.t("metrics")),
        ("-/healthy", words.t("health")),
        ("-/ready", words.t("readiness")),
        ("api/v1/openapi.json", words.t("api_doc")),
    ]
    links += [(href, words.t(key)) for href, key in request.app[LINKS_KEY]]
    links += [(url, words.t(name)) for name, url in request.app[EXTERNAL_KEY].items()]
    return links


# -- the check table ---------------------------------------------------------------------------


def check_state(st: CheckStatus, words: Words) -> str:
    if st.last_ok is None:
        return words.t("state_running" if st.running else "state_pending")
    if st.last_ok:
        return words.t("state_ok")
    return words.t("state_failing", reason=words.term(st.last_error or ""))


def last_error(st: CheckStatus, now: float, words: Words) -> str:
    """The latest failure's reason, whose it was (the source's or a camera's) and when."""
    if st.last_error is None:
        return ""
    whose = words.t("whose_camera" if st.last_error_target else "whose_source")
    return f"{words.term(st.last_error)} ({whose}, {words.ago(st.last_error_at, now)})"


def check_row(st: CheckStatus, now: float, words: Words) -> tuple[str, ...]:
    duration = "" if st.last_duration is None else words.seconds(st.last_duration)
    failing = words.t("n_failing", n=st.targets_failing) if st.targets_failing else ""
    return (
        st.source,
        st.check,
        st.instance,
        check_state(st, words),
        words.ago(st.last_success, now),
        last_error(st, now, words),
        failing,
        duration,
    )


def checks_table(request: web.Request, words: Words, now: float) -> str:
    rows = []
    for st in request.app[RECORDER_KEY].statuses():
        state = "ok" if st.last_ok else "failing" if st.last_ok is False else "pending"
        if st.last_ok is None and st.running:
            state = "running"
        cells = "".join(f"<td>{esc(c)}</td>" for c in check_row(st, now, words))
        rows.append(f'<tr class="{state}">{cells}</tr>')
    body = "\n".join(rows) or f'<tr><td colspan="8">{esc(words.t("no_sources"))}</td></tr>'
    heads = "".join(
        f"<th>{esc(words.t(k))}</th>"
        for k in (
            "col_source",
            "col_check",
            "col_instance",
            "col_state",
            "col_last_success",
            "col_last_error",
            "col_cameras",
            "col_duration",
        )
    )
    return f'<table class="checks"><tr>{heads}</tr>\n{body}\n</table>'


# -- tiles and problems --------------------------------------------------------------------------


def _count(n: int, words: Words, key: str, bad: bool, counted: bool = False) -> str:
    cls = "bad" if bad and n else "good" if bad else "none"
    label = words.noun(n, key) if counted else words.t(key)
    return f'<li><span class="badge {cls}">{n}</span> {esc(label)}</li>'


def tiles(request: web.Request, words: Words) -> str:
    configured = {source.name for source in request.app[SOURCES_KEY]}
    figures = request.app[FLEET_KEY].summary()
    out = []
    if "rt_api" in configured:
        rt = figures["rt_api"]
        if rt["cameras"]:
            items = (
                _count(rt["online"], words, "online", False)
                + _count(rt["offline"], words, "offline", True)
                + _count(rt["card_problems"], words, "card_problems", True)
                + _count(rt["below_90"], words, "below_90", True)
            )
        else:
            items = f"<li>{esc(words.t('tile_rt_none'))}</li>"
        out.append(_tile(words.t("tile_rt"), rt["cameras"], words, "cameras", items))
    if "network" in configured:
        net = figures["network"]
        items = "".join(
            f'<li><span class="badge {"bad" if n else "good"}">{n}</span> '
            f"{esc(words.t('failing_check', check=check))}</li>"
            for check, n in net["failing"].items()
        )
        out.append(_tile(words.t("tile_network"), net["cameras"], words, "cameras", items))
    if "frames" in configured:
        fr = figures["frames"]
        items = _count(fr["with_problem"], words, "frame_problem_now", True) + _count(
            fr["not_fetched"], words, "frame_not_fetched", True
        )
        out.append(_tile(words.t("tile_frames"), fr["cameras"], words, "cameras", items))
    if "p4" in configured:
        p4 = figures["p4"]
        items = (
            f'<li><span class="badge {"good" if p4["up"] == p4["servers"] else "bad"}">'
            f"{p4['up']}</span> {esc(words.t('up'))}</li>"
            + _count(p4["streams"], words, "streams", False, counted=True)
        )
        out.append(_tile(words.t("tile_p4"), p4["servers"], words, "servers", items))
    if "analytics" in configured:
        an = figures["analytics"]
        items = (
            _count(an["scenarios"], words, "scenarios", False, counted=True)
            + _count(an["stuck"], words, "stuck", True)
            + _count(an["stale"], words, "stale", True)
        )
        out.append(_tile(words.t("tile_analytics"), an["platforms"], words, "platforms", items))
    notes = "".join(
        f"<p>{esc(line)}</p>"
        for source in request.app[SOURCES_KEY]
        for line in source.status_lines()
    )
    if notes:
        notes = f'<div class="notes"><p><em>{esc(words.t("source_notes"))}:</em></p>{notes}</div>'
    return f'<div class="tiles">{"".join(out)}</div>{notes}'


def _tile(title: str, total: int, words: Words, unit: str, items: str) -> str:
    return (
        f'<section class="tile"><h3>{esc(title)}</h3><div><span class="big">{total}</span> '
        f"{esc(words.noun(total, unit))}</div><ul>{items}</ul></section>"
    )


def problems_list(request: web.Request, words: Words) -> str:
    found = request.app[FLEET_KEY].problems()
    if not found:
        return f'<p><span class="badge good">{esc(words.t("no_problems"))}</span></p>'
    items = []
    for camera, kind, details in found[:PROBLEMS_SHOWN]:
        if kind == "offline":
            since = details.get("since")
            why = (
                words.t("why_offline", time=words.time(since))
                if since
                else words.t("why_offline_plain")
            )
        elif kind == "probe":
            why = words.t("why_probe", check=details["check"])
        elif kind == "no_frame":
            why = words.t("why_no_frame")
        elif kind == "frame":
            why = words.t("why_frame", problem=words.term(details["problem"]))
        else:
            why = words.t("why_card", state=words.term(details["state"]))
        where = f" — {esc(camera.address)}" if camera.address else ""
        items.append(
            f'<li><a href="?q={esc(_quote(camera.id))}">{esc(camera.label())}</a>{where}: '
            f'<span class="badge bad">{esc(why)}</span></li>'
        )
    more = len(found) - PROBLEMS_SHOWN
    if more > 0:
        items.append(f"<li>{esc(words.t('and_more', n=more))}</li>")
    return f'<ul class="problems">{"".join(items)}</ul>'


def _quote(text: str) -> str:
    return quote(text, safe="")


# -- the search ----------------------------------------------------------------------------------


def _ratio_class(ratio: float) -> str:
    return "good" if ratio >= 0.9 else "warn" if ratio >= 0.5 else "bad"


def camera_card(fig: dict[str, Any], words: Words, pictures: bool) -> str:
    rows: list[tuple[str, str]] = [("f_id", esc(fig["id"]))]
    for key, field in (
        ("f_name", "name"),
        ("f_address", "address"),
        ("f_sn", "sn"),
        ("f_ip", "ip"),
        ("f_datacenter", "datacenter"),
    ):
        if fig[field]:
            rows.append((key, esc(fig[field])))
    if fig["vendor"] or fig["model"]:
        rows.append(("f_model", esc(f"{fig['vendor']} {fig['model']}".strip())))
    if fig["host"]:
        port = f":{fig['port']}" if fig["port"] else ""
        rows.append(("f_host", esc(f"{fig['host']}{port}")))
    if fig["online"] is not None:
        if fig["online"]:
            rows.append(("f_online", f'<span class="badge good">{esc(words.t("yes"))}</span>'))
        else:
            since = fig["offline_since"]
            text = words.t("why_offline", time=words.time(since)) if since else words.t("no")
            rows.append(("f_online", f'<span class="badge bad">{esc(text)}</span>'))
    if fig["memory_card"] is not None:
        cls = "bad" if fig["memory_card_problem"] else "good"
        rows.append(
            ("f_card", f'<span class="badge {cls}">{esc(words.term(fig["memory_card"]))}</span>')
        )
    if fig["coverage"]:
        badges = " ".join(
            f'<span class="badge {_ratio_class(fig["coverage"][w])}">'
            f"{esc(words.t('w_' + w))}: {esc(words.percent(fig['coverage'][w]))}</span>"
            for w in WINDOWS
            if w in fig["coverage"]
        )
        rows.append(("f_coverage", badges))
    if fig["archive_depth_seconds"] is not None:
        days = int(fig["archive_depth_seconds"] // 86400)
        rows.append(("f_archive_depth", esc(words.t("days", n=days))))
    if fig["probes"]:
        badges = []
        for check, probe in fig["probes"].items():
            if probe["ok"]:
                rtt = probe["rtt_seconds"]
                extra = f" ({rtt * 1000:.1f} ms)" if rtt is not None else ""
                badges.append(
                    f'<span class="badge good">{esc(check)}: {esc(words.t("ok"))}{extra}</span>'
                )
            else:
                badges.append(
                    f'<span class="badge bad">{esc(check)}: {esc(words.t("fails"))}</span>'
                )
        rows.append(("f_probes", " ".join(badges)))
    frame = fig["frame"]
    if frame is not None:
        if not frame["fetched"]:
            text = f'<span class="badge bad">{esc(words.t("not_fetched"))}</span>'
        elif frame["problems"]:
            text = " ".join(
                f'<span class="badge bad">{esc(words.term(p))}</span>' for p in frame["problems"]
            )
        else:
            text = f'<span class="badge good">{esc(words.t("no_problem"))}</span>'
        rows.append(("f_frame", text))
    evidence = fig["evidence"]
    if frame is not None or evidence is not None:
        if evidence is None:
            text = esc(words.t("no_evidence"))
        else:
            caption = f"{words.term(evidence['problem'])}, {words.time(evidence['time'])}"
            url = evidence["url"]
            if pictures:
                text = (
                    f'<a href="{esc(url)}"><img class="thumb" src="{esc(url)}" loading="lazy" '
                    f'alt="{esc(caption)}"></a>{esc(caption)}'
                )
            else:
                text = f"{esc(caption)} ({esc(words.t('sign_in_for_pictures'))})"
        rows.append(("f_evidence", text))
    dl = "".join(f"<dt>{esc(words.t(key))}</dt><dd>{value}</dd>" for key, value in rows)
    title = fig["name"] or fig["id"]
    return f'<article class="camera" data-camera="{esc(fig["id"])}"><h3>{esc(title)}</h3><dl>{dl}</dl></article>'


async def search_section(request: web.Request, words: Words, query: str) -> str:
    form = (
        f'<form class="search" method="get" action="" role="search">'
        f'<input type="hidden" name="lang" value="{words.lang}">'
        f'<input id="q" name="q" type="search" value="{esc(query)}" '
        f'placeholder="{esc(words.t("search_hint"))}" aria-label="{esc(words.t("search"))}" '
        f'maxlength="{MAX_QUERY}">'
        f'<button type="submit">{esc(words.t("search_button"))}</button></form>'
    )
    if not query.strip():
        return form
    found, total = request.app[FLEET_KEY].search(query[:MAX_QUERY], SEARCH_LIMIT)
    if not found:
        return form + f'<p class="found">{esc(words.t("search_none", q=query))}</p>'
    view = request.app[FLEET_KEY]
    pictures = await sees_pictures(request)
    cards = "".join(camera_card(view.figures(c), words, pictures) for c in found)
    more = ""
    if total > len(found):
        more = f"<p>{esc(words.t('search_more', shown=len(found)))}</p>"
    return (
        form
        + f'<p class="found">{esc(words.t("search_found", n=total, q=query))}</p>{more}'
        + f'<div class="cameras">{cards}</div>'
    )


async def status_page(request: web.Request) -> web.Response:
    words, set_cookie = words_for(request)
    now = time.time()
    query = request.query.get("q", "")
    body = f"""<h2>{esc(words.t("search"))}</h2>
{await search_section(request, words, query)}
<h2>{esc(words.t("fleet"))}</h2>
{tiles(request, words)}
<h2>{esc(words.t("problems"))}</h2>
{problems_list(request, words)}
<h2>{esc(words.t("checks"))}</h2>
{checks_table(request, words, now)}"""
    footer = (
        f"{esc(words.t('updated', time=words.time(now), n=REFRESH_SECONDS))} "
        f"{esc(words.t('times_in', tz=words.tz.key))}"
    )
    return render(
        request,
        words,
        title=words.t("title"),
        body=body,
        nav=nav(request, words),
        refresh=REFRESH_SECONDS,
        set_cookie=set_cookie,
        footer=footer,
    )


async def search_api(request: web.Request) -> web.Response:
    """The cameras matching `q`, best first, with their current figures."""
    query = request.query.get("q", "")
    if not query.strip():
        return error(400, "q is missing: a part of a camera's name, address, serial number or id")
    if len(query) > MAX_QUERY:
        return error(400, f"q is longer than {MAX_QUERY} characters")
    text = request.query.get("limit", str(SEARCH_LIMIT))
    if not (len(text) <= 3 and text.isascii() and text.isdigit() and 1 <= int(text) <= SEARCH_MAX):
        return error(400, f"limit must be a whole number from 1 to {SEARCH_MAX}")
    view = request.app[FLEET_KEY]
    found, total = view.search(query, int(text))
    return web.json_response(
        {"query": query, "total": total, "cameras": [view.figures(c) for c in found]}
    )


def add_routes(app: web.Application) -> None:
    app[FLEET_KEY] = FleetView(app[METRICS_KEY])
    app.router.add_get("/", status_page)
    app.router.add_get("/api/v1/search", search_api)


__all__ = ["Camera", "add_routes", "camera_card", "status_page"]
