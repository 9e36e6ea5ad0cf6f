"""P4Client against the fake P4Python in tests/fake_p4.py."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from exporter.sources.p4.client import P4Client, P4Error, Stream, classify, mask_regex
from tests.fake_p4 import CONNECT_REFUSED, FakeServer


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


def make_client(server: FakeServer, **kw) -> P4Client:
    kw.setdefault("timeout", 2.0)
    return P4Client("p4main", server.port, "bob", p4_factory=server.p4, **kw)


@pytest.fixture
async def client(server: FakeServer):
    c = make_client(server)
    yield c
    await c.close()


# ------------------------------------------------------------------ streams and the mask


async def test_mask_matching_nothing_returns_nothing(client: P4Client, server: FakeServer):
    # the fake, like the server, answers every stream for a pattern that matches none
    assert await client.streams("//nope/*") == []
    assert server.calls[-1][1:] == ("streams", ("//nope/*",))


async def test_star_does_not_cross_slash_but_dots_do(client: P4Client):
    paths = [s.path for s in await client.streams("//depot/*")]
    assert paths == ["//depot/main", "//depot/dev-alice"]
    paths = [s.path for s in await client.streams("//depot/...")]
    assert paths == ["//depot/main", "//depot/dev-alice", "//depot/rel/1.0"]
    assert [s.path for s in await client.streams("//.../main")] == ["//depot/main", "//games/main"]
    assert await client.streams("//depot/main") == [Stream("//depot/main", "mainline", "main")]


async def test_virtual_streams_only_when_asked(client: P4Client):
    assert "//depot/virt" not in [s.path for s in await client.streams("//depot/*")]
    streams = await client.streams("//depot/*", include_virtual=True)
    assert Stream("//depot/virt", "virtual", "virt") in streams


def test_mask_regex_escapes_other_characters():
    assert mask_regex("//a.b/*").fullmatch("//a.b/x")
    assert not mask_regex("//a.b/*").fullmatch("//aXb/x")
    assert not mask_regex("//a/*").fullmatch("//a/b/c")


# ------------------------------------------------------------------ sizes


async def test_size_is_one_summary_through_the_measuring_workspace(
    client: P4Client, server: FakeServer
):
    server.sizes["//depot/main"] = (1234, 567890)
    server.lazy_bytes["//depot/main"] = 500000
    assert await client.size("//depot/main") == (567890, 1234)
    ws = client.measure_client
    assert [c[1:] for c in server.calls[-5:]] == [
        ("clients", ("-e", ws)),  # created once per connection, as a workspace of the stream
        ("client", ("-o", "-S", "//depot/main", ws)),
        ("client", ("-i",)),
        ("client", ("-s", "-S", "//depot/main", ws)),  # the server regenerates the view
        ("sizes", ("-s", f"//{ws}/...")),  # one summary row, never a file list
    ]
    assert await client.size("//depot/main", exclude_lazy=True) == (67890, 1234)
    assert [c[1:] for c in server.calls[-2:]] == [
        ("client", ("-s", "-S", "//depot/main", ws)),
        ("sizes", ("-s", "-z", f"//{ws}/...")),
    ]
    assert server.clients == {ws: "//depot/main"}


async def test_size_garbled_answer_is_p4_error(client: P4Client, server: FakeServer):
    server.sizes["//depot/main"] = (1, 2)
    await client.size("//depot/main")
    client._connection().p4.run_sizes = lambda *a: [{"path": "//depot/main/...", "fileSize": "x"}]
    with pytest.raises(P4Error) as err:
        await client.size("//depot/main")
    assert err.value.reason == "p4_error"
    client._connection().p4.run_sizes = lambda *a: ["just text"]
    with pytest.raises(P4Error, match="unexpected answer"):
        await client.size("//depot/main")


async def test_unknown_stream(client: P4Client):
    with pytest.raises(P4Error) as err:
        await client.size("//depot/gone")
    assert err.value.reason == "unknown_stream"
    assert "p4main" in str(err.value)


# ------------------------------------------------------------------ the view, as the old monitor measured

VIEW_STREAMS = [
    {"Stream": "//depot/main", "Type": "mainline", "Name": "main", "Paths": ["share ..."]},
    {  # imports a library from another depot and leaves its docs out
        "Stream": "//depot/role-client",
        "Type": "development",
        "Name": "role-client",
        "Parent": "//depot/main",
        "Paths": ["share ...", "import lib/... //libs/core/...", "exclude docs/..."],
    },
    {  # a virtual stream: its parent's view narrowed to src/, no files of its own
        "Stream": "//depot/role-src",
        "Type": "virtual",
        "Name": "role-src",
        "Parent": "//depot/role-client",
        "Paths": ["share src/...", "share lib/...", "exclude lib/big/..."],
    },
    {
        "Stream": "//depot/empty",
        "Type": "development",
        "Name": "empty-role",
        "Paths": ["share ..."],
    },
]
VIEW_FILES = {
    "//depot/main/a.c": (100, "add"),
    "//depot/role-client/src/x.c": (10, "edit"),
    "//depot/role-client/src/gone.c": (5000, "delete"),  # deleted at head: left out
    "//depot/role-client/src/moved.c": (7000, "move/delete"),  # moved away: left out
    "//depot/role-client/docs/manual.pdf": (900, "add"),  # excluded by the stream
    "//depot/role-client/README": (1, "add"),
    "//libs/core/core.h": (20, "add"),  # imported
    "//libs/core/big/blob.bin": (3000, "add"),  # imported, filtered out by the virtual stream
    "//libs/other/x.h": (400, "add"),  # not imported
}


@pytest.fixture
def view_server() -> FakeServer:
    return FakeServer(streams=[dict(s) for s in VIEW_STREAMS], files=dict(VIEW_FILES))


async def test_size_of_the_view_imports_excludes_deletes_and_virtual(view_server: FakeServer):
    client = make_client(view_server)
    try:
        # src/x.c + README + lib/core.h + lib/big/blob.bin; not docs/, not the deleted heads
        assert await client.size("//depot/role-client") == (10 + 1 + 20 + 3000, 4)
        # the virtual stream through its view: src/ and lib/ of its parent, minus lib/big/
        assert await client.size("//depot/role-src") == (10 + 20, 2)
        assert await client.size("//depot/main") == (100, 1)
        # one workspace, switched from stream to stream; created once
        assert view_server.commands().count("clients") == 1
        assert view_server.clients == {client.measure_client: "//depot/main"}
        with pytest.raises(P4Error) as err:  # a view that maps nothing: a warning, no row
            await client.size("//depot/empty")
        assert err.value.reason == "empty_view"
        view_server.denied.add("//depot/main")
        with pytest.raises(P4Error) as err:
            await client.size("//depot/main")
        assert err.value.reason == "permission"
    finally:
        await client.close()


async def test_name_mask_is_filtered_by_the_server(view_server: FakeServer):
    client = make_client(view_server)
    try:
        streams = await client.streams("*role*", include_virtual=True)
        assert view_server.calls[-1][1:] == ("streams", ("-F", "Name=*role*"))
        assert [s.path for s in streams] == [
            "//depot/role-client",
            "//depot/role-src",
            "//depot/empty",
        ]
        assert [s.path for s in await client.streams("*role*")] == [
            "//depot/role-client",
            "//depot/empty",
        ]
        # the old monitor's gotcha does not exist for names: nothing matches, nothing comes back
        assert await client.streams("*nothing*", include_virtual=True) == []
        # a path mask: as before, given to p4 streams and matched again here
        paths = [s.path for s in await client.streams("//depot/role-*", include_virtual=True)]
        assert view_server.calls[-1][1:] == ("streams", ("//depot/role-*",))
        assert paths == ["//depot/role-client", "//depot/role-src"]
    finally:
        await client.close()


# ------------------------------------------------------------------ tickets and login


async def test_ticket_remaining(client: P4Client, server: FakeServer):
    server.ticket_seconds = 43200
    assert await client.ticket_remaining() == 43200.0
    assert server.calls[-1][1:] == ("login", ("-s",))


async def test_ticket_expired_and_not_logged_in(client: P4Client, server: FakeServer):
    server.expired = True
    with pytest.raises(P4Error) as err:
        await client.ticket_remaining()
    assert err.value.reason == "ticket_expired"
    server.expired, server.logged_in = False, False
    with pytest.raises(P4Error) as err:
        await client.ticket_remaining()
    assert err.value.reason == "no_ticket"
    # neither needs a reconnect
    assert len(server.created) == 1 and "disconnect" not in server.commands()


async def test_login_stores_ticket_and_clears_password(server: FakeServer, tmp_path):
    tickets = tmp_path / "p4tickets"
    client = make_client(server, ticket_file=str(tickets))
    server.logged_in = False
    server.ticket_seconds = 3600
    assert await client.login(server.password) == 3600.0
    p4 = server.created[0]
    assert p4.password == "" and p4.input == ""
    assert p4.ticket_file == str(tickets)
    assert server.ticket in tickets.read_text()
    assert await client.ticket_remaining() == 3600.0
    await client.close()


async def test_login_wrong_password(client: P4Client, server: FakeServer):
    with pytest.raises(P4Error) as err:
        await client.login("wrong-pw")
    assert err.value.reason == "auth"
    assert server.created[0].password == ""


async def test_p4_object_configured(server: FakeServer):
    client = make_client(server, charset="utf8", ticket_file="/tmp/t")
    await client.ticket_remaining()
    p4 = server.created[0]
    assert (p4.port, p4.user, p4.charset, p4.ticket_file) == (server.port, "bob", "utf8", "/tmp/t")
    assert (p4.exception_level, p4.prog) == (1, "vigil")
    await client.close()
    assert not p4.connected()


# ------------------------------------------------------------------ connection handling


async def test_connection_refused_then_reconnects(client: P4Client, server: FakeServer):
    server.up = False
    with pytest.raises(P4Error) as err:
        await client.ticket_remaining()
    assert err.value.reason == "connection"
    assert server.port in str(err.value)
    server.up = True
    assert await client.ticket_remaining() == 43200.0
    assert server.commands() == ["connect", "connect", "login"]
    assert len(server.created) == 1  # the same P4 object, reused


async def test_dropped_connection_disconnects_then_reconnects(client: P4Client, server: FakeServer):
    await client.ticket_remaining()
    server.up = False
    with pytest.raises(P4Error) as err:
        await client.streams("//depot/*")
    assert err.value.reason == "connection"
    server.up = True
    assert await client.streams("//depot/main")
    assert server.commands() == ["connect", "login", "streams", "connect", "streams"]


async def test_connection_reused_across_calls(client: P4Client, server: FakeServer):
    server.sizes["//depot/main"] = (1, 2)
    for _ in range(3):
        await client.size("//depot/main")
    assert server.commands().count("connect") == 1 and len(server.created) == 1
    assert server.commands().count("clients") == 1  # the workspace is looked up once


async def test_timeout_then_connection_rebuilt(server: FakeServer):
    client = make_client(server, timeout=0.2)
    server.sizes["//depot/main"] = (1, 2)
    gate = server.block["sizes"] = threading.Event()
    start = time.monotonic()
    with pytest.raises(P4Error) as err:
        await client.size("//depot/main")
    assert err.value.reason == "timeout"
    assert time.monotonic() - start < 1.0
    # the next call does not queue behind the stuck one: fresh P4 object, fresh thread
    assert await client.ticket_remaining() == 43200.0
    assert len(server.created) == 2
    gate.set()  # the stuck call finishes; the abandoned connection then disconnects
    for _ in range(100):
        if not server.created[0].connected():
            break
        await asyncio.sleep(0.01)
    assert not server.created[0].connected()
    await client.close()


async def test_concurrent_calls_never_overlap(client: P4Client, server: FakeServer):
    server.delay = 0.02
    server.sizes["//depot/main"] = (1, 2)
    results = await asyncio.gather(
        client.size("//depot/main"),
        client.streams("//depot/*"),
        client.ticket_remaining(),
        client.size("//depot/main"),
        client.streams("//games/*"),
    )
    assert results[0] == (2, 1) and results[2] == 43200.0
    assert server.max_in_flight == 1
    assert len(server.created) == 1


async def test_closed_client_refuses_calls(client: P4Client):
    await client.close()
    with pytest.raises(P4Error):
        await client.ticket_remaining()


# ------------------------------------------------------------------ secrets


async def test_secrets_never_in_errors_or_logs(server: FakeServer, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(server, ticket_file=str(tmp_path / "t"), timeout=0.2)
    errors: list[P4Error] = []
    for password in ("wrong-pw", server.password):
        try:
            await client.login(password)
        except P4Error as exc:
            errors.append(exc)
    server.expired = True
    server.block["login"] = gate = threading.Event()
    for call in (client.ticket_remaining(), client.login(server.password)):
        try:
            await call
        except P4Error as exc:
            errors.append(exc)
    gate.set()
    server.up = False
    try:
        await client.login(server.password)
    except P4Error as exc:
        errors.append(exc)
    await client.close()
    assert {e.reason for e in errors} >= {"auth", "timeout", "connection"}
    text = "\n".join([*(str(e) for e in errors), *(repr(e) for e in errors), caplog.text])
    assert "wrong-pw" not in text
    assert server.password not in text
    assert server.ticket not in text


async def test_secret_echoed_by_server_is_scrubbed(client: P4Client, server: FakeServer):
    def echo(*args):
        raise Exception(f"something odd with {server.created[0].password}")

    client._connection().p4.run_login = echo
    with pytest.raises(P4Error) as err:
        await client.login(server.password)
    assert server.password not in str(err.value) and "***" in str(err.value)


def test_classify_table():
    assert classify(CONNECT_REFUSED.format(port="p4:1666")) == "connection"
    assert classify("TCP connect to p4:1666 failed.") == "connection"
    assert classify("Your session has expired, please login again.") == "ticket_expired"
    assert classify("Perforce password (P4PASSWD) invalid or unset.") == "no_ticket"
    assert classify("Password invalid.") == "auth"
    assert classify("Stream '//x/y' isn't a known stream.") == "unknown_stream"
    assert classify("//x/y - no such stream.") == "unknown_stream"
    assert classify("Path '//x/y' is not a stream.") == "unknown_stream"
    assert classify("Access for user 'bob' has not been enabled") == "p4_error"
    assert classify("You don't have permission for this operation.") == "permission"
    assert classify("//vigil_h/... - no such file(s).") == "empty_view"
