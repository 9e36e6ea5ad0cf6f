"""The `analytics:` section: video-analytics platforms whose scenario tables are watched."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from exporter.configkit import (
    Duration,
    Secret,
    between,
    http_url,
    interval_range,
    positive,
    timeout_range,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StuckAfterConfig:
    """How long a scenario may stay in one status before it counts as stuck."""

    status: str
    after: Annotated[Duration, positive]


@dataclasses.dataclass(frozen=True, kw_only=True)
class PlatformConfig:
    """One platform: its PostgreSQL database (read-only access is enough) and, optionally, its API."""

    name: str  # the `platform` label
    dsn: Secret  # postgresql://user:password@host:port/db: ${ENV} or dsn_file
    table: str = "scenarios"  # columns id, status, predictions (JSON); updated_at when there is one
    interval: Annotated[Duration, interval_range] = 30.0
    statement_timeout: Annotated[Duration, timeout_range] = 10.0
    connect_timeout: Annotated[Duration, timeout_range] = 5.0
    # statuses ending in `_processing` are transitional, and so is every status listed below
    stuck_after: Annotated[Duration, positive] = 600.0  # default for every transitional status
    stuck_after_status: list[StuckAfterConfig] = dataclasses.field(default_factory=list)
    active_status: str = "active"  # the status whose scenarios must keep producing predictions
    predictions_stale_after: Annotated[Duration, positive] = 300.0
    api_url: Annotated[str, http_url] | None = None  # the platform's HTTP API (liveness, latency)
    api_path: str = "/openapi.json"
    api_timeout: Annotated[Duration, timeout_range] = 5.0
    list_limit: Annotated[int, between(1, 10_000)] = (
        100  # stuck/stale ids kept for the API and page
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class AnalyticsConfig:
    platforms: list[PlatformConfig] = dataclasses.field(default_factory=list)
