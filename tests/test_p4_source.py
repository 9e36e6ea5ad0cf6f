"""Perforce stream sizes through the running exporter, with a fake P4Python behind the client."""

from __future__ import annotations

import asyncio
import threading

from exporter.config import parse_config
from exporter.service import Exporter
from tests.conftest import eventually, scrape, value
from tests.fake_p4 import FakeServer

TOKEN = "p4-api-token-0e1f"
PASSWORD = "p4-pass-Zq81"


def config_text(mask: str = "//depot/*") -> str:
    return f"""listen: "127.0.0.1:0"
api_token: ${{VIGIL_API_TOKEN}}
p4:
  servers:
    - name: p4-main
      p4port: ssl:p4.example:1666
      p4user: build
      stream_mask: "{mask}"
      password_env: P4_MAIN_PASSWORD
      interval: 1h
      timeout: 5s
"""


async def start(fake: FakeServer, text: str, monkeypatch) -> Exporter:
    monkeypatch.setenv("P4_MAIN_PASSWORD", PASSWORD)
    config = parse_config(text, env={"VIGIL_API_TOKEN": TOKEN})
    exporter = Exporter(config, p4_factory=fake.p4)
    await exporter.start()
    return exporter


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_sizes_ticket_and_the_mask_gotcha(http, monkeypatch, caplog):
    fake = FakeServer(sizes={"//depot/main": (120, 5_000_000), "//depot/dev-alice": (7, 900)})
    exporter = await start(fake, config_text("//depot/*"), monkeypatch)
    try:

        async def refreshed():
            m = await scrape(http, exporter.url)
            return m if value(m, "vigil_p4_server_up", server="p4-main") == 1 else None

        m = await eventually(refreshed, timeout=10)
        streams = {lab["stream"]: v for lab, v in m["vigil_p4_stream_size_bytes"]}
        # //depot/rel/1.0 is nested (not matched by *), //depot/virt is virtual, //games is elsewhere
        assert streams == {"//depot/main": 5_000_000, "//depot/dev-alice": 900}
        assert value(m, "vigil_p4_stream_files", stream="//depot/main") == 120
        assert value(m, "vigil_p4_ticket_expiry_seconds", server="p4-main") == 43200
        assert value(m, "vigil_p4_refresh_duration_seconds", server="p4-main") >= 0
        pages = [await (await http.get(f"{exporter.url}{p}")).text() for p in ("/", "/metrics")]
    finally:
        await exporter.stop()
    for text in [*pages, caplog.text]:
        assert PASSWORD not in text and fake.ticket not in text

    # a mask that matches nothing: p4 streams answers with every stream, Vigil keeps none
    fake2 = FakeServer()
    exporter = await start(fake2, config_text("//nothing/*"), monkeypatch)
    try:
        m = await eventually(lambda: scrape(http, exporter.url), timeout=5)
        await eventually(
            lambda: exporter.metrics["vigil_p4_server_up"].get(["p4-main"]) == 1, timeout=10
        )
        m = await scrape(http, exporter.url)
        assert "vigil_p4_stream_size_bytes" not in m
    finally:
        await exporter.stop()


async def test_expired_ticket_is_a_metric_and_a_down_server(http, monkeypatch):
    fake = FakeServer(expired=True)
    exporter = await start(fake, config_text(), monkeypatch)
    try:
        await eventually(
            lambda: exporter.metrics["vigil_p4_server_up"].get(["p4-main"]) == 0, timeout=10
        )
        m = await scrape(http, exporter.url)
        assert value(m, "vigil_p4_ticket_expiry_seconds", server="p4-main") == 0
        assert (
            value(
                m, "vigil_probe_errors_total", source="p4", check="p4-main", reason="ticket_expired"
            )
            >= 1
        )
    finally:
        await exporter.stop()


async def test_manual_refreshes_lock_and_collide_with_409(http, monkeypatch):
    fake = FakeServer(sizes={"//depot/main": (1, 10), "//depot/dev-alice": (2, 20)})
    exporter = await start(fake, config_text(), monkeypatch)
    try:
        await eventually(
            lambda: exporter.metrics["vigil_p4_server_up"].get(["p4-main"]) == 1, timeout=10
        )
        api = f"{exporter.url}/api/v1/p4"
        async with http.post(f"{api}/refresh") as resp:
            assert resp.status == 401
        gate = threading.Event()
        fake.block["sizes"] = gate  # the next p4 sizes call waits until the test opens the gate
        async with http.post(f"{api}/refresh/p4-main", headers=AUTH) as resp:
            assert resp.status == 202
            job = await resp.json()
        async with http.post(f"{api}/refresh", headers=AUTH) as resp:
            assert resp.status == 409  # everything collides with a server refresh in progress
            assert (await resp.json())["held_by"]["id"] == job["id"]
        async with http.post(f"{api}/refresh/p4-main/depot/main", headers=AUTH) as resp:
            assert resp.status == 409
        async with http.post(f"{api}/refresh/nope", headers=AUTH) as resp:
            assert resp.status == 404
        async with http.get(f"{api}/locks") as resp:
            assert [j["id"] for j in (await resp.json())["locks"]] == [job["id"]]
        gate.set()
        del fake.block["sizes"]

        async def done():
            async with http.get(f"{exporter.url}/api/v1/jobs/{job['id']}") as resp:
                body = await resp.json()
            return body if body["state"] != "running" else None

        finished = await eventually(done, timeout=10)
        assert finished["state"] == "done"
        async with http.post(f"{api}/refresh/p4-main/depot/main", headers=AUTH) as resp:
            assert resp.status == 202
        await asyncio.sleep(0)
    finally:
        await exporter.stop()


async def test_p4_login_stores_the_ticket_and_reports_a_bad_password(monkeypatch):
    from exporter.sources.p4.source import login

    fake = FakeServer(password=PASSWORD, logged_in=False)
    config = parse_config(config_text(), env={"VIGIL_API_TOKEN": TOKEN}).p4
    lines: list[str] = []
    monkeypatch.delenv("P4_MAIN_PASSWORD", raising=False)
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return PASSWORD

    code = await login(config, None, prompt, p4_factory=fake.p4, out=lines.append)
    assert code == 0 and prompts and "p4-main: logged in as build" in lines[0]
    assert fake.logged_in
    assert all(PASSWORD not in line for line in lines + prompts)

    code = await login(config, None, lambda _: "wrong", p4_factory=fake.p4, out=lines.append)
    assert code == 1 and lines[-1] == "p4-main: login failed (auth)"
    code = await login(config, "nope", prompt, p4_factory=fake.p4, out=lines.append)
    assert code == 2


# ------------------------------------------------------------------ as the old monitor measured

ROLE_STREAMS = [
    {"Stream": "//depot/main", "Type": "mainline", "Name": "main", "Paths": ["share ..."]},
    {
        "Stream": "//depot/role-client",
        "Type": "development",
        "Name": "role-client",
        "Parent": "//depot/main",
        "Paths": ["share ...", "import lib/... //libs/core/...", "exclude docs/..."],
    },
    {
        "Stream": "//depot/role-src",
        "Type": "virtual",
        "Name": "role-src",
        "Parent": "//depot/role-client",
        "Paths": ["share src/...", "share lib/..."],
    },
    {"Stream": "//depot/role-server", "Type": "development", "Name": "role-server"},
]
ROLE_FILES = {
    "//depot/main/a.c": (100, "add"),
    "//depot/role-client/src/x.c": (10, "edit"),
    "//depot/role-client/src/gone.c": (5000, "delete"),
    "//depot/role-client/docs/manual.pdf": (900, "add"),
    "//depot/role-client/README": (1, "add"),
    "//libs/core/core.h": (20, "add"),
    "//depot/role-server/srv.go": (70, "add"),
}


def role_config(mask: str = "*role*", timeout: str = "5s") -> str:
    return config_text(mask).replace("timeout: 5s", f"timeout: {timeout}")


async def test_name_mask_measures_views_and_one_failing_stream_keeps_its_value(http, monkeypatch):
    fake = FakeServer(streams=[dict(s) for s in ROLE_STREAMS], files=dict(ROLE_FILES))
    exporter = await start(fake, role_config(timeout="1s"), monkeypatch)
    api = f"{exporter.url}/api/v1/p4"
    gate = threading.Event()
    try:
        await eventually(
            lambda: exporter.metrics["vigil_p4_server_up"].get(["p4-main"]) == 1, timeout=10
        )
        m = await scrape(http, exporter.url)
        sizes = {lab["stream"]: v for lab, v in m["vigil_p4_stream_size_bytes"]}
        files = {lab["stream"]: v for lab, v in m["vigil_p4_stream_files"]}
        # by name, filtered by the server: main is not a "role" stream
        assert ("streams", ("-F", "Name=*role*")) in [c[1:] for c in fake.calls]
        # the view: import counted, excluded docs and the deleted head not; the virtual stream
        # measured through its view (its parent's src/ and lib/)
        assert sizes == {
            "//depot/role-client": 10 + 1 + 20,
            "//depot/role-src": 10 + 20,
            "//depot/role-server": 70,
        }
        assert files == {"//depot/role-client": 3, "//depot/role-src": 2, "//depot/role-server": 1}
        first = {lab["stream"]: v for lab, v in m["vigil_p4_stream_last_update_timestamp_seconds"]}

        # the next refresh: one stream refused, one hanging past the timeout, one grown
        fake.denied.add("//depot/role-client")
        fake.block["sizes //depot/role-src"] = gate
        fake.files["//depot/role-server/new.go"] = (5, "add")
        await asyncio.sleep(0.01)  # a later clock for the grown stream's timestamp
        async with http.post(f"{api}/refresh/p4-main", headers=AUTH) as resp:
            job = await resp.json()

        async def done():
            async with http.get(f"{exporter.url}/api/v1/jobs/{job['id']}") as resp:
                body = await resp.json()
            return body if body["state"] != "running" else None

        finished = await eventually(done, timeout=15)
        assert finished["state"] == "done"
        assert finished["detail"]["failed"] == {
            "//depot/role-client": "permission",
            "//depot/role-src": "timeout",
        }
        m = await scrape(http, exporter.url)
        sizes = {lab["stream"]: v for lab, v in m["vigil_p4_stream_size_bytes"]}
        updated = {
            lab["stream"]: v for lab, v in m["vigil_p4_stream_last_update_timestamp_seconds"]
        }
        # the failing streams keep their last figures and the time they were measured
        assert sizes == {
            "//depot/role-client": 31,
            "//depot/role-src": 30,
            "//depot/role-server": 75,
        }
        assert updated["//depot/role-client"] == first["//depot/role-client"]
        assert updated["//depot/role-src"] == first["//depot/role-src"]
        assert updated["//depot/role-server"] > first["//depot/role-server"]
        assert value(m, "vigil_p4_server_up", server="p4-main") == 1
        for reason in ("permission", "timeout"):
            errors = value(
                m, "vigil_probe_errors_total", source="p4", check="p4-main", reason=reason
            )
            assert errors == 1, reason
    finally:
        gate.set()
        await exporter.stop()


async def test_path_mask_still_works_and_an_empty_view_is_counted(http, monkeypatch):
    fake = FakeServer(streams=[dict(s) for s in ROLE_STREAMS], files=dict(ROLE_FILES))
    fake.files.pop("//depot/role-server/srv.go")  # role-server: nothing in its view
    exporter = await start(fake, role_config("//depot/role-*"), monkeypatch)
    try:
        await eventually(
            lambda: exporter.metrics["vigil_p4_server_up"].get(["p4-main"]) == 1, timeout=10
        )
        m = await scrape(http, exporter.url)
        assert ("streams", ("//depot/role-*",)) in [c[1:] for c in fake.calls]
        sizes = {lab["stream"]: v for lab, v in m["vigil_p4_stream_size_bytes"]}
        assert sizes == {"//depot/role-client": 31, "//depot/role-src": 30}
        errors = value(
            m, "vigil_probe_errors_total", source="p4", check="p4-main", reason="empty_view"
        )
        assert errors == 1
    finally:
        await exporter.stop()


OLD_SERVERS_YAML = """# config/servers.yaml
servers:
  - name: "Production Server"          # Человеко-читаемое имя сервера
    p4port: "ssl:p4.example:1666"
    p4user: "p4monitor"
    password: "{password}"
    stream_mask: "*role*"

  - name: "Development Server"
    p4port: "p4-server2:1666"
    p4user: "p4monitor"
"""


def test_old_servers_file_is_read_as_it_is_and_check_config_says_the_mask_form(tmp_path):
    import subprocess
    import sys

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "servers.yaml").write_text(
        OLD_SERVERS_YAML.format(password=PASSWORD), encoding="utf-8"
    )
    (tmp_path / "vigil.yml").write_text(
        'listen: "127.0.0.1:0"\np4:\n  servers_file: config/servers.yaml\n'
        "  servers:\n    - name: p4-new\n      p4port: p4:1666\n      p4user: build\n"
        '      stream_mask: "//depot/*"\n',
        encoding="utf-8",
    )
    from exporter.config import load_config

    config = load_config(tmp_path / "vigil.yml")
    by_name = {s.name: s for s in config.p4.servers}
    assert list(by_name) == ["p4-new", "Production Server", "Development Server"]
    assert by_name["Production Server"].stream_mask == "*role*"
    assert by_name["Production Server"].password.reveal() == PASSWORD
    assert by_name["Development Server"].stream_mask == "*role*"  # the old monitor's default
    assert by_name["Development Server"].password is None

    out = subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", "-c", str(tmp_path / "vigil.yml")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "server Production Server: stream_mask '*role*' read as a stream name pattern" in out
    assert 'p4 streams -F "Name=*role*"' in out
    assert "server p4-new: stream_mask '//depot/*' read as a stream path pattern" in out
    assert f"servers_file {tmp_path / 'config' / 'servers.yaml'}" in out
    assert PASSWORD not in out

    # a mistake in the old file names that file and its line
    (tmp_path / "config" / "servers.yaml").write_text(
        "servers:\n  - name: x\n    p4port: p:1\n    p4user: u\n    stream_mask: /depot/x\n",
        encoding="utf-8",
    )
    bad = subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", "-c", str(tmp_path / "vigil.yml")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "servers.yaml:5: servers[0].stream_mask: starts with a single '/'" in bad.stderr


async def test_p4_login_uses_the_old_files_password(tmp_path):
    from exporter.config import load_config
    from exporter.sources.p4.source import login

    (tmp_path / "servers.yaml").write_text(
        OLD_SERVERS_YAML.format(password=PASSWORD), encoding="utf-8"
    )
    (tmp_path / "vigil.yml").write_text("p4:\n  servers_file: servers.yaml\n", encoding="utf-8")
    config = load_config(tmp_path / "vigil.yml").p4
    fake = FakeServer(password=PASSWORD, logged_in=False)
    lines: list[str] = []

    def prompt(text: str) -> str:
        raise AssertionError("the password comes from the file")

    code = await login(config, "Production Server", prompt, p4_factory=fake.p4, out=lines.append)
    assert code == 0 and fake.logged_in
    assert lines == ["Production Server: logged in as p4monitor; ticket valid for 12.0 h"]
