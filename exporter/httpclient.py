"""JSON over HTTP with timeouts, retries, exponential backoff with jitter and Retry-After.

Every failed attempt is reported through `on_error(reason)` (so retried failures are still counted) and
the final failure raises `CheckFailed` with one reason. Error texts name the method and path, never the
query string's values or any header: secrets travel only in headers.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import aiohttp

from exporter import safejson
from exporter.errors import CheckFailed

BACKOFF_BASE = 0.5
DEFAULT_MAX_BODY = 32 * 2**20  # a real page of 1,000 cameras is about 1.5 MB
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 120.0

T = TypeVar("T")

RETRYABLE = {"timeout", "connection", "http_5xx", "rate_limited"}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def backoff_delay(attempt: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt))."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class JsonClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        limiter: asyncio.Semaphore | None = None,
        on_error: Callable[[str], None] = lambda reason: None,
        backoff_base: float = BACKOFF_BASE,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._max_body = max_body
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = dict(headers or {})
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retries = max_retries
        self._limiter = limiter or asyncio.Semaphore(1_000_000)
        self._on_error = on_error
        self._backoff_base = backoff_base

    async def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        auth: bool = True,
        parse: Callable[[Any], T] = lambda payload: payload,
    ) -> T:
        """GET path and return `parse(json)`; a parse raising CheckFailed counts as that reason."""
        what = f"GET {path}"
        attempt = 0
        while True:
            try:
                payload = await self._attempt(path, params, auth, what)
                try:
                    return parse(payload)
                except CheckFailed as exc:
                    raise _AttemptFailed(exc.reason, f"{what}: {exc}") from None
            except _AttemptFailed as failure:
                self._on_error(failure.reason)
                if failure.reason not in RETRYABLE or attempt >= self._max_retries:
                    # every attempt, this one included, was counted through on_error
                    raise CheckFailed(
                        failure.reason, failure.message, counted=True, status=failure.status
                    ) from None
                delay = failure.retry_after
                if delay is None:
                    delay = backoff_delay(attempt, self._backoff_base)
                attempt += 1
                await asyncio.sleep(delay)

    async def _attempt(
        self, path: str, params: Mapping[str, Any] | None, auth: bool, what: str
    ) -> Any:
        headers = self._headers if auth else {}
        try:
            async with (
                self._limiter,
                self._session.get(
                    self._base + path,
                    params=params,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as resp,
            ):
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                body = await self._read_bounded(resp, what)
        except TimeoutError:
            message = f"{what}: no answer within {self._timeout.total:g}s"
            raise _AttemptFailed("timeout", message) from None
        except aiohttp.ClientError as exc:
            raise _AttemptFailed("connection", f"{what}: {type(exc).__name__}") from None
        if status == 429:
            raise _AttemptFailed("rate_limited", f"{what}: HTTP 429", retry_after)
        if status >= 500:
            raise _AttemptFailed(
                "http_5xx", f"{what}: HTTP {status}", retry_after if status == 503 else None
            )
        if status >= 400:
            raise _AttemptFailed("http_4xx", f"{what}: HTTP {status}", status=status)
        if status != 200:
            raise _AttemptFailed("bad_payload", f"{what}: unexpected HTTP {status}")
        if not body.strip():
            raise _AttemptFailed("bad_payload", f"{what}: empty body")
        try:
            # upstream JSON as it comes (a repeated key keeps the last, as every client does)
            return safejson.loads(body, max_bytes=self._max_body, strict_keys=False)
        except safejson.JSONError as exc:
            if body.lstrip()[:1] == b"<":
                raise _AttemptFailed(
                    "bad_payload", f"{what}: an HTML page instead of JSON"
                ) from None
            raise _AttemptFailed("bad_payload", f"{what}: {exc}") from None

    async def _read_bounded(self, resp: aiohttp.ClientResponse, what: str) -> bytes:
        """The body, refused as soon as it is over the limit: a runaway answer is never held."""
        limit = self._max_body
        too_big = f"{what}: an answer over {limit / 2**20:g} MiB, refused (max_answer_mb)"
        if resp.content_length is not None:
            if resp.content_length > limit:
                raise _AttemptFailed("bad_payload", too_big)
            return await resp.read()  # the length is known and within the limit
        body = bytearray()  # chunked: counted as it comes
        async for chunk in resp.content.iter_any():
            body += chunk
            if len(body) > limit:
                raise _AttemptFailed("bad_payload", too_big)
        return bytes(body)


class _AttemptFailed(Exception):
    def __init__(
        self,
        reason: str,
        message: str,
        retry_after: float | None = None,
        *,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        self.status = status
