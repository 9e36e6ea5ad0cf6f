"""The stuck and stale scenarios of an analytics platform: `GET /api/v1/analytics/{platform}/stuck`."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from exporter.web.auth import error


class AnalyticsCommands(Protocol):
    """What the analytics source offers the web layer (exporter/sources/analytics/source.py)."""

    def problems(self, name: str) -> dict | None: ...


ANALYTICS_KEY = web.AppKey("analytics", AnalyticsCommands)


async def stuck(request: web.Request) -> web.Response:
    found = request.app[ANALYTICS_KEY].problems(request.match_info["platform"])
    if found is None:
        return error(404, "no such platform")
    return web.json_response(found)


def add_routes(app: web.Application, analytics: AnalyticsCommands) -> None:
    app[ANALYTICS_KEY] = analytics
    app.router.add_get("/api/v1/analytics/{platform}/stuck", stuck)
