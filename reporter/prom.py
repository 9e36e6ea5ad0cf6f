"""A small Prometheus HTTP API client: instant and range queries, auth, TLS, bounded concurrency.

Every failure becomes a `PrometheusError` whose text names the server (never with credentials) and
the failing query, and never carries the HTTP library's exception text (which may hold the URL).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import numpy as np

from exporter import safejson

log = logging.getLogger("vigil.report")

RETRIES = 2  # connection errors and 502/503/504 are tried again, after 0.5 s and 1 s


class PrometheusError(Exception):
    """Prometheus could not answer; the message is safe to print."""


@dataclass
class Series:
    """One series of a range query: its labels, sample times (unix s) and values."""

    metric: dict[str, str]
    times: np.ndarray
    values: np.ndarray


# A range answer holds a list [time, "value"] per point: at 10,000 cameras x 90 days that is
# 900,000 small lists per metric, which json.loads turns into Python objects one by one. The
# regular shape of a successful matrix lets two regexes and one NumPy conversion do it instead.
_MATRIX_HEAD = b'{"status":"success","data":{"resultType":"matrix","result":['
_JSON_STRING = rb'"(?:[^"\\]|\\.)*"'
_SERIES_HEAD = re.compile(
    rb'\{"metric":(\{(?:' + _JSON_STRING + rb":" + _JSON_STRING + rb',?)*\}),"values":\['
)
_POINT = re.compile(rb'\[([-+.0-9eE]+),"([^"]*)"\]')


def parse_matrix(body: bytes) -> list[Series] | None:
    """The series of a successful matrix answer without warnings, or None for any other body."""
    if not body.startswith(_MATRIX_HEAD) or not body.endswith(b"]}}"):
        return None
    heads = list(_SERIES_HEAD.finditer(body))
    out = []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        points = _POINT.findall(body, head.end() - 1, end)
        try:
            pairs = np.array(points, dtype=np.bytes_).reshape(-1, 2).astype(np.float64)
            labels = safejson.loads(head.group(1), max_bytes=len(body), strict_keys=False)
        except (ValueError, TypeError):  # the JSON path reads it, or says what is wrong
            return None
        if not isinstance(labels, dict):
            return None
        out.append(Series(labels, pairs[:, 0], pairs[:, 1]))
    return out


@dataclass(frozen=True)
class Auth:
    user: str | None = None
    password: str | None = None
    bearer_token: str | None = None


def split_url(url: str) -> tuple[str, str | None, str | None]:
    """(URL without userinfo, query or fragment; user; password) from a --prometheus value."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {safe_url(url)!r}")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return base, parts.username, parts.password


def safe_url(url: str) -> str:
    """The URL as it may be shown: no userinfo, no query string."""
    try:
        parts = urlsplit(url.strip())
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparsable URL>"


def tls_context(ca_file: str | None, insecure: bool) -> ssl.SSLContext | bool:
    if insecure:
        return False
    return ssl.create_default_context(cafile=ca_file)


class Prometheus:
    """Queries one Prometheus server; use as an async context manager."""

    def __init__(
        self,
        url: str,
        *,
        auth: Auth = Auth(),
        ssl_context: ssl.SSLContext | bool = True,
        timeout: float = 300.0,
        concurrency: int = 2,
    ) -> None:
        self.base, url_user, url_password = split_url(url)
        self.shown = safe_url(self.base)
        user = auth.user if auth.user is not None else url_user
        password = auth.password if auth.password is not None else url_password
        self._headers = {"Accept-Encoding": "gzip"}
        self._basic = None
        if auth.bearer_token:
            self._headers["Authorization"] = f"Bearer {auth.bearer_token}"
        elif user is not None:
            self._basic = aiohttp.BasicAuth(user, password or "")
        self._ssl = ssl_context
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=10)
        self._limiter = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0

    async def __aenter__(self) -> Prometheus:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(ssl=self._ssl, limit=16),
            auth=self._basic,
            headers=self._headers,
        )
        return self

    async def __aexit__(self, *exc) -> None:
        if self._session is not None:
            await self._session.close()

    async def instant(self, query: str, at: float) -> list[dict]:
        """The result vector of `query` evaluated at unix time `at`."""
        data = await self._call("query", {"query": query, "time": _ts(at)}, query)
        if data.get("resultType") != "vector":
            raise PrometheusError(
                f"Prometheus at {self.shown} answered {data.get('resultType')!r} instead of a "
                f"vector for query: {query}"
            )
        return data["result"]

    async def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        """The series of `query` evaluated at start, start + step, ... end."""
        params = {"query": query, "start": _ts(start), "end": _ts(end), "step": _ts(step)}
        data = await self._call("query_range", params, query, fast_matrix=True)
        if isinstance(data, list):
            return data
        if data.get("resultType") != "matrix":
            raise PrometheusError(
                f"Prometheus at {self.shown} answered {data.get('resultType')!r} instead of a "
                f"matrix for query: {query}"
            )
        return [
            Series(
                item["metric"],
                np.array([float(t) for t, _ in item["values"]]),
                np.array([float(v) for _, v in item["values"]]),
            )
            for item in data["result"]
        ]

    async def _call(
        self, endpoint: str, params: dict[str, str], query: str, fast_matrix: bool = False
    ) -> dict | list[Series]:
        assert self._session is not None, "use Prometheus as an async context manager"
        url = f"{self.base}/api/v1/{endpoint}"
        async with self._limiter:
            for attempt in range(RETRIES + 1):
                self.requests += 1
                try:
                    return await self._post(url, params, query, fast_matrix)
                except _Retryable as exc:
                    if attempt == RETRIES:
                        raise PrometheusError(str(exc)) from None
                    log.warning("%s; trying again", exc)
                    await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    async def _post(
        self, url: str, params: dict[str, str], query: str, fast_matrix: bool
    ) -> dict | list[Series]:
        where = f"Prometheus at {self.shown}"
        try:
            async with self._session.post(url, data=params) as resp:
                body = await resp.read()
                status = resp.status
                content_type = resp.content_type
        except aiohttp.ClientConnectorCertificateError:
            raise PrometheusError(
                f"{where}: TLS certificate verification failed (give the CA with --ca-file, or "
                f"--insecure to skip verification) for query: {query}"
            ) from None
        except aiohttp.ClientSSLError:
            raise PrometheusError(f"{where}: TLS handshake failed for query: {query}") from None
        except aiohttp.ConnectionTimeoutError:
            raise _Retryable(
                f"{where} is unreachable (connect timeout) for query: {query}"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror if exc.os_error and exc.os_error.strerror else "error"
            raise _Retryable(
                f"{where} is unreachable ({reason.lower()}) for query: {query}"
            ) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
            raise _Retryable(f"{where} closed the connection during query: {query}") from None
        except TimeoutError:
            raise PrometheusError(
                f"{where} did not answer within {self._timeout.total:.0f} s (raise --timeout) "
                f"for query: {query}"
            ) from None
        except aiohttp.ClientError as exc:
            raise PrometheusError(
                f"{where}: HTTP request failed ({type(exc).__name__}) for query: {query}"
            ) from None
        if status in (401, 403):
            raise PrometheusError(
                f"{where} refused the request (HTTP {status}: check --user/--password-file or "
                f"--bearer-token-file) for query: {query}"
            )
        if fast_matrix and status == 200:
            parsed = parse_matrix(body)
            if parsed is not None:
                return parsed
        try:
            payload = safejson.loads(body, max_bytes=len(body), strict_keys=False)
        except safejson.JSONError:
            payload = None
        if not isinstance(payload, dict) or "status" not in payload:
            message = (
                f"{where} answered HTTP {status} ({content_type or 'no content type'}) that is "
                f"not the Prometheus API (is the URL right?) for query: {query}"
            )
            if status in (502, 503, 504):
                raise _Retryable(message)
            raise PrometheusError(message)
        if payload["status"] != "success":
            error = str(payload.get("error", "unknown error"))[:500]
            kind = payload.get("errorType", "error")
            message = f"{where}: query failed ({kind}: {error}): {query}"
            if status in (502, 504) or (status == 503 and kind == "unavailable"):
                raise _Retryable(message)
            raise PrometheusError(message)
        for warning in payload.get("warnings") or ():
            log.warning("%s warns: %s (query: %s)", where, warning, query)
        data = payload.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            raise PrometheusError(f"{where}: answer without a result for query: {query}")
        return data


class _Retryable(Exception):
    pass


def _ts(t: float) -> str:
    """A unix time with millisecond resolution, the resolution of Prometheus timestamps."""
    return f"{round(t * 1000) / 1000:.3f}"
