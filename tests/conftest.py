"""Shared fixtures: a simulated RT API and an exporter talking to it over real loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import parse_config
from exporter.service import Exporter
from exporter.simulate.fleet import SimulatedFleet
from exporter.simulate.rt_api import CLOCK_KEY, FAULTS_KEY, serve_rt_api

API_KEY = "sekret-RT-key-5b1f0c"
START = 1_790_000_000.0  # a fixed fleet start keeps every simulated fact reproducible


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_binary(name: str) -> str:
    """The path of a real component; under CI a missing one is a failure, never a skip."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install it; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


class Sim:
    def __init__(self, fleet: SimulatedFleet, runner, port: int) -> None:
        self.fleet = fleet
        self.runner = runner
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.api_url = f"{self.url}/api"

    @property
    def faults(self):
        return self.runner.app[FAULTS_KEY]

    def truth(self) -> dict:
        return self.fleet.truth(self.runner.app[CLOCK_KEY]())


class FakeClock:
    """A wall clock the test moves by hand, shared by the simulator and the exporter."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@asynccontextmanager
async def serve_app(app):
    """Serve an aiohttp app on a free loopback port; yields its base URL."""
    from aiohttp import web

    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def simulator(
    cameras: int = 120,
    seed: int = 7,
    api_key: str | None = API_KEY,
    clock: Callable[[], float] = time.time,
):
    fleet = SimulatedFleet(cameras=cameras, seed=seed, flap_period=0, start=START)
    port = free_port()
    runner = await serve_rt_api(fleet, "127.0.0.1", port, api_key=api_key, clock=clock)
    try:
        yield Sim(fleet, runner, port)
    finally:
        await runner.cleanup()


def exporter_yaml(api_url: str, **rt_overrides: str) -> str:
    rt = {
        "url": api_url,
        "api_key": "${RT_API_KEY}",
        "inventory_interval": "1s",
        "baked_archives_interval": "1s",
        "timeout": "2s",
        "max_retries": "1",
        "page_size": "17",
        "archive_interval": "1h",
    }
    rt.update(rt_overrides)
    body = "\n".join(
        f'  {k}: "{v}"' if k in ("url", "api_key") else f"  {k}: {v}" for k, v in rt.items()
    )
    return f'listen: "127.0.0.1:0"\nlog_level: debug\nrt_api:\n{body}\n'


@asynccontextmanager
async def started_exporter(config, **options):
    """An Exporter for `config` (options as Exporter takes them), started, stopped on exit."""
    exporter = Exporter(config, **options)
    await exporter.start()
    try:
        yield exporter
    finally:
        await exporter.stop()


@asynccontextmanager
async def running_exporter(
    api_url: str,
    api_key: str = API_KEY,
    clock: Callable[[], float] = time.time,
    **rt_overrides: str,
):
    config = parse_config(exporter_yaml(api_url, **rt_overrides), env={"RT_API_KEY": api_key})
    async with started_exporter(config, clock=clock, backoff_base=0.05) as exporter:
        yield exporter


async def settled(exporter: Exporter) -> None:
    """Wait until every check has finished its first run, so faults set next hit only later runs."""
    await eventually(lambda: all(st.runs for st in exporter.scheduler.statuses()), timeout=30)


@asynccontextmanager
async def running_prometheus(tmp_path, config: dict, storage, *extra_args: str):
    """A real Prometheus on loopback; yields `query(expr, at=None)` -> result list or None."""
    import subprocess

    import yaml

    binary = require_binary("prometheus")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={storage}",
                f"--web.listen-address=127.0.0.1:{port}",
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port}/api/v1/query"
    try:
        async with aiohttp.ClientSession() as http:

            async def query(expr: str, at: float | None = None):
                if proc.poll() is not None:
                    raise AssertionError(f"prometheus exited:\n{log_path.read_text()[-2000:]}")
                params = {"query": expr} if at is None else {"query": expr, "time": str(at)}
                try:
                    async with http.get(api, params=params) as resp:
                        if resp.status != 200:
                            return None
                        data = await resp.json()
                except aiohttp.ClientError:
                    return None
                return data["data"]["result"]

            yield query
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class RedisServer:
    """redis-server on a loopback port, without persistence; can be stopped and started again."""

    def __init__(self, binary: str, workdir) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - kept open by the child
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError((self.workdir / "redis.log").read_text()[-2000:])
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not answer PING within 10s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
async def sim():
    async with simulator() as s:
        yield s


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


Samples = dict[str, list[tuple[dict[str, str], float]]]


async def scrape(session: aiohttp.ClientSession, base_url: str) -> Samples:
    async with session.get(f"{base_url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    for got, v in samples.get(name, []):
        if all(got.get(k) == want for k, want in labels.items()):
            return v
    return None


async def eventually(predicate: Callable[[], object], timeout: float = 10.0, step: float = 0.1):
    """Wait until predicate() (sync or async) is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster for the whole session (tests.postgres.PostgresServer)."""
    from tests.postgres import PostgresServer

    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
