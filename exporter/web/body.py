"""JSON request bodies with limits: size, nesting depth, number length; a 4xx with the reason, never 500.

`json.loads` alone raises RecursionError on deeply nested input and ValueError on an integer of more
than 4,300 digits (both were 500s). Here the body is read up to `max_bytes` (413 beyond), its nesting
is measured before it is parsed, numbers longer than `MAX_NUMBER_CHARS` and NaN/Infinity are refused,
and so are repeated keys; every refusal is a 400 whose reason never quotes the input. A number with an
integral value is an integer however it is written (`554.0`), as JSON Schema says.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

MAX_BODY_BYTES = 64 * 1024  # a camera registration is a few hundred bytes
MAX_DEPTH = 16  # objects and arrays inside each other
MAX_NUMBER_CHARS = 32  # digits, sign, point and exponent of one number
_EXACT = 2**53  # integral floats up to here are read as the integers they are

_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class BodyError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def nesting_depth(text: str, limit: int) -> int:
    """The deepest nesting of objects and arrays (strings skipped); stops counting past `limit`."""
    depth = deepest = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif token == "]" or token == "}":
            depth -= 1
    return deepest


def _number(text: str, kind: type) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise BodyError(400, f"a number longer than {MAX_NUMBER_CHARS} characters")
    value = kind(text)
    if kind is float and value.is_integer() and abs(value) <= _EXACT:
        # JSON has one kind of number: 554.0 and 5.54e2 are the integer 554, as JSON Schema (and
        # so the OpenAPI document) says; a port written that way is a port
        return int(value)
    return value


def _constant(name: str) -> Any:
    raise BodyError(400, f"{name} is not a JSON number")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BodyError(400, f"the key {key[:64]!r} is repeated")
        out[key] = value
    return out


def parse_json(raw: bytes, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Decode a request body; BodyError(status, reason) when it is not acceptable JSON."""
    if len(raw) > max_bytes:
        raise BodyError(413, f"the body is larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, "the body is not UTF-8") from None
    if nesting_depth(text, max_depth) > max_depth:
        raise BodyError(400, f"the JSON is nested deeper than {max_depth} levels")
    try:
        return json.loads(
            text,
            parse_int=lambda s: _number(s, int),
            parse_float=lambda s: _number(s, float),
            parse_constant=_constant,
            object_pairs_hook=_unique,
        )
    except json.JSONDecodeError as exc:
        raise BodyError(
            400, f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:  # cannot happen below MAX_DEPTH; kept so it never becomes a 500
        raise BodyError(400, "the JSON is nested too deeply") from None


async def read_json(
    request: web.Request, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """The request's JSON body within the limits; BodyError otherwise (read no further than needed)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyError(413, f"the body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > max_bytes:
            raise BodyError(413, f"the body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return parse_json(b"".join(chunks), max_bytes=max_bytes, max_depth=max_depth)
