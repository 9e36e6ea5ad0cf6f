"""The exporter's HTTP face: /metrics, /-/healthy, /-/ready and a landing page. It only reads state."""

from __future__ import annotations

import asyncio
import html
import time
import zlib
from collections.abc import Callable, Sequence

from aiohttp import web

from exporter import __version__
from exporter.metrics import Metrics
from exporter.scheduler import Scheduler

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GZIP_LEVEL = 1  # level 1 is 3-4x faster than 6 on large bodies and only ~15 % bigger

METRICS_KEY = web.AppKey("metrics", Metrics)
SCHEDULER_KEY = web.AppKey("scheduler", Scheduler)
_GZIP_CACHE = web.AppKey("gzip_cache", dict)
STATUS_LINES_KEY = web.AppKey("status_lines", list)
LINKS_KEY = web.AppKey("links", list)  # (href, title) pairs that sources add to the landing page


def _gzip(body: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


async def metrics_handler(request: web.Request) -> web.Response:
    body = request.app[METRICS_KEY].render()
    if "gzip" not in request.headers.get("Accept-Encoding", ""):
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})
    cache = request.app[_GZIP_CACHE]
    if cache.get("body") is not body:
        # zlib releases the GIL: compress off the event loop so probes keep running
        compressed = await asyncio.get_running_loop().run_in_executor(None, _gzip, body)
        cache.update(body=body, gzip=compressed)
    return web.Response(
        body=cache["gzip"],
        headers={"Content-Type": METRICS_CONTENT_TYPE, "Content-Encoding": "gzip"},
    )


async def healthy_handler(request: web.Request) -> web.Response:
    return web.Response(text="Vigil is healthy.\n")


async def ready_handler(request: web.Request) -> web.Response:
    if request.app[SCHEDULER_KEY].ready:
        return web.Response(text="Vigil is ready.\n")
    return web.Response(status=503, text="Vigil is starting: first polls not finished yet.\n")


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    seconds = max(0, int(now - ts))
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


def fleet_summary(metrics: Metrics) -> str:
    """Cameras known, online, offline and with card problems, as the latest poll left them."""
    cameras = len(metrics.camera_info)
    if not cameras:
        return "<p>No cameras known yet.</p>"
    online = [v for _, v in metrics.camera_online.samples()]
    problems = sum(v for _, v in metrics.camera_card_problem.samples())
    return (
        f"<p>{cameras} cameras: {online.count(1)} online, {online.count(0)} offline, "
        f"{int(problems)} with a memory-card problem.</p>"
    )


async def index_handler(request: web.Request) -> web.Response:
    now = time.time()
    rows = []
    for st in request.app[SCHEDULER_KEY].statuses():
        if st.last_ok is None:
            state = "pending"
        else:
            state = "ok" if st.last_ok else f"failing: {st.last_error}"
        duration = "" if st.last_duration is None else f"{st.last_duration:.2f}s"
        cells = (st.source, st.check, st.instance, state, _ago(st.last_success, now), duration)
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    table = "\n".join(rows) or '<tr><td colspan="6">No sources configured.</td></tr>'
    extra = "".join(f"<p>{html.escape(line())}</p>" for line in request.app[STATUS_LINES_KEY])
    links = "".join(
        f'<li><a href="{html.escape(href)}">{html.escape(title)}</a></li>'
        for href, title in request.app[LINKS_KEY]
    )
    has_inventory = any(st.source == "rt_api" for st in request.app[SCHEDULER_KEY].statuses())
    inventory = fleet_summary(request.app[METRICS_KEY]) if has_inventory else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
th{{border-bottom:1px solid #999}}</style></head>
<body><h1>Vigil exporter</h1><p>Version {html.escape(__version__)}</p>
<ul><li><a href="metrics">Metrics</a></li><li><a href="-/healthy">Health</a></li>
<li><a href="-/ready">Readiness</a></li>{links}</ul>
<h2>Fleet</h2>
{inventory}{extra}
<h2>Checks</h2>
<table><tr><th>source</th><th>check</th><th>instance</th><th>state</th><th>last success</th>
<th>last duration</th></tr>
{table}
</table></body></html>
"""
    return web.Response(text=page, content_type="text/html")


def make_app(
    metrics: Metrics,
    scheduler: Scheduler,
    status_lines: Sequence[Callable[[], str]] = (),
) -> web.Application:
    """The exporter's web app; `status_lines` add one line each to the status page (plain text)."""
    app = web.Application()
    app[METRICS_KEY] = metrics
    app[SCHEDULER_KEY] = scheduler
    app[STATUS_LINES_KEY] = list(status_lines)
    app[LINKS_KEY] = []
    app[_GZIP_CACHE] = {}
    app.router.add_get("/", index_handler)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/-/healthy", healthy_handler)
    app.router.add_get("/-/ready", ready_handler)
    return app
