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
    # authenticated calls: a camera's 90-day fragment list can be large (the original client gave
    # them 30 s); the unauthenticated health call has its own, shorter one
    timeout: Annotated[Duration, timeout_range] = 30.0
    health_timeout: Annotated[Duration, timeout_range] = 10.0
    max_retries: Annotated[int, at_least(0)] = 3
    # per_page of the camera list (the original asked for 1000); an API that refuses it with a 4xx
    # is asked again with 100, and Vigil keeps the size that worked
    page_size: Annotated[int, between(1, 1000)] = 1000
    # pages read per camera-list or baked-archive poll at most: a server that never sends a short
    # page (one that ignores `page`) fails the poll with `page_limit` instead of looping
    max_pages: Annotated[int, between(1, 100_000)] = 10_000
    # limit of a baked-archive page: 50 is the size the original client used and known to work
    baked_page_size: Annotated[int, between(1, 1000)] = 50
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
