"""The exporter's HTTP face: /metrics, /-/healthy, /-/ready and the status page. It only reads state."""

from __future__ import annotations

import asyncio
import html
import time
import zlib
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from exporter import __version__
from exporter.metrics import Metrics
from exporter.recorder import CheckStatus, Recorder
from exporter.sources.contract import Source
from exporter.web.auth import PICTURES_KEY, SECURITY_KEY, TOKEN_KEY, add_headers, gate
from exporter.webconfig import WebSecurity

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GZIP_LEVEL = 1  # level 1 is 3-4x faster than 6 on large bodies and only ~15 % bigger

METRICS_KEY = web.AppKey("metrics", Metrics)
RECORDER_KEY = web.AppKey("recorder", Recorder)
_GZIP_CACHE = web.AppKey("gzip_cache", dict)
SOURCES_KEY = web.AppKey("sources", list)
LINKS_KEY = web.AppKey("links", list)  # (href, title) pairs that sources add to the landing page


def _gzip_start(body: bytes) -> tuple[bytes, Any]:  # (compressed so far, zlib compressor)
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(body), compressor


async def metrics_handler(request: web.Request) -> web.StreamResponse:
    body, tail = request.app[METRICS_KEY].render()
    if "gzip" not in request.headers.get("Accept-Encoding", ""):
        response = web.StreamResponse(headers={"Content-Type": METRICS_CONTENT_TYPE})
        response.content_length = len(body) + len(tail)
        await response.prepare(request)
        await response.write(body)  # two writes: no 99 MB copy of body + tail
        await response.write(tail)
        await response.write_eof()
        return response
    cache = request.app[_GZIP_CACHE]
    generation = request.app[METRICS_KEY].generation
    if cache.get("generation") != generation:
        # the cache keeps the body's generation, not the body: holding it would keep a 99 MB
        # body of a 25,000-camera shard alive beside the next one
        cache.clear()
        # zlib releases the GIL: compress off the event loop so probes keep running
        loop = asyncio.get_running_loop()
        compressed, compressor = await loop.run_in_executor(None, _gzip_start, body)
        cache.update(generation=generation, gzip=compressed, compressor=compressor)
    del body  # not needed any more: the compressed stream is what is sent
    # the body's compressed stream is kept; each scrape finishes a copy of it with process_*
    compressor = cache["compressor"].copy()
    ending = compressor.compress(tail) + compressor.flush()
    return web.Response(
        body=cache["gzip"] + ending,
        headers={"Content-Type": METRICS_CONTENT_TYPE, "Content-Encoding": "gzip"},
    )


async def healthy_handler(request: web.Request) -> web.Response:
    return web.Response(text="Vigil is healthy.\n")


async def ready_handler(request: web.Request) -> web.Response:
    if request.app[RECORDER_KEY].ready:
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


def check_state(st: CheckStatus) -> str:
    if st.last_ok is None:
        return "running" if st.running else "pending"
    return "ok" if st.last_ok else f"failing: {st.last_error}"


def last_error(st: CheckStatus, now: float) -> str:
    """The latest failure's reason, whose it was (the source's or a camera's) and when."""
    if st.last_error is None:
        return ""
    whose = "camera" if st.last_error_target else "source"
    return f"{st.last_error} ({whose}, {_ago(st.last_error_at, now)})"


def check_row(st: CheckStatus, now: float) -> tuple[str, ...]:
    duration = "" if st.last_duration is None else f"{st.last_duration:.2f}s"
    failing = f"{st.targets_failing} failing" if st.targets_failing else ""
    return (
        st.source,
        st.check,
        st.instance,
        check_state(st),
        _ago(st.last_success, now),
        last_error(st, now),
        failing,
        duration,
    )


async def index_handler(request: web.Request) -> web.Response:
    now = time.time()
    rows = []
    for st in request.app[RECORDER_KEY].statuses():
        state = "ok" if st.last_ok else "pending" if st.last_ok is None else "failing"
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in check_row(st, now))
        rows.append(f'<tr class="{state}">{cells}</tr>')
    table = "\n".join(rows) or '<tr><td colspan="8">No sources configured.</td></tr>'
    summary = "".join(
        f"<p>{html.escape(line)}</p>"
        for source in request.app[SOURCES_KEY]
        for line in source.status_lines()
    )
    links = "".join(
        f'<li><a href="{html.escape(href)}">{html.escape(title)}</a></li>'
        for href, title in request.app[LINKS_KEY]
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
th{{border-bottom:1px solid #999}}tr.failing td{{color:#b00}}</style></head>
<body><h1>Vigil exporter</h1><p>Version {html.escape(__version__)}</p>
<ul><li><a href="metrics">Metrics</a></li><li><a href="-/healthy">Health</a></li>
<li><a href="-/ready">Readiness</a></li>{links}</ul>
<h2>Fleet</h2>
{summary}
<h2>Checks</h2>
<table><tr><th>source</th><th>check</th><th>instance</th><th>state</th><th>last success</th>
<th>last error</th><th>cameras</th><th>last duration</th></tr>
{table}
</table></body></html>
"""
    return web.Response(text=page, content_type="text/html")


def make_app(
    metrics: Metrics,
    recorder: Recorder,
    sources: Sequence[Source] = (),
    security: WebSecurity | None = None,
) -> web.Application:
    """The exporter's web app: metrics, health, readiness and the status page of every check.

    Every route is behind the web config's gate (`security`; none: plain HTTP without auth).
    """
    app = web.Application(middlewares=[gate])
    app[SECURITY_KEY] = security if security is not None else WebSecurity()
    app[TOKEN_KEY] = app[SECURITY_KEY].api_token
    app[PICTURES_KEY] = set()
    app.on_response_prepare.append(add_headers)
    app[METRICS_KEY] = metrics
    app[RECORDER_KEY] = recorder
    app[SOURCES_KEY] = list(sources)
    app[LINKS_KEY] = []
    app[_GZIP_CACHE] = {}
    app.router.add_get("/", index_handler)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/-/healthy", healthy_handler)
    app.router.add_get("/-/ready", ready_handler)
    return app
