"""The RT Camera API over HTTP, backed by a SimulatedFleet, with switchable faults.

Routes (the exporter's base URL is ``http://host:port/api``):

- ``GET /api/v1/health.json`` (no auth)
- ``GET /api/v3/user/cameras.json?page=&per_page=``
- ``GET /api/v1/user/cameras/{uid}/estore_fragments.json?since=&till=``
- ``GET /api/v1/user/baked_archives.json?offset=&limit=&sort_column=&sort_order=``

Control routes (never authenticated, never faulted): ``GET|POST|DELETE /_sim/faults``,
``GET|POST|DELETE /_sim/dialect``, ``GET /_sim/truth``, ``GET|DELETE /_sim/stats``.

The *dialect* is how the answers are written, within what the platform is known or suspected to send
(docs/design.md, "Meeting the real RT API"): baked archives as ``{"baked_archives": [...]}``, a bare
list or ``{"archives": [...]}``; a ``limit`` capped lower than asked; camera pages without
``total_pages``; a ``per_page`` refused over some size, or capped lower without a word; ``is_alive`` instead of ``alive``; booleans as
0/1 or strings; numbers as numeric strings. ``VARIATIONS`` names each one, as ``vigil simulate
--variation`` takes them; ``POST /_sim/dialect`` with ``{"variation": name}`` or dialect fields switches
them at run time.

Faults apply to every ``/api/`` request, health included, in this order: ``slow`` (delay, then go
on), ``http_5xx`` (HTML error page), ``rate_limited`` (429 with ``Retry-After``), then the request
is authenticated and answered, and ``malformed`` rewrites a successful answer. A fault is set with
JSON such as ``{"fault": "rate_limited", "retry_after": 2, "count": 3}``; ``count`` (optional) makes
it apply to the next N matching requests only, ``path`` (optional) limits it to request paths
containing that text.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from exporter.simulate.fleet import SimulatedFleet
from exporter.simulate.variations import SLOW_FRAGMENTS, VARIATIONS

__all__ = [
    "CLOCK_KEY",
    "DIALECT_KEY",
    "FAULTS_KEY",
    "FAULT_NAMES",
    "FLEET_KEY",
    "MALFORMED_KINDS",
    "SLOW_FRAGMENTS",
    "STATS_KEY",
    "VARIATIONS",
    "Dialect",
    "Faults",
    "Stats",
    "make_rt_api_app",
    "serve_rt_api",
]

FAULT_NAMES = ("slow", "http_5xx", "rate_limited", "malformed")
MALFORMED_KINDS = ("truncated", "html", "empty", "wrong_types", "deep", "huge_number", "oversized")
WRONG_TYPES_VARIANTS = ("container", "fields")
MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100
DEFAULT_BAKED_LIMIT = 100
MAX_BAKED_LIMIT = 1000

_HTML_5XX = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_HTML_PAGE = (
    '<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8">'
    "<title>Вход — Видеонаблюдение</title></head>\n"
    '<body><form method="post" action="/login"><input name="login">'
    '<input name="password" type="password"></form></body></html>\n'
)


_DIALECT_CHOICES = {
    "baked_shape": ("baked_archives", "archives", "list"),
    "alive_field": ("alive", "is_alive"),
    "booleans": ("json", "int", "string"),
    "numbers": ("json", "string"),
}


@dataclass
class Dialect:
    """How the simulated API writes its answers (the default is the design's documented shape)."""

    baked_shape: str = "baked_archives"  # "baked_archives", "archives" or "list"
    baked_limit_cap: int | None = None  # at most this many baked archives a page, whatever `limit`
    total_pages: bool = True  # False: camera pages without `total_pages`
    per_page_max: int | None = None  # a larger per_page is refused with HTTP 400
    per_page_cap: int | None = None  # at most this many cameras a page, silently, whatever per_page
    alive_field: str = "alive"  # "alive" or "is_alive"
    booleans: str = "json"  # "json", "int" (0/1) or "string" ("true"/"false")
    numbers: str = "json"  # "json" or "string" (numeric strings)

    def update(self, **changes: Any) -> None:
        """Apply changes, checked; raises ValueError naming the bad field."""
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown dialect field {name!r}")
            if name in _DIALECT_CHOICES:
                if value not in _DIALECT_CHOICES[name]:
                    choices = ", ".join(_DIALECT_CHOICES[name])
                    raise ValueError(f"{name} must be one of {choices}")
            elif name == "total_pages":
                if not isinstance(value, bool):
                    raise ValueError("total_pages must be true or false")
            elif value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be a positive integer or null")
            setattr(self, name, value)

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @property
    def plain(self) -> bool:
        return self == Dialect()


def _bool_out(dialect: Dialect, value: Any) -> Any:
    if not isinstance(value, bool) or dialect.booleans == "json":
        return value
    if dialect.booleans == "int":
        return int(value)
    return "true" if value else "false"


def _number_out(dialect: Dialect, value: Any) -> Any:
    if (
        dialect.numbers == "string"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return str(value)
    return value


def _camera_out(dialect: Dialect, record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    if dialect.alive_field != "alive" and "alive" in out:
        out[dialect.alive_field] = out.pop("alive")
    for key in ("is_online", dialect.alive_field):
        if key in out:
            out[key] = _bool_out(dialect, out[key])
    if "offline_since" in out:
        out["offline_since"] = _number_out(dialect, out["offline_since"])
    return out


@dataclass
class Fault:
    fault: str
    params: dict[str, Any] = field(default_factory=dict)
    remaining: int | None = None  # None: until cleared
    path: str | None = None  # None: every /api/ request

    def matches(self, path: str) -> bool:
        return self.path is None or self.path in path

    def as_json(self) -> dict[str, Any]:
        return {"fault": self.fault, **self.params, "path": self.path, "remaining": self.remaining}


class Faults:
    """The switchable faults of one simulated API (at most one per fault name and path)."""

    def __init__(self) -> None:
        self._active: dict[tuple[str, str | None], Fault] = {}

    def set(
        self,
        fault: str,
        *,
        count: int | None = None,
        path: str | None = None,
        **params: Any,
    ) -> Fault:
        """Switch a fault on (replacing the same fault on the same path).

        slow: ``delay`` seconds (default 1). http_5xx: ``status`` 500-599 (default 503).
        rate_limited: ``retry_after`` seconds (default 1). malformed: ``kind`` one of
        truncated, html, empty, wrong_types, deep (100,000 nested arrays), huge_number (a
        5,000-digit integer in the answer), oversized (the answer padded to 2 MiB and more)
        (required); wrong_types takes ``variant``
        "container" (default: cameras is a string, total_pages "x") or "fields" (records
        whose fields have the wrong types). Raises ValueError on anything else.
        """
        if fault not in FAULT_NAMES:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULT_NAMES)}")
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ValueError("count must be a positive integer")
        if path is not None and not isinstance(path, str):
            raise ValueError("path must be a string")
        clean: dict[str, Any]
        if fault == "slow":
            clean = {"delay": _number(params.pop("delay", 1.0), "delay", 0, 3600)}
        elif fault == "http_5xx":
            status = params.pop("status", 503)
            if isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599:
                raise ValueError("status must be an integer 500-599")
            clean = {"status": status}
        elif fault == "rate_limited":
            clean = {
                "retry_after": int(_number(params.pop("retry_after", 1), "retry_after", 0, 86400))
            }
        else:
            kind = params.pop("kind", None)
            if kind not in MALFORMED_KINDS:
                raise ValueError(f"malformed needs kind, one of {', '.join(MALFORMED_KINDS)}")
            clean = {"kind": kind}
            if kind == "wrong_types":
                variant = params.pop("variant", "container")
                if variant not in WRONG_TYPES_VARIANTS:
                    raise ValueError(f"variant must be one of {', '.join(WRONG_TYPES_VARIANTS)}")
                clean["variant"] = variant
        if params:
            raise ValueError(f"unexpected parameters for {fault}: {', '.join(sorted(params))}")
        entry = Fault(fault, clean, count, path)
        self._active[(fault, path)] = entry
        return entry

    def clear(self, fault: str | None = None) -> None:
        """Switch off one fault (on every path) or, without a name, all of them."""
        if fault is None:
            self._active.clear()
        else:
            for key in [k for k in self._active if k[0] == fault]:
                del self._active[key]

    def active(self) -> list[dict[str, Any]]:
        return [f.as_json() for f in self._active.values()]

    def take(self, fault: str, path: str) -> Fault | None:
        """The fault to apply to this request, if any; consumes one use of a counted fault."""
        for key, entry in list(self._active.items()):
            if entry.fault != fault or not entry.matches(path):
                continue
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    del self._active[key]
            return entry
        return None

    def __bool__(self) -> bool:
        return bool(self._active)


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


class Stats:
    """Requests received under /api/, by path, by route and by status."""

    def __init__(self) -> None:
        self.paths: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    def clear(self) -> None:
        self.paths.clear()
        self.routes.clear()
        self.statuses.clear()

    @property
    def total(self) -> int:
        return sum(self.paths.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "paths": dict(self.paths),
            "routes": dict(self.routes),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


FLEET_KEY = web.AppKey("fleet", SimulatedFleet)
FAULTS_KEY = web.AppKey("faults", Faults)
STATS_KEY = web.AppKey("stats", Stats)
CLOCK_KEY = web.AppKey("clock", Callable[[], float])
_API_KEY = web.AppKey("api_key", str)
DIALECT_KEY = web.AppKey("dialect", Dialect)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _BadRequest(Exception):
    """A bad query parameter: answered 400 with a JSON error."""


def _int_param(request: web.Request, name: str, default: int | None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if default is None:
            raise _BadRequest(f"missing parameter {name}")
        return default
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        value = float(raw)
    except ValueError:
        raise _BadRequest(f"parameter {name} must be a number") from None
    if not math.isfinite(value):
        raise _BadRequest(f"parameter {name} must be a number")
    return int(value)


# ---------------------------------------------------------------------- API handlers
async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _cameras(request: web.Request) -> web.Response:
    page = _int_param(request, "page", 1)
    per_page = _int_param(request, "per_page", DEFAULT_PER_PAGE)
    if page < 1:
        return _error(400, "page must be >= 1")
    if per_page < 1:
        return _error(400, "per_page must be >= 1")
    app = request.app
    dialect = app[DIALECT_KEY]
    if dialect.per_page_max is not None and per_page > dialect.per_page_max:
        return _error(400, f"per_page must be at most {dialect.per_page_max}")
    per_page = min(per_page, MAX_PER_PAGE, dialect.per_page_cap or MAX_PER_PAGE)
    body = app[FLEET_KEY].page(app[CLOCK_KEY](), page, per_page)
    if dialect.plain:
        return web.json_response(body)
    cameras = [_camera_out(dialect, c) for c in body["cameras"]]
    out: dict[str, Any] = {"cameras": cameras}
    if dialect.total_pages:
        out["total_pages"] = _number_out(dialect, body["total_pages"])
    return web.json_response(out)


async def _fragments(request: web.Request) -> web.Response:
    app = request.app
    uid = request.match_info["uid"]
    fleet = app[FLEET_KEY]
    if uid not in fleet:
        return _error(404, "camera not found")
    since = _int_param(request, "since", None)
    till = _int_param(request, "till", None)
    if till < since:
        return _error(400, "till must not be before since")
    fragments = fleet.fragments(uid, since, till, app[CLOCK_KEY]())
    dialect = app[DIALECT_KEY]
    if dialect.numbers != "json":
        fragments = [{k: _number_out(dialect, v) for k, v in f.items()} for f in fragments]
    return web.json_response({"fragments": fragments})


async def _baked(request: web.Request) -> web.Response:
    offset = _int_param(request, "offset", 0)
    limit = _int_param(request, "limit", DEFAULT_BAKED_LIMIT)
    if offset < 0 or limit < 0:
        return _error(400, "offset and limit must be >= 0")
    dialect = request.app[DIALECT_KEY]
    limit = min(limit, MAX_BAKED_LIMIT, dialect.baked_limit_cap or MAX_BAKED_LIMIT)
    column = request.query.get("sort_column", "updated_at")
    order = request.query.get("sort_order", "desc")
    try:
        items = request.app[FLEET_KEY].baked_archives(offset, limit, column, order)
    except ValueError as exc:
        return _error(400, str(exc))
    if dialect.numbers != "json":
        items = [{k: _number_out(dialect, v) for k, v in item.items()} for item in items]
    if dialect.baked_shape == "list":
        return web.json_response(items)
    return web.json_response({dialect.baked_shape: items})


# ---------------------------------------------------------------------- faults and auth
def _wrong_types(path: str, variant: str, body: Any) -> Any:
    if variant == "container":
        if path.endswith("/cameras.json"):
            return {"cameras": "cameras", "total_pages": "x"}
        if path.endswith("/estore_fragments.json"):
            return {"fragments": "none"}
        if path.endswith("/baked_archives.json"):
            return {"baked_archives": {"count": "many"}}
        return {"status": 1}
    # variant "fields": the containers are right, what is inside is not
    if isinstance(body, dict) and isinstance(body.get("cameras"), list):
        cams = []
        for k, cam in enumerate(body["cameras"]):
            cams.append(
                {
                    "uid": k if k % 3 == 0 else cam.get("uid"),
                    "name": ["not", "a", "name"],
                    "vendor": 42,
                    "is_online": "yes",
                    "offline_since": "yesterday",
                    "alive": "true",
                    "data_center": cam.get("data_center", {}).get("name", "MSK-1"),
                    "memory_card_state": ["CardOK"],
                    "mac": None,
                    "ip": 167772161,
                }
            )
        # a numeric string would be read (as the platform may send one): this one is not a count
        return {"cameras": cams, "total_pages": f"{body.get('total_pages', 1)} pages"}
    if isinstance(body, dict) and isinstance(body.get("fragments"), list):
        return {
            "fragments": [{"since": str(f["since"]), "till": None} for f in body["fragments"]]
            + [["not", "a", "fragment"], {"since": True, "till": 1e300}]
        }
    items = body.get("baked_archives") if isinstance(body, dict) else body
    if isinstance(items, list):
        broken = [
            {**item, "status": "DONE", "updated_at": "2024-01-01", "id": None} for item in items
        ]
        return {"baked_archives": broken} if isinstance(body, dict) else broken
    return {"status": ["ok"]}


def _malformed(params: dict[str, Any], path: str, resp: web.Response) -> web.Response:
    """A successful answer rewritten as the malformed kind asked for (always status 200)."""
    kind = params["kind"]
    if kind == "html":
        return web.Response(text=_HTML_PAGE, content_type="text/html")
    if kind == "empty":
        return web.Response(body=b"", content_type="application/json")
    raw = resp.body if isinstance(resp.body, bytes) else b""
    if kind == "truncated":
        # a JSON object cut anywhere before its end is never valid JSON
        return web.Response(body=raw[: max(1, len(raw) // 2)], content_type="application/json")
    if kind == "deep":
        return web.Response(body=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
    if kind in ("huge_number", "oversized") and raw.startswith(b"{"):
        extra = b"9" * 5000 if kind == "huge_number" else b'"' + b"x" * (2 << 20) + b'"'
        return web.Response(
            body=b'{"padding": ' + extra + b", " + raw[1:], content_type="application/json"
        )
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    return web.json_response(_wrong_types(path, params["variant"], body))


@web.middleware
async def _api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if not path.startswith("/api/"):
        return await handler(request)
    app = request.app
    stats = app[STATS_KEY]
    stats.paths[path] += 1
    resource = request.match_info.route.resource
    stats.routes[resource.canonical if resource is not None else path] += 1
    resp = await _answer(request, handler)
    stats.statuses[resp.status] += 1
    return resp


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    faults = app[FAULTS_KEY]
    path = request.path
    if faults:
        slow = faults.take("slow", path)
        if slow is not None:
            await asyncio.sleep(slow.params["delay"])
        failure = faults.take("http_5xx", path)
        if failure is not None:
            code = failure.params["status"]
            try:
                reason = HTTPStatus(code).phrase
            except ValueError:
                reason = "Server Error"
            return web.Response(
                status=code,
                text=_HTML_5XX.format(code=code, reason=reason),
                content_type="text/html",
            )
        limited = faults.take("rate_limited", path)
        if limited is not None:
            return web.json_response(
                {"error": "rate limited"},
                status=429,
                headers={"Retry-After": str(limited.params["retry_after"])},
            )
    api_key = app[_API_KEY]
    if api_key and path != "/api/v1/health.json":
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer token={api_key}".encode()):
            return _error(401, "unauthorized")
    try:
        resp = await handler(request)
    except _BadRequest as exc:
        return _error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason.lower())
        raise
    if faults and 200 <= resp.status < 300 and isinstance(resp, web.Response):
        broken = faults.take("malformed", path)
        if broken is not None:
            return _malformed(broken.params, path, resp)
    return resp


# ---------------------------------------------------------------------- control handlers
async def _faults_get(request: web.Request) -> web.Response:
    return web.json_response({"faults": request.app[FAULTS_KEY].active()})


async def _faults_post(request: web.Request) -> web.Response:
    try:
        spec = await request.json()
    except ValueError:
        return _error(400, "body must be JSON")
    specs = spec if isinstance(spec, list) else [spec]
    faults = request.app[FAULTS_KEY]
    for item in specs:
        if not isinstance(item, dict) or not isinstance(item.get("fault"), str):
            return _error(400, 'expected {"fault": name, ...}')
        params = dict(item)
        name = params.pop("fault")
        try:
            faults.set(name, **params)
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
    return web.json_response({"faults": faults.active()})


async def _faults_delete(request: web.Request) -> web.Response:
    faults = request.app[FAULTS_KEY]
    faults.clear(request.query.get("fault") or None)
    return web.json_response({"faults": faults.active()})


async def _dialect_get(request: web.Request) -> web.Response:
    return web.json_response({"dialect": request.app[DIALECT_KEY].as_json()})


async def _dialect_post(request: web.Request) -> web.Response:
    try:
        spec = await request.json()
    except ValueError:
        return _error(400, "body must be JSON")
    if not isinstance(spec, dict):
        return _error(400, 'expected {"variation": name} or dialect fields')
    dialect = request.app[DIALECT_KEY]
    try:
        if "variation" in spec:
            name = spec.pop("variation")
            if name not in VARIATIONS:
                raise ValueError(f"unknown variation; expected one of {', '.join(VARIATIONS)}")
            spec = {**VARIATIONS[name], **spec}
        trial = Dialect(**dialect.as_json())
        trial.update(**spec)  # all or nothing
    except (TypeError, ValueError) as exc:
        return _error(400, str(exc))
    dialect.update(**spec)
    return web.json_response({"dialect": dialect.as_json()})


async def _dialect_delete(request: web.Request) -> web.Response:
    dialect = request.app[DIALECT_KEY]
    dialect.update(**Dialect().as_json())
    return web.json_response({"dialect": dialect.as_json()})


async def _truth(request: web.Request) -> web.Response:
    app = request.app
    return web.json_response(app[FLEET_KEY].truth(app[CLOCK_KEY]()))


async def _stats_get(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS_KEY].as_json())


async def _stats_delete(request: web.Request) -> web.Response:
    stats = request.app[STATS_KEY]
    stats.clear()
    return web.json_response(stats.as_json())


def make_rt_api_app(
    fleet: SimulatedFleet,
    api_key: str | None = None,
    clock: Callable[[], float] = time.time,
    *,
    baked_as_list: bool = False,
    dialect: Dialect | None = None,
) -> web.Application:
    """The simulated RT API, answering in `dialect` (`baked_as_list`: baked archives as a bare
    JSON list, whatever the dialect says)."""
    dialect = Dialect(**(dialect or Dialect()).as_json())
    if baked_as_list:
        dialect.baked_shape = "list"
    app = web.Application(middlewares=[_api_middleware])
    app[FLEET_KEY] = fleet
    app[FAULTS_KEY] = Faults()
    app[STATS_KEY] = Stats()
    app[CLOCK_KEY] = clock
    app[_API_KEY] = api_key or ""
    app[DIALECT_KEY] = dialect
    app.router.add_get("/api/v1/health.json", _health)
    app.router.add_get("/api/v3/user/cameras.json", _cameras)
    app.router.add_get("/api/v1/user/cameras/{uid}/estore_fragments.json", _fragments)
    app.router.add_get("/api/v1/user/baked_archives.json", _baked)
    app.router.add_get("/_sim/faults", _faults_get)
    app.router.add_post("/_sim/faults", _faults_post)
    app.router.add_delete("/_sim/faults", _faults_delete)
    app.router.add_get("/_sim/dialect", _dialect_get)
    app.router.add_post("/_sim/dialect", _dialect_post)
    app.router.add_delete("/_sim/dialect", _dialect_delete)
    app.router.add_get("/_sim/truth", _truth)
    app.router.add_get("/_sim/stats", _stats_get)
    app.router.add_delete("/_sim/stats", _stats_delete)
    return app


async def serve_rt_api(
    fleet: SimulatedFleet,
    host: str,
    port: int,
    api_key: str | None = None,
    *,
    clock: Callable[[], float] = time.time,
    baked_as_list: bool = False,
    dialect: Dialect | None = None,
) -> web.AppRunner:
    """Start the simulated API on host:port; the caller awaits ``runner.cleanup()``.

    With port 0 the bound port is in ``runner.addresses``.
    """
    app = make_rt_api_app(fleet, api_key, clock, baked_as_list=baked_as_list, dialect=dialect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner
