"""`vigil simulate --from sample.json`: the RT API answering with a capture's own answers.

A capture (exporter/sources/rt_api/capture.py) holds one answer of each endpoint, written the way the
platform wrote it. Served back, it lets a demo or a test run on the platform's real shapes:

- health: the captured answer;
- the camera list: the captured page as page 1, and the same object with an empty list for any
  later page (so Vigil's paging ends where the capture does);
- fragments: the captured camera's fragments, moved forward in time by however long ago the capture
  was taken, for every camera of the captured page (and only those: others are 404), filtered to the
  asked range;
- baked archives: the captured page at offset 0, an empty page of the same shape after it.

An endpoint the capture has no answer for answers 503, as an API that failed would. The API key, when
one is set, is checked like the simulated API checks it.
"""

from __future__ import annotations

import copy
import hmac
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from exporter.sources.rt_api.payloads import read_number, read_text

_DOC = web.AppKey("capture", dict)
_KEY = web.AppKey("capture_api_key", str)
_CLOCK = web.AppKey("capture_clock", Callable[[], float])


def _answer(request: web.Request, name: str) -> Any:
    entry = request.app[_DOC]["answers"].get(name)
    if not isinstance(entry, dict) or "body" not in entry:
        raise web.HTTPServiceUnavailable(
            text='{"error": "the capture has no answer for this endpoint"}',
            content_type="application/json",
        )
    return copy.deepcopy(entry["body"])


def _int(request: web.Request, name: str, default: int) -> int:
    number = read_number(request.query.get(name, default))
    return default if number is None else int(number)


async def _health(request: web.Request) -> web.Response:
    return web.json_response(_answer(request, "health"))


async def _cameras(request: web.Request) -> web.Response:
    body = _answer(request, "cameras")
    if _int(request, "page", 1) > 1 and isinstance(body, dict):
        body["cameras"] = []
    return web.json_response(body)


def _captured_uids(request: web.Request) -> set[str]:
    entry = request.app[_DOC]["answers"].get("cameras") or {}
    body = entry.get("body")
    records = body.get("cameras") if isinstance(body, dict) else None
    return {
        uid
        for r in records or []
        if isinstance(r, dict) and (uid := read_text(r.get("uid")) if r.get("uid") else None)
    }


async def _fragments(request: web.Request) -> web.Response:
    if request.match_info["uid"] not in _captured_uids(request):
        return web.json_response({"error": "camera not found"}, status=404)
    body = _answer(request, "fragments")
    fragments = body.get("fragments") if isinstance(body, dict) else None
    if not isinstance(fragments, list):
        return web.json_response(body)
    shift = int(request.app[_CLOCK]() - request.app[_DOC].get("captured_at", time.time()))
    since, till = _int(request, "since", 0), _int(request, "till", 2**62)
    kept = []
    for fragment in fragments:
        if not isinstance(fragment, dict):
            kept.append(fragment)
            continue
        a, b = read_number(fragment.get("since")), read_number(fragment.get("till"))
        if a is None or b is None:
            kept.append(fragment)  # served as captured: the reader's problem, as it was
            continue
        a, b = a + shift, b + shift
        if b > since and a < till:
            kept.append(
                {
                    **fragment,
                    "since": _like(fragment["since"], a),
                    "till": _like(fragment["till"], b),
                }
            )
    body["fragments"] = kept
    return web.json_response(body)


def _like(original: Any, number: float) -> Any:
    """`number` written the way the capture wrote the value it replaces (number or string)."""
    value = int(number) if number == int(number) else number
    return str(value) if isinstance(original, str) else value


async def _baked(request: web.Request) -> web.Response:
    body = _answer(request, "baked_archives")
    if _int(request, "offset", 0) > 0:
        if isinstance(body, list):
            body = []
        elif isinstance(body, dict):
            for key in ("baked_archives", "archives"):
                if isinstance(body.get(key), list):
                    body[key] = []
    return web.json_response(body)


@web.middleware
async def _auth(request: web.Request, handler):
    key = request.app[_KEY]
    if key and request.path.startswith("/api/") and request.path != "/api/v1/health.json":
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer token={key}".encode()):
            return web.json_response({"error": "unauthorized"}, status=401)
    return await handler(request)


def make_capture_app(
    document: dict[str, Any],
    api_key: str | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The RT API answering from a loaded capture (rt_api/capture.load)."""
    app = web.Application(middlewares=[_auth])
    app[_DOC] = document
    app[_KEY] = api_key or ""
    app[_CLOCK] = clock
    app.router.add_get("/api/v1/health.json", _health)
    app.router.add_get("/api/v3/user/cameras.json", _cameras)
    app.router.add_get("/api/v1/user/cameras/{uid}/estore_fragments.json", _fragments)
    app.router.add_get("/api/v1/user/baked_archives.json", _baked)
    return app
