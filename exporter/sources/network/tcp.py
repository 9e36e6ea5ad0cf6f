"""Async TCP connect probe (optionally with an RTSP OPTIONS round trip) and host name resolution.

A probe is one non-blocking socket and `loop.sock_connect` under a single deadline that also covers
resolving the name and the RTSP exchange: no streams, no transports, so one event loop manages
thousands of probes per second. IP literals skip the resolver thread pool altogether. The socket is
closed with SO_LINGER 0 (a reset instead of FIN/TIME_WAIT): a prober that opens thousands of short
connections to the same few addresses would otherwise tie up local ports in TIME_WAIT for a minute
each and end up failing with EADDRNOTAVAIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import struct
import time

from exporter.sources.network.errors import ProbeFailed, reason_for_oserror

RESET_ON_CLOSE = True  # SO_LINGER 0; see the module docstring
MAX_STATUS_LINE = 512
_LINGER_RESET = struct.pack("ii", 1, 0)
_STATUS_LINE = re.compile(rb"RTSP/1\.0 [0-9]{3}(?: [^\r\n]*)?")
_STATUS_KNOWN = re.compile(rb"RTSP/1\.0 [0-9]{3}[ \r\n]")  # enough of a line to judge it
_STATUS_PREFIX = b"RTSP/1.0 "

Address = tuple[int, tuple]  # (family, sockaddr)


def _numeric(host: str, port: int | None, family: int) -> list[Address] | None:
    """The address of an IP literal without the resolver thread pool; None for a name."""
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return None
    return [(info[0], info[4]) for info in infos]


async def _addresses(host: str, port: int | None, family: int) -> list[Address]:
    numeric = _numeric(host, port, family)
    if numeric:
        return numeric
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        detail = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ProbeFailed("dns", f"cannot resolve {host!r}: {detail}") from None
    if not infos:
        raise ProbeFailed("dns", f"cannot resolve {host!r}: no addresses")
    return [(info[0], info[4]) for info in infos]


async def resolve(host: str, family: int = 0, *, timeout: float | None = None) -> str:
    """The first address of `host` (an IP literal comes back as is); ProbeFailed("dns") otherwise."""
    try:
        async with asyncio.timeout(timeout):
            addresses = await _addresses(host, None, family)
    except TimeoutError:
        raise ProbeFailed("dns", f"cannot resolve {host!r} within {timeout:g}s") from None
    return addresses[0][1][0]


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe(error: OSError) -> str:
    """'Connection refused', not asyncio's 'Connect call failed (address)'."""
    if error.errno:
        return os.strerror(error.errno)
    return error.strerror or error.__class__.__name__


def _close(sock: socket.socket) -> None:
    if RESET_ON_CLOSE:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    sock.close()


async def tcp_probe(
    host: str,
    port: int,
    timeout: float,
    *,
    rtsp_options: bool = False,
    family: int = 0,
) -> float:
    """Seconds to connect to host:port; with `rtsp_options`, the server must also answer RTSP OPTIONS.

    One deadline covers resolving, connecting (each resolved address in turn) and the RTSP exchange.
    Raises ProbeFailed: dns, refused, unreachable, timeout, connection, rtsp_no_answer, rtsp_bad_answer.
    """
    if not 0 < port < 0x10000:
        raise ValueError(f"not a TCP port: {port}")
    target = _authority(host, port)
    if timeout <= 0:
        raise ProbeFailed("timeout", f"{target}: no time to connect (timeout {timeout:g}s)")
    stage = "resolve"
    try:
        async with asyncio.timeout(timeout):
            addresses = await _addresses(host, port, family)
            stage = "connect"
            loop = asyncio.get_running_loop()
            error: OSError | None = None
            for address_family, sockaddr in addresses:
                sock = socket.socket(address_family, socket.SOCK_STREAM)
                try:
                    sock.setblocking(False)
                    start = time.perf_counter()
                    try:
                        await loop.sock_connect(sock, sockaddr)
                    except OSError as exc:
                        error = exc
                        continue  # the next address of the name, if any
                    elapsed = time.perf_counter() - start
                    if rtsp_options:
                        stage = "rtsp"
                        await _rtsp_options(loop, sock, host, port)
                    return elapsed
                finally:
                    _close(sock)
            assert error is not None
            raise ProbeFailed(reason_for_oserror(error), f"{target}: {_describe(error)}")
    except TimeoutError:
        if stage == "resolve":
            raise ProbeFailed("dns", f"cannot resolve {host!r} within {timeout:g}s") from None
        if stage == "rtsp":
            raise ProbeFailed(
                "rtsp_no_answer", f"{target}: no answer to RTSP OPTIONS within {timeout:g}s"
            ) from None
        raise ProbeFailed("timeout", f"{target}: no connection within {timeout:g}s") from None


async def _rtsp_options(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str, port: int
) -> None:
    """Sends OPTIONS and checks that the first line of the answer is `RTSP/1.0 <code>`."""
    target = _authority(host, port)
    request = (f"OPTIONS rtsp://{target}/ RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Vigil\r\n\r\n").encode(
        "ascii", "replace"
    )
    answer = b""
    try:
        await loop.sock_sendall(sock, request)
        while b"\n" not in answer and len(answer) < MAX_STATUS_LINE:
            chunk = await loop.sock_recv(sock, 1024)
            if not chunk:
                break
            answer += chunk
            head = answer[: len(_STATUS_PREFIX)]
            if head != _STATUS_PREFIX[: len(head)] or _STATUS_KNOWN.match(answer):
                break  # judged already: no need to wait for the rest of the line
    except (ConnectionResetError, BrokenPipeError):
        if not answer:
            raise ProbeFailed(
                "rtsp_no_answer", f"{target}: connection reset before an RTSP answer"
            ) from None
    except OSError as exc:
        raise ProbeFailed(
            "connection", f"{target}: RTSP OPTIONS failed: {_describe(exc)}"
        ) from None
    if not answer:
        raise ProbeFailed("rtsp_no_answer", f"{target}: closed without answering RTSP OPTIONS")
    line = answer.split(b"\n", 1)[0].rstrip(b"\r")
    if not (_STATUS_KNOWN.match(answer) or _STATUS_LINE.fullmatch(line)):
        shown = line[:40].decode("ascii", "backslashreplace")
        raise ProbeFailed("rtsp_bad_answer", f"{target}: not an RTSP answer: {shown!r}")
