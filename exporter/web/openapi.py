"""The HTTP API's contract: an OpenAPI 3.1 document of every route, served at /api/v1/openapi.json.

`OPERATIONS` describes every route any exporter can have (method and path as aiohttp's router knows
them): parameters, request bodies with their JSON Schemas and limits, and every status code the
handler and the gate in front of it (auth.py) can answer, each with its body. `document()` turns it
into the document one exporter serves: only the routes that exist in its app (a source that is not
configured has no routes), with the security its web configuration asks for at that moment (basic
auth, the bearer token, client certificates). tests/test_openapi.py walks the router of an app with
every source and fails when a route is missing here or named here without existing, validates the
document and runs schemathesis against a real exporter with and without the token.

The WebSocket `/ws/results` is not described: OpenAPI has no words for an upgraded connection.
Every route answers `HEAD` beside `GET` (aiohttp); that is left implicit.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from exporter import __version__
from exporter.targets import MAX_URL_LEN
from exporter.web.auth import SECURITY_KEY
from exporter.web.body import MAX_BODY_BYTES, MAX_DEPTH, MAX_NUMBER_CHARS

OPENAPI_PATH = "/api/v1/openapi.json"

# routes that exist but that OpenAPI cannot describe, with the reason
NOT_DESCRIBED = {("GET", "/ws/results"): "a WebSocket (live frame analysis results)"}

# who may call an operation (auth.py): `read` is open unless the web config asks for basic auth,
# `pictures` (camera frames) need an authenticated caller whenever authentication is configured,
# `change` needs the bearer api_token (403 when none is configured: read-only)
READ, PICTURES, CHANGE = "read", "pictures", "change"
ACCESS = "x-vigil-access"

JSON = "application/json"
TEXT = "text/plain"
HTML = "text/html"
JPEG = "image/jpeg"

# --- schemas ----------------------------------------------------------------------------------

# Python's whitespace (str.isspace) and the control characters: never in a host or a frame URL
_SPACE = r"\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# a DNS name as targets._check_host takes it: labels of 1-63 characters, 253 in all (a final dot
# aside), the last label not all digits (that would be a mistyped IPv4 address)
DNS_NAME = rf"^(?=.{{1,253}}\.?$)(?:{_LABEL}\.)*(?![0-9]+\.?$){_LABEL}\.?$"
CAMERA_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
# the simplest spellings of an interval between 1s and 1d, or 0 (off); the API also reads
# combinations (1m30s) and decimals (1.5s) when the total is in range
DURATION = (
    r"^(?:0+(?:ms|s|m|h|d)"
    r"|0*(?:[1-9][0-9]{0,3}|[1-7][0-9]{4}|8[0-5][0-9]{3}|86[0-3][0-9]{2}|86400)s"
    r"|0*(?:[1-9][0-9]{0,2}|1[0-3][0-9]{2}|14[0-3][0-9]|1440)m"
    r"|0*(?:[1-9]|1[0-9]|2[0-4])h"
    r"|0*1d"
    r"|0*(?:[1-9][0-9]{3,6}|[1-7][0-9]{7}|8[0-5][0-9]{6}|86[0-3][0-9]{5}|86400000)ms)$"
)
# an IPv6 address as Python's ipaddress reads it (no zone): 8 groups, or fewer around one "::",
# the last two of them possibly an IPv4 address
_HEX = "[0-9A-Fa-f]{1,4}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"


def _ipv6() -> str:
    forms = [f"(?:{_HEX}:){{7}}{_HEX}", f"(?:{_HEX}:){{6}}{_IPV4}"]
    for left in range(8):
        head = "" if left == 0 else f"(?:{_HEX}:){{{left - 1}}}{_HEX}"
        for right in range(8 - left):
            tail = "" if right == 0 else f"{_HEX}(?::{_HEX}){{{right - 1}}}"
            forms.append(f"{head}::{tail}")
        for right in range(6 - left):
            forms.append(f"{head}::(?:{_HEX}:){{{right}}}{_IPV4}")
    return "(?:" + "|".join(forms) + ")"


IPV6 = _ipv6()
# characters whose NFKC form holds '/', '?', '#', '@' or ':': urllib refuses them in the authority
_NFKC = r"\u2047-\u2049\u2100\u2101\u2105\u2106\u2a74\ufe13\ufe16\ufe55\ufe56\ufe5f\ufe6b\uff03\uff0f\uff1a\uff1f\uff20"
_PORT = (
    r"(?::0*(?:[0-9]{0,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
)
# a frame URL: http(s) or rtsp(s), optional credentials, a host name or address (IPv6 in brackets),
# a port of 0-65535, no whitespace or control character, no '@' after the host, and no `***`
# placeholder of a redacted URL where a secret belongs (credentials, a query or path parameter)
FRAME_URL = (
    r"^(?![^?#]*\?(?:[^#]*[&;])?[^=&;#]*=(?:\*|%2[Aa]){3}(?:[&;#]|$))"
    r"(?:[Hh][Tt][Tt][Pp][Ss]?|[Rr][Tt][Ss][Pp][Ss]?)://"
    r"(?![^/?#]*\*\*\*[^/?#]*@)"
    rf"(?:[^{_SPACE}/?#\[\]{_NFKC}]*@)?"
    rf"(?:[A-Za-z0-9._~%-]+|\[{IPV6}\])"
    rf"{_PORT}"
    r"(?![^?#]*;[^;?#=]*=(?:\*|%2[Aa]){3}(?:[;?#]|$))"
    rf"(?:[/?#][^{_SPACE}@]*)?$"
)

_NUMBERS = f"numbers of at most {MAX_NUMBER_CHARS} characters"
BODY_LIMITS = (
    f"A JSON object of at most {MAX_BODY_BYTES // 1024} KiB (413 beyond), nested at most "
    f"{MAX_DEPTH} deep, {_NUMBERS}, no NaN or Infinity and no repeated key (400 with the reason)."
)

INTERVAL = {
    "description": (
        "How often this check runs for the camera: a duration (30s, 5m, 1h; 1m30s and 1.5s are "
        "read too) or a number of seconds, between 1s and 1d, or 0 to turn the check off; null or "
        "absent: the `cameras:` section's default."
    ),
    "anyOf": [
        {"type": "null"},
        {"type": "string", "pattern": DURATION},
        {"type": "number", "const": 0},
        {"type": "number", "minimum": 1, "maximum": 86400},
    ],
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "A refusal with its reason (never quoting a secret or the request body).",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
        "additionalProperties": False,
    },
    "Camera": {
        "type": "object",
        "description": (
            "A camera checked on the network, as the API shows it: intervals as durations, "
            "`frame_url` with its credentials replaced by `***`."
        ),
        "required": ["id", "host", "origin"],
        "properties": {
            "id": {"type": "string", "pattern": CAMERA_ID},
            "host": {"type": "string", "minLength": 1},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "icmp": {"type": "string", "description": "a duration; absent: the section default"},
            "tcp": {"type": "string"},
            "frame": {"type": "string"},
            "frame_url": {"type": "string", "description": "redacted: no password is ever shown"},
            "rtsp_options": {"type": "boolean"},
            "origin": {
                "type": "string",
                "enum": ["config", "api"],
                "description": "`config`: from vigil.yml, the API cannot change or delete it",
            },
        },
        "additionalProperties": False,
    },
    "CameraRegistration": {
        "type": "object",
        "description": (
            "A camera to register or replace (same id). " + BODY_LIMITS + " Unknown fields are "
            "refused; `origin` is read-only (accepted only as `api`, as in a GET answer)."
        ),
        "required": ["id", "host"],
        "properties": {
            "id": {
                "type": "string",
                "pattern": CAMERA_ID,
                "description": (
                    "1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
                ),
            },
            "host": {
                "description": (
                    "a bare IP address (IPv6 without brackets) or DNS name in ASCII (xn--) form"
                ),
                "anyOf": [
                    {"type": "string", "format": "ipv4"},
                    {"type": "string", "format": "ipv6"},
                    {"type": "string", "pattern": DNS_NAME},
                ],
            },
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 554},
            "icmp": INTERVAL,
            "tcp": INTERVAL,
            "frame": INTERVAL,
            "frame_url": {
                "description": (
                    "an http(s) JPEG snapshot or rtsp(s) stream URL with a host; credentials go in "
                    "it (percent-encode '/', '?', '#' and '@' in them) and are never shown again"
                ),
                "anyOf": [
                    {"type": "null"},
                    {"type": "string", "maxLength": MAX_URL_LEN, "pattern": FRAME_URL},
                ],
            },
            "rtsp_options": {"type": ["boolean", "null"]},
            "origin": {"const": "api"},
        },
        "additionalProperties": False,
    },
    "CameraList": {
        "type": "object",
        "required": ["cameras"],
        "properties": {
            "cameras": {"type": "array", "items": {"$ref": "#/components/schemas/Camera"}}
        },
        "additionalProperties": False,
    },
    "Job": {
        "type": "object",
        "description": "A Perforce refresh: running, or one of the newest finished ones.",
        "required": ["id", "scope", "state", "started", "finished", "error", "detail"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
            "scope": {
                "type": "object",
                "required": ["server", "stream", "describe"],
                "properties": {
                    "server": {"type": ["string", "null"], "description": "null: every server"},
                    "stream": {"type": ["string", "null"], "description": "null: the whole server"},
                    "describe": {"type": "string"},
                },
                "additionalProperties": False,
            },
            "state": {"type": "string", "enum": ["running", "done", "failed"]},
            "started": {"type": "number", "description": "unix time, seconds"},
            "finished": {"type": ["number", "null"]},
            "error": {
                "type": ["string", "null"],
                "description": "why it failed (`cancelled` when the exporter stopped)",
            },
            "detail": {
                "type": "object",
                "description": "what a finished refresh found (servers, sizes, files)",
            },
        },
        "additionalProperties": False,
    },
    "Busy": {
        "type": "object",
        "description": "Refused: a running refresh covers this one (or this one covers it).",
        "required": ["error", "held_by"],
        "properties": {
            "error": {"type": "string"},
            "held_by": {"$ref": "#/components/schemas/Job"},
        },
        "additionalProperties": False,
    },
    "Locks": {
        "type": "object",
        "required": ["locks"],
        "properties": {
            "locks": {
                "type": "array",
                "description": "running refreshes, oldest first",
                "items": {"$ref": "#/components/schemas/Job"},
            }
        },
        "additionalProperties": False,
    },
    "AnalyticsProblems": {
        "type": "object",
        "description": "The stuck scenarios and stale predictions of a platform, newest first.",
        "required": [
            "platform",
            "polled_at",
            "time_in_state",
            "stuck_total",
            "stuck",
            "stale_predictions_total",
            "stale_predictions",
        ],
        "properties": {
            "platform": {"type": "string"},
            "polled_at": {
                "type": ["number", "null"],
                "description": "unix time of the last poll; null before the first",
            },
            "time_in_state": {
                "enum": ["updated_at", "observed", None],
                "description": (
                    "`updated_at`: from the table's column; `observed`: watched across polls"
                ),
            },
            "stuck_total": {"type": "integer", "minimum": 0},
            "stuck": {
                "type": "array",
                "description": "bounded: `stuck_total` says how many there are",
                "items": {
                    "type": "object",
                    "required": ["id", "status", "seconds_in_state"],
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"type": "string"},
                        "seconds_in_state": {"type": "number"},
                    },
                    "additionalProperties": False,
                },
            },
            "stale_predictions_total": {"type": "integer", "minimum": 0},
            "stale_predictions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "seconds_since_change"],
                    "properties": {
                        "id": {"type": "string"},
                        "seconds_since_change": {"type": "number"},
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
    "CameraFigures": {
        "type": "object",
        "description": (
            "A camera as the sources describe it and its current figures, as /metrics shows them "
            "(null or empty: no source says). Network cameras appear by host and port, never by "
            "frame URL."
        ),
        "required": [
            "id",
            "name",
            "address",
            "sn",
            "ip",
            "host",
            "port",
            "datacenter",
            "vendor",
            "model",
            "sources",
            "online",
            "offline_since",
            "memory_card",
            "memory_card_problem",
            "coverage",
            "archive_depth_seconds",
            "probes",
            "frame",
            "evidence",
        ],
        "properties": {
            "id": {"type": "string", "description": "the RT uid or the configured id"},
            "name": {"type": "string"},
            "address": {"type": "string"},
            "sn": {"type": "string", "description": "serial number"},
            "ip": {"type": "string"},
            "host": {"type": "string", "description": "where a network check reaches it"},
            "port": {"type": ["integer", "null"]},
            "datacenter": {"type": "string"},
            "vendor": {"type": "string"},
            "model": {"type": "string"},
            "sources": {
                "type": "array",
                "items": {"enum": ["rt_api", "network", "frames"]},
                "description": "the sources that know the camera",
            },
            "online": {"type": ["boolean", "null"]},
            "offline_since": {"type": ["number", "null"], "description": "unix time, seconds"},
            "memory_card": {
                "type": ["string", "null"],
                "description": "the card state as the platform names it (`none`: empty state)",
            },
            "memory_card_problem": {"type": ["boolean", "null"]},
            "coverage": {
                "type": "object",
                "description": "archive coverage ratio (0..1) by window",
                "propertyNames": {"enum": ["today", "yesterday", "1d", "7d", "30d", "90d"]},
                "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "archive_depth_seconds": {"type": ["number", "null"]},
            "probes": {
                "type": "object",
                "description": "the latest network checks by check",
                "propertyNames": {"enum": ["icmp", "tcp"]},
                "additionalProperties": {
                    "type": "object",
                    "required": ["ok", "rtt_seconds"],
                    "properties": {
                        "ok": {"type": "boolean"},
                        "rtt_seconds": {"type": ["number", "null"]},
                    },
                    "additionalProperties": False,
                },
            },
            "frame": {
                "description": "the latest frame check; null: the camera has none",
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["fetched", "problems", "unchanged_seconds"],
                        "properties": {
                            "fetched": {"type": "boolean"},
                            "problems": {
                                "type": "array",
                                "items": {
                                    "enum": ["black", "blur", "occluded", "displaced", "frozen"]
                                },
                            },
                            "unchanged_seconds": {"type": ["number", "null"]},
                        },
                        "additionalProperties": False,
                    },
                ],
            },
            "evidence": {
                "description": "the newest evidence frame kept; null: none",
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["problem", "time", "url"],
                        "properties": {
                            "problem": {"type": "string"},
                            "time": {"type": "number", "description": "capture time, unix s"},
                            "url": {
                                "type": "string",
                                "description": "/evidence/{camera}/latest?problem=...",
                            },
                        },
                        "additionalProperties": False,
                    },
                ],
            },
        },
        "additionalProperties": False,
    },
    "SearchResult": {
        "type": "object",
        "description": "The cameras matching the search, best first.",
        "required": ["query", "total", "cameras"],
        "properties": {
            "query": {"type": "string"},
            "total": {
                "type": "integer",
                "minimum": 0,
                "description": "how many cameras match (`cameras` holds at most `limit`)",
            },
            "cameras": {"type": "array", "items": {"$ref": "#/components/schemas/CameraFigures"}},
        },
        "additionalProperties": False,
    },
    "OpenAPI": {
        "type": "object",
        "description": "This document.",
        "required": ["openapi", "info", "paths"],
        "properties": {"openapi": {"type": "string", "pattern": "^3\\.1\\."}},
    },
}

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "`Authorization: Bearer <api_token>` of vigil.yml: needed for every change (without an "
            "api_token the API is read-only: 403); accepted in place of basic auth everywhere."
        ),
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "`basic_auth_users` of the web config file (--web.config.file).",
    },
    "mutualTLS": {
        "type": "mutualTLS",
        "description": "a client certificate verified against the web config's client CA.",
    },
}


# --- responses --------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: str = "Error", **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}, **extra}


def _text(description: str, media: str = TEXT, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if media == JPEG:
        schema = {"type": "string", "contentMediaType": JPEG}
    return {"description": description, "content": {media: {"schema": schema}}, **extra}


NO_CONTENT = {"description": "Done; no body."}

# what the gate (auth.py) may answer on any route, before the handler runs
GATE = {
    "401": _json(
        "The `Authorization` header is not ASCII; or credentials are needed and missing or wrong "
        "(basic auth of the web config, camera pictures, a change without the right bearer token). "
        "`WWW-Authenticate: Basic` when basic auth would help.",
        headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    "403": _json(
        "The client certificate has none of the web config's `client_allowed_sans`; for a change: "
        "no api_token is configured (read-only)."
    ),
    "429": _json("Over the web config's `rate_limit`."),
}

CHANGE_REFUSED = {
    "401": GATE["401"],
    "403": GATE["403"],
}

BAD_BODY = {
    "400": _json("The body is not an acceptable camera; the reason names the field."),
    "413": _json(f"The body is larger than {MAX_BODY_BYTES} bytes."),
}

STATE_FILE = {
    "500": _json(
        "The camera state file could not be written; nothing changed (the exporter's log says why)."
    )
}


def _path(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "string", "minLength": 1},
    }


LANG_PARAM = {
    "name": "lang",
    "in": "query",
    "required": False,
    "description": (
        "the page's language, `en` or `ru` (remembered in the `vigil_lang` cookie); "
        "any other value is ignored"
    ),
    "schema": {"type": "string"},
}
CAMERA_PARAM = _path("id", "the camera's id", {"type": "string", "pattern": CAMERA_ID})
JOB_BODY = _json("The refresh job, started.", "Job")
REFRESH_COMMON = {
    "202": JOB_BODY,
    "409": _json("A running refresh overlaps this one: it is named in `held_by`.", "Busy"),
}


def _op(
    access: str,
    tag: str,
    summary: str,
    responses: dict[str, Any],
    *,
    operation_id: str,
    description: str = "",
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [tag],
        "summary": summary,
        "operationId": operation_id,
        ACCESS: access,
    }
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    op["responses"] = {**responses, **{k: v for k, v in GATE.items() if k not in responses}}
    return op


# (method, path as the router's canonical form) -> the operation
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    # -- the exporter itself --
    ("GET", "/"): _op(
        READ,
        "exporter",
        "The status page: camera search, fleet figures, the cameras with a problem, every check",
        {"200": _text("An HTML page, in English or Russian.", HTML)},
        operation_id="statusPage",
        description=(
            "The language is `lang` (which also sets the `vigil_lang` cookie), else the cookie, "
            "else the best of `en` and `ru` in `Accept-Language`, else English."
        ),
        parameters=[
            {
                "name": "q",
                "in": "query",
                "required": False,
                "description": "show the cameras matching this search (as /api/v1/search)",
                "schema": {"type": "string"},
            },
            LANG_PARAM,
        ],
    ),
    ("GET", "/api/v1/search"): _op(
        READ,
        "exporter",
        "Find cameras by a part of their name, address, serial number, IP or id",
        {
            "200": _json("The cameras found and their current figures.", "SearchResult"),
            "400": _json("`q` is missing, blank or too long, or `limit` is not 1-100."),
        },
        operation_id="searchCameras",
        description=(
            "Every camera any source knows (RT inventory, network checks, frame checks) is "
            "searched; case does not matter (Cyrillic included, ё as е)."
        ),
        parameters=[
            {
                "name": "q",
                "in": "query",
                "required": True,
                "description": "a part of the camera's name, address, serial number, IP, host or id",
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": "at most this many cameras in the answer (default 20)",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            },
        ],
    ),
    ("GET", "/metrics"): _op(
        READ,
        "exporter",
        "The metrics, in Prometheus' text format (gzip when asked for)",
        {"200": _text("Prometheus exposition format 0.0.4.")},
        operation_id="metrics",
    ),
    ("GET", "/-/healthy"): _op(
        READ,
        "exporter",
        "Liveness: the process answers",
        {"200": _text("Healthy.")},
        operation_id="healthy",
    ),
    ("GET", "/-/ready"): _op(
        READ,
        "exporter",
        "Readiness: every check has finished its first poll",
        {"200": _text("Ready."), "503": _text("Still starting: first polls not finished.")},
        operation_id="ready",
    ),
    ("GET", OPENAPI_PATH): _op(
        READ,
        "exporter",
        "This document: the routes of this exporter and the security its web config asks for",
        {"200": _json("The OpenAPI 3.1 document.", "OpenAPI")},
        operation_id="openapi",
    ),
    # -- cameras checked on the network --
    ("GET", "/api/v1/cameras"): _op(
        READ,
        "cameras",
        "Every camera checked on the network (config and API)",
        {"200": _json("The cameras, by id.", "CameraList")},
        operation_id="listCameras",
    ),
    ("POST", "/api/v1/cameras"): _op(
        CHANGE,
        "cameras",
        "Register a camera, or replace the one with the same id",
        {
            "200": _json("Replaced.", "Camera"),
            "201": _json("Registered.", "Camera"),
            **BAD_BODY,
            **CHANGE_REFUSED,
            "409": _json(
                "A camera of the configuration file has this id: the API cannot change it."
            ),
            **STATE_FILE,
        },
        operation_id="registerCamera",
        description=(
            "Checked within a second, then on its intervals; kept in `cameras.state_file`. The "
            "body is read as JSON whatever its Content-Type (`curl -d` sends a form type)."
        ),
        body={"required": True, "content": {JSON: {"schema": _ref("CameraRegistration")}}},
    ),
    ("GET", "/api/v1/cameras/{id}"): _op(
        READ,
        "cameras",
        "One camera",
        {"200": _json("The camera.", "Camera"), "404": _json("No such camera.")},
        operation_id="getCamera",
        parameters=[CAMERA_PARAM],
    ),
    ("DELETE", "/api/v1/cameras/{id}"): _op(
        CHANGE,
        "cameras",
        "Stop checking a camera registered through the API",
        {
            "204": NO_CONTENT,
            **CHANGE_REFUSED,
            "404": _json("No such camera."),
            "409": _json("A camera of the configuration file: the API cannot delete it."),
            **STATE_FILE,
        },
        operation_id="deleteCamera",
        parameters=[CAMERA_PARAM],
    ),
    ("GET", "/probe"): _op(
        READ,
        "cameras",
        "Check one registered camera now; its metrics only (blackbox_exporter style)",
        {
            "200": _text("The probe's metrics, Prometheus text format."),
            "400": _text("`target` is missing."),
            "404": _text("Not a registered camera."),
            "421": _text(
                "Registered, but another shard checks it: ask that one.",
                headers={
                    "X-Vigil-Shard-Owner": {
                        "description": "the index of the shard that checks the camera",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    }
                },
            ),
        },
        operation_id="probe",
        parameters=[
            {
                "name": "target",
                "in": "query",
                "required": True,
                "description": "the camera's id",
                "schema": {"type": "string", "minLength": 1},
            }
        ],
    ),
    # -- frames --
    ("POST", "/api/v1/cameras/{id}/reference/reset"): _op(
        CHANGE,
        "frames",
        "Accept a camera's current view as its new reference picture (after re-aiming it)",
        {
            "204": NO_CONTENT,
            **CHANGE_REFUSED,
            "404": _json("No frame of this camera analysed yet."),
        },
        operation_id="resetReference",
        parameters=[_path("id", "the camera's id")],
    ),
    ("GET", "/evidence"): _op(
        PICTURES,
        "frames",
        "The newest evidence frame of every camera and problem (an HTML page with thumbnails)",
        {"200": _text("An HTML page, in English or Russian.", HTML)},
        operation_id="evidenceIndex",
        description=(
            "The language is chosen as the status page's: `?lang=en` or `?lang=ru`, the "
            "`vigil_lang` cookie, `Accept-Language`, English."
        ),
    ),
    ("GET", "/evidence/{camera}/latest"): _op(
        PICTURES,
        "frames",
        "The newest evidence frame of a camera (alert descriptions link here)",
        {
            "302": {
                "description": "Found: the frame is at `Location` (/evidence/file/...).",
                "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
            },
            "404": _text("No evidence kept for this camera (and problem)."),
        },
        operation_id="latestEvidence",
        parameters=[
            _path("camera", "the camera's id"),
            {
                "name": "problem",
                "in": "query",
                "required": False,
                "description": "only frames of this problem (black, blur, occluded, ...)",
                "schema": {"type": "string"},
            },
        ],
    ),
    ("GET", "/evidence/file/{key}"): _op(
        PICTURES,
        "frames",
        "One evidence frame",
        {
            "200": _text("The JPEG frame.", JPEG),
            "404": _text("No such evidence."),
            "503": _text("The evidence store (directory or bucket) cannot be read now."),
        },
        operation_id="evidenceFile",
        parameters=[_path("key", "the frame's key, as /evidence links it")],
    ),
    # -- Perforce --
    ("POST", "/api/v1/p4/refresh"): _op(
        CHANGE,
        "perforce",
        "Refresh the stream sizes of every Perforce server now",
        {**REFRESH_COMMON, **CHANGE_REFUSED},
        operation_id="refreshAll",
    ),
    ("POST", "/api/v1/p4/refresh/{server}"): _op(
        CHANGE,
        "perforce",
        "Refresh the stream sizes of one Perforce server now",
        {**REFRESH_COMMON, **CHANGE_REFUSED, "404": _json("No Perforce server of this name.")},
        operation_id="refreshServer",
        parameters=[_path("server", "the server's name in vigil.yml")],
    ),
    ("POST", "/api/v1/p4/refresh/{server}/{stream}"): _op(
        CHANGE,
        "perforce",
        "Refresh the size of one stream now",
        {**REFRESH_COMMON, **CHANGE_REFUSED, "404": _json("No Perforce server of this name.")},
        operation_id="refreshStream",
        parameters=[
            _path("server", "the server's name in vigil.yml"),
            _path("stream", "the stream without its leading //, e.g. depot/main"),
        ],
    ),
    ("GET", "/api/v1/p4/locks"): _op(
        READ,
        "perforce",
        "The refreshes running now (what a new one would collide with)",
        {"200": _json("The running refreshes.", "Locks")},
        operation_id="p4Locks",
    ),
    ("GET", "/api/v1/jobs/{id}"): _op(
        READ,
        "perforce",
        "A refresh job: running, or one of the 200 newest finished ones",
        {"200": _json("The job.", "Job"), "404": _json("No such job.")},
        operation_id="getJob",
        parameters=[_path("id", "the job's id, from the 202 answer")],
    ),
    # -- analytics platforms --
    ("GET", "/api/v1/analytics/{platform}/stuck"): _op(
        READ,
        "analytics",
        "The stuck scenarios and stale predictions of an analytics platform",
        {
            "200": _json("The lists, newest first.", "AnalyticsProblems"),
            "404": _json("No platform of this name."),
        },
        operation_id="analyticsStuck",
        parameters=[_path("platform", "the platform's name in vigil.yml")],
    ),
}


# --- the document one exporter serves ---------------------------------------------------------


def app_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, canonical path) of every route of `app` but the implicit HEAD ones."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


def _security(access: str, security: Any) -> list[dict[str, list[str]]] | None:
    """The operation's `security` as the gate (auth.py) enforces it: alternatives, any one of
    which is enough; None: open. `security` is the WebSecurity (None: no web config, a token)."""
    if security is None:
        return [{"bearerAuth": []}] if access == CHANGE else None
    bearer = [{"bearerAuth": []}] if security.api_token else []
    if access == CHANGE:
        # basic auth alone changes nothing; without an api_token nothing does (403: read-only)
        return bearer or None
    if security.config.users:
        # every route needs a user and password, or the token in their place (a client
        # certificate alone is not enough)
        return [{"basicAuth": []}, *bearer]
    if access == PICTURES and security.authentication:
        certificate = [{"mutualTLS": []}] if security.verifies_client_certs else []
        return bearer + certificate
    return None


def document(routes: set[tuple[str, str]] | None = None, security: Any = None) -> dict[str, Any]:
    """The OpenAPI document of the routes in `routes` (None: every route any exporter can have),
    with the security `security` (a WebSecurity; None: no web config, a bearer token for changes)."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), operation in OPERATIONS.items():
        if routes is not None and (method, path) not in routes:
            continue
        op = copy.deepcopy(operation)
        needed = _security(op[ACCESS], security)
        if needed is not None:
            op["security"] = needed
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil exporter",
            "version": __version__,
            "description": (
                "The HTTP API of one Vigil exporter: its metrics and health, the registration API of "
                "cameras checked on the network, /probe, frame evidence, Perforce refreshes and the "
                "stuck lists of analytics platforms; only the routes of the sources this exporter "
                "runs. Reads are open unless the web config asks for basic auth; camera pictures "
                "need an authenticated caller whenever any authentication is configured; changes "
                "need the bearer api_token. The WebSocket /ws/results is not described here."
            ),
        },
        "tags": [
            {"name": "exporter", "description": "metrics, health, status page, this document"},
            {"name": "cameras", "description": "cameras checked on the network (`cameras:`)"},
            {"name": "frames", "description": "frame checks (`frames:`)"},
            {"name": "perforce", "description": "Perforce stream sizes (`p4:`)"},
            {"name": "analytics", "description": "video-analytics platforms (`analytics:`)"},
        ],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": copy.deepcopy(SECURITY_SCHEMES),
        },
    }


async def openapi_handler(request: web.Request) -> web.Response:
    app = request.app
    return web.json_response(document(app_routes(app), app[SECURITY_KEY]))


def add_routes(app: web.Application) -> None:
    app.router.add_get(OPENAPI_PATH, openapi_handler)
