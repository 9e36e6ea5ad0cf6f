"""The one composition root: a Config becomes metrics, sources, their checks and the HTTP server.

`compose()` builds the sources of every configured section and registers their checks; `vigil run`,
`vigil demo` and `vigil backfill` all build their sources through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from exporter.config import Config, ConfigError, check_across_keys
from exporter.logs import register_secret
from exporter.metrics import SHARD_INFO, Metrics
from exporter.recorder import Recorder
from exporter.scheduler import Scheduler
from exporter.sharding import Shard
from exporter.sources import catalogue, plugins
from exporter.sources.contract import Source, SourceContext
from exporter.sources.network.metrics import STATE_FILE_PROBLEMS
from exporter.targets import StateFileError, TargetStore, config_targets
from exporter.web import build_app
from exporter.web.results_hub import ResultsHub
from exporter.webconfig import WebSecurity

log = logging.getLogger("vigil")

STOP_TIMEOUT = 5.0
# after a stop, requests in flight may finish for this long, then they are cancelled; WebSocket
# clients get as long for the close handshake; a connection still open at STOP_TIMEOUT is cut
HTTP_GRACE = 2.0


def validate(config: Config) -> None:
    """Checks across keys that the loader cannot make alone (parse_config runs them too, for a
    config built in code or changed after parsing); raises ConfigError like it."""
    check_across_keys(config)


def open_targets(config: Config, metrics: Metrics) -> TargetStore | None:
    """The registered cameras (config and API) when the `cameras` section is there, loaded."""
    cameras = config.cameras
    if cameras is None:
        return None
    if cameras.store is not None:
        from exporter.shared_targets import RedisTargetStore

        register_secret(cameras.store.reveal())
        store: TargetStore = RedisTargetStore(
            config_targets(cameras), cameras.store.reveal(), cameras.store_key
        )
    else:
        store = TargetStore(config_targets(cameras), cameras.state_file)
    try:
        problems = store.load()
    except StateFileError as exc:
        # starting without its cameras would overwrite the file on the next registration
        raise SystemExit(f"vigil: camera state file: {exc}") from None
    for problem in problems:
        log.error("camera state file %s: %s", cameras.state_file, problem)
        metrics.family(STATE_FILE_PROBLEMS).inc([])
    if cameras.state_file is None and cameras.store is None and config.api_token is not None:
        log.warning(
            "cameras.state_file is not set: cameras registered through the API "
            "are forgotten on restart"
        )
    return store


@dataclass
class Composition:
    metrics: Metrics
    recorder: Recorder
    scheduler: Scheduler
    sources: dict[str, Source]
    targets: TargetStore | None


def shard_of(config: Config) -> Shard:
    return Shard() if config.shard is None else Shard(config.shard.index, config.shard.count)


def compose(
    config: Config,
    session: aiohttp.ClientSession,
    *,
    clock: Callable[[], float] = time.time,
    publish_result: Callable[[dict], None] = lambda result: None,
    options: Mapping[str, Any] | None = None,
    only: Collection[str] | None = None,
) -> Composition:
    """Build every configured source (or `only` those named) and register all their checks."""
    validate(config)
    metrics = Metrics(catalogue())
    metrics.family(STATE_FILE_PROBLEMS).set([], 0)
    shard = shard_of(config)
    metrics.family(SHARD_INFO).set([str(shard.index), str(shard.count)], 1)
    if (
        shard.sharded
        and config.cameras is not None
        and config.cameras.store is None
        and config.api_token is not None
    ):
        log.warning(
            "shard %s: cameras registered through the API are kept by the replica that took the "
            "call; a camera another shard owns is never checked "
            "(set cameras.store to a Redis URL shared by every replica)",
            shard,
        )
    recorder = Recorder(metrics, clock)
    scheduler = Scheduler(recorder)
    wanted = [
        p
        for p in plugins()
        if getattr(config, p.section) is not None and (only is None or p.name in only)
    ]
    # the registered cameras are shared by the network and frame sources and the registration API
    targets = open_targets(config, metrics) if only is None else None
    context = SourceContext(
        metrics=metrics,
        recorder=recorder,
        session=session,
        clock=clock,
        tz=config.tz,
        targets=targets,
        publish_result=publish_result,
        options=dict(options or {}),
        shard=shard,
    )
    sources: dict[str, Source] = {}
    for plugin in wanted:
        source = plugin.build(context, config)
        for check in source.checks():
            if check.run is not None:
                scheduler.add(plugin.name, check)
            else:
                recorder.add(plugin.name, check)
        sources[plugin.name] = source
    return Composition(metrics, recorder, scheduler, sources, targets)


def client_session(config: Config) -> aiohttp.ClientSession:
    rt = config.rt_api
    ssl_ctx: ssl.SSLContext | bool = True
    if rt is not None and not rt.verify_tls:
        ssl_ctx = False
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, ssl=ssl_ctx),
        headers={"User-Agent": "vigil-exporter"},
    )


class Exporter:
    """One exporter instance. `start()` binds the listener and starts the checks; `stop()` undoes it.

    `options` are handed to the sources (test hooks such as `p4_factory`, `backoff_base`, `pinger`).
    """

    def __init__(
        self, config: Config, *, clock: Callable[[], float] = time.time, **options: Any
    ) -> None:
        self.config = config
        self.clock = clock
        self._options = {k: v for k, v in options.items() if v is not None}
        self.metrics = Metrics(catalogue())
        self.recorder = Recorder(self.metrics, clock)
        self.scheduler = Scheduler(self.recorder)
        self.sources: dict[str, Source] = {}
        self.hub = ResultsHub(shutdown_timeout=HTTP_GRACE)
        self.security: WebSecurity | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._started: list[Source] = []
        self._watcher: asyncio.Task | None = None
        self.port: int | None = None

    def source(self, name: str) -> Any:
        """A configured source by name (tests and benchmarks look at its state); KeyError if off."""
        return self.sources[name]

    @property
    def url(self) -> str:
        host = self.config.listen_host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.security is not None and self.security.tls else "http"
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        cfg = self.config
        token = cfg.api_token.reveal() if cfg.api_token else ""
        register_secret(token)
        # the web config first: a bad one stops the start before anything runs (ConfigError)
        self.security = WebSecurity(cfg.web_config_file, api_token=token)
        self._session = client_session(cfg)
        try:
            built = compose(
                cfg,
                self._session,
                clock=self.clock,
                publish_result=self.hub.publish,
                options=self._options,
            )
        except BaseException:
            await self._session.close()
            raise
        self.metrics, self.recorder, self.scheduler = built.metrics, built.recorder, built.scheduler
        self.sources = built.sources
        try:
            await self._serve(built)
        except BaseException:
            # whatever stopped the start (a source that cannot start, the port), nothing is left
            # open behind it: no "Unclosed client session" after the real error
            await self.stop()
            raise

    async def _serve(self, built: Composition) -> None:
        cfg = self.config
        watch = getattr(built.targets, "watch", None)
        if watch is not None:  # a store shared with other replicas: follow their changes
            self._watcher = asyncio.create_task(watch(), name="shared-camera-store")
        app = build_app(
            self.metrics,
            self.recorder,
            self.sources,
            security=self.security,
            hub=self.hub,
            tz=cfg.tz,
            external_links=cfg.links.urls() if cfg.links is not None else None,
        )
        self._runner = web.AppRunner(
            app, access_log=logging.getLogger("aiohttp.access"), shutdown_timeout=HTTP_GRACE
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            cfg.listen_host or None,
            cfg.listen_port,
            ssl_context=self.security.server_ssl_context(),
        )
        try:
            await site.start()
        except OSError as exc:
            raise SystemExit(f"vigil: cannot listen on {cfg.listen}: {exc.strerror}") from None
        self.port = self._runner.addresses[0][1]
        self.scheduler.start()
        for source in self.sources.values():
            await source.start()
            self._started.append(source)
        log.info("listening on %s (metrics at %s/metrics)", cfg.listen, self.url)
        if cfg.web_config_file is not None:
            log.info("web config %s: %s", cfg.web_config_file, "; ".join(self.security.describe()))

    async def _stop_http(self) -> None:
        """Stop serving within STOP_TIMEOUT whatever clients do: no new connections, requests in
        flight get HTTP_GRACE, then every connection left (a client that stopped reading a large
        answer, a WebSocket that never closes) is cut."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for site in list(runner.sites):
            await site.stop()  # the listener closes: nothing new comes in
        server = runner.server
        handlers = server.connections if server is not None else []
        transports = [h.transport for h in handlers if h.transport is not None]
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await runner.cleanup()
        except TimeoutError:
            log.warning("the HTTP server did not stop within %ss: connections cut", STOP_TIMEOUT)
        finally:
            for transport in transports:
                # close() would wait for a peer that never reads to take the buffered answer
                transport.abort()

    async def stop(self) -> None:
        # the HTTP server stops beside the checks: in-flight requests still find their sources
        http = asyncio.create_task(self._stop_http(), name="http-stop")
        try:
            await self._stop_checks()
        finally:
            await http
            await self._stop_sources()

    async def _stop_checks(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.wait([self._watcher], timeout=2)  # a Redis client may hang on close
            self._watcher = None
        await self.scheduler.stop(STOP_TIMEOUT)  # first: scheduled checks use the sources' clients

    async def _stop_sources(self) -> None:
        for source in reversed(self._started):
            try:
                await source.stop()
            except Exception:
                log.exception("source %s did not stop cleanly", source.name)
        self._started.clear()
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
    try:
        await exporter.start()
    except ConfigError as exc:  # the web config file changed into a bad one since it was checked
        raise SystemExit(f"vigil: invalid web configuration: {exc}") from None
    sig = await wait_for_signal()
    log.info("received %s, stopping", sig.name)
    await exporter.stop()
    log.info("stopped")
