"""`vigil demo`, the README's first command: everything it prints answers, and Ctrl-C stops it all."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from exporter.simulate.postgres import find_bindir
from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parent.parent


LOGIN: dict[str, str] = {}  # the exporter's basic auth, as the demo prints it


def get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if "exporter" in LOGIN and url.startswith(LOGIN["exporter"]):
        token = base64.b64encode(f"{LOGIN['user']}:{LOGIN['password']}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def test_demo_serves_every_printed_url_and_stops_on_ctrl_c():
    require_binary("prometheus")
    require_binary("prometheus-alertmanager")
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "demo", "--cameras", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    urls: dict[str, str] = {}
    printed: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line)
            match = re.match(r"\s+(\w[\w ]*?)\s+(http://\S+)", line)
            if match:
                urls[match.group(1)] = match.group(2)
            login = re.match(r"\s+Login\s+user (\S+), password (\S+)", line)
            if login:
                LOGIN.update(user=login.group(1), password=login.group(2))
            if line.startswith("Press Ctrl-C"):
                break
        assert {"Exporter", "Metrics", "Simulated API", "Prometheus", "Alertmanager"} <= set(urls)
        # every page of the exporter asks for the printed login (a browser opens /evidence)
        assert get(urls["Exporter"])[0] == 401
        LOGIN["exporter"] = urls["Exporter"].rstrip("/")
        status, page = get(urls["Exporter"])
        assert status == 200 and f'href="{urls["Prometheus"].rstrip("/")}"' in page
        assert get(urls["Evidence"])[0] == 200
        # the history was loaded before Prometheus started, and the report command is printed
        history = next(line for line in printed if line.strip().startswith("History"))
        assert "30 days of history" in history and "50 cameras" in history
        report = next(line for line in printed if line.strip().startswith("30-day report"))
        assert f"--prometheus {urls['Prometheus'].rstrip('/')} --days 30" in report

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, body = get(urls["Prometheus"] + "api/v1/query?query=count(vigil_camera_info)")
            if status == 200 and '"50"' in body:
                break
            time.sleep(1)
        else:
            raise AssertionError("Prometheus never saw the 50 simulated cameras")
        # one sample per camera and day, a day back and older (what the demo scraped is newer)
        days = (
            "count_over_time(vigil_camera_archive_coverage_ratio{window=%22yesterday%22}[30d]"
            "%20offset%201d)"
        )
        status, body = get(f"{urls['Prometheus']}api/v1/query?query=count({days}%20%3E=%2028)")
        assert status == 200 and '"50"' in body, body
        assert get(urls["Metrics"])[0] == 200
        # the demo's cameras on the network: 8 answer, 2 do not, within one 15 s interval
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            text = get(urls["Metrics"])[1]
            tcp = re.findall(
                r'vigil_camera_probe_success\{camera="lan-cam-\d+",check="tcp"\} (\d)', text
            )
            if len(tcp) == 10:
                break
            time.sleep(1)
        assert sorted(tcp) == ["0"] * 2 + ["1"] * 8
        status, listing = get(urls["Camera API"])
        assert status == 200 and "lan-cam-01" in listing
        # frame checks: the dark snapshot camera is reported black, the healthy one is not
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            text = get(urls["Metrics"])[1]
            black = dict(
                re.findall(
                    r'vigil_camera_frame_problem\{camera="(lan-cam-0[12])",problem="black"\} (\d)',
                    text,
                )
            )
            if len(black) == 2:
                break
            time.sleep(1)
        assert black == {"lan-cam-01": "0", "lan-cam-02": "1"}
        # the simulated Perforce servers: five streams each match the masks, and //depot/*
        # also the virtual stream, measured through its view
        text = get(urls["Metrics"])[1]
        p4 = re.findall(
            r'vigil_p4_stream_size_bytes\{server="(p4-sim-[ab])",stream="[^"]+"\}', text
        )
        assert sorted(set(p4)) == ["p4-sim-a", "p4-sim-b"] and len(p4) == 11
        assert get(urls["Alertmanager"] + "-/ready")[0] == 200
        assert get(urls["Simulated API"].split("  ")[0] + "/v1/health.json")[0] == 200
        # the simulated analytics platform (PostgreSQL is installed: required under CI)
        # (without it, outside CI, the demo says so and goes on)
        if find_bindir() is not None or os.environ.get("CI"):
            assert "Analytics API" in urls
            assert get(urls["Analytics API"])[0] == 200
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                text = get(urls["Metrics"])[1]
                active = re.search(
                    r'vigil_analytics_scenarios\{platform="vap-demo",status="active"\} (\d+)', text
                )
                if active:
                    break
                time.sleep(1)
            assert active and int(active.group(1)) > 0
            assert 'vigil_source_up{source="analytics",instance="vap-demo"} 1' in text

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # let it stop its Prometheus and Alertmanager
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    # nothing the demo started is left listening
    LOGIN.clear()
    for url in urls.values():
        assert get(url)[0] == 0, url


# -- the analytics platform on a PostgreSQL server given by URL (docker compose's `postgres`) -----


def start_demo(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    """`vigil demo` without Prometheus and login; (process, lines printed up to its URLs)."""
    argv = ["demo", "--no-prometheus", "--no-login", "--cameras", "20", *args]
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path), **(env or {})},
    )
    printed: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        printed.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    return proc, printed


def stop_demo(proc: subprocess.Popen, printed: list[str], how=signal.SIGINT) -> int:
    """Stop it with `how`; what it printed meanwhile joins `printed`; its exit code."""
    if proc.poll() is None:
        proc.send_signal(how)
    try:
        rest, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
    printed.append(rest or "")
    return proc.returncode


def objects(server) -> tuple[set[str], set[str]]:
    """The server's databases and login-capable roles, by name."""
    databases = {r["datname"] for r in server.sql("SELECT datname FROM pg_database")}
    roles = {r["rolname"] for r in server.sql("SELECT rolname FROM pg_roles")}
    return databases, roles


def test_demo_runs_its_analytics_platform_on_a_postgresql_server_given_by_url(tmp_path):
    """`vigil demo --analytics-server URL` (or $VIGIL_DEMO_ANALYTICS_SERVER): the platform's
    database and read-only role are made on that server, the exporter's /metrics has every
    analytics family, a killed demo's leftovers are made again by the next, a stopped demo takes
    them away, nothing else on the server is touched, and the admin password is never shown."""
    from exporter.sources.analytics.metrics import FAMILIES
    from tests.postgres import PostgresServer

    server = PostgresServer()
    with server:
        admin = server.dsn  # postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres
        server.sql("CREATE DATABASE platform_prod")  # someone else's, on the same server
        server.create_role("platform_app", "not-the-demos")
        before = objects(server)
        printed: list[str] = []

        # a demo killed with SIGKILL leaves its database and role behind
        proc, lines = start_demo(tmp_path, "--analytics-server", admin)
        printed += lines
        where = f"(PostgreSQL: database vigil_demo_analytics on 127.0.0.1:{server.port})"
        assert any(line.rstrip().endswith(where) for line in lines), lines
        assert stop_demo(proc, printed, signal.SIGKILL) == -signal.SIGKILL
        databases, roles = objects(server)
        assert "vigil_demo_analytics" in databases and "vigil_demo_reader" in roles

        # the next one (given the URL by the environment, as compose does) makes them again
        proc, lines = start_demo(tmp_path, env={"VIGIL_DEMO_ANALYTICS_SERVER": admin})
        printed += lines
        url = next(re.search(r"http://\S+", line).group(0) for line in lines if "Metrics" in line)
        wanted = [f'{family.name}{{platform="vap-demo"' for family in FAMILIES]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = get(url)[1]
            if all(series in text for series in wanted):
                break
            time.sleep(1)
        missing = [w for w in wanted if w not in text]
        assert not missing, f"analytics families missing from /metrics: {missing}"
        active = re.search(
            r'vigil_analytics_scenarios\{platform="vap-demo",status="active"\} (\d+)', text
        )
        assert active and int(active.group(1)) > 0
        assert 'vigil_source_up{source="analytics",instance="vap-demo"} 1' in text
        # read through the demo's read-only role, on the server the URL names
        readers = server.sql(
            "SELECT count(*) AS n FROM pg_stat_activity"
            " WHERE usename = 'vigil_demo_reader' AND datname = 'vigil_demo_analytics'"
        )
        assert readers[0]["n"] >= 1
        pages = [get(url.replace("/metrics", path))[1] for path in ("/", "/metrics")]
        assert all(server.password not in page for page in pages)

        # a stopped demo leaves the server as it found it
        assert stop_demo(proc, printed) == 0
        assert objects(server) == before

        # a database of that name the demo did not make is refused and left alone
        server.sql("CREATE DATABASE vigil_demo_analytics")
        proc, lines = start_demo(tmp_path, env={"VIGIL_DEMO_ANALYTICS_SERVER": admin})
        printed += lines
        assert stop_demo(proc, printed) == 1
        assert "vigil_demo_analytics that vigil demo did not make" in "".join(lines), lines
        assert "vigil_demo_analytics" in objects(server)[0]

        # a wrong password: a clear error, and that password is not shown either
        wrong = admin.replace(server.password, "Wr0ng-pa55word")
        proc, lines = start_demo(tmp_path, "--analytics-server", wrong)
        printed += lines
        assert stop_demo(proc, printed) == 1
        assert "password authentication failed" in "".join(lines), lines
        assert not any("Wr0ng-pa55word" in line for line in printed)

    output = "".join(printed)
    assert "Analytics API" in output and server.password not in output
