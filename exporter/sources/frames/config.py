"""The `frames:` section: frame-quality analysis, thresholds, evidence store and Redis stream."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from exporter.configkit import (
    Duration,
    Secret,
    at_least,
    between,
    http_url,
    one_of,
    positive,
    timeout_range,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FrameThresholdsConfig:
    """Frame-problem thresholds; unset ones keep the analysis defaults (docs/frame-detection.md)."""

    dark_brightness: Annotated[float, between(0, 1)] | None = None
    dark_share: Annotated[float, between(0, 1)] | None = None
    blur_relative: Annotated[float, between(0, 1)] | None = None
    blur_floor: Annotated[float, at_least(0)] | None = None
    occlusion_share: Annotated[float, between(0, 1)] | None = None
    structure_loss: Annotated[float, between(0, 1)] | None = None
    displacement_pixels: Annotated[float, at_least(0)] | None = None
    frozen_seconds: Annotated[Duration, at_least(0)] | None = None
    reference_refresh_seconds: Annotated[Duration, positive] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class FrameOverrideConfig(FrameThresholdsConfig):
    """Thresholds of one camera (by id), on top of the section's."""

    camera: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvidenceConfig:
    """Where frames that showed a problem are kept: a local directory or an S3 bucket."""

    store: Annotated[str, one_of("local", "s3")] = "local"
    directory: str = "evidence"
    retention: Annotated[Duration, positive] = 30 * 86400.0
    bucket: str | None = None
    prefix: str = "vigil/evidence/"
    endpoint_url: Annotated[str, http_url] | None = None  # MinIO or another S3-compatible store
    region: str | None = None
    access_key: Secret | None = None
    secret_key: Secret | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedisFramesConfig:
    """JPEG frames pushed into a Redis stream (entries with `meta` JSON and `jpeg` fields)."""

    url: Secret  # redis://[:password@]host:port/db, may carry a password
    stream: str = "frames"
    group: str = "vigil"
    consumer: str | None = None  # default: the host name
    min_interval: Annotated[Duration, at_least(0)] = 0.0  # per camera; newer frames win


@dataclasses.dataclass(frozen=True, kw_only=True)
class FramesConfig:
    """Frame quality: cameras with a frame_url (section `cameras`) and frames from Redis."""

    timeout: Annotated[Duration, timeout_range] = 10.0
    workers: Annotated[int, between(1, 64)] = 2  # analysis processes
    thresholds: FrameThresholdsConfig = dataclasses.field(default_factory=FrameThresholdsConfig)
    overrides: list[FrameOverrideConfig] = dataclasses.field(default_factory=list)
    evidence: EvidenceConfig = dataclasses.field(default_factory=EvidenceConfig)
    redis: RedisFramesConfig | None = None
