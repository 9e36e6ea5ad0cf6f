"""Frame fetching against real servers on loopback: an aiohttp snapshot server and GStreamer RTSP."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import socket
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import cv2
import numpy as np
import pytest
from aiohttp import web

from exporter.sources.frames import fetch
from exporter.sources.frames.fetch import (
    REASONS,
    FrameFetchError,
    fetch_frame,
    fetch_http,
    fetch_rtsp,
    rtsp_in_flight,
)
from exporter.sources.frames.redact import redact_url
from tests.conftest import eventually, free_port
from tests.rtsp_support import check_rtsp_parts, start_rtsp, stop_rtsp

USER = "admin"
PASSWORD = "Hunter2-s3cr3t"  # must never show up in an error message
TOKEN = "Tok3n-s3cr3t"
REALM = "vigil-test"


def make_jpeg(width: int = 640, height: int = 360) -> bytes:
    y, x = np.mgrid[0:height, 0:width]
    image = np.dstack([(x * 255 // width), (y * 255 // height), ((x + y) % 256)]).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


JPEG = make_jpeg()


def assert_no_secret(exc: BaseException, *extra: str) -> None:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc)), *extra]
    for text in texts:
        assert PASSWORD not in text
        assert TOKEN not in text


# --- an HTTP snapshot server with Basic and Digest auth --------------------------------------------


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _digest_ok(request: web.Request, nonces: set[str]) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Digest "):
        return False
    fields = {
        k: v1 if v1 else v2
        for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[len("Digest ") :])
    }
    if fields.get("username") != USER or fields.get("nonce") not in nonces:
        return False
    if fields.get("uri") != request.path_qs:
        return False
    ha1 = _md5(f"{USER}:{REALM}:{PASSWORD}")
    ha2 = _md5(f"{request.method}:{fields['uri']}")
    expected = _md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
    return fields.get("qop") == "auth" and fields.get("response") == expected


class SnapshotServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth_headers: list[str | None] = []
        self.nonces: set[str] = set()
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/snap.jpg", self.snap)
        app.router.add_get("/basic", self.basic)
        app.router.add_get("/digest", self.digest)
        app.router.add_get("/status/{code}", self.status)
        app.router.add_get("/html", self.html)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/big", self.big)
        app.router.add_get("/mjpeg", self.mjpeg)
        app.router.add_get("/redirect", self.redirect)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def _jpeg(self) -> web.Response:
        return web.Response(body=JPEG, content_type="image/jpeg")

    async def snap(self, request: web.Request) -> web.Response:
        self.auth_headers.append(request.headers.get("Authorization"))
        return self._jpeg()

    async def basic(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization")
        self.auth_headers.append(header)
        good = aiohttp.encode_basic_auth(USER, PASSWORD)
        if header == good:
            return self._jpeg()
        return web.Response(status=401, headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})

    async def digest(self, request: web.Request) -> web.Response:
        self.auth_headers.append(request.headers.get("Authorization"))
        if _digest_ok(request, self.nonces):
            return self._jpeg()
        nonce = secrets.token_hex(16)
        self.nonces.add(nonce)
        challenge = (
            f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", '
            f'opaque="{secrets.token_hex(8)}", algorithm=MD5'
        )
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="nope")

    async def html(self, request: web.Request) -> web.Response:
        return web.Response(text="<html><body>login</body></html>", content_type="text/html")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return self._jpeg()

    async def big(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await resp.prepare(request)
        await resp.write(JPEG)
        for _ in range(64):
            await resp.write(b"\0" * 65536)
        await resp.write_eof()
        return resp

    async def mjpeg(self, request: web.Request) -> web.Response:
        return web.Response(
            body=b"--frame\r\n",
            headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame"},
        )

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/snap.jpg")


@pytest.fixture
async def snapshots():
    server = SnapshotServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def creds_url(base: str, path: str) -> str:
    return base.replace("http://", f"http://{USER}:{PASSWORD}@") + path


# --- HTTP ----------------------------------------------------------------------------------------


async def test_plain_snapshot(snapshots, http):
    got = await fetch_http(http, f"{snapshots.url}/snap.jpg", 5)
    assert got == JPEG
    assert snapshots.auth_headers == [None]
    image = cv2.imdecode(np.frombuffer(got, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (360, 640, 3)


async def test_redirect_is_followed(snapshots, http):
    assert await fetch_frame(http, f"{snapshots.url}/redirect", 5) == JPEG


async def test_basic_auth(snapshots, http):
    got = await fetch_http(http, creds_url(snapshots.url, "/basic"), 5)
    assert got == JPEG
    # challenge first, then Basic: the password goes in clear only to a camera that asks for Basic
    assert snapshots.auth_headers[0] is None
    assert snapshots.auth_headers[-1] == aiohttp.encode_basic_auth(USER, PASSWORD)


async def test_basic_auth_percent_encoded_password(snapshots, http, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "PASSWORD", "p@ss:w/rd?#")
    url = f"http://{USER}:p%40ss%3Aw%2Frd%3F%23@127.0.0.1:{snapshots.port}/basic"
    assert await fetch_http(http, url, 5) == JPEG


async def test_basic_auth_wrong_password(snapshots, http):
    url = f"http://{USER}:wrong-{PASSWORD}@127.0.0.1:{snapshots.port}/basic"
    with pytest.raises(FrameFetchError) as info:
        await fetch_http(http, url, 5)
    assert info.value.reason == "http_4xx"
    assert "401" in str(info.value)
    assert "http://***@127.0.0.1" in str(info.value)
    assert_no_secret(info.value)


async def test_digest_auth(snapshots, http):
    got = await fetch_http(http, creds_url(snapshots.url, "/digest?channel=1"), 5)
    assert got == JPEG
    assert snapshots.auth_headers[0] is None
    assert snapshots.auth_headers[-1].startswith("Digest ")
    # a digest camera never sees the password: no Basic header, no password in any header
    assert not any(h and (h.startswith("Basic") or PASSWORD in h) for h in snapshots.auth_headers)


async def test_digest_auth_wrong_password(snapshots, http):
    url = f"http://{USER}:wrong@127.0.0.1:{snapshots.port}/digest"
    with pytest.raises(FrameFetchError) as info:
        await fetch_http(http, url, 5)
    assert info.value.reason == "http_4xx"
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/status/404", "http_4xx"),
        ("/status/403", "http_4xx"),
        ("/status/503", "http_5xx"),
        ("/status/500", "http_5xx"),
        ("/status/204", "not_an_image"),
        ("/html", "not_an_image"),
        ("/mjpeg", "not_an_image"),
        ("/digest", "http_4xx"),  # no credentials at all
    ],
)
async def test_http_failures(snapshots, http, path, reason):
    with pytest.raises(FrameFetchError) as info:
        await fetch_frame(http, f"{snapshots.url}{path}", 5)
    assert info.value.reason == reason


async def test_body_size_limit(snapshots, http):
    with pytest.raises(FrameFetchError) as info:
        await fetch_http(http, f"{snapshots.url}/big", 5, max_bytes=1_000_000)
    assert info.value.reason == "not_an_image"
    assert "limit" in str(info.value)
    assert len(await fetch_http(http, f"{snapshots.url}/big", 5)) > 4_000_000


async def test_slow_server_times_out(snapshots, http):
    start = time.monotonic()
    with pytest.raises(FrameFetchError) as info:
        await fetch_http(http, f"{snapshots.url}/slow", 0.5)
    assert info.value.reason == "timeout"
    assert time.monotonic() - start < 2


async def test_closed_port_is_connection(http):
    port = free_port()  # nothing listens there
    with pytest.raises(FrameFetchError) as info:
        await fetch_http(http, f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/x?token={TOKEN}", 5)
    assert info.value.reason == "connection"
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/snap.jpg",
        "file:///etc/passwd",
        "http://",
        "rtsp://",
        "127.0.0.1/snap.jpg",
        "http://127.0.0.1:99999/x",
        f"http://{USER}:pa/ss@127.0.0.1/x@y",
        "",
    ],
)
async def test_bad_urls(http, url):
    with pytest.raises(FrameFetchError) as info:
        await fetch_frame(http, url, 1)
    assert info.value.reason == "bad_url"
    assert "pa/ss" not in str(info.value)


async def test_no_secret_in_any_http_error(snapshots, http, caplog):
    base = f"http://{USER}:{PASSWORD}@127.0.0.1:{snapshots.port}"
    closed = f"http://{USER}:{PASSWORD}@127.0.0.1:{free_port()}"
    seen = set()
    for url, timeout in [
        (f"{base}/status/404?token={TOKEN}", 5),
        (f"{base}/status/503?token={TOKEN}", 5),
        (f"{base}/html?password={TOKEN}", 5),
        (f"{base}/slow?token={TOKEN}", 0.3),
        (f"{closed}/x?token={TOKEN}", 5),
        (f"{base.replace(USER, 'intruder')}/digest?token={TOKEN}#{TOKEN}", 5),
        (f"ftp://{USER}:{PASSWORD}@127.0.0.1/x?token={TOKEN}", 5),
    ]:
        with pytest.raises(FrameFetchError) as info:
            await fetch_frame(http, url, timeout)
        seen.add(info.value.reason)
        assert_no_secret(info.value, caplog.text)
        assert "***" in str(info.value)
    assert seen == {"http_4xx", "http_5xx", "not_an_image", "timeout", "connection", "bad_url"}


def test_reasons_are_closed_set():
    with pytest.raises(ValueError):
        FrameFetchError("nope", "x")
    assert set(REASONS) == {
        "timeout",
        "connection",
        "http_4xx",
        "http_5xx",
        "not_an_image",
        "rtsp_open",
        "rtsp_read",
        "bad_url",
    }
    assert fetch.redact_url is redact_url


def test_rtsp_transport_defaults_to_tcp():
    assert os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")


# --- RTSP ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rtsp_servers():
    """Two GStreamer RTSP servers on loopback: (open at /test, basic auth at /cam)."""
    check_rtsp_parts()
    plain = start_rtsp("test")
    try:
        guarded = start_rtsp("cam", USER, PASSWORD)
    except BaseException:
        stop_rtsp(plain)
        raise
    try:
        yield plain, guarded
    finally:
        stop_rtsp(plain)
        stop_rtsp(guarded)


def decode(jpeg: bytes) -> np.ndarray:
    assert jpeg[:2] == b"\xff\xd8"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


async def test_rtsp_frame(rtsp_servers):
    plain, _ = rtsp_servers
    start = time.monotonic()
    jpeg = await fetch_frame(None, f"rtsp://127.0.0.1:{plain.port}/test", 10)
    elapsed = time.monotonic() - start
    assert decode(jpeg).shape == (360, 640, 3)
    assert elapsed < 10
    await eventually(lambda: rtsp_in_flight() == 0, timeout=5)


def silent_listener() -> socket.socket:
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener


async def test_rtsp_opens_run_in_parallel(rtsp_servers):
    """Credentials work, and opens do not queue behind each other (nor behind a silent camera).

    Without OPENCV_FFMPEG_IS_THREAD_SAFE=1, OpenCV serialises every open on one mutex: this took
    3 s + 3 s + 4 s instead of 4 s.
    """
    _, guarded = rtsp_servers
    url = f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{guarded.port}/cam"
    listener = silent_listener()
    silent = f"rtsp://127.0.0.1:{listener.getsockname()[1]}/x"
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            start = time.monotonic()
            results = await asyncio.gather(
                fetch_rtsp(silent, 4, executor=pool),
                fetch_rtsp(url, 10, executor=pool),
                fetch_rtsp(url, 10, executor=pool),
                return_exceptions=True,
            )
            elapsed = time.monotonic() - start
    finally:
        listener.close()
    assert isinstance(results[0], FrameFetchError)
    assert results[0].reason == "rtsp_open"
    assert decode(results[1]).shape == decode(results[2]).shape == (360, 640, 3)
    assert elapsed < 6.5, elapsed


async def test_rtsp_wrong_password(rtsp_servers, capfd):
    _, guarded = rtsp_servers
    url = f"rtsp://{USER}:wrong-{PASSWORD}@127.0.0.1:{guarded.port}/cam"
    with pytest.raises(FrameFetchError) as info:
        await fetch_rtsp(url, 5)
    assert info.value.reason == "rtsp_open"
    assert "rtsp://***@127.0.0.1" in str(info.value)
    out, err = capfd.readouterr()  # FFmpeg and OpenCV log to the process's stderr
    assert_no_secret(info.value, out, err)


async def test_rtsp_unknown_mount(rtsp_servers):
    plain, _ = rtsp_servers
    with pytest.raises(FrameFetchError) as info:
        await fetch_rtsp(f"rtsp://127.0.0.1:{plain.port}/nope", 5)
    assert info.value.reason == "rtsp_open"


async def test_rtsp_closed_port():
    start = time.monotonic()
    with pytest.raises(FrameFetchError) as info:
        await fetch_rtsp(f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{free_port()}/x", 3)
    assert info.value.reason == "rtsp_open"
    assert time.monotonic() - start < 3.5
    assert_no_secret(info.value)


async def test_rtsp_silent_server_gives_up_in_time_and_releases():
    """A server that accepts but never answers: rtsp_open at the timeout, then the thread ends."""
    listener = silent_listener()
    port = listener.getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(FrameFetchError) as info:
            await fetch_rtsp(f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{port}/x?token={TOKEN}", 1.0)
        assert info.value.reason == "rtsp_open"
        assert time.monotonic() - start < 1.5
        assert_no_secret(info.value)
        # the worker thread is still inside FFmpeg's open; it ends on FFmpeg's own timeout
        await eventually(lambda: rtsp_in_flight() == 0, timeout=5, step=0.05)
    finally:
        listener.close()


async def test_rtsp_busy_executor_is_timeout(rtsp_servers):
    """No free worker thread within the timeout: a local `timeout`, not blamed on the camera."""
    plain, _ = rtsp_servers
    with ThreadPoolExecutor(max_workers=1) as pool:
        blocker = asyncio.get_running_loop().run_in_executor(pool, time.sleep, 1.5)
        with pytest.raises(FrameFetchError) as info:
            await fetch_rtsp(f"rtsp://127.0.0.1:{plain.port}/test", 0.5, executor=pool)
        await blocker
    assert info.value.reason == "timeout"
