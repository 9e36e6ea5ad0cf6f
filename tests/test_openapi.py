"""The HTTP API's contract (issue 15): the OpenAPI document at /api/v1/openapi.json describes every
route the app has and nothing else, is a valid OpenAPI 3.1 document in every configuration, agrees
with the server's own validation of a camera registration, and schemathesis, run against a real
exporter with every source that has routes (simulators and fakes behind them), finds no 5xx and no
answer the document does not allow, with the bearer token and without one.

The schemathesis runs are bounded (MAX_EXAMPLES per operation, derandomized, a timeout per test)
and each uses a fresh exporter with its own state file, so nothing one leaves behind changes the
other. The web API is what is under test: cameras that schemathesis registers are never contacted
(probes and frame fetches of any host but loopback fail at once as unreachable).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import bcrypt
import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi

import exporter.sources.frames.source as frames_source
import exporter.sources.network.source as network_source
from exporter.config import parse_config
from exporter.metrics import Metrics
from exporter.recorder import Recorder
from exporter.simulate.snapshots import make_snapshot_app
from exporter.sources import catalogue
from exporter.sources.frames.fetch import FrameFetchError
from exporter.sources.network.errors import ProbeFailed
from exporter.targets import TargetError, target_from_json
from exporter.web import build_app
from exporter.web.auth import PICTURES_KEY
from exporter.web.body import parse_json
from exporter.web.openapi import (
    ACCESS,
    CHANGE,
    DNS_NAME,
    DURATION,
    FRAME_URL,
    NOT_DESCRIBED,
    OPENAPI_PATH,
    OPERATIONS,
    PICTURES,
    READ,
    app_routes,
    document,
)
from exporter.web.results_hub import ResultsHub
from exporter.webconfig import WebSecurity
from tests.conftest import eventually, serve_app, started_exporter
from tests.fake_p4 import FakeServer
from tests.test_analytics_source import insert, make_table
from tests.test_network_api import tcp_listener
from tests.test_web_security import PKI

TOKEN = "openapi-token-3b9d71"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "openapi-Basic-pw"
MAX_EXAMPLES = 30  # per operation and generation phase
OPERATION_TIMEOUT = 60  # seconds per operation (the first also starts the stack)


# --- the document against the router ----------------------------------------------------------


def full_app(security: WebSecurity | None = None):
    """The app of an exporter with every source that has routes (the sources are never called)."""
    metrics = Metrics(catalogue())
    sources = {name: object() for name in ("network", "frames", "p4", "analytics")}
    return build_app(
        metrics,
        Recorder(metrics, time.time),
        sources,  # type: ignore[arg-type]
        security=security or WebSecurity(),
        hub=ResultsHub(),
    )


def test_the_document_describes_every_route_and_nothing_else():
    app = full_app()
    routes = app_routes(app)
    described = set(OPERATIONS)
    missing = routes - described - set(NOT_DESCRIBED)
    assert not missing, f"routes the OpenAPI document does not describe: {sorted(missing)}"
    invented = described - routes
    assert not invented, f"operations the app has no route for: {sorted(invented)}"
    assert set(NOT_DESCRIBED) <= routes  # an exclusion for a route that went away goes too

    # every change is behind the bearer token, and the pictures are what the gate treats as such
    for (method, path), op in OPERATIONS.items():
        assert (op[ACCESS] == CHANGE) == (method != "GET"), (method, path)
    pictures = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource in app[PICTURES_KEY] and route.method != "HEAD"
    }
    assert {key for key, op in OPERATIONS.items() if op[ACCESS] == PICTURES} == pictures - set(
        NOT_DESCRIBED
    )
    # the served document of this app is the whole document
    assert document(routes)["paths"] == document()["paths"]


def _basic_users() -> str:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return f"basic_auth_users:\n  ops: {hashed}\n"


def _web_security(tmp_path: Path, web_config: str | None, token: str) -> WebSecurity:
    """No web config, basic auth users, or TLS verifying client certificates."""
    if web_config is None:
        return WebSecurity(api_token=token)
    text = _basic_users()
    if web_config == "certificates":
        pki = PKI(tmp_path / "pki")
        cert, key, _ = pki.server()
        text = f"""tls_server_config:
  cert_file: {cert}
  key_file: {key}
  client_auth_type: VerifyClientCertIfGiven
  client_ca_file: {pki.ca_file}
"""
    path = tmp_path / "web.yml"
    path.write_text(text)
    return WebSecurity(path, api_token=token)


@pytest.mark.parametrize(
    ("web_config", "token", "read", "pictures"),
    [
        (None, "", None, None),
        (None, TOKEN, None, [{"bearerAuth": []}]),
        ("users", "", [{"basicAuth": []}], [{"basicAuth": []}]),
        ("certificates", "", None, [{"mutualTLS": []}]),
        ("certificates", TOKEN, None, [{"bearerAuth": []}, {"mutualTLS": []}]),
        (
            "users",
            TOKEN,
            [{"basicAuth": []}, {"bearerAuth": []}],
            [{"basicAuth": []}, {"bearerAuth": []}],
        ),
    ],
)
def test_the_document_is_valid_openapi_with_the_security_of_the_web_config(
    tmp_path, web_config, token, read, pictures
):
    security = _web_security(tmp_path, web_config, token)
    served = document(app_routes(full_app(security)), security)
    validate_openapi(served)  # raises with the place of the first error
    for (method, path), op in OPERATIONS.items():
        got = served["paths"][path][method.lower()].get("security")
        change = [{"bearerAuth": []}] if token else None  # without a token: read-only, 403
        want = {READ: read, PICTURES: pictures, CHANGE: change}[op[ACCESS]]
        assert got == want, (method, path)
        responses = served["paths"][path][method.lower()]["responses"]
        assert {"401", "403", "429"} <= set(responses)  # the gate may answer them anywhere


# A camera registration: the document's schema and the server's validation agree on these bodies
REGISTRATIONS = [
    ({"id": "gate-2", "host": "10.0.0.7"}, True),
    ({"id": "a" * 128, "host": "cam.example.org.", "port": 65535, "origin": "api"}, True),
    ({"id": "a" * 129, "host": "cam.example.org"}, False),
    ({"id": "-x", "host": "cam"}, False),
    ({"id": "x", "host": "2001:db8::7", "icmp": "0s", "tcp": "86400s", "frame": 1}, True),
    ({"id": "x", "host": "[2001:db8::7]"}, False),
    ({"id": "x", "host": "10.0.0.256"}, False),
    ({"id": "x", "host": "cam.123"}, False),
    ({"id": "x", "host": "cam-" + "a" * 60 + ".org"}, False),  # a label of 64
    ({"id": "x", "host": "a" + ".a" * 126}, True),  # 253 characters
    ({"id": "x", "host": "a" + ".a" * 127}, False),
    ({"id": "x", "host": "münchen.example"}, False),
    ({"id": "x", "host": "cam", "port": 0}, False),
    ({"id": "x", "host": "cam", "port": "554"}, False),
    ({"id": "x", "host": "cam", "port": 554.0}, True),  # JSON has one kind of number
    ({"id": "x", "host": "cam", "port": 554.5}, False),
    ({"id": "x", "host": "cam", "tcp": "1d"}, True),
    ({"id": "x", "host": "cam", "tcp": "25h"}, False),
    ({"id": "x", "host": "cam", "tcp": "999ms"}, False),
    ({"id": "x", "host": "cam", "tcp": 0.5}, False),
    ({"id": "x", "host": "cam", "tcp": 86400.5}, False),
    ({"id": "x", "host": "cam", "tcp": "30"}, False),
    ({"id": "x", "host": "cam", "tcp": None, "frame_url": None, "rtsp_options": None}, True),
    ({"id": "x", "host": "cam", "frame_url": "rtsp://u:p%40ss@10.0.0.7:554/s1?channel=1"}, True),
    ({"id": "x", "host": "cam", "frame_url": "HTTPS://[2001:db8::7]/snap.jpg"}, True),
    ({"id": "x", "host": "cam", "frame_url": "ftp://10.0.0.7/x.jpg"}, False),
    ({"id": "x", "host": "cam", "frame_url": "http://10.0.0.7:99999/x.jpg"}, False),
    ({"id": "x", "host": "cam", "frame_url": "http://u:p@ss@10.0.0.7/a@b"}, False),
    ({"id": "x", "host": "cam", "frame_url": "rtsp://***@10.0.0.7/s1"}, False),
    ({"id": "x", "host": "cam", "frame_url": "http://10.0.0.7/snap?password=***"}, False),
    ({"id": "x", "host": "cam", "frame_url": "http://10.0.0.7/snap pic.jpg"}, False),
    ({"id": "x", "host": "cam", "frame_url": "http://10.0.0.7/" + "x" * 2040}, False),
    ({"id": "x", "host": "cam", "rtsp_options": "yes"}, False),
    ({"id": "x", "host": "cam", "origin": "config"}, False),
    ({"id": "x", "host": "cam", "colour": "red"}, False),
    ({"host": "cam"}, False),
    (["not", "an", "object"], False),
]


@pytest.mark.parametrize(("body", "valid"), REGISTRATIONS)
def test_the_registration_schema_and_the_server_agree(body, valid):
    schema = document()["components"]["schemas"]["CameraRegistration"]
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    schema_says = validator.is_valid(body)
    try:
        target_from_json(parse_json(json.dumps(body).encode()))  # what the server does
        server_says = True
    except TargetError:
        server_says = False
    assert (schema_says, server_says) == (valid, valid)


PATTERNS = {
    "host": st.from_regex(DNS_NAME, fullmatch=True),
    "tcp": st.from_regex(DURATION, fullmatch=True),
    "frame_url": st.from_regex(FRAME_URL, fullmatch=True),
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_what_the_patterns_allow_the_server_accepts(name):
    """Patterns too complex to check by a few examples, checked the way schemathesis uses them."""

    @given(PATTERNS[name])
    @settings(
        max_examples=100,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def accepted(value):
        target_from_json({"id": "x", "host": "cam", name: value})

    accepted()


async def test_an_exporter_describes_only_its_own_routes_and_serves_it_like_other_reads(tmp_path):
    web = tmp_path / "web.yml"
    web.write_text(_basic_users())
    text = f"""listen: "127.0.0.1:0"
web_config_file: {web}
api_token: ${{VIGIL_API_TOKEN}}
cameras:
  icmp: 0s
  tcp: 0s
  targets: []
"""
    config = parse_config(text, env={"VIGIL_API_TOKEN": TOKEN})
    async with started_exporter(config) as exporter, aiohttp.ClientSession() as http:
        url = f"{exporter.url}{OPENAPI_PATH}"
        async with http.get(url) as resp:
            assert resp.status == 401  # basic auth covers every path, this one too
        basic = base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
        for headers in ({"Authorization": f"Basic {basic}"}, AUTH):
            async with http.get(url, headers=headers) as resp:
                assert resp.status == 200
                assert resp.content_type == "application/json"
                served = await resp.json()
        routes = app_routes(exporter._runner.app)
    validate_openapi(served)
    described = {
        (method.upper(), path) for path, item in served["paths"].items() for method in item
    }
    assert described == routes - set(NOT_DESCRIBED)
    assert ("POST", "/api/v1/cameras") in described
    assert not any(path.startswith(("/api/v1/p4", "/evidence")) for _, path in described)
    assert served["paths"]["/api/v1/cameras"]["get"]["security"] == [
        {"basicAuth": []},
        {"bearerAuth": []},
    ]


# --- schemathesis against a real exporter ---------------------------------------------------


@dataclass
class Stack:
    url: str
    job: str = ""  # a finished refresh
    evidence: str = ""  # the key of a kept frame
    http: requests.Session = field(default_factory=requests.Session)


def _loopback(host: str | None) -> bool:
    return host in ("127.0.0.1", "localhost")


@contextlib.contextmanager
def cameras_never_contacted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Probes and frame fetches of hosts other than loopback fail at once: schemathesis registers
    cameras at made-up addresses, which the test must not reach out to."""
    real_tcp, real_resolve = network_source.tcp_probe, network_source.resolve
    real_fetch = frames_source.fetch_frame

    async def tcp_probe(host, port, timeout, **kwargs):
        if not _loopback(host):
            raise ProbeFailed("unreachable", f"{host} is not contacted in this test")
        return await real_tcp(host, port, timeout, **kwargs)

    async def resolve(host, *args, **kwargs):
        if not _loopback(host):
            raise ProbeFailed("dns", f"{host} is not contacted in this test")
        return await real_resolve(host, *args, **kwargs)

    async def fetch_frame(session, url, timeout, executor=None):
        if not _loopback(urlsplit(url).hostname):
            raise FrameFetchError("connection", "not contacted in this test")
        return await real_fetch(session, url, timeout, executor)

    monkeypatch.setattr(network_source, "tcp_probe", tcp_probe)
    monkeypatch.setattr(network_source, "resolve", resolve)
    monkeypatch.setattr(frames_source, "fetch_frame", fetch_frame)
    yield


def stack_yaml(tmp: Path, *, token: bool, open_port: int, snapshots: str, table: str) -> str:
    return f"""listen: "127.0.0.1:0"
{"api_token: ${VIGIL_API_TOKEN}" if token else ""}
cameras:
  icmp: 0s
  tcp: 1s
  frame: 1s
  timeout: 1s
  state_file: {tmp / "cameras.json"}
  targets:
    - id: gate
      host: 127.0.0.1
      port: {open_port}
    - id: hall
      host: 127.0.0.1
      frame_url: "{snapshots}/cam/dark.jpg"
frames:
  timeout: 5s
  workers: 1
  evidence:
    directory: {tmp / "evidence"}
p4:
  servers:
    - name: p4-main
      p4port: ssl:p4.example:1666
      p4user: build
      stream_mask: "//depot/*"
      interval: 1h
analytics:
  platforms:
    - name: vap
      dsn: ${{ANALYTICS_DSN}}
      table: {table}
      interval: 1s
      statement_timeout: 2s
      connect_timeout: 2s
      stuck_after: 1m
      predictions_stale_after: 1h
"""


@asynccontextmanager
async def vigil_stack(tmp: Path, postgres, *, token: bool):
    """A started exporter with cameras, frames, Perforce and analytics, each with data behind it:
    a camera with an open TCP port (`gate`), one filming black (`hall`, evidence kept), a fake
    Perforce server with a finished refresh, and a PostgreSQL table with stuck scenarios."""
    table = await make_table(postgres)
    await insert(postgres, table, "init_startup_processing", 2, age=600)
    await insert(postgres, table, "active", 3)
    fake = FakeServer(sizes={"//depot/main": (3, 3000), "//depot/dev-alice": (1, 10)})
    async with serve_app(make_snapshot_app()) as snapshots, tcp_listener() as open_port:
        text = stack_yaml(tmp, token=token, open_port=open_port, snapshots=snapshots, table=table)
        config = parse_config(text, env={"VIGIL_API_TOKEN": TOKEN, "ANALYTICS_DSN": postgres.dsn})
        async with started_exporter(config, p4_factory=fake.p4) as exporter:
            frames, p4 = exporter.source("frames"), exporter.source("p4")
            analytics = exporter.source("analytics")

            async def evidence():
                return await frames.latest_evidence("hall")

            kept = await eventually(evidence, timeout=30)

            def refreshed():
                with contextlib.suppress(Exception):  # Busy while the first poll runs
                    return p4.start_refresh("p4-main")
                return None

            job = await eventually(refreshed, timeout=10)
            await eventually(lambda: p4.job(job.id).state != "running", timeout=10)
            await eventually(lambda: (analytics.problems("vap") or {}).get("stuck_total"))
            await eventually(lambda: exporter.recorder.ready, timeout=30)
            yield Stack(exporter.url, job=job.id, evidence=kept[0].key)


@contextlib.contextmanager
def in_a_thread(factory) -> Iterator[Any]:
    """Run the async context manager `factory()` on its own event loop in a thread (schemathesis
    calls the API synchronously); yields what it yields."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}
    stop: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        try:
            async with factory() as value:
                box["value"] = value
                ready.set()
                await stop.wait()
        except BaseException as exc:
            box.setdefault("error", exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(90), "the exporter did not start within 90 s"
        if "error" in box:
            raise box["error"]
        yield box["value"]
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
    if "error" in box:
        raise box["error"]


@contextlib.contextmanager
def running_stack(tmp: Path, postgres, *, token: bool) -> Iterator[Stack]:
    """The stack in a thread; at the end, no error may have been logged (a handler that raised
    shows as aiohttp's "Error handling request", a crashed check as the source's error)."""
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        with (
            pytest.MonkeyPatch.context() as monkeypatch,
            cameras_never_contacted(monkeypatch),
            in_a_thread(lambda: vigil_stack(tmp, postgres, token=token)) as stack,
        ):
            served = stack.http.get(f"{stack.url}{OPENAPI_PATH}", timeout=10).json()
            # what schemathesis runs on (built below, at import) is what this exporter serves
            assert served == DOCUMENTS[token]
            with stack.http:
                yield stack
    finally:
        logging.getLogger().removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def stack_with_token(tmp_path_factory, postgres):
    with running_stack(tmp_path_factory.mktemp("token"), postgres, token=True) as stack:
        yield stack


@pytest.fixture(scope="module")
def stack_without_token(tmp_path_factory, postgres):
    with running_stack(tmp_path_factory.mktemp("anonymous"), postgres, token=False) as stack:
        yield stack


# values that exist in the stacks above, so schemathesis also reaches the answers behind them
EXAMPLES = {
    ("/api/v1/cameras/{id}", "id"): "gate",
    ("/api/v1/cameras/{id}/reference/reset", "id"): "hall",
    ("/probe", "target"): "gate",
    ("/evidence/{camera}/latest", "camera"): "hall",
    ("/evidence/{camera}/latest", "problem"): "black",
    ("/api/v1/p4/refresh/{server}", "server"): "p4-main",
    ("/api/v1/p4/refresh/{server}/{stream}", "server"): "p4-main",
    ("/api/v1/p4/refresh/{server}/{stream}", "stream"): "depot/main",
    ("/api/v1/analytics/{platform}/stuck", "platform"): "vap",
    ("/api/v1/search", "q"): "hal",
    ("/", "q"): "gate",
}
REGISTRATION = {"id": "lobby", "host": "127.0.0.1", "tcp": "5s"}


def with_examples(served: dict) -> dict:
    """A document plus examples of this test's fixtures (nothing else changes)."""
    doc = copy.deepcopy(served)
    for path, item in doc["paths"].items():
        for op in item.values():
            for parameter in op.get("parameters", []):
                value = EXAMPLES.get((path, parameter["name"]))
                if value is not None:
                    parameter["examples"] = {"fixture": {"value": value}}
            if "requestBody" in op:
                media = op["requestBody"]["content"]["application/json"]
                media["examples"] = {"fixture": {"value": REGISTRATION}}
    return doc


# the documents of the two stacks: every source, no web config, with and without an api_token
DOCUMENTS = {
    True: document(None, WebSecurity(api_token=TOKEN)),
    False: document(None, WebSecurity()),
}


def _schema(served: dict):
    """Schemathesis on the document an exporter with every source serves (the
    fixtures check that the running exporter serves exactly this)."""
    return schemathesis.openapi.from_dict(with_examples(served))


# schemathesis' lazy pytest loader (from_fixture) does not work with pytest 9 (it sets a private
# node id), so the schema is built here, from the document, and the fixture brings the server
with_token = _schema(DOCUMENTS[True])
without_token = _schema(DOCUMENTS[False])

# schemathesis' own strategies use `random` (seeded by Hypothesis, so still deterministic)
QUIET = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)
BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@QUIET
@pytest.mark.timeout(OPERATION_TIMEOUT)
@with_token.parametrize()
@BOUNDED
def test_schemathesis_finds_nothing_with_the_token(case, stack_with_token):
    case.call_and_validate(
        base_url=stack_with_token.url, session=stack_with_token.http, headers=AUTH, timeout=10
    )


@QUIET
@pytest.mark.timeout(OPERATION_TIMEOUT)
@without_token.parametrize()
@BOUNDED
def test_schemathesis_finds_nothing_without_a_token(case, stack_without_token):
    case.call_and_validate(
        base_url=stack_without_token.url, session=stack_without_token.http, timeout=10
    )


@pytest.mark.parametrize(
    ("schema", "stack", "headers"),
    [
        (with_token, "stack_with_token", AUTH),
        (without_token, "stack_without_token", {}),
    ],
    ids=["token", "anonymous"],
)
def test_answers_about_things_that_exist_conform_too(schema, stack, headers, request):
    """The ids only the running exporter knows: a finished job, a kept evidence frame."""
    running = request.getfixturevalue(stack)
    cases = [
        schema["/api/v1/jobs/{id}"]["GET"].Case(path_parameters={"id": running.job}),
        schema["/evidence/file/{key}"]["GET"].Case(path_parameters={"key": running.evidence}),
        schema["/evidence/{camera}/latest"]["GET"].Case(
            path_parameters={"camera": "hall"}, query={"problem": "black"}
        ),
    ]
    statuses = [
        case.call_and_validate(
            base_url=running.url, session=running.http, headers=headers
        ).status_code
        for case in cases
    ]
    assert statuses == [200, 200, 302]
