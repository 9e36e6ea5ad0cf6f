"""The exporter's HTTP face: /metrics, /-/healthy, /-/ready, and the keys the pages read (the status
page itself is in status.py). It only reads state."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from exporter.metrics import Metrics
from exporter.recorder import Recorder
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
TZ_KEY = web.AppKey("timezone", ZoneInfo)  # the configured time zone: pages show times in it
# where the pages link to: {"prometheus": url, "grafana": url} as configured (`links:` of vigil.yml)
EXTERNAL_KEY = web.AppKey("external_links", dict)


def _gzip_start(body: bytes) -> tuple[bytes, Any]:  # (compressed so far, zlib compressor)
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(body), compressor


async def metrics_handler(request: web.Request) -> web.StreamResponse:
    metrics = request.app[METRICS_KEY]
    if "gzip" not in request.headers.get("Accept-Encoding", ""):
        body, tail = metrics.render()
        return await _send(request, body, tail)
    cache = request.app[_GZIP_CACHE]
    generation = metrics.generation
    if cache.get("generation") != generation:
        cache.clear()
        body = metrics.registry.render()
        # zlib releases the GIL: compress off the event loop so probes keep running
        loop = asyncio.get_running_loop()
        compressed, compressor = await loop.run_in_executor(None, _gzip_start, body)
        cache.update(generation=generation, gzip=compressed, compressor=compressor)
        del body
        # the compressed stream is what Prometheus gets from now on: the joined body is let go
        # (130 MB at 25,000 cameras) rather than kept beside the next cycle's new partitions
        if metrics.generation == generation:
            metrics.registry.release()
    # the body's compressed stream is kept; each scrape finishes a copy of it with process_*
    compressor = cache["compressor"].copy()
    ending = compressor.compress(metrics.process_text()) + compressor.flush()
    return await _send(request, cache["gzip"], ending, {"Content-Encoding": "gzip"})


async def _send(
    request: web.Request, body: bytes, tail: bytes, headers: Mapping[str, str] = {}
) -> web.StreamResponse:
    """body + tail without joining them: a 25,000-camera body is 130 MB (18 MB gzipped)."""
    response = web.StreamResponse(headers={"Content-Type": METRICS_CONTENT_TYPE, **headers})
    response.content_length = len(body) + len(tail)
    await response.prepare(request)
    try:
        await response.write(body)
        await response.write(tail)
        await response.write_eof()
    except ConnectionError:
        pass  # the scraper went away (its own timeout): nobody is left to answer
    return response


async def healthy_handler(request: web.Request) -> web.Response:
    return web.Response(text="Vigil is healthy.\n")


async def ready_handler(request: web.Request) -> web.Response:
    if request.app[RECORDER_KEY].ready:
        return web.Response(text="Vigil is ready.\n")
    return web.Response(status=503, text="Vigil is starting: first polls not finished yet.\n")


def make_app(
    metrics: Metrics,
    recorder: Recorder,
    sources: Sequence[Source] = (),
    security: WebSecurity | None = None,
    *,
    tz: ZoneInfo | None = None,
    external_links: Mapping[str, str] | None = None,
) -> web.Application:
    """The exporter's web app: metrics, health and readiness (build_app adds the pages).

    Every route is behind the web config's gate (`security`; none: plain HTTP without auth).
    `tz` is the time zone pages show times in (default UTC); `external_links` the Prometheus and
    Grafana URLs the pages link to.
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
    app[TZ_KEY] = tz if tz is not None else ZoneInfo("UTC")
    app[EXTERNAL_KEY] = dict(external_links or {})
    app[_GZIP_CACHE] = {}
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/-/healthy", healthy_handler)
    app.router.add_get("/-/ready", ready_handler)
    return app
