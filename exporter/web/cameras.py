"""JSON registration API for directly probed cameras, and the blackbox-style /probe endpoint.

Reads are open unless the web config asks for basic auth. Calls that change something need
`Authorization: Bearer <api_token>`; without an `api_token` in the configuration the API is
read-only. A body is JSON within limits (size, depth, number length: web/body.py). Answers never carry a camera password:
frame URLs are shown redacted. The network source's commands do the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from aiohttp import web

from exporter.exposition import Registry
from exporter.sources.network.metrics import PROBE_DURATION, PROBE_RTT, PROBE_SUCCESS
from exporter.targets import CameraTarget, StateFileError, TargetError, target_from_json
from exporter.web.auth import authorized, error
from exporter.web.body import BodyError, read_json

log = logging.getLogger("vigil.api")


class ProbeOutcome(Protocol):
    camera: str
    check: str
    ok: bool
    rtt: float | None
    duration: float


class CameraCommands(Protocol):
    """What the network source offers the web layer (exporter/sources/network/source.py)."""

    def cameras(self) -> list[CameraTarget]: ...
    def camera(self, target_id: str) -> CameraTarget | None: ...
    def register(self, target: CameraTarget) -> bool: ...
    def unregister(self, target_id: str) -> bool: ...
    async def probe(self, target_id: str) -> Sequence[ProbeOutcome] | None: ...
    def owner(self, target_id: str) -> int | None: ...


NETWORK_KEY = web.AppKey("network", CameraCommands)


def _change(command: Callable[[], bool]) -> tuple[bool, web.Response | None]:
    """Run a command that changes the registered cameras; its result, or the error response."""
    try:
        return command(), None
    except TargetError as exc:  # a camera of the config file
        return False, error(409, str(exc))
    except StateFileError:
        log.exception("could not save the camera state file")
        return False, error(
            500, "could not save the state file; nothing changed (see the exporter log)"
        )


async def list_cameras(request: web.Request) -> web.Response:
    cameras = request.app[NETWORK_KEY].cameras()
    return web.json_response({"cameras": [t.public() for t in cameras]})


async def get_camera(request: web.Request) -> web.Response:
    target = request.app[NETWORK_KEY].camera(request.match_info["id"])
    if target is None:
        return error(404, "no such camera")
    return web.json_response(target.public())


async def put_camera(request: web.Request) -> web.Response:
    refused = authorized(request)
    if refused is not None:
        return refused
    try:
        body = await read_json(request)
    except BodyError as exc:
        return error(exc.status, exc.reason)
    try:
        target = target_from_json(body)
    except TargetError as exc:
        return error(400, str(exc))
    created, failed = _change(lambda: request.app[NETWORK_KEY].register(target))
    if failed is not None:
        return failed
    log.info("camera %s %s via the API", target.id, "registered" if created else "replaced")
    return web.json_response(target.public(), status=201 if created else 200)


async def delete_camera(request: web.Request) -> web.Response:
    refused = authorized(request)
    if refused is not None:
        return refused
    camera_id = request.match_info["id"]
    deleted, failed = _change(lambda: request.app[NETWORK_KEY].unregister(camera_id))
    if failed is not None:
        return failed
    if not deleted:
        return error(404, "no such camera")
    log.info("camera %s deleted via the API", camera_id)
    return web.Response(status=204)


async def probe(request: web.Request) -> web.Response:
    """Check one registered camera now and answer with that check's metrics only."""
    camera_id = request.query.get("target", "")
    if not camera_id:
        return web.Response(status=400, text="target parameter is missing\n")
    network = request.app[NETWORK_KEY]
    results = await network.probe(camera_id)
    owner = network.owner(camera_id) if results is None else None
    if owner is not None:
        # registered, but another shard checks it: say which, so the caller can ask it
        return web.Response(
            status=421,
            text=f"camera {camera_id} is checked by shard {owner}\n",
            headers={"X-Vigil-Shard-Owner": str(owner)},
        )
    if results is None:
        return web.Response(status=404, text="unknown target: only registered cameras are probed\n")
    registry = Registry()
    success = registry.add(PROBE_SUCCESS)
    rtt = registry.add(PROBE_RTT)
    duration = registry.add(PROBE_DURATION)
    for r in results:
        success.set([r.camera, r.check], 1 if r.ok else 0)
        duration.set([r.camera, r.check], r.duration)
        if r.ok:
            rtt.set([r.camera, r.check], r.rtt)
    return web.Response(
        body=registry.render(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


def add_routes(app: web.Application, network: CameraCommands) -> None:
    app[NETWORK_KEY] = network
    app.router.add_get("/api/v1/cameras", list_cameras)
    app.router.add_post("/api/v1/cameras", put_camera)
    app.router.add_get("/api/v1/cameras/{id}", get_camera)
    app.router.add_delete("/api/v1/cameras/{id}", delete_camera)
    app.router.add_get("/probe", probe)
