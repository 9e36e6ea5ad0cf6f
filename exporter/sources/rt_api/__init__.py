"""RT Camera API source: inventory, status, baked archives and archive integrity."""

from exporter.sources.rt_api.source import RtApiSource

__all__ = ["RtApiSource"]
