"""Direct network checks of cameras: ICMP echo and TCP connect (optionally RTSP OPTIONS)."""

from __future__ import annotations

from typing import Any

from exporter.configkit import ConfigError
from exporter.extras import require
from exporter.sources.contract import Source, SourceContext, SourcePlugin
from exporter.sources.network.config import CamerasConfig
from exporter.sources.network.metrics import FAMILIES


def build(context: SourceContext, config: Any) -> Source:
    from exporter.sources.network.source import NetworkSource

    return NetworkSource.from_context(context, config.cameras)


def validate(config: Any) -> None:
    """Config cameras are validated like API registrations (ConfigError naming the key)."""
    from exporter.targets import config_targets

    if config.cameras is not None:
        config_targets(config.cameras)
        if config.cameras.store is not None and config.cameras.state_file is not None:
            raise ConfigError(
                "give either state_file (one exporter) or store (shared by shards), not both",
                key="cameras.store",
            )
        if config.cameras.store is not None and not config.cameras.store.reveal().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError("must be a redis:// URL", key="cameras.store")
        if config.cameras.store is not None:
            require("redis", "a shared camera store", key="cameras.store")


PLUGIN = SourcePlugin(
    name="network",
    section="cameras",
    config_type=CamerasConfig,
    families=FAMILIES,
    build=build,
    validate=validate,
    doc="cameras checked directly: ICMP, TCP/RTSP, registration API and /probe",
)
