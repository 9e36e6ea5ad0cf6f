"""JSON registration API for directly probed cameras, and the blackbox-style /probe endpoint.

Reads are open. Calls that change something need `Authorization: Bearer <api_token>`; without an
`api_token` in the configuration the API is read-only. Answers never carry a camera password:
frame URLs are shown redacted.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

from aiohttp import web

from exporter.exposition import Registry
from exporter.sources.network.source import NetworkSource
from exporter.targets import (
    StateFileError,
    TargetError,
    TargetStore,
    target_from_json,
)

log = logging.getLogger("vigil.api")

NETWORK_KEY = web.AppKey("network", NetworkSource)
TOKEN_KEY = web.AppKey("api_token", str)  # "" when no token is configured


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def authorized(request: web.Request) -> web.Response | None:
    """None when the request may change state, otherwise the response that refuses it."""
    token = request.app[TOKEN_KEY]
    if not token:
        return _error(403, "read-only: no api_token is configured on this exporter")
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        return _error(401, "missing or wrong bearer token")
    return None


def _change_store(
    request: web.Request, change: Callable[[TargetStore], bool]
) -> tuple[bool, web.Response | None]:
    """Apply a change to the target store and wake the prober; or the error response."""
    network = request.app[NETWORK_KEY]
    try:
        result = change(network.store)
    except TargetError as exc:  # a camera of the config file
        return False, _error(409, str(exc))
    except StateFileError:
        log.exception("could not save the camera state file")
        return False, _error(
            500, "could not save the state file; nothing changed (see the exporter log)"
        )
    network.notify()
    return result, None


async def list_cameras(request: web.Request) -> web.Response:
    store = request.app[NETWORK_KEY].store
    return web.json_response({"cameras": [t.public() for t in store.all()]})


async def get_camera(request: web.Request) -> web.Response:
    target = request.app[NETWORK_KEY].store.get(request.match_info["id"])
    if target is None:
        return _error(404, "no such camera")
    return web.json_response(target.public())


async def put_camera(request: web.Request) -> web.Response:
    refused = authorized(request)
    if refused is not None:
        return refused
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "the body is not JSON")
    try:
        target = target_from_json(body)
    except TargetError as exc:
        return _error(400, str(exc))
    created, failed = _change_store(request, lambda store: store.put(target))
    if failed is not None:
        return failed
    log.info("camera %s %s via the API", target.id, "registered" if created else "replaced")
    return web.json_response(target.public(), status=201 if created else 200)


async def delete_camera(request: web.Request) -> web.Response:
    refused = authorized(request)
    if refused is not None:
        return refused
    camera_id = request.match_info["id"]
    deleted, failed = _change_store(request, lambda store: store.delete(camera_id))
    if failed is not None:
        return failed
    if not deleted:
        return _error(404, "no such camera")
    log.info("camera %s deleted via the API", camera_id)
    return web.Response(status=204)


async def probe(request: web.Request) -> web.Response:
    """Check one registered camera now and answer with that check's metrics only."""
    camera_id = request.query.get("target", "")
    if not camera_id:
        return web.Response(status=400, text="target parameter is missing\n")
    results = await request.app[NETWORK_KEY].probe_now(camera_id)
    if results is None:
        return web.Response(status=404, text="unknown target: only registered cameras are probed\n")
    registry = Registry()
    success = registry.gauge(
        "vigil_camera_probe_success", "1 when the check succeeded.", ["camera", "check"]
    )
    rtt = registry.gauge(
        "vigil_camera_probe_rtt_seconds",
        "Round-trip (icmp) or connect (tcp) time of the check.",
        ["camera", "check"],
    )
    duration = registry.gauge(
        "vigil_camera_probe_duration_seconds",
        "How long the check took, failures included.",
        ["camera", "check"],
    )
    for r in results:
        success.set([r.camera, r.check], 1 if r.ok else 0)
        duration.set([r.camera, r.check], r.duration)
        if r.ok:
            rtt.set([r.camera, r.check], r.rtt)
    return web.Response(
        body=registry.render(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


def add_routes(app: web.Application, network: NetworkSource) -> None:
    app[NETWORK_KEY] = network
    app.router.add_get("/api/v1/cameras", list_cameras)
    app.router.add_post("/api/v1/cameras", put_camera)
    app.router.add_get("/api/v1/cameras/{id}", get_camera)
    app.router.add_delete("/api/v1/cameras/{id}", delete_camera)
    app.router.add_get("/probe", probe)
