"""Test copies of the project's alerting files, a real Alertmanager, and receivers owned by tests.

The copies are derived from the shipped files programmatically, so the routes, inhibitions and
rule expressions under test are always the real ones: rule copies only shorten `for:`, Alertmanager
copies only replace the receivers' integrations and shorten the grouping timers.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import re
import subprocess
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from tests.conftest import eventually, free_port, require_binary

ROOT = Path(__file__).resolve().parent.parent
ALERTMANAGER_YML = ROOT / "alerting" / "alertmanager.yml"
RULE_FILES = sorted((ROOT / "alerting").glob("*.rules.yml"))
SECRETS_DIR = "/etc/alertmanager/secrets/"

_EXAMPLE = re.compile(r"^(?P<indent>\s*)# -- example: ")


# ---------------------------------------------------------------------- rules
def rules_with_short_for(path: Path, duration: str = "2s") -> dict[str, Any]:
    """One rule file with every alert's `for:` set to `duration` (alerts without one keep none)."""
    doc = yaml.safe_load(path.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "alert" in rule and "for" in rule:
                rule["for"] = duration
    return doc


def write_rule_copies(dest: Path, duration: str = "2s") -> list[Path]:
    """Short-`for:` copies of every alerting/*.rules.yml in `dest`; returns their paths."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for path in RULE_FILES:
        target = dest / path.name
        target.write_text(yaml.safe_dump(rules_with_short_for(path, duration), allow_unicode=True))
        out.append(target)
    return out


def alert_rule(name: str) -> dict[str, Any]:
    """The alerting rule `name` as written in the project's rule files."""
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    return rule
    raise KeyError(name)


# ---------------------------------------------------------------------- Alertmanager config
def shipped_config() -> dict[str, Any]:
    return yaml.safe_load(ALERTMANAGER_YML.read_text())


def enable_examples(text: str) -> str:
    """The config text with every "-- example:" block uncommented, as a user enables them.

    A block is the marker line and the commented lines right below it at the same indentation; it
    ends at the first line that is not one of them (a blank line, or the next receiver).
    """
    out: list[str] = []
    prefix: str | None = None
    for line in text.splitlines():
        marker = _EXAMPLE.match(line)
        if marker:
            prefix = marker["indent"] + "# "
            out.append(line)
            continue
        if prefix is not None and line.startswith(prefix):
            out.append(prefix[:-2] + line[len(prefix) :])
            continue
        prefix = None
        out.append(line)
    return "\n".join(out) + "\n"


def routes(route: dict[str, Any]):
    yield route
    for child in route.get("routes") or []:
        yield from routes(child)


def with_webhooks(config: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A copy whose every receiver posts to `base_url`/<receiver name>; nothing else changes."""
    config = copy.deepcopy(config)
    config["receivers"] = [
        {
            "name": r["name"],
            "webhook_configs": [{"url": f"{base_url}/{r['name']}", "send_resolved": True}],
        }
        for r in config["receivers"]
    ]
    return config


def with_short_timers(config: dict[str, Any], every: str = "1s") -> dict[str, Any]:
    """A copy whose routes wait `every` before the first and between later notifications."""
    config = copy.deepcopy(config)
    for route in routes(config["route"]):
        for key in ("group_wait", "group_interval"):
            if key in route or route is config["route"]:
                route[key] = every
    return config


def amtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [require_binary("amtool"), *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def alertmanager_version() -> tuple[int, int]:
    out = amtool("--version")
    found = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
    assert found, out.stdout + out.stderr
    return int(found[1]), int(found[2])


# ---------------------------------------------------------------------- receivers owned by tests
@dataclass
class Notification:
    receiver: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Webhook:
    """An aiohttp app recording every Alertmanager webhook notification, by receiver (path)."""

    received: list[Notification] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{receiver}", self._post)
        return app

    async def _post(self, request: web.Request) -> web.Response:
        self.received.append(
            Notification(
                request.match_info["receiver"], dict(request.headers), await request.json()
            )
        )
        return web.Response(text="ok")

    def alerts(self, **labels: str) -> list[tuple[Notification, dict[str, Any]]]:
        """Every (notification, alert) whose alert carries `labels`."""
        return [
            (n, a)
            for n in self.received
            for a in n.body["alerts"]
            if all(a["labels"].get(k) == v for k, v in labels.items())
        ]


@dataclass
class SmtpServer:
    """Just enough SMTP (EHLO, AUTH PLAIN, MAIL, RCPT, DATA) to receive Alertmanager's e-mails."""

    auth: list[tuple[str, str]] = field(default_factory=list)  # (user, password) as received
    mails: list[dict[str, Any]] = field(default_factory=list)  # {"rcpt": [...], "data": str}
    port: int = 0

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        send("220 127.0.0.1 ESMTP test")
        rcpt: list[str] = []
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                send("250-127.0.0.1")
                send("250-AUTH PLAIN")
                send("250 8BITMIME")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(line.split()[2]).decode().split("\0")
                self.auth.append((user, password))
                send("235 2.7.0 accepted")
            elif verb == "RCPT":
                rcpt.append(line.split(":", 1)[1].strip(" <>"))
                send("250 OK")
            elif verb == "DATA":
                send("354 go ahead")
                await writer.drain()
                data = []
                while (chunk := (await reader.readline()).decode()).rstrip("\r\n") != ".":
                    data.append(chunk)
                self.mails.append({"rcpt": rcpt, "data": "".join(data)})
                rcpt = []
                send("250 queued")
            elif verb == "QUIT":
                send("221 bye")
                await writer.drain()
                break
            else:
                send("250 OK")
            await writer.drain()
        writer.close()

    @asynccontextmanager
    async def serving(self):
        server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()


# ---------------------------------------------------------------------- a real Alertmanager
class Alertmanager:
    def __init__(self, url: str, log_path: Path, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.log_path = log_path
        self.http = http

    async def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        async with self.http.post(f"{self.url}/api/v2/alerts", json=alerts) as resp:
            assert resp.status == 200, await resp.text()

    async def alerts(self) -> list[dict[str, Any]]:
        """GET /api/v2/alerts: every alert with its status (active, suppressed, inhibitedBy)."""
        return await self.get("/api/v2/alerts")

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.url}{path}") as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


@asynccontextmanager
async def running_alertmanager(tmp_path: Path, config: dict[str, Any] | str, name: str = "am"):
    """prometheus-alertmanager on loopback with `config` (a dict, or YAML text) and no cluster."""
    binary = require_binary("prometheus-alertmanager")
    workdir = tmp_path / name
    workdir.mkdir()
    config_path = workdir / "alertmanager.yml"
    text = config if isinstance(config, str) else yaml.safe_dump(config, allow_unicode=True)
    config_path.write_text(text)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "alertmanager.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={url}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                if proc.poll() is not None:
                    raise AssertionError(f"alertmanager exited:\n{log_path.read_text()[-2000:]}")
                try:
                    async with http.get(f"{url}/-/ready") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(ready, timeout=20)
            yield Alertmanager(url, log_path, http)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
