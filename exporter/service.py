"""Wires a Config into a running exporter: metrics, sources, scheduler and the HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
from collections.abc import Callable

import aiohttp
from aiohttp import web

from exporter.api import TOKEN_KEY, add_routes
from exporter.app import make_app
from exporter.config import CamerasConfig, Config, ConfigError
from exporter.frames_api import add_frame_routes
from exporter.logs import register_secret
from exporter.metrics import Metrics
from exporter.p4_api import add_p4_routes
from exporter.results_hub import ResultsHub
from exporter.scheduler import Scheduler
from exporter.sources.frames.evidence import make_evidence_store
from exporter.sources.frames.source import FrameSource
from exporter.sources.network.source import Defaults, NetworkSource
from exporter.sources.p4.source import P4Source
from exporter.sources.rt_api import RtApiSource
from exporter.targets import (
    CameraTarget,
    StateFileError,
    TargetError,
    TargetStore,
    target_from_json,
)

log = logging.getLogger("vigil")

STOP_TIMEOUT = 5.0


def config_targets(cameras: CamerasConfig) -> list[CameraTarget]:
    """The `cameras.targets` of the config as targets, validated like API registrations."""
    targets = []
    seen: set[str] = set()
    for i, t in enumerate(cameras.targets):
        body = {
            "id": t.id,
            "host": t.host,
            "port": t.port or cameras.port,
            "icmp": t.icmp,
            "tcp": t.tcp,
            "frame": t.frame,
            "frame_url": t.frame_url.reveal() if t.frame_url else None,
            "rtsp_options": t.rtsp_options,
        }
        try:
            target = target_from_json(body, origin="config")
        except TargetError as exc:
            field, _, message = str(exc).partition(": ")
            raise ConfigError(message, key=f"cameras.targets[{i}].{field}") from None
        if target.id in seen:
            raise ConfigError(f"duplicate camera id {target.id!r}", key=f"cameras.targets[{i}].id")
        seen.add(target.id)
        targets.append(target)
    return targets


def validate(config: Config) -> None:
    """Checks across keys that the loader cannot make alone; raises ConfigError like it."""
    if config.cameras is not None:
        config_targets(config.cameras)  # validated like API registrations
    if config.frames is not None:
        ev = config.frames.evidence
        if ev.store == "s3" and not ev.bucket:
            raise ConfigError("an s3 evidence store needs a bucket", key="frames.evidence.bucket")


class Exporter:
    """One exporter instance. `start()` binds the listener and starts the checks; `stop()` undoes it."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        backoff_base: float | None = None,
        p4_factory: Callable[[], object] | None = None,
    ) -> None:
        self.config = config
        self._p4_factory = p4_factory  # tests hand in a fake P4Python
        self.clock = clock
        self.metrics = Metrics()
        self.scheduler = Scheduler(self.metrics, clock=clock)
        self.rt_api: RtApiSource | None = None
        self.network: NetworkSource | None = None
        self.frames: FrameSource | None = None
        self.p4: P4Source | None = None
        self._backoff_base = backoff_base
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = self.config.listen_host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        cfg = self.config
        validate(cfg)
        rt = cfg.rt_api
        ssl_ctx: ssl.SSLContext | bool = True
        if rt is not None and not rt.verify_tls:
            ssl_ctx = False
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, ssl=ssl_ctx),
            headers={"User-Agent": "vigil-exporter"},
        )
        if rt is not None:
            register_secret(rt.api_key.reveal())
            self.rt_api = RtApiSource(
                session=self._session,
                metrics=self.metrics,
                config=rt,
                tz=cfg.tz,
                clock=self.clock,
                backoff_base=self._backoff_base,
            )
            self.rt_api.register(self.scheduler)
        if cfg.p4 is not None:
            self.p4 = P4Source(self.metrics, cfg.p4, p4_factory=self._p4_factory, clock=self.clock)
            self.p4.register(self.scheduler)
        status_lines = []
        if cfg.cameras is not None:
            self.network = self._network(cfg.cameras)
            status_lines.append(self.network.summary)
        if cfg.frames is not None:
            self.frames = self._frames(cfg)
            status_lines.append(self.frames.summary)
        app = make_app(self.metrics, self.scheduler, status_lines)
        token = cfg.api_token.reveal() if cfg.api_token else ""
        register_secret(token)
        app[TOKEN_KEY] = token
        if self.network is not None:
            add_routes(app, self.network)
        if self.frames is not None:
            add_frame_routes(app, self.frames)
        if self.p4 is not None:
            add_p4_routes(app, self.p4)
        self._runner = web.AppRunner(app, access_log=logging.getLogger("aiohttp.access"))
        await self._runner.setup()
        site = web.TCPSite(self._runner, cfg.listen_host or None, cfg.listen_port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise SystemExit(f"vigil: cannot listen on {cfg.listen}: {exc.strerror}") from None
        self.port = self._runner.addresses[0][1]
        self.scheduler.start()
        if self.network is not None:
            self.network.start()
        if self.frames is not None:
            await self.frames.start()
        log.info("listening on %s (metrics at %s/metrics)", cfg.listen, self.url)

    def _network(self, cameras: CamerasConfig) -> NetworkSource:
        store = TargetStore(config_targets(cameras), cameras.state_file)
        try:
            problems = store.load()
        except StateFileError as exc:
            # starting without its cameras would overwrite the file on the next registration
            raise SystemExit(f"vigil: camera state file: {exc}") from None
        for problem in problems:
            log.error("camera state file %s: %s", cameras.state_file, problem)
            self.metrics.state_file_problems.inc([])
        if cameras.state_file is None and self.config.api_token is not None:
            log.warning(
                "cameras.state_file is not set: cameras registered through the API "
                "are forgotten on restart"
            )
        defaults = Defaults(
            icmp=cameras.icmp,
            tcp=cameras.tcp,
            port=cameras.port,
            rtsp_options=cameras.rtsp_options,
            timeout=cameras.timeout,
            concurrency=cameras.concurrency,
        )
        return NetworkSource(self.metrics, store, defaults)

    def _frames(self, cfg: Config) -> FrameSource:
        frames = cfg.frames
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
            metrics=self.metrics,
            config=frames,
            store=self.network.store if self.network is not None else None,
            default_interval=cfg.cameras.frame if cfg.cameras is not None else 60.0,
            evidence=evidence,
            hub=ResultsHub(),
            session=self._session,
            clock=self.clock,
        )

    async def stop(self) -> None:
        if self.frames is not None:
            await self.frames.stop()
        if self.network is not None:
            await self.network.stop()
        await self.scheduler.stop(STOP_TIMEOUT)
        if self.p4 is not None:
            await self.p4.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None


async def wait_for_signal() -> signal.Signals:
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda s=sig: received.done() or received.set_result(s))
    try:
        return await received
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


async def run_exporter(config: Config) -> None:
    exporter = Exporter(config)
    await exporter.start()
    sig = await wait_for_signal()
    log.info("received %s, stopping", sig.name)
    await exporter.stop()
    log.info("stopped")
