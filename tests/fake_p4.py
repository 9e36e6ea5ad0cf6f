"""A fake P4Python (`P4`, `P4Exception`) for the P4 client tests: same attributes, same
list-of-dicts-with-string-values answers and P4Python-like error texts, backed by a FakeServer.

Streams carry a spec (`Paths`, `Parent`), depot files a head revision (size, action), and a stream
workspace's view is generated from its stream as the server does it: `share`/`isolate`/`public`
paths of the stream, `import` paths from elsewhere, `exclude` paths left out, and a virtual stream
filtering its parent's view. `p4 sizes -s //ws/...` sums the head revisions that view maps, deleted
ones left out; a stream whose view maps nothing answers with a warning only, like the server.
"""

from __future__ import annotations

import re
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
NO_PERMISSION = "You don't have permission for this operation."
UNKNOWN_CLIENT = "Client '{client}' unknown - use 'client' command to create it."
DELETED = ("delete", "move/delete")

DEFAULT_STREAMS = [
    {"Stream": "//depot/main", "Type": "mainline", "Name": "main", "Parent": "none"},
    {"Stream": "//depot/dev-alice", "Type": "development", "Name": "dev-alice"},
    {"Stream": "//depot/rel/1.0", "Type": "release", "Name": "1.0", "Parent": "//depot/main"},
    {"Stream": "//depot/virt", "Type": "virtual", "Name": "virt", "Parent": "//depot/main"},
    {"Stream": "//games/main", "Type": "mainline", "Name": "main", "Parent": "none"},
]


def _rel_regex(pattern: str) -> re.Pattern[str]:
    """A stream path's pattern (relative to the stream root): `...` anything, `*` no slash."""
    out = re.escape(pattern).replace(re.escape("..."), ".*").replace(re.escape("*"), "[^/]*")
    return re.compile(out)


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
    files: dict[str, tuple[int, str]] = field(default_factory=dict)  # depot file -> (size, action)
    clients: dict[str, str] = field(default_factory=dict)  # workspace -> its stream
    denied: set[str] = field(default_factory=set)  # streams the user may not read
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
        self.client = ""

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
        rows = [{k: v for k, v in s.items() if isinstance(v, str)} for s in self._server.streams]
        if args[:1] == ("-F",):  # the server filters: Name=<pattern>, * matching anything
            field_name, _, pattern = args[1].partition("=")
            assert field_name == "Name", args
            regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
            return [r for r in rows if regex.fullmatch(r.get("Name", ""))]
        # like the server: a path pattern that matches nothing returns every stream
        return rows

    def run_sizes(self, *args: str) -> list[dict[str, str]]:
        self._command("sizes", args)
        server = self._server
        path = args[-1]
        stream = path.removesuffix("/...")
        if self.client and path == f"//{self.client}/...":  # client syntax: through the view
            stream = server.clients[self.client]
            gate = server.block.get(f"sizes {stream}")
            if gate is not None:
                gate.wait(10)
            if stream in server.denied:
                raise _run_error(f"sizes {' '.join(args)}", NO_PERMISSION)
            if stream not in server.sizes:
                heads = [server.files[d] for d in self.view(stream).values()]
                live = [size for size, action in heads if action not in DELETED]
                if not live:  # a warning, which exception_level 1 does not raise
                    return []
                return [{"path": path, "fileCount": str(len(live)), "fileSize": str(sum(live))}]
        if stream not in server.sizes:
            raise _run_error(f"sizes {' '.join(args)}", UNKNOWN_STREAM.format(stream=stream))
        files, size = server.sizes[stream]
        if "-z" in args:
            size -= server.lazy_bytes.get(stream, 0)
        return [{"path": path, "fileCount": str(files), "fileSize": str(size)}]

    def run_clients(self, *args: str) -> list[dict[str, str]]:
        self._command("clients", args)
        name = args[-1]
        return [{"client": name}] if name in self._server.clients else []

    def fetch_client(self, *args: str) -> dict[str, Any]:
        self._command("client", ("-o", *args))
        stream, name = args[-2], args[-1]
        self._spec(stream)
        return {"Client": name, "Stream": stream, "Root": "/home/x", "Host": "buildhost"}

    def save_client(self, spec: dict[str, Any]) -> list[str]:
        self._command("client", ("-i",))
        self._server.clients[spec["Client"]] = spec["Stream"]
        return [f"Client {spec['Client']} saved."]

    def run_client(self, *args: str) -> list[str]:
        self._command("client", args)
        assert args[:2] == ("-s", "-S"), args
        stream, name = args[2], args[3]
        if name not in self._server.clients:
            raise _run_error(f"client {' '.join(args)}", UNKNOWN_CLIENT.format(client=name))
        self._spec(stream)
        self._server.clients[name] = stream
        return [f"Client {name} switched."]

    # -- the server's view of a stream workspace
    def _spec(self, stream: str) -> dict[str, Any]:
        for spec in self._server.streams:
            if spec["Stream"] == stream:
                return spec
        raise _run_error("client", UNKNOWN_STREAM.format(stream=stream))

    def view(self, stream: str) -> dict[str, str]:
        """Workspace-relative path -> depot file, for every depot file the view maps."""
        spec = self._spec(stream)
        paths = list(spec.get("Paths", ["share ..."]))
        if spec.get("Type") == "virtual":
            base = self.view(spec["Parent"])
            keep = [_rel_regex(p.split()[1]) for p in paths if p.split()[0] != "exclude"]
            drop = [_rel_regex(p.split()[1]) for p in paths if p.split()[0] == "exclude"]
            return {
                rel: depot
                for rel, depot in base.items()
                if any(k.fullmatch(rel) for k in keep) and not any(d.fullmatch(rel) for d in drop)
            }
        root = stream + "/"
        view: dict[str, str] = {}
        for line in paths:
            kind, rel_pattern, *depot = line.split()
            if kind in ("share", "isolate", "public"):
                pattern = _rel_regex(rel_pattern)
                for path in self._server.files:
                    if path.startswith(root) and pattern.fullmatch(path[len(root) :]):
                        view[path[len(root) :]] = path
            elif kind == "import":
                source = depot[0] if depot else root + rel_pattern
                rel_prefix, depot_prefix = rel_pattern[:-3], source[:-3]  # both end in "..."
                for path in self._server.files:
                    if path.startswith(depot_prefix):
                        view[rel_prefix + path[len(depot_prefix) :]] = path
            elif kind == "exclude":
                pattern = _rel_regex(rel_pattern)
                view = {rel: d for rel, d in view.items() if not pattern.fullmatch(rel)}
        return view

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
