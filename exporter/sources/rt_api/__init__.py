"""RT Camera API source: inventory, status, baked archives and archive integrity."""

from __future__ import annotations

from typing import Any

from exporter.sources.contract import Source, SourceContext, SourcePlugin
from exporter.sources.rt_api.config import RtApiConfig
from exporter.sources.rt_api.metrics import FAMILIES


def build(context: SourceContext, config: Any) -> Source:
    from exporter.sources.rt_api.source import RtApiSource  # numpy and the HTTP client: on use

    return RtApiSource(context, config.rt_api, config.tz)


PLUGIN = SourcePlugin(
    name="rt_api",
    section="rt_api",
    config_type=RtApiConfig,
    families=FAMILIES,
    build=build,
    doc="Rostelecom cloud VMS: inventory, memory cards, baked archives, archive integrity",
)
