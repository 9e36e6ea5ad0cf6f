"""The `cameras:` section: cameras checked directly on the network (and their frame URLs)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from exporter.configkit import Duration, Secret, at_least, between, duration_between, timeout_range
from exporter.targets import MAX_INTERVAL, MIN_INTERVAL

# how often a camera is probed: the bounds a registration through the API has too, 0s = off
PROBE_INTERVAL = duration_between(MIN_INTERVAL, MAX_INTERVAL, off=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CameraTargetConfig:
    """One camera checked directly on the network. Unset intervals come from the section."""

    id: str
    host: str
    port: Annotated[int, between(1, 65535)] | None = None
    icmp: Annotated[Duration, PROBE_INTERVAL] | None = None  # 0s turns the check off
    tcp: Annotated[Duration, PROBE_INTERVAL] | None = None
    frame: Annotated[Duration, PROBE_INTERVAL] | None = None
    frame_url: Secret | None = None  # may carry a password: ${ENV} or frame_url_file
    rtsp_options: bool | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CamerasConfig:
    """Cameras checked directly: defaults first, then the targets; more arrive through the API."""

    icmp: Annotated[Duration, PROBE_INTERVAL] = 30.0
    tcp: Annotated[Duration, PROBE_INTERVAL] = 30.0
    frame: Annotated[Duration, PROBE_INTERVAL] = 60.0
    port: Annotated[int, between(1, 65535)] = 554
    rtsp_options: bool = False
    timeout: Annotated[Duration, timeout_range] = 2.0
    concurrency: Annotated[int, at_least(1)] = 256
    state_file: str | None = None  # cameras registered through the API survive restarts here
    # or, for several shards: redis://[:password@]host:port/db, shared by every replica
    store: Secret | None = None
    store_key: str = "vigil:cameras"
    targets: list[CameraTargetConfig] = dataclasses.field(default_factory=list)
