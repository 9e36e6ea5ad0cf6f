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

from exporter.app import make_app
from exporter.config import Config
from exporter.logs import register_secret
from exporter.metrics import Metrics
from exporter.scheduler import Scheduler
from exporter.sources.rt_api import RtApiSource

log = logging.getLogger("vigil")

STOP_TIMEOUT = 5.0


class Exporter:
    """One exporter instance. `start()` binds the listener and starts the checks; `stop()` undoes it."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        backoff_base: float | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.metrics = Metrics()
        self.scheduler = Scheduler(self.metrics, clock=clock)
        self.rt_api: RtApiSource | None = None
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
        app = make_app(self.metrics, self.scheduler)
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
        log.info("listening on %s (metrics at %s/metrics)", cfg.listen, self.url)

    async def stop(self) -> None:
        await self.scheduler.stop(STOP_TIMEOUT)
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
