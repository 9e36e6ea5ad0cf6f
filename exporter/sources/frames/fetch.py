"""Fetch one fresh JPEG frame from a camera: an HTTP(S) snapshot or one frame of an RTSP stream.

Every failure raises `FrameFetchError` with a short `reason` (one of `REASONS`, usable as a metric
label) and a message for people in which the URL is always redacted (``rtsp://***@cam/x``): the
original exception is never chained, because aiohttp's texts can carry the URL's query string.

HTTP(S): credentials come from the URL's userinfo and never travel in the requested URL. The first
request goes without an Authorization header and the camera's 401 challenge decides: ``Digest`` is
answered by `aiohttp.DigestAuthMiddleware` (many IP cameras), ``Basic`` by a second request with an
``Authorization: Basic`` header (`aiohttp.encode_basic_auth`: aiohttp 3.14 deprecates BasicAuth and
``auth=``). So a password is sent in clear only to a camera that asks for Basic (like ``curl
--anyauth``), at the price of one extra round trip per check for Basic cameras. Passing
``middlewares`` per request replaces any middlewares set on the session for that request. The body
is read up to `MAX_BYTES` and must start with the JPEG magic bytes FF D8; the Content-Type is not
trusted either way (cameras get it wrong).

RTSP(S): OpenCV's FFmpeg backend opens the stream in a worker thread, reads ONE frame, releases the
capture and encodes the frame as JPEG: a capture per check, never a long-lived buffered one, so the
frame is never stale. FFmpeg's own open and read timeouts are set to the check's timeout; when the
asyncio side gives up first, the thread is told (it skips the read or the JPEG encoding) and still
releases the capture when FFmpeg returns, at most about one more timeout later. `rtsp_in_flight()`
counts worker calls still running, abandoned ones included. Pass a dedicated executor sized for the
number of concurrent RTSP checks: the loop's default one has only ``min(32, cores + 4)`` threads and
a hung camera holds a thread for up to twice its timeout.

Environment, set with `os.environ.setdefault` when this module is imported (so an operator's own
value wins; OpenCV reads both at every open, so it works even if cv2 was imported before):

- ``OPENCV_FFMPEG_CAPTURE_OPTIONS=rtsp_transport;tcp``: RTP interleaved in the RTSP TCP connection
  survives NAT, firewalls and packet loss, where UDP gives smeared or missing frames. The variable
  takes FFmpeg options as ``key;value`` pairs separated by ``|``. Opening the GStreamer test stream
  takes about 3 s, nearly all of it FFmpeg probing the stream; ``|analyzeduration;1000000`` brings
  that to about 1.2 s and ``|probesize;32768`` to about 0.3 s, at some risk with unusual cameras.
- ``OPENCV_FFMPEG_IS_THREAD_SAFE=1``: without it OpenCV holds one process-wide mutex for the whole
  of every open (connect, RTSP handshake, probing), so RTSP checks open one at a time (3 s each
  here) and a silent camera blocks all the others for its whole timeout, getting them blamed with
  ``rtsp_open``. FFmpeg itself is thread-safe for this since 4.0. OpenCV then warns about it on
  every open, so OpenCV's log level is set to ERROR when cv2 is first used here (process-wide),
  unless ``OPENCV_LOG_LEVEL`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from exporter.sources.frames.redact import redact_url

# see the module docstring
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
os.environ.setdefault("OPENCV_FFMPEG_IS_THREAD_SAFE", "1")

log = logging.getLogger("vigil.frames")

REASONS = (
    "timeout",
    "connection",
    "http_4xx",
    "http_5xx",
    "not_an_image",
    "rtsp_open",
    "rtsp_read",
    "bad_url",
)
HTTP_SCHEMES = ("http", "https")
RTSP_SCHEMES = ("rtsp", "rtsps")
MAX_BYTES = 20 * 1024 * 1024
JPEG_MAGIC = b"\xff\xd8"
JPEG_QUALITY = 90
ACCEPT = "image/jpeg, image/*;q=0.8, */*;q=0.1"


class FrameFetchError(Exception):
    """A frame could not be fetched; `reason` is one of `REASONS`, the message has no secret."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"FrameFetchError({self.reason!r}, {self.message!r})"


@dataclass(frozen=True, repr=False)
class _Target:
    scheme: str
    clean: str  # the URL without userinfo and fragment
    user: str | None
    password: str | None
    shown: str  # redacted, for messages


def _parse(url: str, schemes: tuple[str, ...] | None = None) -> _Target:
    if not isinstance(url, str) or not url:
        raise FrameFetchError("bad_url", "the frame URL is empty or not a string")
    # the fragment is never sent and redact_url leaves it as it is: keep it out of messages
    shown = redact_url(url).partition("#")[0]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise FrameFetchError("bad_url", f"{shown}: not a valid URL") from None
    if "@" in parts.path or "@" in parts.query or "@" in parts.fragment:
        raise FrameFetchError(
            "bad_url",
            f"{shown}: '@' outside the user:password part (percent-encode '/', '?', '#' and '@' "
            "in credentials)",
        )
    scheme = parts.scheme.lower()
    allowed = schemes or HTTP_SCHEMES + RTSP_SCHEMES
    if scheme not in allowed:
        raise FrameFetchError(
            "bad_url", f"{shown}: the scheme must be one of {', '.join(allowed)} (got {scheme!r})"
        )
    if not parts.hostname:
        raise FrameFetchError("bad_url", f"{shown}: no host")
    userinfo, sep, hostport = parts.netloc.rpartition("@")
    user = password = None
    if sep:
        raw_user, _, raw_password = userinfo.partition(":")
        user, password = unquote(raw_user), unquote(raw_password)
    clean = urlunsplit((scheme, hostport, parts.path or "/", parts.query, ""))
    return _Target(scheme, clean, user, password, shown)


# --- HTTP(S) ---------------------------------------------------------------------------------


def _challenges(resp: aiohttp.ClientResponse) -> set[str]:
    """The lower-cased auth schemes a 401 offers ({"digest", "basic"})."""
    return {
        value.strip().partition(" ")[0].lower()
        for value in resp.headers.getall("WWW-Authenticate", [])
        if value.strip()
    }


async def _read_jpeg(resp: aiohttp.ClientResponse, shown: str, max_bytes: int) -> bytes:
    status = resp.status
    if status >= 500:
        raise FrameFetchError("http_5xx", f"{shown}: HTTP {status} {resp.reason or ''}".rstrip())
    if status >= 400:
        hint = " (credentials missing or refused)" if status == 401 else ""
        raise FrameFetchError(
            "http_4xx", f"{shown}: HTTP {status} {resp.reason or ''}".rstrip() + hint
        )
    if status != 200:
        raise FrameFetchError("not_an_image", f"{shown}: HTTP {status}, not an image")
    ctype = resp.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if ctype.startswith("multipart/"):
        raise FrameFetchError(
            "not_an_image", f"{shown}: a {ctype} stream (MJPEG?), not a single snapshot"
        )
    length = resp.content_length
    if length is not None and length > max_bytes:
        raise FrameFetchError(
            "not_an_image", f"{shown}: body of {length} bytes is over the {max_bytes} byte limit"
        )
    data = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > max_bytes:
            raise FrameFetchError(
                "not_an_image", f"{shown}: body is over the {max_bytes} byte limit"
            )
    if not data.startswith(JPEG_MAGIC):
        what = f"{ctype or 'no Content-Type'}, {len(data)} bytes"
        raise FrameFetchError("not_an_image", f"{shown}: not a JPEG ({what})")
    return bytes(data)


async def _http_get(
    session: aiohttp.ClientSession, target: _Target, timeout: float, max_bytes: int
) -> bytes:
    common: dict[str, Any] = {
        "timeout": aiohttp.ClientTimeout(total=timeout),
        "headers": {"Accept": ACCEPT},
    }
    if target.user is None:
        async with session.get(target.clean, **common) as resp:
            return await _read_jpeg(resp, target.shown, max_bytes)
    digest = aiohttp.DigestAuthMiddleware(target.user, target.password or "", preemptive=False)
    async with session.get(target.clean, middlewares=(digest,), **common) as resp:
        # A Digest challenge was already answered by the middleware; only Basic is left to us.
        if resp.status != 401 or "digest" in _challenges(resp) or "basic" not in _challenges(resp):
            return await _read_jpeg(resp, target.shown, max_bytes)
    common["headers"]["Authorization"] = _basic_header(target.user, target.password or "")
    async with session.get(target.clean, **common) as resp:
        return await _read_jpeg(resp, target.shown, max_bytes)


def _basic_header(user: str, password: str) -> str:
    # aiohttp 3.14 deprecates BasicAuth and the auth= parameter in favour of encode_basic_auth()
    encode = getattr(aiohttp, "encode_basic_auth", None)
    if encode is not None:
        return encode(user, password)
    return aiohttp.BasicAuth(user, password, encoding="utf-8").encode()


def _connection_detail(exc: BaseException) -> str:
    """A short description of a connection failure that cannot contain the URL."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "cannot resolve the host name"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        return f"cannot connect: {os_error.strerror or type(os_error).__name__}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return type(exc).__name__


async def fetch_http(
    session: aiohttp.ClientSession, url: str, timeout: float, *, max_bytes: int = MAX_BYTES
) -> bytes:
    """GET an HTTP(S) snapshot and return its JPEG bytes; raise FrameFetchError.

    `timeout` bounds the whole fetch (connect, authentication round trips and body).
    """
    target = _parse(url, HTTP_SCHEMES)
    try:
        async with asyncio.timeout(timeout):
            return await _http_get(session, target, timeout, max_bytes)
    except FrameFetchError:
        raise
    except TimeoutError:
        raise FrameFetchError(
            "timeout", f"{target.shown}: no complete answer within {timeout:g}s"
        ) from None
    except (aiohttp.InvalidURL, ValueError, UnicodeError):
        raise FrameFetchError("bad_url", f"{target.shown}: not a valid URL") from None
    except aiohttp.TooManyRedirects:
        raise FrameFetchError("not_an_image", f"{target.shown}: too many redirects") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise FrameFetchError("connection", f"{target.shown}: {_connection_detail(exc)}") from None


# --- RTSP(S) ---------------------------------------------------------------------------------

_cv2_module: Any = None
_inflight = 0
_inflight_lock = threading.Lock()


def _cv2() -> Any:
    global _cv2_module
    if _cv2_module is None:
        import cv2  # imported on first use: it is big, and only RTSP checks need it

        if "OPENCV_LOG_LEVEL" not in os.environ:
            # OpenCV warns on stderr at every failed open or timeout and, with the setting above,
            # at every open; the reasons we raise say it all. Process-wide; OPENCV_LOG_LEVEL wins.
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        _cv2_module = cv2
    return _cv2_module


def rtsp_in_flight() -> int:
    """RTSP worker calls still running, including those the asyncio side already gave up on."""
    return _inflight


class _Attempt:
    """Shared between fetch_rtsp and its worker thread."""

    def __init__(self) -> None:
        self.phase = "queued"  # queued -> open -> read -> encode
        self.abandoned = False


def _grab(url: str, shown: str, ms: int, attempt: _Attempt) -> bytes:
    """Worker thread: open, read one frame, release, encode. The capture is always released."""
    global _inflight
    if attempt.abandoned:
        return b""
    with _inflight_lock:
        _inflight += 1
    cap = None
    try:
        cv2 = _cv2()
        attempt.phase = "open"
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        try:
            cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
            opened = cap.isOpened()
        except cv2.error:
            opened = False
        if not opened:
            raise FrameFetchError("rtsp_open", f"{shown}: cannot open the stream")
        if attempt.abandoned:
            return b""
        attempt.phase = "read"
        try:
            ok, frame = cap.read()
        except cv2.error:
            ok, frame = False, None
        if not ok or frame is None:
            raise FrameFetchError("rtsp_read", f"{shown}: opened, but no frame within {ms} ms")
        cap.release()
        cap = None
        if attempt.abandoned:
            return b""
        attempt.phase = "encode"
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise FrameFetchError("rtsp_read", f"{shown}: the frame could not be encoded as JPEG")
        return buf.tobytes()
    finally:
        if cap is not None:
            cap.release()
        with _inflight_lock:
            _inflight -= 1


async def fetch_rtsp(url: str, timeout: float, executor: Executor | None = None) -> bytes:
    """Open an RTSP(S) stream, grab one fresh frame and return it as JPEG; raise FrameFetchError.

    Credentials stay in the URL given to FFmpeg, which answers Basic and Digest challenges itself.
    A timeout while opening is `rtsp_open`, while reading `rtsp_read`; `timeout` when no worker
    thread of the executor became free in time.
    """
    target = _parse(url, RTSP_SCHEMES)
    ms = max(1, round(timeout * 1000))
    attempt = _Attempt()
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(executor, _grab, url, target.shown, ms, attempt)
    try:
        async with asyncio.timeout(timeout):
            return await future
    except TimeoutError:
        attempt.abandoned = True
        phase = attempt.phase
        if phase == "queued":
            raise FrameFetchError(
                "timeout", f"{target.shown}: no worker thread free within {timeout:g}s"
            ) from None
        if phase == "open":
            raise FrameFetchError(
                "rtsp_open", f"{target.shown}: the stream did not open within {timeout:g}s"
            ) from None
        raise FrameFetchError(
            "rtsp_read", f"{target.shown}: opened, but no frame within {timeout:g}s"
        ) from None
    except BaseException:
        attempt.abandoned = True  # cancelled: let the thread skip what is left
        raise


# --- dispatch --------------------------------------------------------------------------------


async def fetch_frame(
    session: aiohttp.ClientSession | None,
    url: str,
    timeout: float,
    executor: Executor | None = None,
) -> bytes:
    """One fresh JPEG from an http(s):// snapshot or rtsp(s):// stream URL; raise FrameFetchError."""
    scheme = _parse(url).scheme
    if scheme in RTSP_SCHEMES:
        return await fetch_rtsp(url, timeout, executor)
    if session is None:
        raise ValueError("an aiohttp session is needed for HTTP snapshots")
    return await fetch_http(session, url, timeout)
