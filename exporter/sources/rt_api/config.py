"""The `rt_api:` section: the Rostelecom cloud VMS API, its polling and archive analysis."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from exporter.configkit import (
    Duration,
    Secret,
    at_least,
    between,
    http_url,
    interval_range,
    timeout_range,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RtApiConfig:
    """Rostelecom B2B video-surveillance cloud API."""

    url: Annotated[str, http_url] = "https://lk-b2b.camera.rt.ru/api"
    api_key: Secret
    inventory_interval: Annotated[Duration, interval_range] = 60.0
    baked_archives_interval: Annotated[Duration, interval_range] = 300.0
    timeout: Annotated[Duration, timeout_range] = 10.0
    max_retries: Annotated[int, at_least(0)] = 3
    page_size: Annotated[int, between(1, 1000)] = 100  # per_page of the camera list
    concurrency: Annotated[int, at_least(1)] = 4  # camera-list pages fetched in parallel
    verify_tls: bool = True
    # a larger answer is refused and counted (bad_payload): a runaway page never fills memory
    max_answer_mb: Annotated[int, between(1, 1024)] = 32
    archive_interval: Annotated[Duration, interval_range] = 600.0
    archive_days: Annotated[int, between(1, 400)] = 90  # history kept and analysed per camera
    archive_overlap: Annotated[Duration, at_least(0)] = (
        600.0  # re-fetched tail: the last fragment grows
    )
    archive_concurrency: Annotated[int, at_least(1)] = 8  # cameras fetched in parallel
    gap_threshold: Annotated[Duration, at_least(0)] = 60.0  # a hole longer than this is a gap
