"""Network probes against real sockets on loopback (and nothing but loopback).

TCP: listeners, closed ports, fake RTSP servers, a full accept queue that drops SYNs (a host that does
not answer), IPv6 ::1 and a name that cannot resolve. ICMP: echo over IPv4 and IPv6 with whatever
socket kind this process may open, concurrent pings, forged replies and errors injected on loopback,
timeouts, the "not permitted" path and close().
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest

from exporter.sources.network import icmp, tcp
from exporter.sources.network.errors import ProbeFailed
from exporter.sources.network.icmp import (
    Pinger,
    checksum,
    echo_request,
    icmp_filter,
    parse,
)
from exporter.sources.network.tcp import resolve, tcp_probe

ROOT = Path(__file__).resolve().parents[1]
V4, V6 = socket.AF_INET, socket.AF_INET6
# Syntactically invalid (spaces, "!") under the reserved .invalid TLD: glibc refuses such a name
# before asking any DNS server, so this test never sends a query off the machine (a well-formed
# name like "camera.invalid" would go to the resolver in /etc/resolv.conf).
UNRESOLVABLE = "no such camera!.invalid"


def unavailable(message: str) -> None:
    """Under CI a missing capability is a failure, never a skip."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def can_open(family: int, kind: int) -> bool:
    proto = socket.IPPROTO_ICMP if family == V4 else socket.IPPROTO_ICMPV6
    try:
        socket.socket(family, kind, proto).close()
    except OSError:
        return False
    return True


def ping_group_range() -> tuple[int, int]:
    low, high = Path("/proc/sys/net/ipv4/ping_group_range").read_text().split()
    return int(low), int(high)


def dgram_allowed_by_sysctl() -> bool:
    low, high = ping_group_range()
    return any(low <= gid <= high for gid in {os.getegid(), *os.getgroups()})


def require_raw() -> None:
    if not (can_open(V4, socket.SOCK_RAW) and can_open(V6, socket.SOCK_RAW)):
        unavailable("raw ICMP sockets need root or CAP_NET_RAW")


def require_icmp() -> None:
    for family in (V4, V6):
        if not (can_open(family, socket.SOCK_DGRAM) or can_open(family, socket.SOCK_RAW)):
            unavailable(
                "neither ping sockets (net.ipv4.ping_group_range) nor raw sockets (root) allowed"
            )


def require_ipv6_loopback() -> None:
    try:
        with socket.socket(V6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError as exc:
        unavailable(f"no IPv6 loopback: {exc}")


def listener(host: str = "127.0.0.1", backlog: int = 128) -> socket.socket:
    family = V6 if ":" in host else V4
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(backlog)
    return sock


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@asynccontextmanager
async def rtsp_server(
    answer: bytes | None, host: str = "127.0.0.1"
) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A fake RTSP server: reads one request, sends `answer` (None: closes without a word)."""
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, asyncio.IncompleteReadError):
            requests.append(await reader.readuntil(b"\r\n\r\n"))
            if answer is not None:
                writer.write(answer)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, host, 0)
    try:
        yield server.sockets[0].getsockname()[1], requests
    finally:
        server.close()
        await server.wait_closed()


async def expect_failure(reason: str, probe, *, within: float = 2.0) -> ProbeFailed:
    start = time.perf_counter()
    with pytest.raises(ProbeFailed) as failure:
        await probe
    assert failure.value.reason == reason, failure.value
    assert time.perf_counter() - start < within
    return failure.value


# TCP


async def test_tcp_probe_connects_to_a_listener() -> None:
    with listener() as sock:
        port = sock.getsockname()[1]
        rtt = await tcp_probe("127.0.0.1", port, 1.0)
    assert 0 < rtt < 0.5


async def test_tcp_probe_refused_by_a_closed_port() -> None:
    with socket.socket() as sock:
        sock.bind(
            ("127.0.0.1", 0)
        )  # bound, never listening: nobody else can listen there meanwhile
        port = sock.getsockname()[1]
        failure = await expect_failure("refused", tcp_probe("127.0.0.1", port, 1.0))
    assert str(failure) == f"127.0.0.1:{port}: Connection refused"


async def test_tcp_probe_times_out_when_syns_are_dropped() -> None:
    """A full accept queue (backlog 0, nobody accepting) drops further SYNs, like a silent host."""
    with listener(backlog=0) as sock:
        port = sock.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):  # fill the accept queue until a connect no longer completes
                filler = socket.socket()
                fillers.append(filler)
                filler.settimeout(0.2)
                try:
                    filler.connect(("127.0.0.1", port))
                except TimeoutError:
                    break
            else:
                pytest.fail("the accept queue never filled up")
            start = time.perf_counter()
            failure = await expect_failure("timeout", tcp_probe("127.0.0.1", port, 0.5))
            assert time.perf_counter() - start >= 0.45
            assert "within 0.5s" in str(failure)
        finally:
            for filler in fillers:
                filler.close()


async def test_tcp_probe_with_no_time_left_fails_at_once() -> None:
    with listener() as sock:
        await expect_failure(
            "timeout", tcp_probe("127.0.0.1", sock.getsockname()[1], 0), within=0.1
        )


async def test_tcp_probe_name_that_does_not_resolve() -> None:
    failure = await expect_failure("dns", tcp_probe(UNRESOLVABLE, 554, 2.0), within=5.0)
    assert UNRESOLVABLE in str(failure)
    await expect_failure("dns", resolve(UNRESOLVABLE), within=5.0)


async def test_resolve() -> None:
    assert await resolve("127.0.0.1") == "127.0.0.1"
    assert await resolve("::1") == "::1"
    assert await resolve("localhost", V4) == "127.0.0.1"  # /etc/hosts, no DNS query


async def test_tcp_probe_by_name() -> None:
    with listener() as sock:
        assert await tcp_probe("localhost", sock.getsockname()[1], 1.0, family=V4) > 0


async def test_tcp_probe_ipv6_loopback() -> None:
    require_ipv6_loopback()
    with listener("::1") as sock:
        port = sock.getsockname()[1]
        assert 0 < await tcp_probe("::1", port, 1.0) < 0.5
    await expect_failure("refused", tcp_probe("::1", port, 1.0))


async def test_rtsp_options_answered() -> None:
    async with rtsp_server(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n") as (
        port,
        requests,
    ):
        rtt = await tcp_probe("127.0.0.1", port, 1.0, rtsp_options=True)
    assert 0 < rtt < 0.5
    assert requests == [
        f"OPTIONS rtsp://127.0.0.1:{port}/ RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Vigil\r\n\r\n".encode()
    ]


async def test_rtsp_options_over_ipv6_brackets_the_address() -> None:
    require_ipv6_loopback()
    async with rtsp_server(b"RTSP/1.0 200 OK\r\n\r\n", host="::1") as (port, requests):
        await tcp_probe("::1", port, 1.0, rtsp_options=True)
    assert requests[0].startswith(f"OPTIONS rtsp://[::1]:{port}/ RTSP/1.0\r\n".encode())


@pytest.mark.parametrize(
    "answer",
    [
        b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n",  # any code: the server answers
        b"RTSP/1.0 454 Session Not Found\n\n",
        b"RTSP/1.0 200",  # then EOF
    ],
)
async def test_rtsp_options_any_status_is_an_answer(answer: bytes) -> None:
    async with rtsp_server(answer) as (port, _):
        assert await tcp_probe("127.0.0.1", port, 1.0, rtsp_options=True) > 0


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        b"RTSP/1.0 2000 OK\r\n\r\n",
        b"RTSP/2.0 200 OK\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"\r\n",
    ],
)
async def test_rtsp_options_bad_answer(answer: bytes) -> None:
    async with rtsp_server(answer) as (port, _):
        await expect_failure(
            "rtsp_bad_answer", tcp_probe("127.0.0.1", port, 1.0, rtsp_options=True)
        )


async def test_rtsp_options_closed_without_answer() -> None:
    async with rtsp_server(None) as (port, _):
        await expect_failure("rtsp_no_answer", tcp_probe("127.0.0.1", port, 1.0, rtsp_options=True))


async def test_rtsp_options_never_answered() -> None:
    """The port accepts (the kernel completes the handshake) but nothing ever reads or answers."""
    with listener() as sock:
        port = sock.getsockname()[1]
        start = time.perf_counter()
        probe = tcp_probe("127.0.0.1", port, 0.3, rtsp_options=True)
        await expect_failure("rtsp_no_answer", probe)
        assert time.perf_counter() - start >= 0.25


async def test_rtsp_bad_answer_without_a_line_end_is_judged_at_once() -> None:
    """An answer that cannot become an RTSP status line is rejected without waiting for more."""

    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 4")
        await writer.drain()
        await done.wait()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        probe = tcp_probe("127.0.0.1", port, 3.0, rtsp_options=True)
        await expect_failure("rtsp_bad_answer", probe, within=1.0)
    finally:
        done.set()
        server.close()
        await server.wait_closed()


async def test_many_concurrent_probes_leak_no_sockets() -> None:
    with listener(backlog=1024) as sock, socket.socket() as closed:
        port = sock.getsockname()[1]
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        before = open_fds()
        results = await asyncio.gather(
            *(tcp_probe("127.0.0.1", port, 2.0) for _ in range(200)),
            *(tcp_probe("127.0.0.1", closed_port, 2.0) for _ in range(50)),
            *(tcp_probe("127.0.0.1", port, 0.5, rtsp_options=True) for _ in range(10)),
            return_exceptions=True,
        )
        assert all(isinstance(rtt, float) for rtt in results[:200])
        assert {r.reason for r in results[200:250] if isinstance(r, ProbeFailed)} == {"refused"}
        assert len([r for r in results[200:250] if isinstance(r, ProbeFailed)]) == 50
        assert {r.reason for r in results[250:]} == {"rtsp_no_answer"}
        assert open_fds() == before


async def test_tcp_probe_closes_with_a_reset() -> None:
    """SO_LINGER 0: the server sees a reset, and no TIME_WAIT is left on our side."""
    assert tcp.RESET_ON_CLOSE
    with listener() as sock:
        await tcp_probe("127.0.0.1", sock.getsockname()[1], 1.0)
        conn, _ = sock.accept()
        with conn:
            conn.settimeout(1.0)
            with pytest.raises(ConnectionResetError):
                conn.recv(1)


# ICMP: pure parts


def test_checksum_and_echo_request() -> None:
    packet = echo_request(V4, 0x1234, 7, b"vigil")
    assert packet[0] == 8 and struct.unpack("!HH", packet[4:8]) == (0x1234, 7)
    assert checksum(packet) == 0  # a correct checksum makes the sum over the message zero
    ip_header = bytes.fromhex(
        "450000730000400040110000c0a80001c0a800c7"
    )  # RFC 1071's classic example
    assert checksum(ip_header) == 0xB861
    v6 = echo_request(V6, 1, 2, b"x")
    assert v6[0] == 128 and v6[2:4] == b"\0\0"  # the kernel fills in the ICMPv6 checksum


def test_parse_skips_the_ipv4_header_of_raw_sockets() -> None:
    reply = b"\x00\x00\x00\x00" + struct.pack("!HH", 5, 6) + b"data"
    header = bytes([0x46]) + b"\0" * 23  # IHL 6: 24 bytes with options
    message = parse(V4, header + reply, b"\x7f\0\0\x01", ip_header=True)
    assert message is not None
    assert (message.kind, message.ident, message.seq, message.payload) == ("reply", 5, 6, b"data")
    assert parse(V4, reply, b"\x7f\0\0\x01", ip_header=False) == message
    # our own echo requests (seen on loopback), and truncated junk, are not answers
    assert parse(V4, echo_request(V4, 5, 6, b"data"), b"\x7f\0\0\x01", ip_header=False) is None
    assert parse(V6, echo_request(V6, 5, 6, b"data"), bytes(16), ip_header=False) is None
    assert parse(V4, b"\x00\x00", b"\x7f\0\0\x01", ip_header=False) is None


def test_icmp_filter_passes_only_the_given_types() -> None:
    (mask,) = struct.unpack("=I", icmp_filter(V4, (0, 3)))
    assert [kind for kind in range(32) if not mask & (1 << kind)] == [0, 3]
    words = struct.unpack("=8I", icmp_filter(V6, (1, 129)))
    passed = [k for k in range(256) if not words[k >> 5] & (1 << (k & 31))]
    assert passed == [1, 129]


# ICMP: real sockets


@pytest.fixture
async def pinger() -> AsyncIterator[Pinger]:
    pinger = Pinger()
    yield pinger
    pinger.close()


@pytest.fixture
async def raw_pinger() -> AsyncIterator[Pinger]:
    require_raw()
    pinger = Pinger(kinds=("raw",))
    yield pinger
    pinger.close()


async def test_ping_loopback(pinger: Pinger) -> None:
    require_icmp()
    require_ipv6_loopback()
    assert pinger.mode(V4) is None and pinger.mode(V6) is None
    for address in ("127.0.0.1", "::1", "127.0.0.2", "::ffff:127.0.0.1"):
        rtt = await pinger.ping(address, 1.0)
        assert 0 < rtt < 0.1, address
    expected = "dgram" if dgram_allowed_by_sysctl() else "raw"
    assert pinger.mode(V4) == expected and pinger.mode(V6) == expected
    assert pinger.pending() == 0


async def test_ping_raw_only(raw_pinger: Pinger) -> None:
    require_ipv6_loopback()
    assert await raw_pinger.ping("127.0.0.1", 1.0) < 0.1
    assert await raw_pinger.ping("::1", 1.0) < 0.1
    assert raw_pinger.mode(V4) == "raw" and raw_pinger.mode(V6) == "raw"


async def test_many_concurrent_pings_get_their_own_replies(pinger: Pinger) -> None:
    require_icmp()
    require_ipv6_loopback()
    addresses = [f"127.0.0.{1 + i % 5}" for i in range(40)] + ["::1"] * 10
    results = await asyncio.gather(*(pinger.ping(address, 2.0) for address in addresses))
    assert all(0 < rtt < 1.0 for rtt in results)
    assert pinger.stats["sent"] == pinger.stats["replies"] == 50
    assert pinger.pending() == 0


async def test_a_burst_of_pings_overflows_no_queue(
    pinger: Pinger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pings started together are all sent before the loop polls again; no reply may be lost, even
    with the usual default receive queue (~200 kB: ~250 replies on loopback) an unprivileged process
    gets."""
    require_icmp()
    monkeypatch.setattr(icmp, "_RECEIVE_BUFFER", 212_992)
    addresses = [f"127.0.{i // 250}.{1 + i % 250}" for i in range(3000)]
    results = await asyncio.gather(*(pinger.ping(address, 5.0) for address in addresses))
    assert len(results) == 3000 and all(rtt > 0 for rtt in results)
    assert pinger.stats["replies"] == 3000 and pinger.pending() == 0


async def test_ping_needs_an_ip_address(pinger: Pinger) -> None:
    await expect_failure("dns", pinger.ping("localhost", 1.0))
    assert pinger.mode(V4) is None  # no socket was opened for it


async def test_ping_dgram_only(caplog: pytest.LogCaptureFixture) -> None:
    """Unprivileged ping sockets only: they work exactly when the sysctl admits one of our groups."""
    require_ipv6_loopback()
    pinger = Pinger(kinds=("dgram",))
    try:
        if dgram_allowed_by_sysctl():
            assert await pinger.ping("127.0.0.1", 1.0) < 0.1
            assert await pinger.ping("::1", 1.0) < 0.1
            assert pinger.mode(V4) == pinger.mode(V6) == "dgram"
            return
        with caplog.at_level(logging.WARNING, logger="vigil.network.icmp"):
            for _ in range(3):
                for address in ("127.0.0.1", "::1"):
                    failure = await expect_failure(
                        "icmp_not_permitted", pinger.ping(address, 1.0), within=0.5
                    )
        assert "not permitted" in str(failure)
        assert pinger.mode(V4) == pinger.mode(V6) == "unavailable"
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 2  # one per family, however many pings fail
        assert all("ping_group_range" in w and "CAP_NET_RAW" in w for w in warnings)
    finally:
        pinger.close()


DGRAM_IN_NAMESPACE = """
import asyncio, json, socket, sys
sys.path.insert(0, sys.argv[1])
from exporter.sources.network.icmp import Pinger

async def main():
    pinger = Pinger(kinds=("dgram",))
    rtts = await asyncio.gather(*(pinger.ping(a, 1.0) for a in ["127.0.0.1", "::1"] * 10))
    print(json.dumps({"rtts": rtts, "modes": [pinger.mode(socket.AF_INET),
                      pinger.mode(socket.AF_INET6)], "pending": pinger.pending()}))
    pinger.close()

asyncio.run(main())
"""


async def test_ping_dgram_sockets_in_a_private_network_namespace() -> None:
    """Exercises ping sockets even where the host's sysctl refuses them: a private network namespace
    (loopback only) has its own ping_group_range, opened up there without touching the host."""
    unshare = shutil.which("unshare")
    if unshare is None:
        unavailable("unshare (util-linux) is not installed")
    script = (
        'ip link set lo up && sysctl -qw net.ipv4.ping_group_range="0 2147483647" && '
        f'exec "{sys.executable}" -c "$0" "{ROOT}"'
    )
    proc = await asyncio.create_subprocess_exec(
        unshare,
        "--net",
        "sh",
        "-c",
        script,
        DGRAM_IN_NAMESPACE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    if proc.returncode and b"unshare" in stderr and b"Operation not permitted" in stderr:
        unavailable(f"cannot create a network namespace: {stderr.decode().strip()}")
    assert proc.returncode == 0, stderr.decode()
    result = json.loads(stdout)
    assert result["modes"] == ["dgram", "dgram"]
    assert len(result["rtts"]) == 20 and all(0 < rtt < 0.5 for rtt in result["rtts"])
    assert result["pending"] == 0


def drop_replies(pinger: Pinger, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replaces the reader (before first use) with one that reads and discards everything."""

    def drain(state) -> None:
        with suppress(OSError):
            while True:
                state.sock.recvfrom(4096)

    monkeypatch.setattr(pinger, "_on_readable", drain)


async def test_ping_times_out_without_a_reply(
    pinger: Pinger, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_icmp()
    drop_replies(pinger, monkeypatch)
    start = time.perf_counter()
    failure = await expect_failure("timeout", pinger.ping("127.0.0.1", 0.2))
    assert time.perf_counter() - start >= 0.19
    assert "127.0.0.1" in str(failure) and "0.2s" in str(failure)
    assert pinger.pending() == 0
    await expect_failure("timeout", pinger.ping("127.0.0.1", 0), within=0.05)


async def test_a_reply_after_the_timeout_is_ignored(
    pinger: Pinger, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_icmp()
    loop = asyncio.get_running_loop()
    send = pinger._send

    async def send_late(state, packet, sockaddr, address) -> float:
        loop.call_later(0.2, state.sock.sendto, packet, sockaddr)
        return time.perf_counter()

    monkeypatch.setattr(pinger, "_send", send_late)
    await expect_failure("timeout", pinger.ping("127.0.0.1", 0.05))
    await asyncio.sleep(0.4)  # the reply arrives now, with nobody waiting for it
    assert pinger.stats["ignored"] == 1 and pinger.stats["replies"] == 0
    monkeypatch.setattr(pinger, "_send", send)
    assert await pinger.ping("127.0.0.1", 1.0) < 0.1  # and the next ping is not confused by it
    assert pinger.pending() == 0


def pending_request(pinger: Pinger, family: int) -> tuple[int, bytes]:
    [(packed, seq)] = pinger._families[family].pending
    return seq, pinger._families[family].pending[packed, seq].payload


def inject(family: int, message: bytes) -> None:
    """Sends a hand-made ICMP message to loopback, as if a host had answered."""
    proto = socket.IPPROTO_ICMP if family == V4 else socket.IPPROTO_ICMPV6
    with socket.socket(family, socket.SOCK_RAW, proto) as sock:
        sock.sendto(message, ("127.0.0.1", 0) if family == V4 else ("::1", 0))


def icmp_message(family: int, kind: int, code: int, body: bytes) -> bytes:
    """type, code, checksum (ours for IPv4, the kernel's for ICMPv6), then `body`."""
    message = struct.pack("!BBH", kind, code, 0) + body
    if family == V4:
        message = message[:2] + struct.pack("!H", checksum(message)) + message[4:]
    return message


async def test_forged_replies_are_told_from_our_own(
    raw_pinger: Pinger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is really sent; replies are injected on loopback: a wrong identifier or payload does
    not complete the ping, the right one does."""
    require_ipv6_loopback()

    async def send_nothing(state, packet, sockaddr, address) -> float:
        return time.perf_counter()

    monkeypatch.setattr(raw_pinger, "_send", send_nothing)
    for family, address, reply_type in ((V4, "127.0.0.1", 0), (V6, "::1", 129)):
        task = asyncio.create_task(raw_pinger.ping(address, 3.0))
        await asyncio.sleep(0.05)
        seq, payload = pending_request(raw_pinger, family)
        ident = raw_pinger.ident

        for wrong in (
            struct.pack("!HH", ident ^ 1, seq) + payload,  # someone else's identifier
            struct.pack("!HH", ident, seq) + payload[:-1] + b"?",  # someone else's payload
            struct.pack("!HH", ident, seq ^ 1) + payload,  # another sequence number
        ):
            inject(family, icmp_message(family, reply_type, 0, wrong))
        await asyncio.sleep(0.1)
        assert not task.done()
        inject(
            family, icmp_message(family, reply_type, 0, struct.pack("!HH", ident, seq) + payload)
        )
        assert await asyncio.wait_for(task, 2.0) < 1.0
        assert raw_pinger.pending() == 0


async def test_destination_unreachable_fails_the_ping_at_once(
    raw_pinger: Pinger, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_ipv6_loopback()

    async def send_nothing(state, packet, sockaddr, address) -> float:
        return time.perf_counter()

    monkeypatch.setattr(raw_pinger, "_send", send_nothing)
    for family, address, packed in (
        (V4, "127.0.0.1", socket.inet_pton(V4, "127.0.0.1")),
        (V6, "::1", socket.inet_pton(V6, "::1")),
    ):
        task = asyncio.create_task(raw_pinger.ping(address, 3.0))
        await asyncio.sleep(0.05)
        seq, payload = pending_request(raw_pinger, family)
        request = echo_request(family, raw_pinger.ident, seq, payload)
        if family == V4:  # quoted: the IP header of our request, then its first bytes
            ip = struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(request), 0, 0, 64, 1, 0, packed, packed
            )
            unreachable = icmp_message(V4, 3, 1, b"\0" * 4 + ip + request[:8])
        else:
            ip = struct.pack("!IHBB16s16s", 6 << 28, len(request), 58, 64, packed, packed)
            unreachable = icmp_message(V6, 1, 3, b"\0" * 4 + ip + request)
        inject(family, unreachable)
        start = time.perf_counter()
        failure = await expect_failure("refused", task)
        assert time.perf_counter() - start < 1.0
        assert "destination unreachable" in str(failure)
    assert raw_pinger.stats["unreachable"] == 2


async def test_close_fails_pending_pings_and_leaves_no_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_icmp()
    require_ipv6_loopback()
    pinger = Pinger()
    drop_replies(pinger, monkeypatch)
    before = open_fds()
    pings = [asyncio.create_task(pinger.ping(a, 10.0)) for a in ["127.0.0.1", "::1"] * 3]
    await asyncio.sleep(0.05)
    assert pinger.pending() == 6
    assert open_fds() == before + 2  # one socket per family, shared
    pinger.close()
    results = await asyncio.wait_for(asyncio.gather(*pings, return_exceptions=True), 1.0)
    assert all(isinstance(r, ProbeFailed) and r.reason == "connection" for r in results)
    assert pinger.pending() == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert open_fds() == before and pinger.mode(V4) in ("dgram", "raw")
    await expect_failure("connection", pinger.ping("127.0.0.1", 1.0))
    pinger.close()  # twice is fine


def test_kinds_are_checked() -> None:
    with pytest.raises(ValueError):
        Pinger(kinds=("icmp",))
    with pytest.raises(ValueError):
        Pinger(kinds=())
