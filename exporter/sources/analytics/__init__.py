"""Video-analytics platforms: scenario states, stuck scenarios, stale predictions, API liveness."""

from __future__ import annotations

from typing import Any

from exporter.configkit import ConfigError
from exporter.sources.analytics.config import AnalyticsConfig
from exporter.sources.analytics.metrics import FAMILIES
from exporter.sources.contract import Source, SourceContext, SourcePlugin


def build(context: SourceContext, config: Any) -> Source:
    import dataclasses

    from exporter.sources.analytics.source import AnalyticsSource  # asyncpg: on use

    # a shard watches the platforms it owns (by name)
    platforms = [p for p in config.analytics.platforms if context.shard.owns(p.name)]
    analytics = dataclasses.replace(config.analytics, platforms=platforms)
    return AnalyticsSource(context.metrics, analytics, context.session, context.clock)


def validate(config: Any) -> None:
    from exporter.sources.analytics.database import TABLE_NAME

    seen: set[str] = set()
    for i, p in enumerate(config.analytics.platforms):
        key = f"analytics.platforms[{i}]"
        if not p.name or p.name in seen:
            raise ConfigError(
                f"platform names must be unique and not empty ({p.name!r})", key=f"{key}.name"
            )
        seen.add(p.name)
        if not TABLE_NAME.fullmatch(p.table):
            raise ConfigError(
                f"not a table name: {p.table!r} (write table or schema.table)", key=f"{key}.table"
            )
        if not p.dsn.reveal().startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                "must be a postgresql://user:password@host:port/db URL", key=f"{key}.dsn"
            )
        if not p.api_path.startswith("/"):
            raise ConfigError("must start with /", key=f"{key}.api_path")


PLUGIN = SourcePlugin(
    name="analytics",
    section="analytics",
    config_type=AnalyticsConfig,
    families=FAMILIES,
    build=build,
    validate=validate,
    doc="video-analytics platforms: scenario states, stuck scenarios, stale predictions, API",
)
