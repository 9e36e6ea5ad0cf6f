"""Frame quality: one fresh JPEG per check (HTTP snapshot, RTSP) and frames pushed through Redis."""

from __future__ import annotations

from typing import Any

from exporter.configkit import ConfigError
from exporter.extras import require
from exporter.sources.contract import Source, SourceContext, SourcePlugin
from exporter.sources.frames.config import FramesConfig
from exporter.sources.frames.metrics import FAMILIES


def build(context: SourceContext, config: Any) -> Source:
    from exporter.logs import register_secret
    from exporter.sources.frames.evidence import make_evidence_store
    from exporter.sources.frames.source import FrameSource

    frames = config.frames
    ev = frames.evidence
    if ev.store == "s3":
        for secret in (ev.access_key, ev.secret_key):
            if secret is not None:
                register_secret(secret.reveal())
        evidence = make_evidence_store(
            "s3",
            bucket=ev.bucket,
            prefix=ev.prefix,
            retention_seconds=ev.retention,
            endpoint_url=ev.endpoint_url,
            region=ev.region,
            access_key=ev.access_key.reveal() if ev.access_key else None,
            secret_key=ev.secret_key.reveal() if ev.secret_key else None,
        )
    else:
        evidence = make_evidence_store(
            "local", directory=ev.directory, retention_seconds=ev.retention
        )
    if frames.redis is not None:
        register_secret(frames.redis.url.reveal())
    return FrameSource(
        metrics=context.metrics,
        recorder=context.recorder,
        config=frames,
        store=context.targets,
        default_interval=config.cameras.frame if config.cameras is not None else 60.0,
        evidence=evidence,
        publish_result=context.publish_result,
        session=context.session,
        clock=context.clock,
        owns=context.shard.owns,
    )


def validate(config: Any) -> None:
    if config.frames is not None:
        ev = config.frames.evidence
        if ev.store == "s3" and not ev.bucket:
            raise ConfigError("an s3 evidence store needs a bucket", key="frames.evidence.bucket")
        # the optional extras this section needs (pyproject.toml), named before anything imports them
        require("frames", "frame analysis", key="frames")
        if ev.store == "s3":
            require("s3", "an s3 evidence store", key="frames.evidence.store")
        if config.frames.redis is not None:
            require("redis", "frames from a Redis stream", key="frames.redis")


PLUGIN = SourcePlugin(
    name="frames",
    section="frames",
    config_type=FramesConfig,
    families=FAMILIES,
    build=build,
    validate=validate,
    doc="frame quality of cameras with a frame_url and of frames pushed through Redis",
)
