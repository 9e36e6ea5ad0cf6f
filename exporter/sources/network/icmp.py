"""Async ICMP echo (ping) for IPv4 and IPv6 over one shared socket per address family.

Per family the Pinger opens, on first use, an unprivileged ping socket (`SOCK_DGRAM`, allowed by the
`net.ipv4.ping_group_range` sysctl, which also governs IPv6) or else a raw socket (root or
CAP_NET_RAW). The socket is non-blocking and read by one `loop.add_reader` callback that drains every
queued datagram and resolves the waiting pings by (source address, identifier, sequence).

The kinds differ: an IPv4 raw socket receives the IP header before the ICMP message, IPv6 sockets never
do; a ping socket rewrites the identifier (its "port"), so its replies are matched by source and
sequence alone; the kernel computes the checksum for ICMPv6 (and for ping sockets), we compute it for
IPv4. A raw socket sees every ICMP message on the host, including other processes' traffic and our own
echo requests on loopback: anything that is not an echo reply (or a destination-unreachable quoting
one of our requests) for an outstanding request, with our payload, is ignored. So is a reply that
arrives after its ping timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from exporter.sources.network.errors import UNREACHABLE_ERRNOS, ProbeFailed

log = logging.getLogger("vigil.network.icmp")

KINDS = ("dgram", "raw")
_SOCK_TYPES = {"dgram": socket.SOCK_DGRAM, "raw": socket.SOCK_RAW}
_PROTOCOLS = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}
_FAMILY_NAMES = {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6"}

ICMP_ECHO_REPLY, ICMP_DEST_UNREACH, ICMP_ECHO_REQUEST = 0, 3, 8
ICMP6_DEST_UNREACH, ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 1, 128, 129
_ECHO_REQUEST = {socket.AF_INET: ICMP_ECHO_REQUEST, socket.AF_INET6: ICMP6_ECHO_REQUEST}
_ECHO_REPLY = {socket.AF_INET: ICMP_ECHO_REPLY, socket.AF_INET6: ICMP6_ECHO_REPLY}
_DEST_UNREACH = {socket.AF_INET: ICMP_DEST_UNREACH, socket.AF_INET6: ICMP6_DEST_UNREACH}

# Linux raw-socket type filters (not exported by the socket module): a set bit blocks that type.
_SOL_RAW, _ICMP_FILTER = 255, 1
_ICMP6_FILTER = 1
_RECEIVE_BUFFER = 4 << 20  # a burst of replies must not overflow the default ~200 kB queue
_DRAIN_EVERY = 32  # sends between reads of the socket while a burst of pings is being sent
_MAX_RECV_ERRORS = 8

_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
_V4_MAPPED = b"\0" * 10 + b"\xff\xff"

ADVICE = (
    'allow unprivileged ping sockets with `sysctl -w net.ipv4.ping_group_range="0 2147483647"` '
    "(it covers IPv6 too), or run the exporter as root / grant it CAP_NET_RAW "
    "(setcap cap_net_raw+ep, or the container's cap_add)"
)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An ICMP (v4, with checksum) or ICMPv6 (checksum left to the kernel) echo request."""
    kind = _ECHO_REQUEST[family]
    message = _HEADER.pack(kind, 0, 0, ident, seq) + payload
    if family == socket.AF_INET:
        message = _HEADER.pack(kind, 0, checksum(message), ident, seq) + payload
    return message


class Received(NamedTuple):
    """An ICMP message that may answer one of our echo requests."""

    kind: str  # "reply" or "unreachable"
    target: bytes  # packed address of the pinged host: the reply's source, the quoted destination
    ident: int
    seq: int
    payload: bytes  # the echoed data (replies only)
    code: int


def parse(family: int, data: bytes, source: bytes, *, ip_header: bool) -> Received | None:
    """An echo reply or a destination-unreachable quoting an echo request; None for anything else.

    `ip_header` is True for IPv4 raw sockets, which receive the IP header first.
    """
    if ip_header:
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < 8:
        return None
    kind, code, _, ident, seq = _HEADER.unpack_from(data)
    if kind == _ECHO_REPLY[family]:
        return Received("reply", source, ident, seq, data[8:], code)
    if kind != _DEST_UNREACH[family]:
        return None
    quoted = data[8:]  # the offending packet: its IP header and at least 8 bytes of its payload
    if family == socket.AF_INET:
        if len(quoted) < 20 or quoted[0] >> 4 != 4 or quoted[9] != socket.IPPROTO_ICMP:
            return None
        target, inner = quoted[16:20], quoted[(quoted[0] & 0x0F) * 4 :]
    else:
        if len(quoted) < 40 or quoted[0] >> 4 != 6 or quoted[6] != socket.IPPROTO_ICMPV6:
            return None
        target, inner = quoted[24:40], quoted[40:]
    if len(inner) < 8:
        return None
    inner_kind, _, _, ident, seq = _HEADER.unpack_from(inner)
    if inner_kind != _ECHO_REQUEST[family]:
        return None
    return Received("unreachable", target, ident, seq, b"", code)


def icmp_filter(family: int, passed: Iterable[int]) -> bytes:
    """The Linux ICMP_FILTER / ICMP6_FILTER option value that lets only `passed` types through."""
    if family == socket.AF_INET:
        blocked = 0xFFFFFFFF
        for kind in passed:
            blocked &= ~(1 << kind)
        return struct.pack("=I", blocked)
    words = [0xFFFFFFFF] * 8
    for kind in passed:
        words[kind >> 5] &= ~(1 << (kind & 31))
    return struct.pack("=8I", *words)


def parse_address(address: str) -> tuple[int, bytes, tuple]:
    """(family, packed address, sockaddr) of an IP literal; ProbeFailed("dns") for anything else."""
    try:
        infos = socket.getaddrinfo(address, None, 0, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        raise ProbeFailed("dns", f"{address!r} is not an IP address (resolve it first)") from None
    family, _, _, _, sockaddr = infos[0]
    packed = socket.inet_pton(family, sockaddr[0])
    if family == socket.AF_INET6 and packed.startswith(_V4_MAPPED):  # ::ffff:a.b.c.d -> IPv4
        family, packed = socket.AF_INET, packed[12:]
        sockaddr = (socket.inet_ntop(socket.AF_INET, packed), 0)
    return family, packed, sockaddr


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[float]
    payload: bytes
    address: str


@dataclass(slots=True)
class _Family:
    family: int
    kind: str  # "dgram", "raw" or "unavailable"
    sock: socket.socket | None = None
    failure: tuple[str, str] | None = None  # (reason, message) when no socket could be opened
    pending: dict[tuple[bytes, int], _Pending] = field(default_factory=dict)


class Pinger:
    """Shared ICMP echo for a whole exporter: `await pinger.ping(address, timeout)` -> RTT seconds."""

    def __init__(self, kinds: Iterable[str] = KINDS) -> None:
        self.kinds = tuple(kinds)
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be a non-empty sequence of {KINDS}, got {self.kinds}")
        self.ident = os.getpid() & 0xFFFF
        # the payload is a per-Pinger token plus a per-request timestamp: a reply must echo it exactly,
        # which tells our replies from those of another Pinger (or process) using the same identifier
        self._token = os.urandom(8)
        self._seq = int.from_bytes(os.urandom(2), "big")
        self._families: dict[int, _Family] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.stats: Counter[str] = Counter()  # sent, replies, unreachable, ignored

    def mode(self, family: int) -> str | None:
        """The socket kind for socket.AF_INET / AF_INET6 ("dgram", "raw", "unavailable"); None before
        first use."""
        state = self._families.get(family)
        return state.kind if state else None

    def pending(self) -> int:
        """How many pings are waiting for an answer."""
        return sum(len(state.pending) for state in self._families.values())

    async def ping(self, address: str, timeout: float) -> float:
        """The round-trip time in seconds of one echo request to an IP literal; raises ProbeFailed."""
        if self._closed:
            raise ProbeFailed("connection", "the pinger is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("a Pinger serves only the event loop it was first used on")
        family, packed, sockaddr = parse_address(address)
        state = self._open(family)
        if timeout <= 0:
            raise ProbeFailed("timeout", f"no echo reply from {address} within {timeout:g}s")
        seq = self._next_seq(state, packed)
        payload = self._token + struct.pack("!Q", time.time_ns())
        packet = echo_request(family, self.ident, seq, payload)
        future: asyncio.Future[float] = loop.create_future()
        key = (packed, seq)
        entry = state.pending[key] = _Pending(future, payload, address)
        try:
            async with asyncio.timeout(timeout):
                sent = await self._send(state, packet, sockaddr, address)
                received = await future
        except TimeoutError:
            raise ProbeFailed(
                "timeout", f"no echo reply from {address} within {timeout:g}s"
            ) from None
        finally:
            if state.pending.get(key) is entry:
                del state.pending[key]
        return max(received - sent, 0.0)

    def close(self) -> None:
        """Stops reading, closes the sockets and fails every waiting ping with ProbeFailed."""
        self._closed = True
        for state in self._families.values():
            if state.sock is not None:
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.remove_reader(state.sock.fileno())
                state.sock.close()
                state.sock = None
            for entry in state.pending.values():
                if not entry.future.done():
                    failure = ProbeFailed(
                        "connection", f"pinger closed while pinging {entry.address}"
                    )
                    with contextlib.suppress(RuntimeError):  # its event loop is already closed
                        entry.future.set_exception(failure)
            state.pending.clear()

    # internals

    def _open(self, family: int) -> _Family:
        state = self._families.get(family)
        if state is not None:
            if state.failure is not None:
                # a fresh exception each time: re-raising one instance would grow its traceback
                raise ProbeFailed(*state.failure)
            return state
        loop = self._loop
        assert loop is not None
        name = _FAMILY_NAMES[family]
        errors: list[str] = []
        unsupported = False
        for kind in self.kinds:
            try:
                sock = socket.socket(family, _SOCK_TYPES[kind], _PROTOCOLS[family])
            except OSError as exc:
                errors.append(f"{kind}: {exc.strerror or exc}")
                unsupported |= exc.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT)
                continue
            sock.setblocking(False)
            _tune(sock, family, kind)
            state = _Family(family, kind, sock)
            self._families[family] = state
            loop.add_reader(sock.fileno(), self._on_readable, state)
            log.info("ICMP over %s uses a %s socket", name, kind)
            return state
        if unsupported:
            failure = ("unreachable", f"{name} is not available on this host")
            log.warning("no ICMP echo over %s: %s", name, "; ".join(errors))
        else:
            failure = (
                "icmp_not_permitted",
                f"ICMP echo over {name} is not permitted to this process",
            )
            log.warning(
                "ICMP echo over %s is not permitted (%s): ping probes will fail; to fix, %s",
                name,
                "; ".join(errors),
                ADVICE,
            )
        self._families[family] = _Family(family, "unavailable", failure=failure)
        raise ProbeFailed(*failure)

    def _next_seq(self, state: _Family, packed: bytes) -> int:
        for _ in range(0x10000):
            self._seq = (self._seq + 1) & 0xFFFF
            if (packed, self._seq) not in state.pending:
                return self._seq
        raise ProbeFailed("connection", "65536 pings to one address are already outstanding")

    async def _send(self, state: _Family, packet: bytes, sockaddr: tuple, address: str) -> float:
        """Sends the request (waiting while the send buffer is full); returns the send time."""
        while True:
            if state.sock is None:
                raise ProbeFailed("connection", f"pinger closed while pinging {address}")
            sent = time.perf_counter()
            try:
                state.sock.sendto(packet, sockaddr)
            except (BlockingIOError, InterruptedError):
                await asyncio.sleep(0.001)
                continue
            except OSError as exc:
                reason = "unreachable" if exc.errno in UNREACHABLE_ERRNOS else "connection"
                raise ProbeFailed(reason, f"ping {address}: {exc.strerror or exc}") from None
            self.stats["sent"] += 1
            if self.stats["sent"] % _DRAIN_EVERY == 0:
                # thousands of pings started together are all sent before the loop polls the
                # socket again: read the replies queued meanwhile so that the queue cannot overflow
                self._on_readable(state)
            return sent

    def _on_readable(self, state: _Family) -> None:
        sock = state.sock
        if sock is None:
            return
        family, raw = state.family, state.kind == "raw"
        ip_header = raw and family == socket.AF_INET
        errors = 0
        while True:
            try:
                data, source = sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error reported on the socket: nothing to match it to
                log.debug("ICMP %s socket: %s", _FAMILY_NAMES[family], exc)
                errors += 1
                if errors >= _MAX_RECV_ERRORS:
                    return
                continue
            now = time.perf_counter()
            try:
                origin = socket.inet_pton(family, source[0].partition("%")[0])
            except (OSError, IndexError):
                continue
            message = parse(family, data, origin, ip_header=ip_header)
            if message is None:
                continue  # another process's ICMP, our own requests on loopback, ...
            entry = state.pending.get((message.target, message.seq))
            if (
                entry is None
                or entry.future.done()
                or (raw and message.ident != self.ident)
                or (message.kind == "reply" and message.payload != entry.payload)
            ):
                self.stats["ignored"] += 1
                continue
            if message.kind == "reply":
                self.stats["replies"] += 1
                entry.future.set_result(now)
            else:
                self.stats["unreachable"] += 1
                entry.future.set_exception(
                    ProbeFailed(
                        "refused",
                        f"{entry.address} answered ICMP destination unreachable (code {message.code})",
                    )
                )


def _tune(sock: socket.socket, family: int, kind: str) -> None:
    """Best effort: a larger receive queue, and for raw sockets a kernel filter on ICMP types."""
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, _RECEIVE_BUFFER)
            break
        except OSError:
            continue
    if kind != "raw":
        return
    passed = (_ECHO_REPLY[family], _DEST_UNREACH[family])
    try:
        if family == socket.AF_INET:
            sock.setsockopt(_SOL_RAW, _ICMP_FILTER, icmp_filter(family, passed))
        else:
            sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, icmp_filter(family, passed))
    except OSError as exc:  # not Linux: parse() ignores the rest anyway
        log.debug("no ICMP type filter on the %s raw socket: %s", _FAMILY_NAMES[family], exc)
