"""Live frame analysis results over WebSocket (`GET /ws/results`).

Each published result is serialised to JSON once and put into every interested client's bounded
queue; one sender task per client writes that queue to its socket. `publish()` never awaits and
never blocks, so a slow or stalled client can never slow the analysis: when its queue is full it
is dropped (closed with 1013 "try again later", and its connection aborted if the close frame
cannot get through) and counted in `dropped`.

`?camera=<id>` limits a client's stream to one camera. Messages from clients are ignored.

`publish()` must be called from the event loop thread that serves the handler (asyncio queues
are not thread-safe); analysis running in worker threads publishes after its `await`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger("vigil.results_hub")

SLOW_CLIENT_CODE = WSCloseCode.TRY_AGAIN_LATER  # 1013
SHUTDOWN_CODE = WSCloseCode.GOING_AWAY  # 1001


def _json_default(value: Any) -> Any:
    """numpy scalars/arrays and other odd values become plain JSON values, never an exception."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _finite(value: Any) -> Any:
    """A copy of a decoded JSON structure with NaN and infinities replaced by null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def encode_result(result: dict) -> str:
    """Compact, strictly valid JSON (browsers reject NaN): non-finite numbers become null."""
    try:
        return json.dumps(result, separators=(",", ":"), allow_nan=False, default=_json_default)
    except ValueError:
        # rare path: a NaN/inf somewhere; normalise through a lenient round trip
        loose = json.loads(json.dumps(result, default=_json_default))
        return json.dumps(_finite(loose), separators=(",", ":"), allow_nan=False)


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    request: web.Request
    camera: str | None
    queue: asyncio.Queue[str]
    sender: asyncio.Task[None] | None = None
    closer: asyncio.Task[None] | None = None
    dropped: bool = False


class ResultsHub:
    """Fan-out of analysis results to WebSocket clients; slow clients are dropped, never waited for."""

    def __init__(
        self,
        queue_size: int = 256,
        *,
        heartbeat: float | None = 30.0,
        drop_close_timeout: float = 2.0,
        shutdown_timeout: float = 5.0,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._queue_size = queue_size
        self._heartbeat = heartbeat
        self._drop_close_timeout = drop_close_timeout
        self._shutdown_timeout = shutdown_timeout
        self._clients: set[_Client] = set()
        self._closers: set[asyncio.Task[None]] = set()
        self._closed = False
        self.dropped = 0  # clients dropped for being too slow
        self.published = 0  # results published (whether or not anyone listened)

    @property
    def clients(self) -> int:
        return len(self._clients)

    def publish(self, result: dict) -> None:
        """Queue `result` for every matching client; O(clients), never awaits, never blocks."""
        self.published += 1
        if not self._clients:
            return
        camera = result.get("camera")
        text: str | None = None
        for client in list(self._clients):
            if client.camera is not None and client.camera != camera:
                continue
            if text is None:
                try:
                    text = encode_result(result)
                except Exception:  # a broken result must not break the analysis loop
                    log.exception("cannot serialise an analysis result; not published")
                    return
            try:
                client.queue.put_nowait(text)
            except asyncio.QueueFull:
                self._drop(client)

    def _drop(self, client: _Client) -> None:
        """Remove a client whose queue is full and close it in the background."""
        self._clients.discard(client)
        client.dropped = True
        self.dropped += 1
        log.info(
            "dropped a slow results client (%s): %d results queued unread",
            client.request.remote,
            client.queue.qsize(),
        )
        client.closer = self._spawn_closer(
            client, SLOW_CLIENT_CODE, b"slow consumer", self._drop_close_timeout
        )

    def _spawn_closer(
        self, client: _Client, code: int, message: bytes, timeout: float
    ) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._shut(client, code, message, timeout))
        self._closers.add(task)  # keeps a reference until done; close() waits for all of them
        task.add_done_callback(self._closers.discard)
        return task

    async def _shut(self, client: _Client, code: int, message: bytes, timeout: float) -> None:
        """Stop the sender, try a proper close, and abort the connection if it does not go through."""
        if client.sender is not None:
            client.sender.cancel()
        # drop what was queued: the close frame should not wait behind it
        while not client.queue.empty():
            client.queue.get_nowait()
        clean = False
        try:
            async with asyncio.timeout(timeout):
                await client.ws.close(code=code, message=message)
            clean = True
        except TimeoutError:
            pass
        except Exception as exc:
            log.debug("closing a results client failed: %r", exc)
        finally:
            transport = client.request.transport
            if not clean and transport is not None:
                # a plain close() would wait to flush to a peer that never reads: abort instead
                transport.abort()

    async def _send(self, client: _Client) -> None:
        ws, queue = client.ws, client.queue
        try:
            while True:
                text = await queue.get()
                await ws.send_str(text)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away mid-send; the handler notices it too
            log.debug("results client send failed: %r", exc)
            self._clients.discard(client)

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for `GET /ws/results[?camera=<id>]`."""
        if self._closed:
            raise web.HTTPServiceUnavailable(text="results hub is shut down")
        camera = request.query.get("camera") or None
        # no permessage-deflate: it would cost one compression per client per result
        ws = web.WebSocketResponse(
            heartbeat=self._heartbeat, compress=False, max_msg_size=64 * 1024
        )
        await ws.prepare(request)
        client = _Client(
            ws=ws, request=request, camera=camera, queue=asyncio.Queue(self._queue_size)
        )
        self._clients.add(client)
        client.sender = asyncio.create_task(self._send(client))
        log.debug("results client connected (%s, camera=%s)", request.remote, camera)
        try:
            async for _message in ws:  # drives ping/pong and the close handshake
                pass
        finally:
            self._clients.discard(client)
            client.sender.cancel()
            if client.closer is not None:
                # a drop or shutdown is closing this client; let it finish (it is time-bounded)
                with contextlib.suppress(Exception):
                    await asyncio.shield(client.closer)
            elif not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()
            log.debug("results client gone (%s)", request.remote)
        return ws

    async def close(self) -> None:
        """Close every client (1001 going away) and refuse new ones; for app shutdown."""
        self._closed = True
        clients, self._clients = list(self._clients), set()
        for client in clients:
            if client.closer is None:
                client.closer = self._spawn_closer(
                    client, SHUTDOWN_CODE, b"server shutdown", self._shutdown_timeout
                )
        if self._closers:  # includes slow clients still being dropped
            await asyncio.gather(*list(self._closers), return_exceptions=True)
