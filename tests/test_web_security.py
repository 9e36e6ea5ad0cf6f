"""Safe at the edge: TLS and basic auth from an exporter-toolkit web config, who may see camera
pictures, refused bad headers and bodies, and a shutdown no client can hold up."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from exporter.cli import main as vigil_main
from exporter.config import ConfigError, parse_config
from exporter.service import STOP_TIMEOUT
from exporter.web.body import MAX_BODY_BYTES, MAX_DEPTH, BodyError, parse_json
from exporter.webconfig import load_web_config, parse_go_duration
from tests.conftest import (
    eventually,
    free_port,
    running_prometheus,
    started_exporter,
)
from tests.fake_p4 import FakeServer

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "edge-token-4c1d9e"
PASSWORD = "s3cret-Scrape-pw"
P4_PASSWORD = "p4-pass-Edge1"


# --- certificates and hashes made for the test ----------------------------------------------


class PKI:
    """A CA, a server certificate for 127.0.0.1/localhost and client certificates, as PEM files."""

    def __init__(self, directory: Path, name: str = "ca") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Vigil test {name}")])
        self.name = subject
        self.cert = (
            self._builder(subject, self.key.public_key())
            .issuer_name(subject)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = self._write(
            f"{name}.pem", self.cert.public_bytes(serialization.Encoding.PEM)
        )

    @staticmethod
    def _builder(subject: x509.Name, public_key) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def _write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        return path

    def issue(self, name: str, *, dns: list[str], ips: list[str] = ()) -> tuple[Path, Path, int]:
        """A certificate signed by this CA: (cert file, key file, serial number)."""
        key = ec.generate_private_key(ec.SECP256R1())
        sans = [x509.DNSName(d) for d in dns] + [
            x509.IPAddress(ipaddress.ip_address(i)) for i in ips
        ]
        cert = (
            self._builder(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key.public_key()
            )
            .issuer_name(self.name)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return (
            self._write(f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            self._write(f"{name}.key", key_pem),
            cert.serial_number,
        )

    def server(self, name: str = "server") -> tuple[Path, Path, int]:
        return self.issue(name, dns=["localhost"], ips=["127.0.0.1"])


def bcrypt_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def write_web_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def client_ssl(pki: PKI, cert: tuple[Path, Path, int] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


@asynccontextmanager
async def exporter_with(text: str, **options):
    config = parse_config(text, env={"VIGIL_API_TOKEN": TOKEN})
    async with started_exporter(config, **options) as exporter:
        yield exporter


def exporter_yaml(web_config: Path | None = None, *, token: bool = False, extra: str = "") -> str:
    lines = ['listen: "127.0.0.1:0"']
    if web_config is not None:
        lines.append(f"web_config_file: {web_config}")
    if token:
        lines.append("api_token: ${VIGIL_API_TOKEN}")
    return "\n".join(lines) + "\n" + extra


def frames_yaml(tmp_path: Path) -> str:
    return f"""cameras:
  icmp: 0s
  tcp: 0s
  targets:
    - id: gate
      host: 127.0.0.1
frames:
  evidence:
    directory: {tmp_path / "evidence"}
"""


# --- a real Prometheus scraping over TLS: basic auth, mutual TLS ---------------------------


async def test_prometheus_scrapes_over_tls_with_basic_auth_and_client_certificates(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    pki = PKI(tmp_path / "pki")
    server = pki.server()
    prometheus_cert = pki.issue("prometheus", dns=["prometheus.example"])
    basic_web = write_web_config(
        tmp_path / "basic-web.yml",
        f"""tls_server_config:
  cert_file: pki/server.crt
  key_file: pki/server.key
basic_auth_users:
  prometheus: {bcrypt_hash(PASSWORD)}
""",
    )
    mtls_web = write_web_config(
        tmp_path / "mtls-web.yml",
        f"""tls_server_config:
  cert_file: {server[0]}
  key_file: {server[1]}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: {pki.ca_file}
  min_version: TLS12
""",
    )
    async with (
        exporter_with(exporter_yaml(basic_web)) as basic_exporter,
        exporter_with(exporter_yaml(mtls_web)) as mtls_exporter,
    ):
        assert basic_exporter.url.startswith("https://")

        def job(name: str, exporter, **extra) -> dict:
            tls = {"ca_file": str(pki.ca_file), **extra.pop("tls", {})}
            return {
                "job_name": name,
                "scheme": "https",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "tls_config": tls,
                "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}],
                **extra,
            }

        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                job(
                    "basic",
                    basic_exporter,
                    basic_auth={"username": "prometheus", "password": PASSWORD},
                ),
                job(
                    "wrong-password",
                    basic_exporter,
                    basic_auth={"username": "prometheus", "password": "not-it"},
                ),
                job("no-password", basic_exporter),
                job(
                    "mtls",
                    mtls_exporter,
                    tls={"cert_file": str(prometheus_cert[0]), "key_file": str(prometheus_cert[1])},
                ),
                job("mtls-without-cert", mtls_exporter),
            ],
        }
        async with running_prometheus(tmp_path, config, tmp_path / "tsdb") as query:

            async def ups():
                result = await query("up")
                got = {r["metric"]["job"]: r["value"][1] for r in result or []}
                return got if len(got) == 5 else None

            up = await eventually(ups, timeout=30)
            assert up == {
                "basic": "1",
                "wrong-password": "0",
                "no-password": "0",
                "mtls": "1",
                "mtls-without-cert": "0",
            }
            # what Prometheus scraped over TLS is Vigil's metrics
            built = await eventually(lambda: query('vigil_build_info{job="basic"}'), timeout=10)
            assert built and built[0]["value"][1] == "1"
        # the exporter itself answered Prometheus's scrapes without the right password with 401
        answers = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
        scrapes = [a for a in answers if "GET /metrics" in a and "Prometheus/" in a]
        assert any('" 401 ' in a for a in scrapes) and any('" 200 ' in a for a in scrapes)
        # bcrypt ran once per password tried, not once per scrape
        assert basic_exporter.security.basic.computed <= 2


async def test_mutual_tls_with_and_without_a_client_certificate(tmp_path):
    pki = PKI(tmp_path / "pki")
    server = pki.server()
    allowed = pki.issue("allowed", dns=["prometheus.example"])
    other_name = pki.issue("other-name", dns=["laptop.example"])
    stranger_ca = PKI(tmp_path / "stranger", "stranger-ca")
    stranger = stranger_ca.issue("stranger", dns=["prometheus.example"])
    web = write_web_config(
        tmp_path / "web.yml",
        f"""tls_server_config:
  cert_file: {server[0]}
  key_file: {server[1]}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: {pki.ca_file}
  client_allowed_sans: [prometheus.example]
""",
    )
    async with exporter_with(exporter_yaml(web)) as exporter, aiohttp.ClientSession() as http:
        url = f"{exporter.url}/metrics"

        async def status(ctx: ssl.SSLContext) -> int | str:
            try:
                async with http.get(url, ssl=ctx) as resp:
                    await resp.read()
                    return resp.status
            except aiohttp.ClientError as exc:
                return type(exc).__name__

        assert await status(client_ssl(pki, allowed)) == 200
        assert not isinstance(await status(client_ssl(pki)), int)  # no certificate: no answer
        assert not isinstance(await status(client_ssl(pki, stranger)), int)  # another CA
        assert await status(client_ssl(pki, other_name)) == 403  # not in client_allowed_sans
        # and plain HTTP gets nowhere on the TLS port
        plain = exporter.url.replace("https://", "http://")
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"{plain}/metrics") as resp:
                await resp.read()


async def negotiated(url: str, ctx: ssl.SSLContext) -> tuple[str, str] | str:
    """(TLS version, cipher) of a new connection, or the error's name."""
    host, port = url.removeprefix("https://").rsplit(":", 1)
    try:
        _, writer = await asyncio.open_connection(host, int(port), ssl=ctx)
    except (ssl.SSLError, OSError) as exc:
        return type(exc).__name__
    try:
        name, version, _ = writer.get_extra_info("ssl_object").cipher()
        return version, name
    finally:
        writer.close()


async def test_tls_versions_and_cipher_suites_of_the_web_config(tmp_path):
    pki = PKI(tmp_path / "pki")
    cert, key, _ = pki.server()
    tls13 = write_web_config(
        tmp_path / "tls13.yml",
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n  min_version: TLS13\n",
    )
    one_suite = write_web_config(
        tmp_path / "suite.yml",
        f"""tls_server_config:
  cert_file: {cert}
  key_file: {key}
  max_version: TLS12
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]
""",
    )
    old_client = client_ssl(pki)
    old_client.maximum_version = ssl.TLSVersion.TLSv1_2
    async with exporter_with(exporter_yaml(tls13)) as exporter:
        assert (await negotiated(exporter.url, client_ssl(pki)))[0] == "TLSv1.3"
        assert isinstance(await negotiated(exporter.url, old_client), str)  # refused
    async with exporter_with(exporter_yaml(one_suite)) as exporter:
        # Go's name in the file, OpenSSL's on the wire
        assert await negotiated(exporter.url, client_ssl(pki)) == (
            "TLSv1.2",
            "ECDHE-ECDSA-AES256-GCM-SHA384",
        )


async def test_camera_pictures_need_credentials_when_any_authentication_is_configured(
    tmp_path, caplog
):
    pki = PKI(tmp_path / "pki")
    server = pki.server()
    web = write_web_config(
        tmp_path / "web.yml",
        f"""tls_server_config:
  cert_file: {server[0]}
  key_file: {server[1]}
basic_auth_users:
  ops: {bcrypt_hash(PASSWORD)}
""",
    )
    text = exporter_yaml(web, token=True, extra=frames_yaml(tmp_path))
    caplog.set_level(logging.WARNING, logger="vigil.web")
    async with exporter_with(text) as exporter, aiohttp.ClientSession() as http:
        ctx = client_ssl(pki)

        async def get(path: str, headers: dict | None = None) -> aiohttp.ClientResponse:
            async with http.get(f"{exporter.url}{path}", ssl=ctx, headers=headers) as resp:
                await resp.read()
                return resp

        for path in ("/evidence", "/evidence/gate/latest", "/metrics", "/-/healthy", "/"):
            refused = await get(path)
            assert refused.status == 401, path
            assert refused.headers["WWW-Authenticate"].startswith("Basic")
            assert (await get(path, basic("ops", "wrong"))).status == 401
            assert (await get(path, basic("nobody", PASSWORD))).status == 401
        assert (await get("/evidence", basic("ops", PASSWORD))).status == 200
        assert (await get("/evidence/gate/latest", basic("ops", PASSWORD))).status == 404  # none
        assert (await get("/metrics", basic("ops", PASSWORD))).status == 200
        # the registration API's token is a credential too: its clients need no password
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert (await get("/evidence", bearer)).status == 200
        assert (await get("/api/v1/cameras", bearer)).status == 200

        ws_url = f"{exporter.url}/ws/results"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused_ws:
            await http.ws_connect(ws_url, ssl=ctx)
        assert refused_ws.value.status == 401
        async with http.ws_connect(ws_url, ssl=ctx, headers=basic("ops", PASSWORD)) as ws:
            assert not ws.closed
    assert not [r for r in caplog.records if "served to anyone" in r.getMessage()]


async def test_the_api_token_alone_guards_pictures_and_none_at_all_is_warned_about(
    tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="vigil.web")
    async with (
        exporter_with(exporter_yaml(token=True, extra=frames_yaml(tmp_path))) as exporter,
        aiohttp.ClientSession() as http,
    ):
        assert exporter.url.startswith("http://")
        async with http.get(f"{exporter.url}/evidence") as resp:
            assert resp.status == 401
            assert "WWW-Authenticate" not in resp.headers  # no password would help
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(f"{exporter.url}/evidence", headers=headers) as resp:
            assert resp.status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(f"{exporter.url}/ws/results")
        async with http.get(f"{exporter.url}/metrics") as resp:
            assert resp.status == 200  # metrics stay as the (absent) web config says: open
    assert not [r for r in caplog.records if "served to anyone" in r.getMessage()]

    async with (
        exporter_with(exporter_yaml(extra=frames_yaml(tmp_path))) as exporter,
        aiohttp.ClientSession() as http,
        http.get(f"{exporter.url}/evidence") as resp,
    ):
        assert resp.status == 200
    warned = [r for r in caplog.records if "served to anyone" in r.getMessage()]
    assert warned and warned[0].levelno == logging.WARNING


async def test_a_verified_client_certificate_opens_the_pictures(tmp_path):
    pki = PKI(tmp_path / "pki")
    server = pki.server()
    client = pki.issue("viewer", dns=["viewer.example"])
    web = write_web_config(
        tmp_path / "web.yml",
        f"""tls_server_config:
  cert_file: {server[0]}
  key_file: {server[1]}
  client_auth_type: VerifyClientCertIfGiven
  client_ca_file: {pki.ca_file}
""",
    )
    async with (
        exporter_with(exporter_yaml(web, extra=frames_yaml(tmp_path))) as exporter,
        aiohttp.ClientSession() as http,
    ):
        for ctx, evidence in ((client_ssl(pki, client), 200), (client_ssl(pki), 401)):
            async with http.get(f"{exporter.url}/evidence", ssl=ctx) as resp:
                assert resp.status == evidence
            async with http.get(f"{exporter.url}/metrics", ssl=ctx) as resp:
                assert resp.status == 200


async def raw_request(url: str, method: str, path: str, headers: bytes, body: bytes = b"") -> int:
    """One HTTP/1.1 request with header bytes exactly as given; the answer's status code."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n".encode()
            + headers
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()


async def test_non_ascii_authorization_is_401_on_every_changing_endpoint(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("P4_MAIN_PASSWORD", P4_PASSWORD)
    p4 = """p4:
  servers:
    - name: p4-main
      p4port: ssl:p4.example:1666
      p4user: build
      stream_mask: "//depot/*"
      password_env: P4_MAIN_PASSWORD
      interval: 1h
"""
    text = exporter_yaml(token=True, extra=frames_yaml(tmp_path) + p4)
    fake = FakeServer(sizes={"//depot/main": (1, 10)})
    async with exporter_with(text, p4_factory=fake.p4) as exporter:
        app = exporter._runner.app
        changing = sorted(
            {
                (route.method, route.resource.canonical)
                for route in app.router.routes()
                if route.method not in ("GET", "HEAD")
            }
        )
        assert len(changing) >= 6  # cameras, camera, reference reset, three refreshes
        body = b'{"id": "gate-2", "host": "127.0.0.1"}'
        for method, canonical in changing:
            path = (
                canonical.replace("{id}", "gate")
                .replace("{server}", "p4-main")
                .replace("{stream}", "depot/main")
            )
            for header in (b"Bearer \xff", b"Bearer " + TOKEN.encode() + b"\xff", b"\xc3\xa9"):
                status = await raw_request(
                    exporter.url, method, path, b"Authorization: " + header + b"\r\n", body
                )
                assert status == 401, (method, path, header)
        # the same holds with basic auth configured, and for reads
        for header in (b"Basic \xff", b"Bearer \xff"):
            status = await raw_request(
                exporter.url, "GET", "/evidence", b"Authorization: " + header + b"\r\n"
            )
            assert status == 401
        # and the right token still works
        assert (
            await raw_request(
                exporter.url,
                "POST",
                "/api/v1/cameras",
                f"Authorization: Bearer {TOKEN}\r\n".encode(),
                body,
            )
            == 201
        )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_request_bodies_too_deep_too_long_or_too_big_are_refused_with_the_reason(tmp_path):
    text = exporter_yaml(token=True, extra="cameras:\n  icmp: 0s\n  tcp: 0s\n  targets: []\n")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with exporter_with(text) as exporter, aiohttp.ClientSession() as http:

        async def post(data: bytes) -> tuple[int, str]:
            async with http.post(f"{exporter.url}/api/v1/cameras", data=data, headers=auth) as resp:
                answer = await resp.json()
                return resp.status, answer.get("error", "")

        cases = {
            b"[" * 20_000 + b"]" * 20_000: (400, "nested deeper"),
            b'{"id": "a", "host": "h", "x": ' + b"[" * 50 + b"]" * 50 + b"}": (400, "nested"),
            b'{"id": "a", "host": "h", "port": ' + b"9" * 5000 + b"}": (400, "number longer"),
            b'{"id": "a", "host": "h", "port": 1' + b"0" * 40 + b".5}": (400, "number longer"),
            b'{"id": "a", "host": "h", "port": NaN}': (400, "not a JSON number"),
            b'{"id": "a", "id": "b", "host": "h"}': (400, "repeated"),
            b'{"id": "a", "host": "\xff"}': (400, "not UTF-8"),
            b"not json": (400, "not JSON"),
            b'{"id": "a", "host": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}': (413, "larger than"),
        }
        for data, (want_status, want_reason) in cases.items():
            status, reason = await post(data)
            assert (status, want_reason in reason) == (want_status, True), (data[:40], reason)
            assert "9999" not in reason and "xxxx" not in reason  # the input is never quoted
        status, _ = await post(json.dumps({"id": "gate-9", "host": "127.0.0.1"}).encode())
        assert status == 201


def test_body_limits_in_detail():
    assert parse_json(b'{"a": [1, {"b": "[[[["}]}') == {"a": [1, {"b": "[[[["}]}
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_json(nested) is not None  # at the limit: fine
    with pytest.raises(BodyError, match="nested deeper"):
        parse_json(b"[" + nested + b"]")
    # brackets inside strings (escaped quotes too) do not count
    assert parse_json(json.dumps(['\\"[[[[' * 100]).encode())
    with pytest.raises(BodyError) as too_big:
        parse_json(b"1" * 10, max_bytes=5)
    assert too_big.value.status == 413


async def served_serial(url: str, pki: PKI) -> int:
    """The serial number of the certificate the server presents to a new connection."""
    host, port = url.removeprefix("https://").rsplit(":", 1)
    _, writer = await asyncio.open_connection(host, int(port), ssl=client_ssl(pki))
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der).serial_number
    finally:
        writer.close()


async def test_certificate_key_and_users_are_reloaded_when_their_files_change(tmp_path, caplog):
    pki = PKI(tmp_path / "pki")
    cert, key, first_serial = pki.server()
    web = tmp_path / "web.yml"
    text = f"""tls_server_config:
  cert_file: {cert}
  key_file: {key}
basic_auth_users:
  ops: {{hash}}
"""
    write_web_config(web, text.format(hash=bcrypt_hash(PASSWORD)))
    async with exporter_with(exporter_yaml(web)) as exporter, aiohttp.ClientSession() as http:

        async def metrics_status(password: str) -> int:
            ctx = client_ssl(pki)
            headers = basic("ops", password)
            async with http.get(f"{exporter.url}/metrics", ssl=ctx, headers=headers) as resp:
                return resp.status

        assert await served_serial(exporter.url, pki) == first_serial
        assert await metrics_status(PASSWORD) == 200
        # a renewed certificate (as certbot or cert-manager writes it) is served without a restart
        _, _, second_serial = pki.server()  # same file names, new key and certificate
        assert second_serial != first_serial

        async def renewed():
            return await served_serial(exporter.url, pki) == second_serial

        await eventually(renewed, timeout=10, step=0.3)
        # a changed password applies too
        write_web_config(web, text.format(hash=bcrypt_hash("rotated-pw")))
        await eventually(lambda: _is(metrics_status("rotated-pw"), 200), timeout=10, step=0.3)
        assert await metrics_status(PASSWORD) == 401
        # a broken file keeps the last good configuration in force, and says so
        write_web_config(web, text.format(hash="not-a-hash"))

        async def refused_reload():
            assert await metrics_status("rotated-pw") == 200  # files are looked at per request
            return any("not reloaded" in r.getMessage() for r in caplog.records)

        await eventually(refused_reload, timeout=10, step=0.3)
        assert not [r for r in caplog.records if "not-a-hash" in r.getMessage()]
        assert not [r for r in caplog.records if "$2b$" in r.getMessage()]


async def _is(awaitable, want) -> bool:
    return await awaitable == want


async def test_headers_and_rate_limit_of_the_web_config(tmp_path):
    web = write_web_config(
        tmp_path / "web.yml",
        """http_server_config:
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
    Content-Security-Policy: "default-src 'self'"
    Strict-Transport-Security: ""
rate_limit:
  interval: 1h
  burst: 3
""",
    )
    async with exporter_with(exporter_yaml(web)) as exporter, aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(4):
            async with http.get(f"{exporter.url}/-/healthy") as resp:
                statuses.append(resp.status)
                assert resp.headers["X-Frame-Options"] == "deny"
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert resp.headers["Content-Security-Policy"] == "default-src 'self'"
                assert "Strict-Transport-Security" not in resp.headers  # blank: unset
        assert statuses == [200, 200, 200, 429]


# --- the file format: what loads, what is refused and how it is said ------------------------


def test_exporter_toolkit_example_loads(tmp_path):
    """docs/web-config.yml of prometheus/exporter-toolkit, with certificates beside it."""
    pki = PKI(tmp_path)
    pki.server()
    write_web_config(
        tmp_path / "web-config.yml",
        """# TLS and basic authentication configuration example.
tls_server_config:
  cert_file: server.crt
  key_file: server.key

basic_auth_users:
  alice: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze
  bob: $2y$10$hLqFl9jSjoAAy95Z/zw8Ye8wkdMBM8c5Bn1ptYqP/AXyV0.oy0S8m

rate_limit:
  interval: "1s"
  burst: 20
""",
    )
    config = load_web_config(tmp_path / "web-config.yml")
    assert config.tls is not None and config.tls.cert_file == tmp_path / "server.crt"
    assert sorted(config.users) == ["alice", "bob"]
    assert (config.rate_interval, config.rate_burst) == (1.0, 20)
    assert load_web_config(write_web_config(tmp_path / "empty.yml", "")).tls is None
    # certificate, key and client CA written into the file itself
    indent = "\n      "
    inline = write_web_config(
        tmp_path / "inline.yml",
        f"""tls_server_config:
    cert: |{indent}{indent.join((tmp_path / "server.crt").read_text().splitlines())}
    key: |{indent}{indent.join((tmp_path / "server.key").read_text().splitlines())}
    client_ca: |{indent}{indent.join(pki.ca_file.read_text().splitlines())}
    client_auth_type: RequireAndVerifyClientCert
""",
    )
    config = load_web_config(inline)
    assert config.tls.cert_file is None and config.tls.key.startswith("-----BEGIN PRIVATE KEY")
    assert "inline cert" in "; ".join(config.describe())
    assert config.tls.key not in repr(config)
    assert parse_go_duration("1m30s") == 90 and parse_go_duration("250ms") == 0.25


HASH = "$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze"
INLINE_KEY_LINE = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETinlineKEY"

BAD_WEB_CONFIGS = {
    "bad bcrypt hash": (
        "basic_auth_users:\n  alice: $2y$10$tooShort-not-a-hash\n",
        "basic_auth_users.alice",
        "not a bcrypt hash",
    ),
    "plain password instead of a hash": (
        "basic_auth_users:\n  alice: hunter2-plain\n",
        "basic_auth_users.alice",
        "not a bcrypt hash",
    ),
    "missing cert file": (
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
        "tls_server_config.cert_file",
        "missing.crt",
    ),
    "missing key": (
        "tls_server_config:\n  cert_file: server.crt\n",
        "tls_server_config.key_file",
        "missing",
    ),
    "key of another certificate": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
        "tls_server_config.cert_file",
        "private key",
    ),
    "unknown key": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_versoin: TLS12\n",
        "tls_server_config.min_versoin",
        "did you mean 'min_version'",
    ),
    "unknown top-level key": ("basic_auth_user:\n  alice: x\n", "basic_auth_user", "unknown key"),
    "unknown client_auth_type": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireValidCert\n",
        "tls_server_config.client_auth_type",
        "RequireAndVerifyClientCert",
    ),
    "RequireAnyClientCert": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireAnyClientCert\n",
        "tls_server_config.client_auth_type",
        "cannot be served",
    ),
    "verification without a CA": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireAndVerifyClientCert\n",
        "tls_server_config.client_ca_file",
        "needs client_ca_file",
    ),
    "CA without client_auth_type": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_ca_file: ca.pem\n",
        "tls_server_config.client_ca_file",
        "NoClientCert",
    ),
    "bad TLS version": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  min_version: TLS1.2\n",
        "tls_server_config.min_version",
        "TLS12",
    ),
    "unknown cipher suite": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
        "tls_server_config.cipher_suites[0]",
        "unknown cipher suite",
    ),
    "header that cannot be set": (
        "http_server_config:\n  headers:\n    Server: vigil\n",
        "http_server_config.headers.Server",
        "cannot be configured",
    ),
    "header value not allowed": (
        "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
        "http_server_config.headers.X-Frame-Options",
        "deny, sameorigin",
    ),
    "inline key that is not a key": (
        f"tls_server_config:\n  cert_file: server.crt\n  key: |\n    {INLINE_KEY_LINE}\n",
        "tls_server_config.cert_file",
        "private key",
    ),
    "YAML error next to a secret": (
        f"basic_auth_users:\n  alice: {HASH}\n  bob: [{HASH}\n",
        None,
        "YAML syntax error",
    ),
}


@pytest.fixture
def certs_dir(tmp_path):
    pki = PKI(tmp_path)
    pki.server()
    pki.issue("other", dns=["other.example"])
    (tmp_path / "ca.pem").write_bytes(pki.ca_file.read_bytes())
    return tmp_path


@pytest.mark.parametrize("case", list(BAD_WEB_CONFIGS), ids=list(BAD_WEB_CONFIGS))
def test_bad_web_configs_are_refused_naming_the_key_without_secrets(case, certs_dir, capsys):
    text, key, message = BAD_WEB_CONFIGS[case]
    web = write_web_config(certs_dir / "web.yml", text)
    with pytest.raises(ConfigError) as refused:
        load_web_config(web)
    assert refused.value.key == key
    assert message in str(refused.value)
    assert str(web) in str(refused.value) and refused.value.line is not None
    # check-config says the same, exit 2, and prints no secret
    (certs_dir / "vigil.yml").write_text("listen: 127.0.0.1:9830\nweb_config_file: web.yml\n")
    with pytest.raises(SystemExit) as exited:
        vigil_main(["check-config", "-c", str(certs_dir / "vigil.yml")])
    assert exited.value.code == 2
    out = capsys.readouterr()
    assert message in out.err and str(web) in out.err
    for secret in (HASH, "tooShort", "hunter2", INLINE_KEY_LINE, "SECRETin"):
        assert secret not in out.out + out.err


def test_check_config_validates_the_web_config_file_from_the_flag(certs_dir, tmp_path):
    (certs_dir / "vigil.yml").write_text("listen: 127.0.0.1:9830\n")
    web = write_web_config(
        certs_dir / "web.yml",
        f"""tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.pem
basic_auth_users:
  alice: {HASH}
""",
    )
    run = [sys.executable, "-m", "exporter", "check-config", "-c", str(certs_dir / "vigil.yml")]
    ok = subprocess.run([*run, "--web.config.file", str(web)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert f"web: {web}: OK" in ok.stdout
    assert "TLS: on" in ok.stdout and "RequireAndVerifyClientCert" in ok.stdout
    assert "basic auth: 1 user(s): alice" in ok.stdout
    assert HASH not in ok.stdout + ok.stderr
    missing = subprocess.run(
        [*run, "--web.config.file", str(tmp_path / "nope.yml")], capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert "nope.yml" in missing.stderr and "cannot read" in missing.stderr


# --- shutdown: no client can hold the process ----------------------------------------------


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited early:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"port {port} not open within {timeout}s")


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_sigterm_stops_vigil_run_while_a_client_never_reads_a_large_metrics_answer(
    scheme, tmp_path
):
    """5,000 simulated cameras make /metrics several MB; one client asks for it with a tiny
    receive buffer and never reads. SIGTERM must still end `vigil run` within the stop timeout."""
    env = {**os.environ, "VIGIL_SIM_API_KEY": "sim-key-77", "RT_API_KEY": "sim-key-77"}
    sim_port, port = free_port(), free_port()
    sim_log, log = tmp_path / "simulate.log", tmp_path / "vigil.log"
    web_line, client_ctx = "", None
    if scheme == "https":
        pki = PKI(tmp_path / "pki")
        cert, key, _ = pki.server()
        web = write_web_config(
            tmp_path / "web.yml", f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        )
        web_line, client_ctx = f"web_config_file: {web}\n", client_ssl(pki)
    (tmp_path / "vigil.yml").write_text(
        f"""listen: "127.0.0.1:{port}"
{web_line}rt_api:
  url: http://127.0.0.1:{sim_port}/api
  api_key: ${{RT_API_KEY}}
  inventory_interval: 1h
  baked_archives_interval: 1h
  archive_interval: 1h
  page_size: 1000
"""
    )
    vigil = [sys.executable, "-m", "exporter"]
    with open(sim_log, "wb") as out:
        sim = subprocess.Popen(
            [*vigil, "simulate", "--cameras", "5000", "--listen", f"127.0.0.1:{sim_port}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    proc = None
    stalled = None
    try:
        _wait_port(sim_port, sim, sim_log)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [*vigil, "run", "-c", str(tmp_path / "vigil.yml")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_port(port, proc, log)

        def metrics() -> bytes:
            import urllib.request

            url = f"{scheme}://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, context=client_ctx, timeout=10) as resp:
                return resp.read()

        deadline = time.monotonic() + 60
        while (body := metrics()).count(b"vigil_camera_online{") < 5000:
            assert time.monotonic() < deadline, "the inventory did not arrive"
            time.sleep(0.3)
        assert len(body) > 3_000_000  # far more than the socket buffers hold

        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", port))
        if client_ctx is not None:
            stalled = client_ctx.wrap_socket(stalled, server_hostname="127.0.0.1")
        stalled.sendall(b"GET /metrics HTTP/1.1\r\nHost: vigil\r\n\r\n")  # and never read
        time.sleep(1.0)  # the answer is being written and the buffers fill up

        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            code = proc.wait(timeout=STOP_TIMEOUT + 15)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"vigil run still alive {STOP_TIMEOUT + 15}s after SIGTERM"
            ) from None
        took = time.monotonic() - started
        assert code == 0, log.read_text()[-2000:]
        assert took < STOP_TIMEOUT + 2, f"stopped after {took:.1f}s"
        assert "stopped" in log.read_text()
    finally:
        if stalled is not None:
            stalled.close()
        for p in (proc, sim):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def test_a_web_config_nested_too_deeply_is_a_config_error(tmp_path):
    from exporter.configkit import ConfigError
    from exporter.webconfig import load_web_config

    path = tmp_path / "web.yml"
    path.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="YAML nested too deeply"):
        load_web_config(str(path))
