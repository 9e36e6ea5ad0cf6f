"""Asyncio wrapper around one P4Python connection: streams, server-side sizes, ticket state, login.

P4Python is blocking and not thread-safe, so each server gets one `P4` object used only from its
own single-thread executor, and every call runs under `asyncio.wait_for(timeout)`. A call that
times out (or is cancelled) abandons that connection and its thread; the next call builds a fresh
one. `P4` is imported lazily so this module imports without P4Python (tests inject a fake).

Error messages name the server, P4PORT and user at most; the password only lives on the P4 object
for the duration of `login()` and is scrubbed from any message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger("vigil.p4")

T = TypeVar("T")

REASONS = (
    "connection",
    "ticket_expired",
    "no_ticket",
    "auth",
    "unknown_stream",
    "permission",
    "empty_view",
    "timeout",
    "p4_error",
)

# (regex, reason): first match wins; order matters ("(P4PASSWD) invalid or unset" before
# "Password invalid"). Matched case-sensitively against the P4Exception text.
_MESSAGE_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (r"Connect to server failed", "connection"),
        (r"(TCP|SSL) connect to .* failed", "connection"),
        (r"Partner exited unexpectedly", "connection"),
        (r"session has expired", "ticket_expired"),
        (r"\(P4PASSWD\) invalid or unset", "no_ticket"),
        (r"Password invalid", "auth"),
        (r"[Nn]o such stream", "unknown_stream"),
        (r"isn't a known stream", "unknown_stream"),
        (r"not a stream", "unknown_stream"),
        (r"You don't have permission", "permission"),
        (r"[Pp]rotections table is empty", "permission"),
        (r"no such file\(s\)", "empty_view"),
        (r"file\(s\) not in client view", "empty_view"),
    )
)

# after these the connection may be unusable: disconnect and connect again on the next call
_RECONNECT_REASONS = frozenset({"connection", "p4_error"})

_MAX_MESSAGE = 400


class P4Error(Exception):
    """A P4 call failed for `reason` (one of REASONS); the message never carries a password/ticket."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __repr__(self) -> str:
        return f"P4Error({self.reason!r}, {str(self)!r})"


@dataclass(frozen=True)
class Stream:
    path: str  # //depot/main
    type: str  # mainline, development, release, virtual, task, ...
    name: str


def is_path_mask(mask: str) -> bool:
    """`//depot/...` is a stream path pattern; anything else is a pattern on the stream's Name."""
    return mask.startswith("//")


def name_filter(mask: str) -> str:
    """The `p4 streams -F` filter of a name mask, as the old P4 Stream Monitor built it: the mask
    goes after `Name=` as written, so `*role*` gives `Name=*role*` (Perforce filter syntax)."""
    return f"Name={mask}"


def mask_regex(mask: str) -> re.Pattern[str]:
    """The regex for a P4 path pattern: `...` matches anything (incl. `/`), `*` anything but `/`."""
    parts: list[str] = []
    i = 0
    while i < len(mask):
        if mask.startswith("...", i):
            parts.append(".*")
            i += 3
        elif mask[i] == "*":
            parts.append("[^/]*")
            i += 1
        else:
            parts.append(re.escape(mask[i]))
            i += 1
    return re.compile("".join(parts), re.DOTALL)


def classify(text: str) -> str:
    """The P4Error reason for a P4Exception message."""
    for pattern, reason in _MESSAGE_REASONS:
        if pattern.search(text):
            return reason
    return "p4_error"


def _exception_text(exc: BaseException) -> str:
    """The full text of a (P4)Exception: P4Python keeps the multi-line message in `.value`."""
    value = getattr(exc, "value", None)
    text = str(value) if value is not None else str(exc)
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list | tuple) and errors:
        extra = [str(e) for e in errors if str(e) not in text]
        text = "\n".join([text, *extra])
    return text or type(exc).__name__


class _Conn:
    """One P4 object and the single thread allowed to touch it."""

    def __init__(self, p4: Any, name: str) -> None:
        self.p4 = p4
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"p4-{name}")
        self.broken = False


class P4Client:
    """One reused P4Python connection to one server; every call runs in its thread with a timeout."""

    def __init__(
        self,
        name: str,
        p4port: str,
        p4user: str,
        *,
        charset: str | None = None,
        ticket_file: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        measure_client: str | None = None,
        p4_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.name = name
        # the workspace whose view measures a stream (docs/design.md, "Issue 20")
        self.measure_client = measure_client or default_measure_client()
        self.p4port = p4port
        self.p4user = p4user
        self.charset = charset
        self.ticket_file = ticket_file
        self._password = password  # only used by login() when called without one
        self.timeout = timeout
        self._factory = p4_factory
        self._conn: _Conn | None = None
        self._measure_ready: Any = None  # the P4 object whose workspace is known to exist
        self._lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"P4Client({self.name!r}, {self.p4port!r}, {self.p4user!r})"

    # ----------------------------------------------------------------- public API

    async def streams(self, mask: str, include_virtual: bool = False) -> list[Stream]:
        """Streams the mask selects. A name mask (`*role*`) is filtered by the server with
        `p4 streams -F "Name=<mask>"`, as the old monitor did; a path mask (`//depot/*`) is given
        to `p4 streams` and matched again here, because a path that matches nothing makes the
        server answer with every stream."""
        path_form = is_path_mask(mask)
        if path_form:
            rows = await self._call("streams", lambda p4: p4.run_streams(mask))
        else:
            rows = await self._call("streams", lambda p4: p4.run_streams("-F", name_filter(mask)))
        pattern = mask_regex(mask) if path_form else None
        found: list[Stream] = []
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, dict) or not isinstance(row.get("Stream"), str):
                continue
            path = row["Stream"]
            kind = str(row.get("Type", ""))
            if pattern is not None and not pattern.fullmatch(path):
                continue
            if kind == "virtual" and not include_virtual:
                continue
            found.append(Stream(path=path, type=kind, name=str(row.get("Name", ""))))
        return found

    async def size(self, stream: str, exclude_lazy: bool = False) -> tuple[int, int]:
        """(bytes, files) of the stream's view at head, deleted files left out.

        The measuring workspace is switched to the stream (`p4 client -s -S`), so the server
        generates its view from the stream spec: imports, excludes and a virtual stream's filter
        of its parent included. `p4 sizes -s [-z] //<workspace>/...` then sums the head revisions
        mapped by that view on the server; one summary row comes back, never a file list. The
        workspace is never synced: it has no have list and costs one client spec on the server.
        """
        client = self.measure_client
        args = ["-s", *(["-z"] if exclude_lazy else []), f"//{client}/..."]

        def run(p4: Any) -> Any:
            if self._measure_ready is not p4:  # once per connection: does the workspace exist?
                _create_measure_client(p4, client, stream)
                self._measure_ready = p4
            p4.client = client
            p4.run_client("-s", "-S", stream, client)  # the server regenerates the view
            return p4.run_sizes(*args)

        rows = await self._call("sizes", run)
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and "fileSize" in row and "fileCount" in row:
                try:
                    return int(row["fileSize"]), int(row["fileCount"])
                except (TypeError, ValueError):
                    break
            elif isinstance(row, dict):
                continue
            raise P4Error("p4_error", f"{self.name}: p4 sizes {stream}: unexpected answer")
        if isinstance(rows, list) and not rows:
            # warnings only (exception_level 1): "//ws/... - no such file(s)." for an empty view
            raise P4Error("empty_view", f"{self.name}: p4 sizes {stream}: the view maps no file")
        raise P4Error("p4_error", f"{self.name}: p4 sizes {stream}: unexpected answer")

    async def ticket_remaining(self) -> float | None:
        """Seconds left on the login ticket, None if the server reports no expiry."""
        return await self._call("login -s", _ticket_remaining_sync)

    async def login(self, password: str | None = None) -> float:
        """`p4 login` (ticket stored in the ticket file); returns the ticket's remaining seconds."""
        secret = password if password is not None else self._password
        if not secret:
            raise P4Error("auth", f"{self.name}: no password to log in with")

        def run(p4: Any) -> float:
            try:
                p4.password = secret
                p4.run_login()
            finally:
                p4.password = ""
                with contextlib.suppress(Exception):
                    p4.input = ""  # run_login() copies the password into p4.input
            remaining = _ticket_remaining_sync(p4)
            return remaining if remaining is not None else float("inf")

        result = await self._call("login", run, secret=secret)
        log.info("%s: logged in to %s as %s", self.name, self.p4port, self.p4user)
        return result

    async def close(self) -> None:
        """Disconnect and stop the connection's thread (does not wait on a hung call)."""
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is None:
            return
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(conn.executor, _disconnect_quietly, conn.p4)
        conn.executor.shutdown(wait=False)
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(fut, self.timeout)

    # ----------------------------------------------------------------- internals

    async def _call(self, op: str, fn: Callable[[Any], T], *, secret: str | None = None) -> T:
        async with self._lock:  # one call at a time, so the timeout covers only our own call
            if self._closed:
                raise P4Error("p4_error", f"{self.name}: client is closed")
            conn = self._connection()
            loop = asyncio.get_running_loop()
            fut = loop.run_in_executor(conn.executor, self._run_sync, conn, op, fn, secret)
            try:
                return await asyncio.wait_for(fut, self.timeout)
            except TimeoutError:
                self._abandon(conn)
                log.warning(
                    "%s: p4 %s timed out after %.1fs; dropping the connection",
                    self.name,
                    op,
                    self.timeout,
                )
                raise P4Error(
                    "timeout", f"{self.name}: p4 {op} timed out after {self.timeout:g}s"
                ) from None
            except asyncio.CancelledError:
                self._abandon(conn)  # the thread may still be busy: don't queue behind it
                raise

    def _connection(self) -> _Conn:
        if self._conn is None:
            factory = self._factory
            if factory is None:
                import P4  # lazy: P4Python is optional until a Perforce target is configured

                factory = P4.P4
            p4 = factory()
            p4.port = self.p4port
            p4.user = self.p4user
            if self.charset is not None:
                p4.charset = self.charset
            if self.ticket_file is not None:
                p4.ticket_file = self.ticket_file
            p4.exception_level = 1  # errors raise, warnings don't
            p4.prog = "vigil"
            self._conn = _Conn(p4, self.name)
        return self._conn

    def _abandon(self, conn: _Conn) -> None:
        """Forget a connection whose thread may be stuck; it disconnects once the call returns."""
        if self._conn is conn:
            self._conn = None
        with contextlib.suppress(RuntimeError):
            conn.executor.submit(_disconnect_quietly, conn.p4)
        conn.executor.shutdown(wait=False)

    def _run_sync(self, conn: _Conn, op: str, fn: Callable[[Any], T], secret: str | None) -> T:
        """In the connection's thread: (re)connect if needed, run `fn`, map failures to P4Error."""
        p4 = conn.p4
        try:
            if conn.broken:
                conn.broken = False
                _disconnect_quietly(p4)
            if not p4.connected():
                log.debug("%s: connecting to %s as %s", self.name, self.p4port, self.p4user)
                p4.connect()
            return fn(p4)
        except P4Error as exc:
            raise P4Error(exc.reason, f"{self.name}: {exc}") from None
        except Exception as exc:
            text = _exception_text(exc)
            reason = classify(text)
            if reason in _RECONNECT_REASONS:
                conn.broken = True
            message = " ".join(text.split())
            if secret:
                message = message.replace(secret, "***")
            if len(message) > _MAX_MESSAGE:
                message = message[:_MAX_MESSAGE] + "..."
            raise P4Error(reason, f"{self.name}: p4 {op}: {message}") from None


def default_measure_client() -> str:
    """`vigil_<host>`: one measuring workspace per Vigil host and server, so two exporters never
    switch each other's workspace between `client -s` and `sizes`."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname().split(".")[0]) or "host"
    return f"vigil_{host}"


def _create_measure_client(p4: Any, client: str, stream: str) -> None:
    """Create the measuring workspace (a stream workspace of `stream`) unless it exists."""
    if p4.run_clients("-e", client):
        return
    spec = p4.fetch_client("-S", stream, client)  # p4 client -o -S stream name
    spec["Root"] = "/nonexistent/vigil-measures-only"  # never synced
    spec["Host"] = ""
    spec["Description"] = "Vigil measures stream sizes through this workspace; never synced.\n"
    p4.save_client(spec)


def _ticket_remaining_sync(p4: Any) -> float | None:
    rows = p4.run_login("-s")
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and "TicketExpiration" in row:
            try:
                return float(row["TicketExpiration"])
            except (TypeError, ValueError):
                raise P4Error("p4_error", "p4 login -s: unexpected TicketExpiration") from None
    return None


def _disconnect_quietly(p4: Any) -> None:
    with contextlib.suppress(Exception):
        if p4.connected():
            p4.disconnect()
