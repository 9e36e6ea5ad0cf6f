"""Perforce source: stream sizes of several servers, refreshed on a schedule or on demand.

Each server is refreshed on its own interval (default 6 h) by the scheduler, and on demand through the
API (all servers, one server, one stream). Every refresh takes a lock on what it covers
(`RefreshLocks`): refreshing everything blocks single refreshes, a server refresh blocks its streams,
and a colliding request is refused at once with what holds the lock.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from exporter.errors import CheckFailed
from exporter.metrics import Metrics
from exporter.recorder import CheckRecorder, Recorder
from exporter.sources.contract import Check, Source
from exporter.sources.p4.client import REASONS, P4Client, P4Error
from exporter.sources.p4.config import P4Config, P4ServerConfig
from exporter.sources.p4.locks import Busy, Job, RefreshLocks, Scope
from exporter.sources.p4.metrics import (
    P4_REFRESH_DURATION,
    P4_SERVER_UP,
    P4_STREAM_FILES,
    P4_STREAM_SIZE,
    P4_STREAM_UPDATED,
    P4_TICKET_EXPIRY,
)

log = logging.getLogger("vigil.p4")

SOURCE = "p4"
# a stream failing for one of these fails the server: the connection or the login is unusable
SERVER_REASONS = frozenset({"connection", "ticket_expired", "no_ticket", "auth"})


def server_password(server: P4ServerConfig) -> str | None:
    if server.password is not None:
        return server.password.reveal()
    return os.environ.get(server.password_env) if server.password_env else None


def make_client(server: P4ServerConfig, p4_factory: Callable[[], Any] | None = None) -> P4Client:
    password = server_password(server)
    return P4Client(
        server.name,
        server.p4port,
        server.p4user,
        charset=server.charset,
        ticket_file=server.ticket_file,
        password=password,
        timeout=server.timeout,
        measure_client=server.measure_client,
        p4_factory=p4_factory,
    )


class P4Source(Source):
    """One check per server (check and instance = the server's name)."""

    name = SOURCE

    def __init__(
        self,
        metrics: Metrics,
        recorder: Recorder,
        config: P4Config,
        *,
        p4_factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._book = recorder
        self._server_up = metrics.family(P4_SERVER_UP)
        self._ticket_expiry = metrics.family(P4_TICKET_EXPIRY)
        self._refresh_duration = metrics.family(P4_REFRESH_DURATION)
        self._size = metrics.family(P4_STREAM_SIZE)
        self._files = metrics.family(P4_STREAM_FILES)
        self._updated = metrics.family(P4_STREAM_UPDATED)
        self.servers = {s.name: s for s in config.servers}
        self.clients = {s.name: make_client(s, p4_factory) for s in config.servers}
        self.locks = RefreshLocks(clock=clock)
        self.clock = clock

    def _recorder(self, server: str) -> CheckRecorder:
        return self._book.get(SOURCE, server)

    def checks(self) -> list[Check]:
        checks = []
        for name, server in self.servers.items():

            async def scheduled(name: str = name) -> None:
                try:
                    job = self.locks.try_acquire(Scope(server=name))
                except Busy as busy:
                    log.info("scheduled refresh of %s skipped: %s", name, busy)
                    return
                try:
                    await self.refresh_server(name)
                except P4Error as exc:
                    self.locks.release(job, error=exc.reason)
                    raise CheckFailed(exc.reason, str(exc), counted=True) from None
                self.locks.release(job)

            checks.append(Check(name, server.interval, scheduled, name, reasons=REASONS))
        return checks

    def status_lines(self) -> list[str]:
        streams = len(self._size)
        up = sum(1 for _, v in self._server_up.samples() if v == 1)
        return [
            f"Perforce: {len(self.servers)} servers ({up} up at their latest refresh), "
            f"{streams} streams measured."
        ]

    # -- refreshing ------------------------------------------------------------------------------
    async def refresh_server(self, name: str) -> dict:
        """Ticket, streams matching the mask, and the size of each; the server's series replaced.

        A stream that fails on its own (timeout, permission, empty view, ...) keeps its last
        figures, is counted with its reason, and the others are measured; a failure of the
        connection or the login fails the whole server."""
        server, client = self.servers[name], self.clients[name]
        started = time.monotonic()
        failed: dict[str, str] = {}
        try:
            remaining = await client.ticket_remaining()
            self._ticket_expiry.set([name], remaining or 0)
            streams = await client.streams(server.stream_mask, server.include_virtual)
            sizes, files, updated = [], [], []
            for stream in streams:
                key = (name, stream.path)
                try:
                    size, count = await client.size(stream.path, server.exclude_lazy)
                except P4Error as exc:
                    if exc.reason in SERVER_REASONS:
                        raise
                    self._recorder(name).count(exc.reason)
                    log.warning("p4 %s: stream %s not measured (%s)", name, stream.path, exc)
                    if exc.reason == "unknown_stream":
                        continue  # deleted between `p4 streams` and `p4 sizes`: it is gone
                    failed[stream.path] = exc.reason
                    for family, out in ((self._size, sizes), (self._files, files)):
                        last = family.get(list(key), name)
                        if last is not None:
                            out.append((key, last))
                    last_update = self._updated.get(list(key), name)
                    if last_update is not None:
                        updated.append((key, last_update))
                    continue
                sizes.append((key, size))
                files.append((key, count))
                updated.append((key, self.clock()))
        except P4Error as exc:
            self._server_up.set([name], 0)
            if exc.reason in ("no_ticket", "ticket_expired"):
                self._ticket_expiry.set([name], 0)
            self._recorder(name).count(exc.reason)
            log.warning("p4 %s: refresh failed (%s)", name, exc.reason)
            raise
        # streams that no longer match the mask leave with the replaced partition
        self._size.replace(sizes, name)
        self._files.replace(files, name)
        self._updated.replace(updated, name)
        self._server_up.set([name], 1)
        self._refresh_duration.set([name], time.monotonic() - started)
        return {"streams": len(streams), "failed": failed}

    async def refresh_stream(self, name: str, stream: str) -> dict:
        server, client = self.servers[name], self.clients[name]
        try:
            size, count = await client.size(stream, server.exclude_lazy)
        except P4Error as exc:
            self._recorder(name).count(exc.reason)
            raise
        self._size.set([name, stream], size, name)
        self._files.set([name, stream], count, name)
        self._updated.set([name, stream], self.clock(), name)
        return {"size_bytes": size, "files": count}

    async def refresh_all(self, job: Job) -> dict:
        failed = []
        for name in self.servers:
            try:
                await self.refresh_server(name)
            except P4Error:
                failed.append(name)
        return {"servers": len(self.servers), "failed": failed}

    # -- on demand: the API starts these as background jobs --------------------------------------
    def start_refresh(self, server: str | None = None, stream: str | None = None) -> Job:
        """Start a refresh job; raises Busy (with the holder) or KeyError for an unknown server."""
        if server is not None and server not in self.servers:
            raise KeyError(server)
        scope = Scope(server=server, stream=stream)
        if server is None:
            return self.locks.start(scope, self.refresh_all)
        if stream is None:
            return self.locks.start(scope, lambda job: self.refresh_server(server))
        return self.locks.start(scope, lambda job: self.refresh_stream(server, stream))

    def held_locks(self) -> list[Job]:
        return list(self.locks.held())

    def job(self, job_id: str) -> Job | None:
        return self.locks.job(job_id)

    async def stop(self) -> None:
        await self.close()

    async def close(self) -> None:
        await self.locks.close()
        for client in self.clients.values():
            await client.close()


async def login(
    config: P4Config,
    server: str | None,
    prompt: Callable[[str], str],
    *,
    p4_factory: Callable[[], Any] | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """`vigil p4-login`: log in to one or every server and store the tickets; the exit code."""
    chosen = [s for s in config.servers if server in (None, s.name)]
    if not chosen:
        out(f"vigil p4-login: no Perforce server named {server!r} in the configuration")
        return 2
    code = 0
    for s in chosen:
        password = server_password(s)
        if not password:
            password = prompt(f"Perforce password for {s.p4user} on {s.p4port} ({s.name}): ")
        client = make_client(s, p4_factory)
        try:
            remaining = await client.login(password)
        except P4Error as exc:
            out(f"{s.name}: login failed ({exc.reason})")
            code = 1
        else:
            hours = "no expiry" if remaining == float("inf") else f"{remaining / 3600:.1f} h"
            out(f"{s.name}: logged in as {s.p4user}; ticket valid for {hours}")
        finally:
            await client.close()
    return code
