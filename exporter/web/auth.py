"""Who may see what: the web config's gate in front of every route, and the bearer token for changes.

Every request passes `gate` (an aiohttp middleware):
- an `Authorization` header that is not ASCII is refused with 401 (never a 500);
- the web config's `rate_limit` answers 429 past its burst;
- with `client_allowed_sans`, a client certificate without one of them gets 403;
- with `basic_auth_users`, every route needs a valid user and password (as in the exporter-toolkit);
  the bearer `api_token` is accepted in its place, so the registration API's clients keep working;
- camera pictures (evidence frames, `/ws/results`) need an authenticated caller whenever any way to
  authenticate is configured: basic auth, a verified client certificate or the bearer token.
Calls that change something need the bearer `api_token` (`authorized`); without one the API is read-only.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from exporter.webconfig import WebSecurity

TOKEN_KEY = web.AppKey("api_token", str)  # "" when no token is configured
SECURITY_KEY = web.AppKey("web_security", WebSecurity)
PICTURES_KEY = web.AppKey("pictures", set)  # the resources that serve camera pictures

BASIC_CHALLENGE = 'Basic realm="Vigil", charset="UTF-8"'


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def authorized(request: web.Request) -> web.Response | None:
    """None when the request may change state, otherwise the response that refuses it."""
    token = request.app[TOKEN_KEY]
    if not token:
        return error(403, "read-only: no api_token is configured on this exporter")
    given = request.headers.get("Authorization", "")
    if not given.isascii():  # aiohttp hands other bytes over as surrogates
        return error(401, "missing or wrong bearer token")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        return error(401, "missing or wrong bearer token")
    return None


def _unauthorized(security: WebSecurity, message: str) -> web.Response:
    response = error(401, message)
    if security.config.users:
        response.headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return response


@web.middleware
async def gate(request: web.Request, handler) -> web.StreamResponse:
    security = request.app[SECURITY_KEY]
    config = security.refresh()
    header = request.headers.get("Authorization", "")
    if not header.isascii():
        return _unauthorized(security, "the Authorization header must be ASCII")
    if security.rate_limited():
        return error(429, "too many requests (rate_limit of the web config)")
    transport = request.transport
    peercert = transport.get_extra_info("peercert") if transport is not None else None
    if not security.sans_allowed(peercert):
        return error(403, "the client certificate has none of the allowed names")
    by_token = bool(header) and security.token_matches(header)
    by_basic = bool(header) and not by_token and await security.basic_user(header) is not None
    if config.users and not (by_basic or by_token):
        return _unauthorized(security, "authentication required")
    if request.match_info.route.resource in request.app[PICTURES_KEY] and security.authentication:
        by_cert = security.verifies_client_certs and bool(peercert)
        if not (by_basic or by_token or by_cert):
            return _unauthorized(
                security, "camera pictures are served to authenticated callers only"
            )
    return await handler(request)


async def sees_pictures(request: web.Request) -> bool:
    """Whether the gate would serve this caller camera pictures (pages show thumbnails then).
    The caller passed the gate already, so its Authorization header is ASCII; basic-auth checks
    are cached by the web config (no second bcrypt)."""
    security = request.app[SECURITY_KEY]
    if not security.authentication:
        return True
    header = request.headers.get("Authorization", "")
    if header and (security.token_matches(header) or await security.basic_user(header) is not None):
        return True
    transport = request.transport
    peercert = transport.get_extra_info("peercert") if transport is not None else None
    return security.verifies_client_certs and bool(peercert)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The web config's `http_server_config.headers` on every answer."""
    headers = request.app[SECURITY_KEY].config.headers
    if headers:
        response.headers.update(headers)
