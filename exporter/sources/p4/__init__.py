"""Perforce source: stream sizes of several servers, on a schedule and on demand."""

from __future__ import annotations

from typing import Any

from exporter.extras import require
from exporter.sources.contract import Source, SourceContext, SourcePlugin
from exporter.sources.p4.config import P4Config, expand, mask_form
from exporter.sources.p4.metrics import FAMILIES


def build(context: SourceContext, config: Any) -> Source:
    import dataclasses

    from exporter.sources.p4.source import P4Source

    # a shard measures the servers it owns (by name)
    servers = [s for s in config.p4.servers if context.shard.owns(s.name)]
    return P4Source(
        context.metrics,
        context.recorder,
        dataclasses.replace(config.p4, servers=servers),
        p4_factory=context.options.get("p4_factory"),
        clock=context.clock,
    )


def validate(config: Any) -> None:
    require("p4", "Perforce stream sizes", key="p4")


def describe(config: Any) -> list[str]:
    """How each server's stream_mask was read, and where the servers came from."""
    lines = []
    if config.p4.servers_file is not None:
        lines.append(f"servers_file {config.p4.servers_file}: read as the old monitor's file")
    for server in config.p4.servers:
        lines.append(
            f"server {server.name}: stream_mask {server.stream_mask!r} read as a "
            f"{mask_form(server.stream_mask)}"
        )
    return lines


PLUGIN = SourcePlugin(
    name="p4",
    section="p4",
    config_type=P4Config,
    families=FAMILIES,
    build=build,
    validate=validate,
    doc="Perforce stream sizes, refresh jobs and locks",
    expand=expand,
    describe=describe,
)
