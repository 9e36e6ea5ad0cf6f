"""The bearer token that guards every call that changes something."""

from __future__ import annotations

import hmac

from aiohttp import web

TOKEN_KEY = web.AppKey("api_token", str)  # "" when no token is configured


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def authorized(request: web.Request) -> web.Response | None:
    """None when the request may change state, otherwise the response that refuses it."""
    token = request.app[TOKEN_KEY]
    if not token:
        return error(403, "read-only: no api_token is configured on this exporter")
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        return error(401, "missing or wrong bearer token")
    return None
