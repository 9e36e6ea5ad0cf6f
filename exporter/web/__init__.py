"""The exporter's web layer: status page and camera search, metrics, registration API, /probe,
evidence, WebSocket and Perforce routes, and their OpenAPI document. It reads state and calls the commands sources offer; it
never reaches into them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from aiohttp import web

from exporter.metrics import Metrics
from exporter.recorder import Recorder
from exporter.sources.contract import Source
from exporter.web import analytics, cameras, evidence, openapi, p4, status
from exporter.web.app import make_app
from exporter.web.results_hub import ResultsHub
from exporter.webconfig import WebSecurity

log = logging.getLogger("vigil.web")


def build_app(
    metrics: Metrics,
    recorder: Recorder,
    sources: Mapping[str, Source],
    *,
    security: WebSecurity,
    hub: ResultsHub,
    tz: ZoneInfo | None = None,
    external_links: Mapping[str, str] | None = None,
) -> web.Application:
    """The whole app: the common pages plus the routes of every source that offers commands.

    Each route module states the commands it calls as a Protocol (`CameraCommands`, `FrameCommands`,
    `PerforceCommands`, `AnalyticsCommands`); the sources provide them as plain methods.
    `security` holds the web config (TLS, basic auth) and the bearer token for changes; `tz` is
    the time zone the pages show times in; `external_links` the Prometheus and Grafana URLs they
    link to (`links:` of vigil.yml).
    """
    app = make_app(
        metrics,
        recorder,
        list(sources.values()),
        security,
        tz=tz,
        external_links=external_links,
    )
    status.add_routes(app)  # the status page and the camera search
    if "network" in sources:
        cameras.add_routes(app, sources["network"])
    if "frames" in sources:
        evidence.add_routes(app, sources["frames"], hub)
        if not security.authentication:
            log.warning(
                "camera pictures (/evidence, /ws/results) are served to anyone who reaches this "
                "port: configure basic_auth_users or client certificates in a web config file "
                "(--web.config.file), or an api_token"
            )
    if "p4" in sources:
        p4.add_routes(app, sources["p4"])
    if "analytics" in sources:
        analytics.add_routes(app, sources["analytics"])
    openapi.add_routes(app)  # describes the routes above: /api/v1/openapi.json
    return app
