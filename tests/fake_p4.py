"""A fake P4Python (`P4`, `P4Exception`) for the P4 client tests: same attributes, same
list-of-dicts-with-string-values answers and P4Python-like error texts, backed by a FakeServer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

CONNECT_REFUSED = (
    "[P4.connect()] Connect to server failed; check $P4PORT.\n"
    "TCP connect to {port} failed.\n"
    "connect: 127.0.0.1:1666: Connection refused"
)
NOT_LOGGED_IN = "Perforce password (P4PASSWD) invalid or unset."
EXPIRED = "Your session has expired, please login again."
BAD_PASSWORD = "Password invalid."
UNKNOWN_STREAM = "Stream '{stream}' isn't a known stream."

DEFAULT_STREAMS = [
    {"Stream": "//depot/main", "Type": "mainline", "Name": "main", "Parent": "none"},
    {"Stream": "//depot/dev-alice", "Type": "development", "Name": "dev-alice"},
    {"Stream": "//depot/rel/1.0", "Type": "release", "Name": "1.0", "Parent": "//depot/main"},
    {"Stream": "//depot/virt", "Type": "virtual", "Name": "virt", "Parent": "//depot/main"},
    {"Stream": "//games/main", "Type": "mainline", "Name": "main", "Parent": "none"},
]


class P4Exception(Exception):
    """Like P4Python's: `.value` holds the full text, `.errors` / `.warnings` the message lists."""

    def __init__(self, value: str, errors: list[str] | None = None) -> None:
        super().__init__(value)
        self.value = value
        self.errors = errors if errors is not None else [value]
        self.warnings: list[str] = []


def _run_error(command: str, message: str) -> P4Exception:
    value = (
        f'[P4#run] Errors during command execution( "p4 {command}" )\n\n    [Error]: "{message}"'
    )
    return P4Exception(value, [message])


@dataclass
class FakeServer:
    """Server state shared by every fake P4 connection (so a rebuilt connection sees it too)."""

    port: str = "ssl:p4.example:1666"
    password: str = "s3cret-pw"
    ticket: str = "4F1E2D3C4B5A69788796A5B4C3D2E1F0"
    streams: list[dict[str, str]] = field(
        default_factory=lambda: [dict(s) for s in DEFAULT_STREAMS]
    )
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # stream -> (files, bytes)
    lazy_bytes: dict[str, int] = field(default_factory=dict)  # bytes left out by -z
    up: bool = True
    logged_in: bool = True
    expired: bool = False
    ticket_seconds: int = 43200
    block: dict[str, threading.Event] = field(default_factory=dict)  # command -> gate
    delay: float = 0.0  # seconds each command takes
    calls: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)  # (conn, cmd, args)
    created: list[P4] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def p4(self) -> P4:
        """A p4_factory."""
        conn = P4(self)
        self.created.append(conn)
        return conn

    def commands(self) -> list[str]:
        return [cmd for _, cmd, _ in self.calls]


class P4:
    """What P4Client uses of P4Python's P4 class."""

    def __init__(self, server: FakeServer | None = None) -> None:
        self._server = server or FakeServer()
        self._id = len(self._server.created)
        self._connected = False
        self.port = "perforce:1666"
        self.user = "root"
        self.charset = ""
        self.ticket_file = ""
        self.password = ""
        self.input: Any = ""
        self.exception_level = 2
        self.prog = "unnamed p4-python script"
        self.tagged = True

    # -- connection
    def connect(self) -> P4:
        self._enter("connect", ())
        try:
            if self._connected:
                raise P4Exception("P4.connect() - Perforce client already connected!")
            if not self._server.up:
                message = CONNECT_REFUSED.format(port=self.port)
                raise P4Exception(message, [message.split("\n")[0].split("] ", 1)[1]])
            self._connected = True
            return self
        finally:
            self._leave()

    def disconnect(self) -> None:
        self._server.calls.append((self._id, "disconnect", ()))
        if not self._connected:
            raise P4Exception("P4.disconnect() - not connected")
        self._connected = False

    def connected(self) -> bool:
        return self._connected

    # -- commands
    def run_streams(self, *args: str) -> list[dict[str, str]]:
        self._command("streams", args)
        # like the server: a pattern that matches nothing returns every stream
        return [dict(s) for s in self._server.streams]

    def run_sizes(self, *args: str) -> list[dict[str, str]]:
        self._command("sizes", args)
        path = args[-1]
        stream = path.removesuffix("/...")
        if stream not in self._server.sizes:
            raise _run_error(f"sizes {' '.join(args)}", UNKNOWN_STREAM.format(stream=stream))
        files, size = self._server.sizes[stream]
        if "-z" in args:
            size -= self._server.lazy_bytes.get(stream, 0)
        return [{"path": path, "fileCount": str(files), "fileSize": str(size)}]

    def run_login(self, *args: str) -> list[dict[str, str]]:
        self._command("login", args, check_ticket="-s" in args)
        server = self._server
        if "-s" in args:
            return [
                {"User": self.user, "TicketExpiration": str(server.ticket_seconds)},
            ]
        given = self.input if self.input else self.password
        if given != server.password:
            raise _run_error("login", BAD_PASSWORD)
        server.logged_in, server.expired = True, False
        if self.ticket_file:
            with open(self.ticket_file, "w") as f:
                f.write(f"{server.port}={self.user}:{server.ticket}\n")
        return [{"User": self.user, "Expiration": str(server.ticket_seconds)}]

    # -- helpers
    def _command(self, cmd: str, args: tuple[str, ...], check_ticket: bool = True) -> None:
        self._enter(cmd, args)
        try:
            if not self._connected:
                raise P4Exception("P4#run - not connected.")
            if not self._server.up:
                self._connected = False
                message = "TCP receive failed.\nread: socket: Connection reset by peer"
                raise P4Exception(
                    f"[P4#run] Errors during command execution\n{message}\n"
                    "Partner exited unexpectedly."
                )
            if check_ticket and not self.password:
                if self._server.expired:
                    raise _run_error(cmd, EXPIRED)
                if not self._server.logged_in:
                    raise _run_error(cmd, NOT_LOGGED_IN)
        finally:
            self._leave()

    def _enter(self, cmd: str, args: tuple[str, ...]) -> None:
        server = self._server
        with server._lock:
            server.calls.append((self._id, cmd, tuple(args)))
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        gate = server.block.get(cmd)
        if gate is not None:
            gate.wait(10)
        if server.delay:
            time.sleep(server.delay)

    def _leave(self) -> None:
        with self._server._lock:
            self._server.in_flight -= 1
